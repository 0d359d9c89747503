/**
 * A process running sagas whose user code hands the engine hostile values: a stage that throws an
 * Error with an enumerable getter that throws (an HTTP client's lazy `body`), one that throws a
 * revoked Proxy, one that returns an output with a throwing getter, and an `events$` subscriber
 * that throws on every event. It reports each run's outcome and exits 0 — if the engine let any of
 * it escape, the process would die instead (an uncaught exception or unhandled rejection).
 *
 * Usage: `node --import tsx hostile-child.ts '{"databasePath": "...", "mode": "run" | "recover"}'`, or
 * `'{"postgres": {"url": "...", "schema": "..."}, "mode": "worker"}'`: the same sagas submitted to
 * PostgreSQL and driven by a worker in this process, whose `events$` subscriber throws too; a watch
 * of a run that stays queued is still open when the orchestrator closes.
 */
import { z } from 'zod';
import { createOrchestrator, createWorker, defineSaga, type SagaOutcome, type SagaRun, type SagaStore } from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { SqliteStore } from 'sagaflow/sqlite';
import { revokedProxy, withThrowingGetter } from '../support/hostile.js';

interface Config {
  readonly databasePath?: string;
  readonly postgres?: { readonly url: string; readonly schema: string };
  readonly mode: 'run' | 'recover' | 'worker';
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const say = (message: object): void => {
  process.stdout.write(`${JSON.stringify(message)}\n`);
};
// Anything that would have killed the process is reported, and makes the exit code 1.
process.on('uncaughtException', (error) => {
  say({ type: 'uncaught', message: String(error) });
  process.exitCode = 1;
});
process.on('unhandledRejection', (error) => {
  say({ type: 'unhandled', message: String(error) });
  process.exitCode = 1;
});

const undone: string[] = [];
const hostile = (name: string, failing: () => unknown) =>
  defineSaga({ name, input: z.object({}) })
    .stage('charge', {
      execute: () => 'charged',
      compensate: () => void undone.push(`${name}:charge`),
    })
    .stage('call', { execute: failing })
    .build();

const lazyBody = hostile('lazy-body', () => {
  throw withThrowingGetter(Object.assign(new Error('Request failed with status code 502'), { status: 502 }), 'body', new Error('the stream was already read'));
});
const revoked = hostile('revoked-proxy', () => {
  throw revokedProxy();
});
const badOutput = hostile('bad-output', () => withThrowingGetter({ id: 1 }, 'total', new Error('not loaded')));
// Submitted, but registered with no worker: it stays queued, so a watch of it is still following
// when the orchestrator closes — which must end that watch, or its timers keep the process alive.
const unserved = defineSaga({ name: 'unserved', input: z.object({}) }).stage('never', { execute: () => 'unreached' }).build();

const store: SagaStore =
  config.postgres === undefined
    ? new SqliteStore({ path: config.databasePath ?? '' })
    : new PostgresStore({ connectionString: config.postgres.url, schema: config.postgres.schema });
const reported: string[] = [];
const onError = (error: Error, context: { readonly operation: string }): void => void reported.push(`${context.operation}: ${error.message}`);
const orchestrator = createOrchestrator({ store, sagas: [lazyBody, revoked, badOutput], leaseMs: 300, onError });
const throwOnEvery = (): never => {
  throw new Error('a subscriber that throws on every event');
};
orchestrator.events$.subscribe(throwOnEvery);

let outcomes: SagaOutcome[];
let lingering: Promise<string> | undefined;
if (config.mode === 'worker') {
  const worker = createWorker({ store, sagas: [lazyBody, revoked, badOutput], leaseMs: 1_000, pollIntervalMs: 200, onError });
  worker.events$.subscribe(throwOnEvery);
  await worker.start();
  const runIds = [await orchestrator.submit(lazyBody, {}), await orchestrator.submit(revoked, {}), await orchestrator.submit(badOutput, {})];
  // Followed to the end (a watch completes when its run settles), with a completion handler that throws.
  await Promise.all(
    runIds.map(
      (runId) =>
        new Promise<void>((resolve, reject) => {
          const watch = orchestrator.watch(runId);
          watch.subscribe({ complete: () => { throw new Error('a completion handler that throws'); } });
          watch.subscribe({ complete: resolve, error: reject });
        }),
    ),
  );
  outcomes = await Promise.all(runIds.map((runId) => orchestrator.inspect(runId)));
  const queuedId = await orchestrator.submit(unserved, {});
  lingering = new Promise((resolve) => {
    orchestrator.watch(queuedId).subscribe({ error: (error: unknown) => resolve(error instanceof Error ? error.name : String(error)), complete: () => resolve('completed') });
  });
  await worker.stop();
} else {
  const runs: SagaRun[] =
    config.mode === 'run'
      ? [orchestrator.start(lazyBody, {}), orchestrator.start(revoked, {}), orchestrator.start(badOutput, {})]
      : await orchestrator.recover();
  for (const run of runs) run.events$.subscribe({ complete: () => { throw new Error('a completion handler that throws'); } });
  outcomes = await Promise.all(runs.map((run) => run.outcome));
}
for (const outcome of outcomes) {
  say({ type: 'outcome', saga: outcome.saga, status: outcome.status, failure: outcome.failure?.error ?? null, compensationOrder: outcome.compensationOrder });
}
await orchestrator.close();
await store.close();
say({ type: 'done', undone, subscriberErrors: reported.filter((line) => line.startsWith('subscriber')).length, lingeringWatch: await lingering });
// The process exits by itself now: nothing of the engine's may keep it alive (the parent kills it
// after a timeout, and a killed child fails the test).
