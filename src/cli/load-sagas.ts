import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AnySaga } from '../index.js';
import { CliUsageError } from './exit-codes.js';

/** A saga found among a module's exports. */
export interface ExportedSaga {
  /** The export's name (`default` for a default export). */
  readonly exportName: string;
  /** The saga. */
  readonly saga: AnySaga;
}

/** The sagas a user module exports. */
export interface SagaModule {
  /** The module's path as given. */
  readonly path: string;
  /** Every export that is a built saga, in export order; each saga once. */
  readonly sagas: readonly ExportedSaga[];
}

/**
 * Tells whether a value is a built saga (`defineSaga(…).build()`).
 *
 * @remarks
 * A structural check, not `instanceof`: the module may have been built against another copy
 * of sagaflow (a global CLI and a project's own install).
 */
export function isSaga(value: unknown): value is AnySaga {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate['name'] === 'string' &&
    typeof candidate['version'] === 'string' &&
    typeof candidate['shapeHash'] === 'string' &&
    Array.isArray(candidate['stages']) &&
    typeof candidate['stage'] === 'function' &&
    typeof candidate['policies'] === 'object' &&
    typeof (candidate['input'] as { safeParse?: unknown } | undefined)?.safeParse === 'function'
  );
}

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);

/**
 * Loads a module and finds its exported sagas.
 *
 * @remarks
 * `.js` and `.mjs` load natively. For a `.ts` module the CLI registers `tsx` (found from the
 * current directory, or next to the CLI) unless it already runs under a TypeScript loader; without
 * tsx it tries Node's own type stripping (Node 23.6+), and says how to get tsx when that fails.
 *
 * @throws {@link CliUsageError} when the file is missing, fails to load, or exports no saga.
 */
export async function loadSagaModule(path: string): Promise<SagaModule> {
  const absolute = resolve(path);
  if (!existsSync(absolute)) {
    const instead = sourceBeside(path);
    throw new CliUsageError(
      instead === undefined
        ? `Cannot find the module ${path}: pass the path of a .js, .mjs or .ts file that exports your sagas.`
        : `Cannot find the module ${path}, but there is ${instead}: pass that path (the CLI loads .ts files itself).`,
    );
  }
  const namespace = await importModule(path, absolute);
  const seen = new Set<AnySaga>();
  const sagas: ExportedSaga[] = [];
  for (const [exportName, value] of Object.entries(namespace)) {
    if (isSaga(value) && !seen.has(value)) {
      seen.add(value);
      sagas.push({ exportName, saga: value });
    }
  }
  if (sagas.length === 0) {
    const exported = Object.keys(namespace);
    throw new CliUsageError(
      `The module ${path} exports no built saga (${exported.length === 0 ? 'it exports nothing' : `its exports: ${exported.join(', ')}`}): export the result of defineSaga(…).build().`,
    );
  }
  return { path, sagas };
}

/** Where a TypeScript project writes `./sagas.js` for `./sagas.ts` (or leaves the extension out), the file that does exist. */
function sourceBeside(path: string): string | undefined {
  const extension = extname(path);
  const stem = extension === '' ? path : path.slice(0, -extension.length);
  const alternatives: Record<string, readonly string[]> = { '': ['.ts', '.mts', '.js', '.mjs'], '.js': ['.ts'], '.mjs': ['.mts'], '.cjs': ['.cts'] };
  return (alternatives[extension] ?? []).map((other) => stem + other).find((candidate) => existsSync(resolve(candidate)));
}

async function importModule(path: string, absolute: string): Promise<Record<string, unknown>> {
  const typescript = TYPESCRIPT.has(extname(absolute));
  // The CLI's own file is .ts only when it runs under a TypeScript loader already.
  const loaderActive = import.meta.url.endsWith('.ts');
  const tsxRegistered = typescript && !loaderActive ? await registerTypeScriptLoader() : false;
  try {
    return (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
  } catch (error) {
    if (typescript && !tsxRegistered && (error as { code?: string }).code === 'ERR_UNKNOWN_FILE_EXTENSION') {
      throw new CliUsageError(
        `Cannot load the TypeScript module ${path}: install tsx (npm install --save-dev tsx) so the CLI can load .ts files, or compile the module to .js.`,
        { cause: error },
      );
    }
    throw loadFailure(path, error);
  }
}

function loadFailure(path: string, error: unknown): CliUsageError {
  const message = (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).split('\n')[0] ?? '';
  return new CliUsageError(`Loading the module ${path} failed (${message}): fix the error, or run it with node to see the full trace.`, { cause: error });
}

/**
 * Registers tsx's ESM loader, from the user's project or from next to the CLI.
 *
 * @returns whether tsx was found (when it was not, Node may still load the file itself: it strips
 * types natively from version 23.6).
 */
async function registerTypeScriptLoader(): Promise<boolean> {
  const candidates: string[] = [];
  try {
    candidates.push(pathToFileURL(createRequire(join(process.cwd(), 'package.json')).resolve('tsx/esm/api')).href);
  } catch {
    // not installed in the current project
  }
  candidates.push('tsx/esm/api');
  for (const specifier of candidates) {
    try {
      // Resolved for `require`, the specifier names tsx's CommonJS build: its API may sit on `default`.
      const api = (await import(specifier)) as { register?: unknown; default?: { register?: unknown } };
      const register = api.register ?? api.default?.register;
      if (typeof register === 'function') {
        (register as () => unknown)();
        return true;
      }
    } catch {
      // try the next place
    }
  }
  return false;
}
