/**
 * Packs sagaflow and checks the tarball as a new user meets it: installed into an empty project
 * outside the repository, with the tsconfig that docs/getting-started.md documents.
 *
 * 1. `npm pack` (which runs `prepack`: the build and the markdown API reference), then the
 *    tarball's contents: LICENSE, the reference, the sources that the source maps point at.
 * 2. An empty project installs the tarball with `zod` and `rxjs` (peer dependencies), then
 *    `typescript` and `@types/node`; a saga using the public API (an rxjs operator on `events$`,
 *    `ctx.outcome` in `compensate`, `isRunError`, `outcome.status`) type-checks with `tsc` and runs.
 * 3. Without the optional peers, `import('sagaflow/sqlite')`, `import('sagaflow/postgres')` and
 *    `import('sagaflow/otel')` fail with an error naming the package to install.
 * 4. With `pg` and `@types/pg`, `import { PostgresStore } from 'sagaflow/postgres'` type-checks;
 *    with `@opentelemetry/api`, a run instrumented by `sagaflow/otel` type-checks and runs.
 * 5. With `--sqlite`, `better-sqlite3` is installed too (it may compile: a minute or more) and a
 *    saga runs on `SqliteStore`.
 *
 * Usage: `npm run test:package [-- --sqlite] [--keep] [--tarball PATH]`. Prints each step with its time; exits
 * non-zero at the first failed check.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const withSqlite = process.argv.includes('--sqlite');
/** `--tarball PATH`: check that tarball instead of packing one. */
const givenTarball = process.argv.includes('--tarball') ? resolve(process.argv[process.argv.indexOf('--tarball') + 1] ?? '') : undefined;
const keep = process.argv.includes('--keep');
const work = mkdtempSync(join(tmpdir(), 'sagaflow-package-'));
const app = join(work, 'app');
const started = Date.now();

function step<T>(title: string, action: () => T): T {
  const at = Date.now();
  process.stdout.write(`• ${title} … `);
  const result = action();
  console.log(`ok (${((Date.now() - at) / 1000).toFixed(1)} s)`);
  return result;
}

function run(command: string, args: readonly string[], cwd: string): string {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`\`${command} ${args.join(' ')}\` failed in ${cwd}:\n${stdout ?? ''}${stderr ?? ''}`, { cause: error });
  }
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

const npmInstall = (packages: readonly string[], dev = false): string =>
  run('npm', ['install', ...(dev ? ['--save-dev'] : []), '--no-audit', '--no-fund', '--prefer-offline', ...packages], app);

const TSCONFIG = '{ "compilerOptions": { "module": "NodeNext", "target": "ES2022", "strict": true, "types": ["node"], "noEmit": true } }\n';

const APP = `import { z } from 'zod';
import { filter } from 'rxjs';
import { createOrchestrator, defineSaga, isRunError, type StageCompletedEvent } from 'sagaflow';

const checkout = defineSaga({ name: 'checkout', input: z.object({ sku: z.string(), cents: z.number().int() }) })
  .stage('reserve', {
    execute: async ({ input }) => ({ reservationId: \`r-\${input.sku}\` }),
    compensate: async ({ outcome, output, executeIdempotencyKey }) => {
      console.log('release', outcome === 'completed' ? output.reservationId : executeIdempotencyKey);
    },
  })
  .stage('charge', {
    execute: async ({ input, results }): Promise<{ chargeId: string }> => {
      if (input.cents > 1_000) throw new Error('card declined');
      return { chargeId: \`c-\${results.reserve.reservationId}\` };
    },
  })
  .build();

const orchestrator = createOrchestrator();
const run = orchestrator.start(checkout, { sku: 'A1', cents: 5_000 });
run.events$
  .pipe(filter((event): event is StageCompletedEvent => event.type === 'stage.completed'))
  .subscribe((event) => console.log('completed', event.stage));
const outcome = await run.outcome;
console.log('status', outcome.status);
const done = await orchestrator.start(checkout, { sku: 'B2', cents: 100 }).outcome;
if (done.status === 'completed') console.log('charged', done.outputs.charge.chargeId);
try {
  await orchestrator.run(checkout, { sku: 'C3', cents: 5_000 });
} catch (error) {
  if (!isRunError(checkout, error)) throw error;
  console.log('rejected', error.outcome.status, error.outputs.reserve?.reservationId);
}
await orchestrator.close();
`;

/** A run instrumented by sagaflow/otel with no SDK registered (the API's no-ops): it must load from the package and run. */
const OTEL_APP = `import { z } from 'zod';
import { createOrchestrator, defineSaga, type Instrumentation } from 'sagaflow';
import { openTelemetry } from 'sagaflow/otel';

const saga = defineSaga({ name: 'traced', input: z.object({}) }).stage('one', { execute: async () => 1 }).build();
const instrumentation: Instrumentation = openTelemetry();
const orchestrator = createOrchestrator({ instrumentation });
const outcome = await orchestrator.start(saga, {}).outcome;
console.log(outcome.status, typeof instrumentation.drive);
await orchestrator.close();
`;

const EXPECTED_OUTPUT = ['completed reserve', 'release r-A1', 'status compensated', 'charged c-r-B2', 'release r-C3', 'rejected compensated r-C3'];

try {
  const tarball = step(givenTarball === undefined ? 'npm pack (prepack: build and API reference)' : `the given tarball ${givenTarball}`, () => {
    if (givenTarball !== undefined) return givenTarball;
    const output = run('npm', ['pack', '--pack-destination', work], root).trim().split('\n');
    return join(work, output[output.length - 1] ?? '');
  });

  step('tarball: LICENSE, README, API reference, sources for the source maps', () => {
    const extracted = join(work, 'extracted');
    mkdirSync(extracted, { recursive: true });
    run('tar', ['-xzf', tarball, '-C', extracted], work);
    const pkg = join(extracted, 'package');
    for (const file of ['LICENSE', 'README.md', 'docs/reference/README.md', 'docs/reference/sagaflow/functions/isRunError.md', 'docs/reference/sagaflow/sqlite/classes/SqliteStore.md', 'dist/sqlite-runtime.js', 'src/index.ts']) {
      check(existsSync(join(pkg, file)), `the tarball has no ${file}`);
    }
    check(!existsSync(join(pkg, 'test')), 'the tarball ships the tests');
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    check(manifest.scripts?.['prepare'] === undefined && manifest.scripts?.['install'] === undefined, 'the package has an install-time script');
    const maps = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? maps(join(dir, entry.name)) : entry.name.endsWith('.map') ? [join(dir, entry.name)] : [],
      );
    const missing = maps(join(pkg, 'dist')).flatMap((map) =>
      (JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] }).sources.map((source) => resolve(dirname(map), source)).filter((source) => !existsSync(source)),
    );
    check(missing.length === 0, `source maps point at files the package does not ship: ${missing.slice(0, 5).join(', ')}`);
  });

  step('empty project: npm install the tarball, zod, rxjs', () => {
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'sagaflow-package-check', private: true, type: 'module' }, null, 2));
    const output = npmInstall([tarball, 'zod', 'rxjs']);
    check(!/prepare/i.test(output), `installing warned about a prepare script:\n${output}`);
  });

  step('npm install --save-dev typescript @types/node', () => npmInstall(['typescript@~5.9', '@types/node@20'], true));

  step('tsc with the documented tsconfig', () => {
    writeFileSync(join(app, 'tsconfig.json'), TSCONFIG);
    writeFileSync(join(app, 'app.ts'), APP);
    run(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', '.'], app);
  });

  step('compile and run the app', () => {
    run(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', '.', '--noEmit', 'false', '--outDir', 'build'], app);
    const lines = run(process.execPath, ['build/app.js'], app).trim().split('\n');
    check(JSON.stringify(lines) === JSON.stringify(EXPECTED_OUTPUT), `the app printed ${JSON.stringify(lines)}, expected ${JSON.stringify(EXPECTED_OUTPUT)}`);
  });

  step('without the optional peers: sagaflow/sqlite, sagaflow/postgres and sagaflow/otel name the package to install', () => {
    for (const [entry, command] of [
      ['sagaflow/sqlite', 'npm install better-sqlite3'],
      ['sagaflow/postgres', 'npm install pg'],
      ['sagaflow/otel', 'npm install @opentelemetry/api'],
    ] as const) {
      const message = run(process.execPath, ['--input-type=module', '-e', `await import('${entry}').then(() => console.log('loaded'), (error) => console.log(error.message))`], app);
      check(message.includes(command), `import('${entry}') said: ${message}`);
    }
  });

  step('with pg and @types/pg: sagaflow/postgres type-checks and loads', () => {
    npmInstall(['pg']);
    npmInstall(['@types/pg'], true);
    writeFileSync(join(app, 'pg-app.ts'), "import { PostgresStore } from 'sagaflow/postgres';\nconst store = new PostgresStore({ connectionString: 'postgres://localhost/app' });\nawait store.close();\n");
    writeFileSync(join(app, 'tsconfig.pg.json'), TSCONFIG.replace(' }\n', ', "files": ["pg-app.ts"] }\n'));
    run(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.pg.json'], app);
    const loaded = run(process.execPath, ['--input-type=module', '-e', "const { PostgresStore } = await import('sagaflow/postgres'); console.log(typeof PostgresStore)"], app);
    check(loaded.trim() === 'function', `sagaflow/postgres exported ${loaded}`);
  });

  step('with @opentelemetry/api: sagaflow/otel type-checks, loads and instruments a run', () => {
    npmInstall(['@opentelemetry/api']);
    writeFileSync(join(app, 'otel-app.ts'), OTEL_APP);
    writeFileSync(join(app, 'tsconfig.otel.json'), TSCONFIG.replace(' }\n', ', "files": ["otel-app.ts"] }\n'));
    run(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.otel.json', '--noEmit', 'false', '--outDir', 'build-otel'], app);
    const printed = run(process.execPath, ['build-otel/otel-app.js'], app).trim();
    check(printed === 'completed function', `the OpenTelemetry app printed ${printed}`);
  });

  if (withSqlite) {
    step('with better-sqlite3: a saga runs on SqliteStore', () => {
      npmInstall(['better-sqlite3']);
      const sqliteApp = APP.replace("import { createOrchestrator,", "import { SqliteStore } from 'sagaflow/sqlite';\nimport { createOrchestrator,").replace(
        'createOrchestrator()',
        "createOrchestrator({ store: new SqliteStore({ path: '.sagaflow/app.db' }) })",
      );
      writeFileSync(join(app, 'app.ts'), sqliteApp);
      run(process.execPath, [join(app, 'node_modules/typescript/bin/tsc'), '-p', '.', '--noEmit', 'false', '--outDir', 'build'], app);
      const lines = run(process.execPath, ['build/app.js'], app).trim().split('\n');
      check(JSON.stringify(lines) === JSON.stringify(EXPECTED_OUTPUT), `the SQLite app printed ${JSON.stringify(lines)}`);
    });
  }
  console.log(`✓ the packed sagaflow works for a new project (${((Date.now() - started) / 1000).toFixed(0)} s; in ${keep ? app : 'a temp folder, removed'})`);
} catch (error) {
  console.log('FAILED');
  console.error(error instanceof Error ? error.message : error);
  console.error(`(kept in ${work})`);
  process.exitCode = 1;
} finally {
  if (!keep && process.exitCode !== 1) rmSync(work, { recursive: true, force: true });
}
