// Workers in separate processes, killed, frozen and cancelled from the outside: the failure
// modes that only real processes have.
import pg from 'pg';
import { firstValueFrom, toArray } from 'rxjs';
import { createOrchestrator, createWorker, foldJournal, type SagaEvent, type Worker } from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { trace } from '../support/collect.js';
import { dropSchemas, postgresForTests, uniqueSchema } from '../support/postgres.js';
import { createLedger, ledgerSaga } from './fixtures/ledger.js';
import { sleepySaga } from './fixtures/sleepy.js';
import { WorkerProcess, type WorkerMessage } from './fixtures/processes.js';
import { expectSoundJournal, waitFor, waitForSettled } from './support.js';

const url = await postgresForTests();
const schema = uniqueSchema('worker_procs');
let store: PostgresStore;
let pool: pg.Pool;
const processes: WorkerProcess[] = [];
const inProcess: Worker[] = [];

function spawn(workerId: string, options: { leaseMs: number; concurrency?: number; parkThresholdMs?: number }): WorkerProcess {
  const child = new WorkerProcess(workerId, {
    SAGAFLOW_WORKER_URL: url ?? '',
    SAGAFLOW_WORKER_SCHEMA: schema,
    SAGAFLOW_WORKER_LEASE_MS: String(options.leaseMs),
    SAGAFLOW_WORKER_CONCURRENCY: String(options.concurrency ?? 10),
    SAGAFLOW_WORKER_POLL_MS: '100',
    ...(options.parkThresholdMs === undefined ? {} : { SAGAFLOW_WORKER_PARK_MS: String(options.parkThresholdMs) }),
  });
  processes.push(child);
  return child;
}

const isEvent = (message: WorkerMessage): message is Extract<WorkerMessage, { type: 'event' }> => message.type === 'event';

beforeAll(async () => {
  if (url === undefined) return;
  await createLedger(url, schema);
  store = new PostgresStore({ connectionString: url, schema, maxConnections: 4 });
  pool = new pg.Pool({ connectionString: url, max: 2 });
});

afterEach(async () => {
  const children = processes.splice(0);
  for (const child of children) if (child.child.exitCode === null && child.child.signalCode === null) child.signal('SIGCONT');
  await Promise.all(children.map((child) => child.stop()));
  await Promise.all(inProcess.splice(0).map((worker) => worker.stop({ timeoutMs: 1_000 })));
});

afterAll(async () => {
  await store?.close();
  await pool?.end();
  if (url !== undefined) await dropSchemas(url, schema);
});

describe.skipIf(url === undefined)('worker processes', { timeout: 60_000 }, () => {
  it('three workers share 60 runs; one is SIGKILLed mid-load; every run settles, each effect once, rollbacks in reverse order', async () => {
    const fleet = ['fleet-1', 'fleet-2', 'fleet-3'].map((id) => spawn(id, { leaseMs: 1_200, concurrency: 6 }));
    await Promise.all(fleet.map((child) => child.ready()));
    const orchestrator = createOrchestrator({ store });
    const saga = ledgerSaga(pool, schema, 'submitter');
    const runIds: string[] = [];
    const failing = new Set<string>();
    for (let index = 0; index < 60; index++) {
      const fails = index % 4 === 3;
      const runId = await orchestrator.submit(saga, { delayMs: 40, ...(fails ? { failAt: 'e' as const } : {}) });
      runIds.push(runId);
      if (fails) failing.add(runId);
    }

    // Kill a worker while it has runs in flight: they must be taken over by the others.
    const victim = fleet[0] as WorkerProcess;
    await victim.waitFor('three runs in flight', () => {
      const started = new Set(victim.events().filter((event) => event.event === 'stage.started').map((event) => event.runId));
      const settled = new Set(victim.events().filter((event) => event.event.startsWith('run.') && event.event !== 'run.resumed' && event.event !== 'run.compensating' && event.event !== 'run.cancelling').map((event) => event.runId));
      return [...started].filter((runId) => !settled.has(runId)).length >= 3;
    });
    await victim.kill();

    const journals = await waitForSettled(store, runIds, 45_000);
    let takenOver = 0;
    for (const runId of runIds) {
      const journal = journals.get(runId) ?? [];
      expectSoundJournal(journal);
      const state = foldJournal(journal);
      expect(state.status).toBe(failing.has(runId) ? 'compensated' : 'completed');
      if (journal.some((event) => event.type === 'run.resumed' && event.mode === 'resume')) takenOver++;
      if (failing.has(runId)) {
        expect(state.completionOrder).toEqual(['a', 'b', 'c', 'd']);
        expect(state.compensationOrder).toEqual(['d', 'c', 'b', 'a']);
      }
    }
    expect(takenOver).toBeGreaterThan(0);

    // The ledger: every effect exactly once, under exactly one idempotency key per stage.
    const rows: Array<{ run_id: string; stage: string; kind: string; idempotency_key: string }> = (
      await pool.query(`SELECT run_id, stage, kind, idempotency_key FROM "${schema}".ledger WHERE run_id = ANY($1::text[]) ORDER BY position`, [runIds])
    ).rows;
    for (const runId of runIds) {
      const mine = rows.filter((row) => row.run_id === runId);
      const executed = mine.filter((row) => row.kind === 'execute').map((row) => row.stage);
      const compensated = mine.filter((row) => row.kind === 'compensate').map((row) => row.stage);
      if (failing.has(runId)) {
        expect(executed).toEqual(['a', 'b', 'c', 'd']);
        // Reverse completion order, as applied to the outside system.
        expect(compensated).toEqual(['d', 'c', 'b', 'a']);
      } else {
        expect(executed).toEqual(['a', 'b', 'c', 'd', 'e']);
        expect(compensated).toEqual([]);
      }
      const journal = journals.get(runId) ?? [];
      const outputs = foldJournal(journal).stages;
      for (const row of mine.filter((entry) => entry.kind === 'execute')) {
        expect((outputs.get(row.stage)?.output as { key: string }).key).toBe(row.idempotency_key);
      }
    }
    // Any re-execution after the kill used the same key as the first attempt.
    const keysPerStage = await pool.query(
      `SELECT run_id, stage, kind, count(DISTINCT idempotency_key) AS keys FROM "${schema}".calls WHERE run_id = ANY($1::text[]) GROUP BY 1, 2, 3 HAVING count(DISTINCT idempotency_key) > 1`,
      [runIds],
    );
    expect(keysPerStage.rows).toEqual([]);
    await orchestrator.close();
  });

  it('a timer wait survives a SIGKILL of its worker: another worker takes the run over and wakes it at the journaled time, not before and not anew', async () => {
    // This worker keeps its waiting runs (never parks): it dies holding the wait.
    const first = spawn('sleeper-1', { leaseMs: 1_000, parkThresholdMs: Number.POSITIVE_INFINITY });
    await first.ready();
    const orchestrator = createOrchestrator({ store });
    const wakeAt = Date.now() + 4_000;
    const runId = await orchestrator.submit(sleepySaga, { wakeAt });
    await first.waitFor('the run sleeps', () => first.events().some((event) => event.runId === runId && event.event === 'wait.started'));
    await first.kill();

    const second = spawn('sleeper-2', { leaseMs: 1_000 });
    await second.ready();
    const journal = (await waitForSettled(store, [runId], 30_000)).get(runId) ?? [];
    expectSoundJournal(journal);
    const state = foldJournal(journal);
    expect(state.status).toBe('completed');
    // The wait was journaled once, with its due time, and carried over: not restarted by the new worker.
    const waits = journal.filter((event) => event.type === 'wait.started');
    expect(waits).toHaveLength(1);
    expect(waits[0]).toMatchObject({ stage: 'nap', kind: 'timer', dueAt: wakeAt });
    expect(journal.filter((event) => event.type === 'stage.started' && event.stage === 'before')).toHaveLength(1);
    // Woken by the second worker, at the journaled time (by the clocks of one machine).
    expect(second.events().some((event) => event.runId === runId && event.event === 'stage.completed' && event.stage === 'nap')).toBe(true);
    const after = journal.find((event) => event.type === 'stage.completed' && event.stage === 'after');
    expect(after?.type === 'stage.completed' ? after.output : undefined).toBeGreaterThanOrEqual(wakeAt);
  });

  it('a parked timer wait outlives the worker that parked it: SIGKILLed while holding nothing, the run is claimed by another worker when due, not before', async () => {
    const first = spawn('parker-1', { leaseMs: 30_000, parkThresholdMs: 0 });
    await first.ready();
    const orchestrator = createOrchestrator({ store });
    const wakeAt = Date.now() + 3_000;
    const runId = await orchestrator.submit(sleepySaga, { wakeAt });
    // Parked: no lease (a 30 s lease would otherwise hold the run long past its due time), a due time.
    await waitFor('the run is parked', async () => {
      const row = await pool.query<{ lease_owner: string | null; wake_at: Date | null }>(`SELECT lease_owner, wake_at FROM "${schema}".runs WHERE run_id = $1`, [runId]);
      return row.rows[0]?.lease_owner === null && row.rows[0]?.wake_at !== null;
    });
    await first.kill();

    const second = spawn('parker-2', { leaseMs: 30_000, parkThresholdMs: 0 });
    await second.ready();
    const journal = (await waitForSettled(store, [runId], 30_000)).get(runId) ?? [];
    expectSoundJournal(journal);
    expect(foldJournal(journal).status).toBe('completed');
    expect(journal.filter((event) => event.type === 'wait.started')).toHaveLength(1);
    expect(journal.filter((event) => event.type === 'stage.started' && event.stage === 'before')).toHaveLength(1);
    // Claimed again only once due: the resume that woke it is not earlier than the journaled due time.
    const resumed = journal.filter((event) => event.type === 'run.resumed');
    expect(resumed).toHaveLength(1);
    expect(resumed[0]?.at).toBeGreaterThanOrEqual(wakeAt);
    expect(second.events().some((event) => event.runId === runId && event.event === 'stage.completed' && event.stage === 'nap')).toBe(true);
    await orchestrator.close();
  });

  it('fences out a frozen worker: after a takeover, its appends are refused and the journal stays sound', async () => {
    const frozen = spawn('frozen', { leaseMs: 900 });
    await frozen.ready();
    const orchestrator = createOrchestrator({ store });
    const runId = await orchestrator.submit(ledgerSaga(pool, schema, 'submitter'), { slowStage: 'b', slowMs: 1_500, slowOn: 'frozen' });
    await frozen.waitFor('stage b to start', (message) => isEvent(message) && message.runId === runId && message.event === 'stage.started' && message.stage === 'b');
    frozen.signal('SIGSTOP');

    const taker = createWorker({ store, sagas: [ledgerSaga(pool, schema, 'taker')], workerId: 'taker', pollIntervalMs: 50, onError: () => undefined });
    inProcess.push(taker);
    const takerEvents: SagaEvent[] = [];
    taker.events$.subscribe((event) => takerEvents.push(event));
    await taker.start();
    const journal = (await waitForSettled(store, [runId])).get(runId) ?? [];

    frozen.signal('SIGCONT');
    const lost = await frozen.waitFor('the frozen worker to learn it lost the run', (message) => message.type === 'error' && message.runId === runId);
    expect(lost).toMatchObject({ name: 'LeaseLostError', operation: 'run' });
    expect(lost.type === 'error' && lost.message).toContain(`Owner frozen lost its lease on run ${runId} (epoch 1)`);
    const after = (await store.load(runId)) ?? [];
    expect(after).toEqual(journal);
    expectSoundJournal(after);
    expect(foldJournal(after).status).toBe('completed');
    const resumed = after.filter((event) => event.type === 'run.resumed');
    expect(resumed).toHaveLength(1);
    const takeoverSeq = resumed[0]?.seq ?? -1;
    // Nothing durable from the frozen worker at or after the takeover; everything after it is the taker's.
    expect(Math.max(...frozen.events(runId).map((event) => event.seq))).toBeLessThan(takeoverSeq);
    expect(takerEvents.filter((event) => event.runId === runId)).toEqual(after.slice(takeoverSeq));
    expect(trace(after.slice(takeoverSeq, takeoverSeq + 3))).toEqual(['run.resumed', 'stage.started:b', 'stage.completed:b']);
    await orchestrator.close();
  });

  it('cancel(runId) from another process rolls back a worker-owned run; watch(runId) sees every event in order', async () => {
    const owner = spawn('owner', { leaseMs: 3_000 });
    await owner.ready();
    const orchestrator = createOrchestrator({ store });
    const runId = await orchestrator.submit(ledgerSaga(pool, schema, 'submitter'), { slowStage: 'c', slowMs: 20_000, abortable: true });
    const seen: SagaEvent[] = [];
    const watched = firstValueFrom(orchestrator.watch(runId, { pollIntervalMs: 50 }).pipe(toArray()));
    const subscription = orchestrator.watch(runId, { pollIntervalMs: 50 }).subscribe((event) => seen.push(event));
    await waitFor('stage c to start', () => seen.some((event) => event.type === 'stage.started' && event.stage === 'c'));
    await orchestrator.cancel(runId, 'operator said stop');

    const events = await watched;
    subscription.unsubscribe();
    const journal = (await store.load(runId)) ?? [];
    expect(events).toEqual(journal);
    const outcome = await orchestrator.inspect(runId);
    expect(outcome).toMatchObject({
      status: 'cancelled',
      cancellation: { reason: 'operator said stop', by: 'external' },
      completionOrder: ['a', 'b'],
      compensationOrder: ['b', 'a'],
    });
    expect(outcome.stages['c']?.status).toBe('cancelled');
    // The owner reports its events over IPC, which may trail the store: wait for its last one.
    await owner.waitFor('the owner to report the run cancelled', (message) => message.type === 'event' && message.runId === runId && message.event === 'run.cancelled');
    expect(owner.events(runId).map((event) => event.seq)).toEqual(journal.slice(1).map((event) => event.seq));
    const compensations = await pool.query(`SELECT stage FROM "${schema}".ledger WHERE run_id = $1 AND kind = 'compensate' ORDER BY position`, [runId]);
    expect(compensations.rows.map((row: { stage: string }) => row.stage)).toEqual(['b', 'a']);
    await orchestrator.close();
  });
});
