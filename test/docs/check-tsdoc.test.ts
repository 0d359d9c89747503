import type { JSONOutput } from 'typedoc';
import { describe, expect, it } from 'vitest';
import { findTsdocProblems } from '../../scripts/check-tsdoc.js';

/** The typedoc JSON of one entry point, reduced to what the checker reads. */
type Part = JSONOutput.CommentDisplayPart;
const words = (text: string): Part[] => [{ kind: 'text', text }];
const tag = (name: string, content: Part[]): JSONOutput.CommentTag => ({ tag: name as `@${string}`, content });
const example = tag('@example', [{ kind: 'code', text: "```ts\nimport { foo } from 'sagaflow';\n```" }]);
const remarks = tag('@remarks', words('Use it when…; beware of…'));
const complete: JSONOutput.Comment = { summary: words('Does one thing.'), blockTags: [remarks, example] };

function project(modules: Record<string, Array<Partial<JSONOutput.DeclarationReflection>>>): JSONOutput.ProjectReflection {
  return {
    children: Object.entries(modules).map(([name, children]) => ({ name, kind: 2, children })),
  } as unknown as JSONOutput.ProjectReflection;
}

describe('check-tsdoc', () => {
  it('accepts exports with a summary, @remarks and a ```ts @example, on the declaration or its signatures', () => {
    const problems = findTsdocProblems(
      project({
        index: [
          { name: 'Thing', kind: 256, comment: complete },
          { name: 'makeThing', kind: 64, signatures: [{ name: 'makeThing', kind: 4096, comment: complete } as JSONOutput.SignatureReflection] },
        ],
      }),
      ['index'],
    );
    expect(problems).toEqual([]);
  });

  it('names every export that lacks a tag, and what it lacks', () => {
    const problems = findTsdocProblems(
      project({
        index: [
          { name: 'NoRemarks', kind: 256, comment: { summary: words('A type.'), blockTags: [example] } },
          { name: 'NoExample', kind: 2097152, comment: { summary: words('A type.'), blockTags: [remarks] } },
          { name: 'runIt', kind: 64, signatures: [{ name: 'runIt', kind: 4096 } as JSONOutput.SignatureReflection] },
        ],
        testing: [{ name: 'Clock', kind: 256, comment: { summary: [], blockTags: [remarks, tag('@example', words('clock.now()'))] } }],
      }),
      ['index', 'testing'],
    );
    expect(problems).toEqual([
      { symbol: 'index.NoRemarks', problems: ['missing @remarks'] },
      { symbol: 'index.NoExample', problems: ['missing @example'] },
      { symbol: 'index.runIt', problems: ['missing summary', 'missing @remarks', 'missing @example'] },
      { symbol: 'testing.Clock', problems: ['missing summary', '@example has no ```ts block (only ```ts blocks are type-checked)'] },
    ]);
  });

  it('refuses a summary of several paragraphs, and tells a value from a type of the same name', () => {
    const long: JSONOutput.Comment = { ...complete, summary: words('One thing.\n\nAnd then another.') };
    const problems = findTsdocProblems(
      project({ index: [{ name: 'Code', kind: 32, comment: complete }, { name: 'Code', kind: 2097152, comment: long }] }),
      ['index'],
    );
    expect(problems).toEqual([{ symbol: 'index.Code (type)', problems: ['summary is more than one paragraph (move the rest to @remarks)'] }]);
  });

  it('fails when an entry point is missing, so a rename cannot make the check pass vacuously', () => {
    expect(findTsdocProblems(project({ index: [{ name: 'Thing', kind: 256, comment: complete }] }), ['index', 'sqlite'])).toEqual([
      { symbol: 'sqlite', problems: ['entry point not found in the typedoc JSON'] },
    ]);
  });
});
