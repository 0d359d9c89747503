/**
 * A process of the redrive test (spawned by redrive.test.ts with `node --import tsx`).
 *
 * `pause`: starts a run whose stage `charge` fails (its provider is down), so the run pauses
 * (`onFailure: 'pause'`); reports the outcome and SIGKILLs itself, closing nothing.
 * `redrive`: a fresh process on the same file, with the provider back up: checks that
 * `recover()` leaves the paused run alone, then redrives it to the end.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { z } from 'zod';
import { createOrchestrator, defineSaga, type ExecuteContext, type SagaOutcome } from 'sagaflow';
import { SqliteStore } from 'sagaflow/sqlite';
import { Ledger } from './ledger.js';

export interface RedriveChildConfig {
  readonly databasePath: string;
  readonly ledgerPath: string;
  readonly mode: 'pause' | 'redrive';
  readonly runId: string;
}

export type RedriveChildMessage =
  | { readonly type: 'paused'; readonly outcome: SagaOutcome }
  | { readonly type: 'recovered'; readonly runIds: readonly string[] }
  | { readonly type: 'redriven'; readonly outcome: SagaOutcome; readonly resumedEvents: number }
  | { readonly type: 'error'; readonly message: string };

const config = JSON.parse(process.argv[2] ?? '{}') as RedriveChildConfig;
const say = (message: RedriveChildMessage): void => void process.stdout.write(`${JSON.stringify(message)}\n`);
const ledger = new Ledger(config.ledgerPath);
const providerDown = config.mode === 'pause';

type Input = { orderId: string };
const step =
  (name: string, fails = false) =>
  async ({ runId, idempotencyKey, attempt }: ExecuteContext<Input, {}>) => {
    await nextTurn();
    ledger.record({ runId, stage: name, kind: 'execute', idempotencyKey, attempt, hasOutput: true });
    if (fails && providerDown) throw new Error(`the ${name} provider is down`);
    return { [name]: idempotencyKey };
  };

const order = defineSaga({ name: 'order', input: z.object({ orderId: z.string() }), onFailure: 'pause' })
  .stage('reserve', { execute: step('reserve') })
  .stage('charge', { execute: step('charge', true) })
  .stage('ship', { execute: step('ship') })
  .build();

const store = new SqliteStore({ path: config.databasePath });
const orchestrator = createOrchestrator({ store, sagas: [order] });

try {
  if (config.mode === 'pause') {
    const outcome = await orchestrator.start(order, { orderId: 'o-1' }, { runId: config.runId }).outcome;
    say({ type: 'paused', outcome });
    process.kill(process.pid, 'SIGKILL');
  } else {
    const recovered = await orchestrator.recover();
    say({ type: 'recovered', runIds: recovered.map((run) => run.runId) });
    const run = orchestrator.redrive(config.runId);
    let resumedEvents = 0;
    run.events$.subscribe((event) => {
      if (event.type === 'run.resumed') resumedEvents++;
    });
    say({ type: 'redriven', outcome: await run.outcome, resumedEvents });
    await orchestrator.close();
    await store.close();
    ledger.close();
  }
} catch (error) {
  say({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
}
