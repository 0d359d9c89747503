/**
 * A process of the OpenTelemetry process tests (spawned by processes.test.ts with
 * `node --import tsx`). Every span it ends is printed at once as a JSON line, so that the spans
 * ended before a SIGKILL reach the parent.
 *
 * - `start`: starts a `crash-order` run on a SQLite file inside a `request` span, and SIGKILLs
 *   itself while the run's second stage is in flight.
 * - `resume`: a new process on the same file: recovers the run once the dead process's lease has
 *   expired, and drives it to the end.
 * - `worker`: a PostgreSQL worker that drives the submitted `otel-booking` run `runId` to its end,
 *   then prints its metrics.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { filter, firstValueFrom } from 'rxjs';
import { createOrchestrator, createWorker, type SagaEvent, type SagaOutcome, type SagaRun } from 'sagaflow';
import { openTelemetry } from 'sagaflow/otel';
import { PostgresStore } from 'sagaflow/postgres';
import { SqliteStore } from 'sagaflow/sqlite';
import { booking, crashSaga } from './sagas.js';
import { StdoutSpanExporter, testTelemetry, useAsyncContext, type Metrics, type SpanRecord } from './support.js';

export type OtelChildConfig =
  | { readonly mode: 'start' | 'resume'; readonly databasePath: string }
  | { readonly mode: 'worker'; readonly url: string; readonly schema: string; readonly runId: string };

export type OtelChildMessage =
  | { readonly type: 'span'; readonly span: SpanRecord }
  | { readonly type: 'started'; readonly runId: string }
  | { readonly type: 'outcome'; readonly outcome: SagaOutcome }
  | { readonly type: 'metrics'; readonly metrics: Metrics }
  | { readonly type: 'error'; readonly message: string };

const SETTLING: ReadonlySet<SagaEvent['type']> = new Set(['run.completed', 'run.compensated', 'run.cancelled', 'run.compensation_failed', 'run.paused']);

/** Short leases: the resuming process waits for the killed one's to expire. */
const LEASE_MS = 300;

const config = JSON.parse(process.argv[2] ?? '{}') as OtelChildConfig;
// stdout is a pipe: writes are synchronous on Linux, so nothing is lost to the SIGKILL.
const say = (message: OtelChildMessage): void => void process.stdout.write(`${JSON.stringify(message)}\n`);
useAsyncContext();
const telemetry = testTelemetry(new StdoutSpanExporter());
const instrumentation = openTelemetry({ tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider });

try {
  switch (config.mode) {
    case 'start': {
      const saga = crashSaga(async () => {
        await nextTurn();
        process.kill(process.pid, 'SIGKILL');
      });
      const store = new SqliteStore({ path: config.databasePath });
      const orchestrator = createOrchestrator({ store, sagas: [saga], leaseMs: LEASE_MS, instrumentation });
      const run = telemetry.tracerProvider.getTracer('test-app').startActiveSpan('request', (span): SagaRun => {
        const started = orchestrator.start(saga, { orderId: 'o-1' });
        span.end();
        return started;
      });
      say({ type: 'started', runId: run.runId });
      await run.outcome;
      say({ type: 'error', message: 'the run settled before the process was killed' });
      break;
    }
    case 'resume': {
      const saga = crashSaga(() => nextTurn());
      const store = new SqliteStore({ path: config.databasePath });
      const orchestrator = createOrchestrator({ store, sagas: [saga], leaseMs: LEASE_MS, instrumentation });
      // The killed process's lease outlives it: take the run over once it has expired.
      let runs: SagaRun[] = [];
      for (;;) {
        const recovered = await orchestrator.recover();
        runs = [...recovered];
        if (runs.length > 0 || !recovered.skipped.some((skipped) => skipped.reason === 'owned')) break;
        await new Promise((resolve) => setTimeout(resolve, LEASE_MS / 4));
      }
      for (const run of runs) say({ type: 'outcome', outcome: await run.outcome });
      await orchestrator.close();
      await store.close();
      break;
    }
    case 'worker': {
      const store = new PostgresStore({ connectionString: config.url, schema: config.schema, maxConnections: 3 });
      const worker = createWorker({ store, sagas: [booking], instrumentation, leaseMs: 3_000, pollIntervalMs: 100 });
      const settled = firstValueFrom(worker.events$.pipe(filter((event) => event.runId === config.runId && SETTLING.has(event.type))));
      await worker.start();
      await settled;
      await worker.stop();
      say({ type: 'outcome', outcome: await createOrchestrator({ store }).inspect(config.runId) });
      say({ type: 'metrics', metrics: await telemetry.metrics() });
      await store.close();
      break;
    }
  }
  await telemetry.shutdown();
} catch (error) {
  say({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
}
