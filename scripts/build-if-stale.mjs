// Builds dist/ (the library, the CLI, the inspector's page and the demos) when it is missing or older than a source.
// `npm run demo`, `npm run check` (so `npm test`: the benchmarks it type-checks import dist/) and
// `npm run bench` run it first, so `npm ci && npm run demo` and `npm ci && npm test` work on a
// fresh clone without a `prepare` script (which would also run, and warn, in every project that
// installs sagaflow).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The newest modification time under `path` (0 when it does not exist). */
function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newest(join(path, entry))));
}

const sources = Math.max(
  newest(join(root, 'src')),
  newest(join(root, 'sagas')),
  ...['package.json', 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.sagas.json'].map((file) => newest(join(root, file))),
);
const outputs = ['dist/index.js', 'dist/cli/main.js', 'dist/sagas/catalog.js', 'dist/inspector/client/run-page.js'].map((file) => newest(join(root, file)));
if (Math.min(...outputs) < sources) {
  console.error('Building dist/ (the library, the CLI, the inspector’s page and the demos)…');
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  for (const project of ['tsconfig.build.json', 'tsconfig.sagas.json', 'src/inspector/client/tsconfig.json']) {
    execFileSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
  }
}
