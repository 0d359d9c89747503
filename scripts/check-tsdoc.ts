/**
 * Fails when a top-level export of an entry point lacks the TSDoc the house style asks for: a
 * one-paragraph summary, `@remarks`, and an `@example` holding a ```ts block (the block that
 * `test/docs/examples.test.ts` type-checks).
 *
 * Reads the JSON that `npm run docs` writes next to the HTML reference (typedoc.json's `json`
 * output), so the check sees exactly what typedoc resolved: re-exports, merged declarations and
 * function signatures. `@throws` cannot be checked mechanically (whether a function throws is not
 * in its type); reviewers check it.
 *
 * Usage: `tsx scripts/check-tsdoc.ts [path/to/api.json]` (default `docs/api/api.json`).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { JSONOutput } from 'typedoc';

/** One export that does not meet the house style. */
export interface TsdocProblem {
  /** `entry.Symbol`, e.g. `index.defineSaga` or `testing.VirtualClock`. */
  readonly symbol: string;
  /** What is missing or wrong, e.g. `missing @remarks`. */
  readonly problems: readonly string[];
}

type Comment = JSONOutput.Comment;
type Declaration = JSONOutput.DeclarationReflection;

const text = (parts: readonly JSONOutput.CommentDisplayPart[] | undefined): string =>
  (parts ?? []).map((part) => part.text).join('').trim();

/** The comments that document a declaration: its own, or its call signatures' (functions). */
function commentsOf(declaration: Declaration): Array<Comment | undefined> {
  if (declaration.comment !== undefined) return [declaration.comment];
  const signatures = [...(declaration.signatures ?? []), ...(declaration.getSignature === undefined ? [] : [declaration.getSignature])];
  return signatures.map((signature) => signature.comment);
}

/** What one comment lacks; empty when it meets the house style. */
export function problemsOfComment(comment: Comment | undefined): string[] {
  const problems: string[] = [];
  const summary = text(comment?.summary);
  if (summary === '') problems.push('missing summary');
  else if (/\n\s*\n/.test(summary)) problems.push('summary is more than one paragraph (move the rest to @remarks)');
  const tags = comment?.blockTags ?? [];
  const remarks = tags.filter((tag) => tag.tag === '@remarks');
  if (remarks.length === 0) problems.push('missing @remarks');
  else if (remarks.every((tag) => text(tag.content) === '')) problems.push('empty @remarks');
  const examples = tags.filter((tag) => tag.tag === '@example');
  if (examples.length === 0) problems.push('missing @example');
  else if (!examples.some((tag) => /^```(ts|typescript)\s*\n/m.test(text(tag.content)))) {
    problems.push('@example has no ```ts block (only ```ts blocks are type-checked)');
  }
  const throws = tags.filter((tag) => tag.tag === '@throws');
  if (throws.some((tag) => text(tag.content) === '')) problems.push('empty @throws');
  return problems;
}

/**
 * Every top-level export of every entry point that does not meet the house style.
 *
 * @param entryPoints - the entry point names expected in the project (`index`, `sqlite`…): a
 * missing one is a problem too, so that a renamed entry cannot make the check pass vacuously.
 */
export function findTsdocProblems(project: JSONOutput.ProjectReflection, entryPoints: readonly string[]): TsdocProblem[] {
  const modules = project.children ?? [];
  const found: TsdocProblem[] = [];
  for (const name of entryPoints) {
    const module = modules.find((candidate) => candidate.name === name);
    if (module === undefined) found.push({ symbol: name, problems: ['entry point not found in the typedoc JSON'] });
    else if ((module.children ?? []).length === 0) found.push({ symbol: name, problems: ['entry point has no exports'] });
  }
  for (const module of modules) {
    const children = module.children ?? [];
    for (const declaration of children) {
      // A value and a type may share a name (`const SagaErrorCode` and `type SagaErrorCode`): say which.
      const shared = children.filter((other) => other.name === declaration.name).length > 1;
      const symbol = `${module.name}.${declaration.name}${shared ? ` (${kindName(declaration.kind)})` : ''}`;
      const comments = commentsOf(declaration);
      const problems = comments.length === 0 ? problemsOfComment(undefined) : [...new Set(comments.flatMap(problemsOfComment))];
      if (problems.length > 0) found.push({ symbol, problems });
    }
  }
  return found;
}

function kindName(kind: number): string {
  // typedoc's ReflectionKind values for what an entry point can export.
  const names: Record<number, string> = { 32: 'variable', 64: 'function', 128: 'class', 256: 'interface', 2097152: 'type' };
  return names[kind] ?? `kind ${kind}`;
}

/** Entry point names as typedoc names its modules: the file name without extension. */
function entryPointNames(configPath: string): string[] {
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as { entryPoints?: unknown };
  if (!Array.isArray(config.entryPoints)) throw new TypeError(`${configPath} has no entryPoints array.`);
  // Each entry point names its module after its import path (`@module sagaflow/sqlite`), so that
  // the reference is organised as users import it: src/index.ts is `sagaflow`, src/sqlite.ts `sagaflow/sqlite`.
  return config.entryPoints.map((entry) => {
    const file = String(entry).replace(/^.*\//, '').replace(/\.[cm]?tsx?$/, '');
    return file === 'index' ? 'sagaflow' : `sagaflow/${file}`;
  });
}

function main(): void {
  const jsonPath = resolve(process.argv[2] ?? 'docs/api/api.json');
  let project: JSONOutput.ProjectReflection;
  try {
    project = JSON.parse(readFileSync(jsonPath, 'utf8')) as JSONOutput.ProjectReflection;
  } catch (error) {
    console.error(`check-tsdoc: cannot read ${jsonPath} (${error instanceof Error ? error.message : String(error)}); run typedoc first.`);
    process.exitCode = 1;
    return;
  }
  const problems = findTsdocProblems(project, entryPointNames(resolve('typedoc.json')));
  if (problems.length === 0) {
    const count = (project.children ?? []).reduce((sum, module) => sum + (module.children ?? []).length, 0);
    console.log(`check-tsdoc: all ${count} top-level exports have a summary, @remarks and a \`\`\`ts @example.`);
    return;
  }
  console.error(`check-tsdoc: ${problems.length} export(s) lack TSDoc required by the house style (ARCHITECTURE.md):`);
  for (const { symbol, problems: list } of problems) console.error(`  ${symbol}: ${list.join(', ')}`);
  process.exitCode = 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
