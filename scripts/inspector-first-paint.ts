/**
 * Measures the inspector's page on a big run: a 200-stage saga (20 ranks of 10, each stage after
 * one or two of the rank before) whose last stage fails, so that 199 stages are rolled back —
 * about 800 journal events. Serves the built package (`dist/`, as users get it) and loads the run's
 * page in headless Chromium, cold (a new browser context each time, so nothing is cached), five
 * times; prints the median and worst time from navigation start to the first contentful paint, to
 * every stage drawn with its status and rollback step, and to everything drawn (the timeline and the
 * journal too), and the bytes of the page's JavaScript, raw and gzipped; a 5-stage run is measured
 * the same way for comparison.
 *
 * Usage: `npx tsx scripts/inspector-first-paint.ts` (builds dist/ first when it is stale).
 * Needs /usr/bin/chromium (or SAGAFLOW_CHROMIUM). Not a test: timings depend on the machine.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { z } from 'zod';
import type * as Core from '../src/index.js';
import type * as Inspector from '../src/inspector.js';
import type * as Sqlite from '../src/sqlite.js';

// What the function run in the page uses of the DOM (the project's types are Node's).
declare const document: { querySelectorAll(selector: string): { readonly length: number } };
declare const performance: { now(): number; getEntriesByName(name: string): { startTime: number }[] };

const root = fileURLToPath(new URL('..', import.meta.url));
execFileSync(process.execPath, [join(root, 'scripts/build-if-stale.mjs')], { stdio: 'inherit' });
const dist = (file: string): string => pathToFileURL(join(root, 'dist', file)).href;
const { createOrchestrator, defineSaga, NonRetryableError } = (await import(dist('index.js'))) as typeof Core;
const { SqliteStore } = (await import(dist('sqlite-runtime.js'))) as typeof Sqlite;
const { createInspector } = (await import(dist('inspector.js'))) as typeof Inspector;

const name = (rank: number, index: number): string => `r${String(rank).padStart(2, '0')}-stage-${index}`;
type AnyBuiltSaga = Parameters<typeof createOrchestrator>[0] extends infer O ? (O extends { sagas?: readonly (infer S)[] } ? S : never) : never;

/** Ranks of stages, each after one or two of the rank before; the very last stage fails, so every other one is rolled back. */
function layeredSaga(sagaName: string, ranks: number, width: number): AnyBuiltSaga {
  // Built loosely (the stage names are computed): the shape is what matters here, not the types.
  let builder = defineSaga({ name: sagaName, input: z.object({}) }) as unknown as { stage(name: string, definition: object): typeof builder; build(): AnyBuiltSaga };
  for (let rank = 0; rank < ranks; rank++) {
    for (let index = 0; index < width; index++) {
      const last = rank === ranks - 1 && index === width - 1;
      const after = rank === 0 ? [] : [name(rank - 1, index), ...(index % 3 === 0 ? [name(rank - 1, (index + 1) % width)] : [])];
      builder = builder.stage(name(rank, index), {
        after,
        execute: () =>
          last
            ? Promise.reject(new NonRetryableError('the last stage fails, so that every other one is rolled back'))
            : Promise.resolve({ rank, index, note: 'an output of a few fields', at: Date.now() }),
        compensate: () => Promise.resolve(),
      });
    }
  }
  return builder.build();
}
const big = layeredSaga('two-hundred', 20, 10);
const small = layeredSaga('five', 1, 5);

const work = mkdtempSync(join(tmpdir(), 'sagaflow-first-paint-'));
const store = new SqliteStore({ path: join(work, 'runs.db'), durability: 'normal' });
const orchestrator = createOrchestrator({ store, sagas: [big, small] });
const outcome = await orchestrator.start(big, {}).outcome;
const smallOutcome = await orchestrator.start(small, {}).outcome;
const events = (await store.load(outcome.runId))?.length ?? 0;
const smallEvents = (await store.load(smallOutcome.runId))?.length ?? 0;
const inspector = createInspector({ store });
const server = createServer(inspector);
await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

const clientDir = join(root, 'dist/inspector/client');
const scripts = readdirSync(clientDir).filter((file) => file.endsWith('.js') && file !== 'view-model.js');
const raw = scripts.reduce((sum, file) => sum + readFileSync(join(clientDir, file)).length, 0);
const gzipped = scripts.reduce((sum, file) => sum + gzipSync(readFileSync(join(clientDir, file)), { level: 9 }).length, 0);

const browser = await chromium.launch({
  executablePath: process.env['SAGAFLOW_CHROMIUM'] ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
interface Timings {
  readonly paints: number[];
  /** The renderer's main-thread busy time (CPU, not wall clock: on a shared machine it is the steadier figure). */
  readonly busy: number[];
  readonly drawn: number[];
  /** When the run's picture is drawn: every stage coloured, the rollback numbered. */
  readonly picture: number[];
}

/** Loads a run's page cold six times (the first, warming the server up, is not counted). */
async function measure(runId: string, stages: number): Promise<Timings> {
  const timings: Timings = { paints: [], busy: [], drawn: [], picture: [] };
  for (let round = 0; round < 6; round++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    await page.goto(`${base}run?id=${runId}`);
    const picture = await page.waitForFunction(
      (count) => (document.querySelectorAll('.node.compensated').length === count - 1 && document.querySelectorAll('.step').length === count - 1 ? performance.now() : false),
      stages,
      { polling: 'raf', timeout: 30_000 },
    );
    const pictureAt = (await picture.jsonValue()) as number;
    const done = await page.waitForFunction(
      () => (document.querySelectorAll('#timeline rect.bar').length > 0 && document.querySelectorAll('#journal > li').length > 0 ? performance.now() : false),
      undefined,
      { polling: 'raf', timeout: 30_000 },
    );
    const drawnAt = (await done.jsonValue()) as number;
    const paint = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN);
    const { metrics } = await cdp.send('Performance.getMetrics');
    const metric = (key: string): number => (metrics.find((entry) => entry.name === key)?.value ?? 0) * 1_000;
    await context.close();
    if (round === 0) continue;
    timings.paints.push(paint);
    timings.busy.push(metric('TaskDuration'));
    timings.drawn.push(drawnAt);
    timings.picture.push(pictureAt);
  }
  return timings;
}

let bigTimings: Timings;
let smallTimings: Timings;
try {
  smallTimings = await measure(smallOutcome.runId, 5);
  bigTimings = await measure(outcome.runId, 200);
} finally {
  await browser.close();
  server.closeAllConnections();
  server.close();
  await inspector.close();
  await orchestrator.close();
  await store.close();
  rmSync(work, { recursive: true, force: true });
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const ms = (value: number): string => `${Math.round(value)} ms`;
const report = (label: string, timings: Timings): void => {
  console.log(`${label}:`);
  console.log(`  first contentful paint: median ${ms(median(timings.paints))}, worst ${ms(Math.max(...timings.paints))}`);
  console.log(`  every stage drawn with its status and rollback step: median ${ms(median(timings.picture))}, worst ${ms(Math.max(...timings.picture))}`);
  console.log(`  everything drawn (the timeline and the journal too): median ${ms(median(timings.drawn))}, worst ${ms(Math.max(...timings.drawn))}`);
  console.log(`  renderer main thread busy until then (CPU): median ${ms(median(timings.busy))}, worst ${ms(Math.max(...timings.busy))}`);
};
console.log(`page JavaScript: ${scripts.length} modules, ${raw} bytes (${gzipped} bytes gzipped)`);
report(`a run of 5 stages (4 compensated, ${smallEvents} events), for comparison`, smallTimings);
report(`a run of 200 stages (${outcome.compensationOrder.length} compensated, ${events} events)`, bigTimings);
