// A benchmark worker process (started by bench/postgres.ts with `node --import tsx`): drives
// the bench saga and tells the parent over IPC which runs settled, in small batches.
import { createWorker } from '../../dist/index.js';
import { PostgresStore } from '../../dist/postgres.js';
import { benchSaga } from './bench-saga.js';

const url = process.env['BENCH_PG_URL'] ?? '';
const schema = process.env['BENCH_PG_SCHEMA'] ?? '';
const store = new PostgresStore({ connectionString: url, schema, maxConnections: Number(process.env['BENCH_PG_POOL'] ?? '16') });
const worker = createWorker({
  store,
  sagas: [benchSaga],
  concurrency: Number(process.env['BENCH_WORKER_CONCURRENCY'] ?? '16'),
  pollIntervalMs: 1_000,
});

let settled: string[] = [];
let flushing = false;
const SETTLING = new Set(['run.completed', 'run.compensated', 'run.cancelled', 'run.compensation_failed', 'run.paused']);
worker.events$.subscribe((event) => {
  if (!SETTLING.has(event.type)) return;
  settled.push(event.runId);
  if (flushing) return;
  flushing = true;
  setImmediate(() => {
    flushing = false;
    const batch = settled;
    settled = [];
    process.send?.({ type: 'settled', runIds: batch });
  });
});

process.on('message', (message: { type?: string }) => {
  if (message.type === 'cpu') {
    const usage = process.cpuUsage();
    process.send?.({ type: 'cpu', ms: (usage.user + usage.system) / 1_000 });
    return;
  }
  if (message.type !== 'stop') return;
  void worker
    .stop({ timeoutMs: 2_000 })
    .then(() => store.close())
    .then(() => process.disconnect());
});

await worker.start();
process.send?.({ type: 'ready' });
