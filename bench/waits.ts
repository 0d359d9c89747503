/**
 * Waiting runs: what N runs waiting for a signal at once cost in one process, and how long a
 * burst of N signals takes to wake them all. MemoryStore, real clock, one orchestrator.
 *
 * Run alone: `npm run build && node --expose-gc --import tsx bench/waits.ts [--count=100000]`
 *
 * Method: heap used (after a full GC) before the runs start and once every run's `wait.started`
 * is durable, divided by N (the store's journals included: each waiting run keeps 4 events);
 * then the time from the first `signal()` to the last run settled. No timer is armed for these
 * waits (no timeout), so nothing polls or ticks while they wait.
 */
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, type SagaRun } from '../dist/index.js';
import { numberArgument } from './lib/sqlite-bench.js';

const count = numberArgument('count', 100_000);
const gc = (globalThis as { gc?: () => void }).gc;
const heap = (): number => {
  gc?.();
  return process.memoryUsage().heapUsed;
};

const saga = defineSaga({ name: 'bench-wait', input: z.object({ n: z.number() }) })
  .waitForSignal('go', { signal: 'go', schema: z.object({ n: z.number() }) })
  .stage('done', { execute: ({ results }) => results.go.n })
  .build();

const orchestrator = createOrchestrator({ sagas: [saga], store: new MemoryStore({ maxSettledRuns: 0 }) });
const before = heap();
const runs: SagaRun[] = [];
let waiting = 0;
const allWaiting = new Promise<void>((resolve) => {
  orchestrator.events$.subscribe((event) => {
    if (event.type === 'wait.started' && ++waiting === count) resolve();
  });
});
const started = performance.now();
for (let n = 0; n < count; n++) runs.push(orchestrator.start(saga, { n }));
await allWaiting;
const startMs = performance.now() - started;
const waitingHeap = heap();
const signalled = performance.now();
await Promise.all(runs.map((run, n) => orchestrator.signal(run.runId, 'go', { n })));
await Promise.all(runs.map((run) => run.outcome));
const wakeMs = performance.now() - signalled;
await orchestrator.close();
console.log(
  JSON.stringify({
    count,
    gcExposed: gc !== undefined,
    bytesPerWaitingRun: Math.round((waitingHeap - before) / count),
    startAndWaitMs: Math.round(startMs),
    signalBurstMs: Math.round(wakeMs),
    signalsPerSecond: Math.round(count / (wakeMs / 1_000)),
  }),
);
