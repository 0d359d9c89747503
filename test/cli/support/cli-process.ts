import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The built CLI: what `bin` points at. */
export const CLI = join(ROOT, 'dist/cli/main.js');
/** A test fixture's path. */
export const fixture = (name: string): string => join(ROOT, 'test/cli/fixtures', name);
/** A built demo module's path, e.g. `order-fulfillment/index.js`. */
export const builtSagas = (name: string): string => join(ROOT, 'dist/sagas', name);

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newest(join(path, entry))));
}

/**
 * Builds `dist/` (the library, the CLI, the inspector's page and the demos) when a source is newer than the build.
 * After `npm ci` (whose `prepare` builds) nothing needs doing; after an edit, the tests run the
 * CLI that the edit produces rather than a stale one.
 */
export function ensureBuilt(): void {
  const sources = Math.max(
    newest(join(ROOT, 'src')),
    newest(join(ROOT, 'sagas')),
    ...['package.json', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.sagas.json'].map((file) => newest(join(ROOT, file))),
  );
  const outputs = ['dist/index.js', 'dist/cli/main.js', 'dist/cli/program.js', 'dist/sagas/catalog.js', 'dist/inspector/client/run-page.js'].map((file) => newest(join(ROOT, file)));
  if (Math.min(...outputs) >= sources) return;
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  for (const project of ['tsconfig.build.json', 'tsconfig.sagas.json', 'src/inspector/client/tsconfig.json']) execFileSync(process.execPath, [tsc, '-p', project], { cwd: ROOT, stdio: 'pipe' });
}

/** What a CLI process did. */
export interface CliResult {
  /** Its exit code. */
  readonly code: number | null;
  /** Everything it wrote to stdout. */
  readonly stdout: string;
  /** Everything it wrote to stderr. */
  readonly stderr: string;
}

/** Options of {@link sagaflow}. */
export interface CliOptions {
  /** Its working directory (where the default store `.sagaflow/sagaflow.db` goes). */
  readonly cwd: string;
  /** Extra environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Called with every chunk of stdout, and the child, as they come. */
  readonly onStdout?: (chunk: string, child: ReturnType<typeof spawn>) => void;
  /** Called with the child once it is spawned (to signal a command that prints nothing first). */
  readonly onSpawn?: (child: ReturnType<typeof spawn>) => void;
}

/** Runs the built CLI as a real process (not a TTY) and collects its output. */
export function sagaflow(args: readonly string[], options: CliOptions): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...options.env };
  if (options.env?.['SAGAFLOW_STORE'] === undefined) delete env['SAGAFLOW_STORE'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    options.onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      options.onStdout?.(chunk, child);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
