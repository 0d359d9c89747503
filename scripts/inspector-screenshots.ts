/**
 * Takes the screenshots of docs/inspector.md from real runs: the demos (trip-booking rolled back
 * after its payment failed, order-fulfillment paused at shipping, money-transfer), run by the CLI
 * into a fresh SQLite store, plus one run caught live in the middle of a retry. The inspector
 * serves that store and headless Chromium (Debian's, through playwright-core) photographs it.
 *
 * Usage: `npx tsx scripts/inspector-screenshots.ts [--out docs/images]`. Needs /usr/bin/chromium
 * (or SAGAFLOW_CHROMIUM). Times and ids differ on every run; the pictures show the same things.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { filter, firstValueFrom } from 'rxjs';
import { z } from 'zod';
import { createOrchestrator, defineSaga, type AnySaga, type RunStatus } from '../src/index.js';
import { createInspector } from '../src/inspector.js';
import { SqliteStore } from '../src/sqlite.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const outIndex = process.argv.indexOf('--out');
const out = resolve(root, outIndex === -1 ? 'docs/images' : (process.argv[outIndex + 1] ?? 'docs/images'));
const executablePath = process.env['SAGAFLOW_CHROMIUM'] ?? '/usr/bin/chromium';

const work = mkdtempSync(join(tmpdir(), 'sagaflow-screenshots-'));
const path = join(work, 'runs.db');
const cli = (...args: string[]): void => {
  execFileSync(process.execPath, [join(root, 'dist/cli/main.js'), ...args, '--store', `sqlite:${path}`], { cwd: work, stdio: 'ignore', env: { ...process.env, NO_COLOR: '1' } });
};

execFileSync(process.execPath, [join(root, 'scripts/build-if-stale.mjs')], { stdio: 'inherit' });
// Real runs of the demos, each driven by its own CLI process.
for (let index = 0; index < 3; index++) cli('demo', 'money-transfer');
cli('demo', 'money-transfer', '--fail-at', 'credit', '--expect', 'compensated');
cli('demo', 'order-fulfillment', '--pause', '--fail-at', 'ship', '--expect', 'paused');
cli('demo', 'trip-booking', '--fail-at', 'payment', '--expect', 'compensated');

// One more run, driven by this process, to catch live: a branch waits to retry while the other works.
let release: (value: number) => void = () => undefined;
const released = new Promise<number>((resolve) => (release = resolve));
let euAttempts = 0;
const settlement = defineSaga({ name: 'nightly-settlement', input: z.object({ day: z.string() }) })
  .stage('fetch-batches', { execute: () => Promise.resolve({ batches: 412 }), compensate: () => Promise.resolve() })
  .stage('reconcile-eu', {
    after: ['fetch-batches'],
    retry: { maxAttempts: 3, initialDelayMs: 4_000, jitter: false },
    execute: () => {
      euAttempts += 1;
      return euAttempts < 3 ? Promise.reject(new Error('EU clearing house timed out')) : Promise.resolve({ matched: 207 });
    },
    compensate: () => Promise.resolve(),
  })
  .stage('reconcile-us', { after: ['fetch-batches'], execute: async () => ({ matched: await released }), compensate: () => Promise.resolve() })
  .stage('publish-report', { after: ['reconcile-eu', 'reconcile-us'], execute: () => Promise.resolve('report-2026-12-04.pdf') })
  .build();

const store = new SqliteStore({ path });
const orchestrator = createOrchestrator({ store, sagas: [settlement] });
// The demo's own module, as `sagaflow ui --sagas` loads it: its shop lives in the same database.
process.env['SAGAFLOW_STORE'] = `sqlite:${path}`;
const shop = (await import(pathToFileURL(join(root, 'dist/sagas/order-fulfillment/index.js')).href)) as Record<string, unknown>;
const inspector = createInspector({ store, sagas: [shop['orderFulfillment'], shop['orderFulfillmentPausing']] as AnySaga[] });
const server = createServer(inspector);
await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
const profile = mkdtempSync(join(tmpdir(), 'sagaflow-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  viewport: { width: 1280, height: 860 },
  deviceScaleFactor: 1,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  mkdirSync(out, { recursive: true });
  const page = await context.newPage();
  const shoot = async (name: string, fullPage = false): Promise<void> => {
    await page.screenshot({ path: join(out, name), fullPage });
    console.log(`wrote ${join(out, name)}`);
  };
  const runOf = async (saga: string, status: RunStatus): Promise<string> =>
    (await store.listRuns({ status, order: 'desc', limit: 20 })).find((run) => run.saga.startsWith(saga))?.runId ?? '';
  const open = async (runId: string): Promise<void> => {
    await page.goto(`${url}run?id=${runId}`);
    await page.locator('#status:not(:text("loading"))').waitFor();
  };

  const live = orchestrator.start(settlement, { day: '2026-12-04' });
  await firstValueFrom(live.events$.pipe(filter((event) => event.type === 'stage.retrying')));
  await open(live.runId);
  await page.locator('.node.retrying').waitFor();
  await shoot('inspector-live.png');
  release(198);
  await live.outcome;

  await page.goto(url);
  await shoot('inspector-runs.png');

  await open(await runOf('trip-booking', 'compensated'));
  await page.locator('.node[data-stage="payment"]').click();
  await shoot('inspector-rollback.png', true);

  await open(await runOf('order-fulfillment', 'paused'));
  await page.getByRole('button', { name: 'Redrive' }).click();
  await page.locator('#confirm[open]').waitFor();
  await shoot('inspector-redrive.png');
} finally {
  await context.close();
  server.closeAllConnections();
  server.close();
  await inspector.close();
  await orchestrator.close();
  await store.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
