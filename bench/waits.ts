/**
 * Waiting runs: what runs waiting for a signal cost, and how fast a burst of signals wakes them.
 *
 * Run alone: `npm run build && node --expose-gc --import tsx bench/waits.ts [--count=100000]`
 * From the runner: {@link benchmarkWaits}.
 *
 * Two settings, each with `count` runs that wait for a signal (no timeout, so no timer anywhere):
 *
 * - **In process** (MemoryStore, one orchestrator): the runs stay in the process that drives
 *   them. Heap used (after a full GC) before the runs start and once every `wait.started` is
 *   durable, divided by `count` (the store's journals included); then the time from the first
 *   `signal()` to the last run settled.
 * - **PostgreSQL with a worker**: the runs are submitted, one worker (concurrency 50) claims
 *   each, runs it to its wait and parks it: lease given back, forgotten. Measured: parks per
 *   second; the worker process's heap per parked run (after a full GC, against the heap before
 *   the worker started); what a claim costs with every run parked against an empty queue
 *   (`claimRatioParked`: ~1 means parked runs cost a claim nothing, as the partial indexes
 *   promise); then a burst of `count` signal requests (64 at a time) and the time until every run
 *   completed (woken by NOTIFY and claims) — of all of them, or of `burst` of them.
 */
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { z } from 'zod';
import { createOrchestrator, createWorker, defineSaga, MemoryStore, type SagaRun } from '../dist/index.js';
import { PostgresStore } from '../dist/postgres.js';
import { numberArgument } from './lib/sqlite-bench.js';

/** Options of {@link benchmarkWaits}. */
export interface WaitsBenchOptions {
  /** Runs waiting at once, in each setting. Default 100,000. */
  readonly count?: number;
  /** How many of the parked runs the PostgreSQL signal burst wakes (the rest stay parked). Default: all. */
  readonly burst?: number;
  /** The PostgreSQL server. Default: SAGAFLOW_BENCH_POSTGRES_URL, else the tests' server. */
  readonly url?: string;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

/** What {@link benchmarkWaits} measured. */
export interface WaitsBenchResult {
  readonly count: number;
  /** Runs the PostgreSQL signal burst woke, out of `count` parked. */
  readonly burst?: number;
  readonly memory: {
    /** Heap per waiting run, journals included, in the process that drives them. */
    readonly bytesPerWaitingRun: number;
    readonly signalsPerSecond: number;
  };
  /** null when PostgreSQL was not reachable (see `reason`). */
  readonly postgres: {
    readonly parksPerSecond: number;
    /** The worker process's heap per parked run: ~0 (it keeps nothing of them). */
    readonly workerBytesPerParkedRun: number;
    /** Runs the worker held once every run was parked (0: none counts against its concurrency). */
    readonly heldWhileParked: number;
    /**
     * A claim's time with `count` runs parked ÷ with none (medians of 41), once a vacuum removed
     * the row versions the parks left behind (what autovacuum restores): ~1, no cost per parked run.
     */
    readonly claimRatioParked: number;
    /** The same right after the parks, before any vacuum: a claim walks the dead row versions. */
    readonly claimRatioBeforeVacuum: number;
    /**
     * Buffers (8 KB pages) the claim statement touches with every run parked, by EXPLAIN ANALYZE,
     * once (auto)vacuum has cleaned the row versions the parks left behind: a handful, whatever
     * `count`. Load-independent, unlike the timing ratio.
     */
    readonly claimBuffersParked: number;
    /** The same right after the parks, before a vacuum: dead index entries of the ready queue are still visited. */
    readonly claimBuffersBeforeVacuum: number;
    readonly signalsPerSecond: number;
  } | null;
  readonly reason?: string;
}

const gc = (globalThis as { gc?: () => void }).gc;
const heap = (): number => {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
};

const waiting = defineSaga({ name: 'bench-wait', input: z.object({ n: z.number() }) })
  .waitForSignal('go', { signal: 'go', schema: z.object({ n: z.number() }) })
  .stage('done', { execute: ({ results }) => results.go.n })
  .build();

async function inProcess(count: number): Promise<WaitsBenchResult['memory']> {
  const orchestrator = createOrchestrator({ sagas: [waiting], store: new MemoryStore({ maxSettledRuns: 0 }) });
  const before = heap();
  const runs: SagaRun[] = [];
  let waits = 0;
  const allWaiting = new Promise<void>((resolve) => {
    orchestrator.events$.subscribe((event) => {
      if (event.type === 'wait.started' && ++waits === count) resolve();
    });
  });
  for (let n = 0; n < count; n++) runs.push(orchestrator.start(waiting, { n }));
  await allWaiting;
  const waitingHeap = heap();
  const signalled = performance.now();
  await Promise.all(runs.map((run, n) => orchestrator.signal(run.runId, 'go', { n })));
  await Promise.all(runs.map((run) => run.outcome));
  const wakeMs = performance.now() - signalled;
  await orchestrator.close();
  return { bytesPerWaitingRun: Math.round((waitingHeap - before) / count), signalsPerSecond: Math.round(count / (wakeMs / 1_000)) };
}

/** `count` calls of `work`, at most `concurrency` at once. */
async function bounded(count: number, concurrency: number, work: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

async function claimMs(store: PostgresStore, samples: number): Promise<number> {
  const sagas = [{ name: waiting.name, shapeHash: waiting.shapeHash }];
  const times: number[] = [];
  for (let index = 0; index < samples; index++) {
    const started = performance.now();
    const claimed = await store.claim({ owner: 'bench-probe', sagas, limit: 50, leaseMs: 30_000 });
    times.push(performance.now() - started);
    if (claimed.length > 0) throw new Error(`bench/waits: a probe claim took ${claimed.length} runs; nothing should have been claimable`);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? 0;
}

/** The buffers (pages) one claim statement touches in `schema`, from EXPLAIN (ANALYZE, BUFFERS): load-independent. */
async function claimBuffers(client: pg.Client, schema: string): Promise<number> {
  const { postgresStatements } = await import('../dist/stores/postgres-statements.js');
  const claim = postgresStatements({ runs: `"${schema}".runs`, events: `"${schema}".events` }, 'bench_explain').claim.text;
  await client.query('BEGIN');
  try {
    const result = await client.query<{ 'QUERY PLAN': Array<{ Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }> }>(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${claim}`,
      [[waiting.name], [waiting.shapeHash], 50, 'bench-explain', 30_000, []],
    );
    const plan = result.rows[0]?.['QUERY PLAN'][0]?.Plan;
    return (plan?.['Shared Hit Blocks'] ?? 0) + (plan?.['Shared Read Blocks'] ?? 0);
  } finally {
    // EXPLAIN ANALYZE runs the statement: claim nothing for real.
    await client.query('ROLLBACK');
  }
}

async function onPostgres(count: number, burst: number, url: string, log: (line: string) => void): Promise<NonNullable<WaitsBenchResult['postgres']>> {
  const schema = `bench_waits_${process.pid}`;
  const emptySchema = `${schema}_empty`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const store = new PostgresStore({ connectionString: url, schema, maxConnections: 12 });
  const empty = new PostgresStore({ connectionString: url, schema: emptySchema, maxConnections: 2 });
  try {
    const submitter = createOrchestrator({ store, sagas: [waiting] });
    const runIds: string[] = [];
    await bounded(count, 256, async (n) => {
      runIds[n] = await submitter.submit(waiting, { n });
    });
    log(`  ${count.toLocaleString('en-US')} runs submitted; one worker parks them…`);
    const before = heap();
    let parked = 0;
    let allParked!: () => void;
    const parkedAll = new Promise<void>((resolve) => (allParked = resolve));
    const worker = createWorker({
      store,
      sagas: [waiting],
      concurrency: 50,
      pollIntervalMs: 1_000,
      instrumentation: {
        worker: (activity) => {
          if (activity.type === 'parked' && ++parked === count) allParked();
        },
      },
    });
    const parkStarted = performance.now();
    await worker.start();
    await parkedAll;
    const parkMs = performance.now() - parkStarted;
    // Let the last parks commit before measuring what the worker keeps.
    while ((await admin.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".runs WHERE wake_at IS NOT NULL`)).rows[0]?.n !== String(count)) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const heldWhileParked = worker.activeRuns.length;
    const workerBytes = (heap() - before) / count;
    const beforeVacuum = await claimMs(store, 41);
    const buffersBeforeVacuum = await claimBuffers(admin, schema);
    await admin.query(`VACUUM (ANALYZE) "${schema}".runs`);
    const buffers = await claimBuffers(admin, schema);
    const withParked = await claimMs(store, 41);
    await empty.countRuns();
    const withNone = await claimMs(empty, 41);
    log(`  parked: ${Math.round(count / (parkMs / 1_000))}/s; claim ${withParked.toFixed(2)} ms (${buffersBeforeVacuum} buffers, ${buffers} after a vacuum) with every run parked, ${withNone.toFixed(2)} ms on an empty queue; the signal burst…`);

    const signalled = performance.now();
    await bounded(burst, 64, (n) => store.requestSignal({ runId: runIds[n] ?? '', signal: 'go', signalId: `go-${n}`, payload: { n } }));
    while (((await store.countRuns({ saga: waiting.name })).completed ?? 0) < burst) await new Promise((resolve) => setTimeout(resolve, 100));
    const wakeMs = performance.now() - signalled;
    await worker.stop({ timeoutMs: 5_000 });
    await submitter.close();
    return {
      parksPerSecond: Math.round(count / (parkMs / 1_000)),
      workerBytesPerParkedRun: Math.round(workerBytes),
      heldWhileParked,
      claimRatioParked: withParked / withNone,
      claimRatioBeforeVacuum: beforeVacuum / withNone,
      claimBuffersParked: buffers,
      claimBuffersBeforeVacuum: buffersBeforeVacuum,
      signalsPerSecond: Math.round(burst / (wakeMs / 1_000)),
    };
  } finally {
    await store.close();
    await empty.close();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.query(`DROP SCHEMA IF EXISTS "${emptySchema}" CASCADE`);
    await admin.end();
  }
}

/** Runs both settings; PostgreSQL is skipped (with a reason) when it cannot be reached. */
export async function benchmarkWaits(options: WaitsBenchOptions = {}): Promise<WaitsBenchResult> {
  const count = options.count ?? 100_000;
  const burst = Math.min(count, options.burst ?? count);
  const log = options.log ?? (() => undefined);
  const url = options.url ?? process.env['SAGAFLOW_BENCH_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
  log(`  ${count.toLocaleString('en-US')} runs waiting in one process (MemoryStore)…`);
  const memory = await inProcess(count);
  try {
    return { count, burst, memory, postgres: await onPostgres(count, burst, url, log) };
  } catch (error) {
    return { count, burst, memory, postgres: null, reason: `PostgreSQL: ${error instanceof Error ? error.message : String(error)}` };
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await benchmarkWaits({ count: numberArgument('count', 100_000), burst: numberArgument('burst', 100_000), log: (line) => process.stderr.write(`${line}\n`) });
  console.log(JSON.stringify({ gcExposed: gc !== undefined, ...result }, null, 2));
}
