/**
 * A process running sagas whose user code hands the engine hostile values: a stage that throws an
 * Error with an enumerable getter that throws (an HTTP client's lazy `body`), one that throws a
 * revoked Proxy, one that returns an output with a throwing getter, and an `events$` subscriber
 * that throws on every event. It reports each run's outcome and exits 0 — if the engine let any of
 * it escape, the process would die instead (an uncaught exception or unhandled rejection).
 *
 * Usage: `node --import tsx hostile-child.ts '{"databasePath": "...", "mode": "run" | "recover"}'`
 */
import { z } from 'zod';
import { createOrchestrator, defineSaga, type SagaRun } from 'sagaflow';
import { SqliteStore } from 'sagaflow/sqlite';
import { revokedProxy, withThrowingGetter } from '../support/hostile.js';

interface Config {
  readonly databasePath: string;
  readonly mode: 'run' | 'recover';
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

const store = new SqliteStore({ path: config.databasePath });
const reported: string[] = [];
const orchestrator = createOrchestrator({
  store,
  sagas: [lazyBody, revoked, badOutput],
  leaseMs: 300,
  onError: (error, context) => reported.push(`${context.operation}: ${error.message}`),
});
orchestrator.events$.subscribe(() => {
  throw new Error('a subscriber that throws on every event');
});

const runs: SagaRun[] =
  config.mode === 'run'
    ? [orchestrator.start(lazyBody, {}), orchestrator.start(revoked, {}), orchestrator.start(badOutput, {})]
    : await orchestrator.recover();
for (const run of runs) run.events$.subscribe({ complete: () => { throw new Error('a completion handler that throws'); } });
const outcomes = await Promise.all(runs.map((run) => run.outcome));
for (const outcome of outcomes) {
  say({ type: 'outcome', saga: outcome.saga, status: outcome.status, failure: outcome.failure?.error ?? null, compensationOrder: outcome.compensationOrder });
}
await orchestrator.close();
await store.close();
say({ type: 'done', undone, subscriberErrors: reported.filter((line) => line.startsWith('subscriber')).length });
