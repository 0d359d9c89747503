import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Every ```ts block in README.md and docs/*.md must compile against the package, exactly as a
 * user would write it. A block that deliberately does not compile is marked with an HTML
 * comment on the line before it: `<!-- example: not compiled — <why> -->`. A block whose first
 * line is a file name comment (`// trip.ts`) is written under that name, so later blocks of the
 * same page can import it (`import { trip } from './trip.js'`).
 */
const root = join(import.meta.dirname, '..', '..');
const workDir = join(root, 'test', '.examples');
const SKIP_MARK = /<!--\s*example:\s*not compiled\b[^>]*-->\s*$/;

interface Example {
  readonly source: string;
  readonly line: number;
  readonly code: string;
}

function examplesOf(file: string): Example[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const examples: Example[] = [];
  for (let index = 0; index < lines.length; index++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[index] ?? '')) continue;
    const start = index;
    const body: string[] = [];
    for (index++; index < lines.length && !/^```\s*$/.test(lines[index] ?? ''); index++) body.push(lines[index] ?? '');
    if (SKIP_MARK.test(lines[start - 1] ?? '')) continue;
    examples.push({ source: file, line: start + 1, code: body.join('\n') });
  }
  return examples;
}

/** The ```ts blocks of every `@example` in the TSDoc of `src/`: the API reference's examples compile too. */
function tsdocExamplesOf(file: string): Example[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const examples: Example[] = [];
  for (let index = 0; index < lines.length; index++) {
    if (!/^\s*\*\s*```(ts|typescript)\s*$/.test(lines[index] ?? '')) continue;
    const start = index;
    const body: string[] = [];
    for (index++; index < lines.length && !/^\s*\*\s*```\s*$/.test(lines[index] ?? ''); index++) {
      body.push((lines[index] ?? '').replace(/^\s*\* ?/, ''));
    }
    examples.push({ source: file, line: start + 1, code: body.join('\n') });
  }
  return examples;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(`${dir}/${entry.name}`) : entry.name.endsWith('.ts') ? [`${dir}/${entry.name}`] : [],
  );
}

const markdown = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];
const examples = [...markdown.flatMap(examplesOf), ...sourceFiles('src').flatMap(tsdocExamplesOf)];

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe('documentation examples', () => {
  it('finds examples to check, in the guides and in the API reference', () => {
    expect(examples.filter((example) => example.source.endsWith('.md')).length).toBeGreaterThan(20);
    expect(examples.filter((example) => example.source.startsWith('src/')).length).toBeGreaterThan(100);
  });

  it('type-check against the package', () => {
    rmSync(workDir, { recursive: true, force: true });
    mkdirSync(workDir, { recursive: true });
    const files = examples.map((example, index) => {
      const page = join(workDir, example.source.replace(/[^\w]+/g, '-'));
      mkdirSync(page, { recursive: true });
      const named = /^\/\/ ([\w.-]+\.ts)\s*$/.exec(example.code.split('\n')[0] ?? '');
      const file = join(page, named?.[1] ?? `example-${index}.ts`);
      // `export {}` makes every block a module, so top-level await and names never collide.
      writeFileSync(file, `${example.code}\nexport {};\n`);
      return { file, example };
    });
    const configFile = ts.readConfigFile(join(root, 'tsconfig.json'), (path) => ts.sys.readFile(path));
    const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, root);
    const program = ts.createProgram(
      files.map(({ file }) => file),
      { ...parsed.options, noEmit: true, noUnusedLocals: false },
    );
    const problems = ts
      .getPreEmitDiagnostics(program)
      .filter((diagnostic) => diagnostic.file !== undefined && diagnostic.file.fileName.startsWith(workDir))
      .map((diagnostic) => {
        const { file, example } = files.find((entry) => entry.file === diagnostic.file?.fileName) ?? files[0]!;
        const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
        return `${example.source}:${example.line + 1 + line} (${relative(root, file)}): ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
      });
    expect(problems).toEqual([]);
  }, 120_000);
});
