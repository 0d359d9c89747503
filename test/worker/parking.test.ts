/**
 * Parked runs on PostgreSQL: a run that has nothing to do but wait gives its lease back and is
 * forgotten by its worker; the store hands it out again when it is due, or when a signal or a
 * cancel request arrives. Nothing is lost on the way: requests made while a run is being parked,
 * duplicates, a signal timeout that rolls back.
 */
import { from, lastValueFrom, mergeMap } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, createWorker, defineSaga, foldJournal, type Instrumentation, type Worker, type WorkerActivity } from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { dropSchemas, postgresForTests, uniqueSchema, withAdminClient } from '../support/postgres.js';
import { waitFor, waitForSettled } from './support.js';

const url = await postgresForTests();
const schema = uniqueSchema('parking');
const stores: PostgresStore[] = [];
const open = (): PostgresStore => {
  const store = new PostgresStore({ connectionString: url ?? '', schema, maxConnections: 4 });
  stores.push(store);
  return store;
};
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  if (url !== undefined) await dropSchemas(url, schema);
});

const compensated: string[] = [];
/** hold (compensated) → a wait for `approved` with a timeout → pay. */
function approvalSaga(name: string, timeoutMs: number) {
  return defineSaga({ name, input: z.object({ cents: z.number() }) })
    .stage('hold', {
      execute: ({ input }) => ({ held: input.cents }),
      compensate: ({ runId }) => {
        compensated.push(runId);
      },
    })
    .waitForSignal('approve', { signal: 'approved', schema: z.object({ by: z.string() }), timeoutMs })
    .stage('pay', { execute: ({ results }) => `approved by ${results.approve.by}` })
    .build();
}
const approval = approvalSaga('park-approval', 600_000);
const hurried = approvalSaga('park-hurried', 1_500);
const forever = defineSaga({ name: 'park-forever', input: z.object({ n: z.number() }) })
  .waitForSignal('go', { signal: 'go', schema: z.object({ n: z.number() }) })
  .stage('done', { execute: ({ results }) => results.go.n })
  .build();

interface Row {
  readonly lease_owner: string | null;
  readonly wake_at: string | null;
  readonly signal_requests: unknown;
}
const rowOf = (runId: string): Promise<Row | undefined> =>
  withAdminClient(url ?? '', async (client) => (await client.query<Row>(`SELECT lease_owner, wake_at::text, signal_requests FROM "${schema}".runs WHERE run_id = $1`, [runId])).rows[0]);

function worker(id: string, activities: WorkerActivity[] = [], options: { parkThresholdMs?: number; concurrency?: number } = {}): Worker {
  const instrumentation: Instrumentation = { worker: (activity) => activities.push(activity) };
  return createWorker({ store: open(), sagas: [approval, hurried, forever], workerId: id, leaseMs: 30_000, pollIntervalMs: 100, instrumentation, ...options });
}

describe.runIf(url !== undefined)('parked runs on PostgreSQL', { timeout: 60_000 }, () => {
  it('a run waiting for a signal is parked — no lease, no slot, nothing in the worker — and a signal from another process wakes it', async () => {
    const activities: WorkerActivity[] = [];
    const w = worker('park-w1', activities);
    await w.start();
    const sender = createOrchestrator({ store: open(), sagas: [approval] });
    try {
      const runId = await sender.submit(approval, { cents: 5 });
      await waitFor('the run is parked', () => activities.some((activity) => activity.type === 'parked' && activity.runId === runId));
      expect(activities.find((activity) => activity.type === 'parked')).toEqual({ type: 'parked', workerId: 'park-w1', runId, wakeAt: expect.any(Number) as number });
      await waitFor('the park is durable', async () => (await rowOf(runId))?.wake_at !== null);
      const row = await rowOf(runId);
      // The signal wait has a 10-minute timeout: due then, and held by nobody meanwhile.
      expect(row?.lease_owner).toBeNull();
      expect(Date.parse(row?.wake_at ?? '') - Date.now()).toBeGreaterThan(500_000);
      expect(w.activeRuns).toEqual([]);
      expect(await sender.store.leaseOf(runId)).toBeUndefined();

      await expect(sender.signal(runId, 'approved', { by: 'ops' }, { signalId: 'approve-1' })).resolves.toEqual({ accepted: true, signalId: 'approve-1', delivered: 'waiting' });
      const journal = (await waitForSettled(sender.store, [runId])).get(runId) ?? [];
      expect(foldJournal(journal).status).toBe('completed');
      expect((await sender.inspect(runId)).outputs).toMatchObject({ pay: 'approved by ops' });
      // Woken by the signal (a claim), not by polling a held run: one resume, one signal.
      expect(journal.filter((event) => event.type === 'run.resumed')).toHaveLength(1);
      expect(journal.filter((event) => event.type === 'signal.received')).toHaveLength(1);
      expect((await rowOf(runId))?.signal_requests).toBeNull();
    } finally {
      await w.stop({ timeoutMs: 1_000 });
      await sender.close();
    }
  });

  it('a cancel of a parked run rolls it back: the stage before the wait is compensated', async () => {
    const activities: WorkerActivity[] = [];
    const w = worker('park-w2', activities);
    await w.start();
    const operator = createOrchestrator({ store: open(), sagas: [approval] });
    try {
      const runId = await operator.submit(approval, { cents: 6 });
      await waitFor('the run is parked', async () => activities.some((activity) => activity.type === 'parked' && activity.runId === runId) && (await rowOf(runId))?.wake_at !== null);
      await operator.cancel(runId, 'customer withdrew');
      const journal = (await waitForSettled(operator.store, [runId])).get(runId) ?? [];
      const state = foldJournal(journal);
      expect(state.status).toBe('cancelled');
      expect(state.cancellation?.reason).toBe('customer withdrew');
      expect(compensated.filter((id) => id === runId)).toHaveLength(1);
      expect(journal.filter((event) => event.type === 'compensation.completed').map((event) => ('stage' in event ? event.stage : ''))).toEqual(['hold']);
    } finally {
      await w.stop({ timeoutMs: 1_000 });
      await operator.close();
    }
  });

  it('a parked signal wait is claimed again when its timeout is due, and the timeout rolls the run back', async () => {
    const activities: WorkerActivity[] = [];
    const w = worker('park-w3', activities, { parkThresholdMs: 0 });
    await w.start();
    const submitter = createOrchestrator({ store: open(), sagas: [hurried] });
    try {
      const runId = await submitter.submit(hurried, { cents: 7 });
      await waitFor('the run is parked', () => activities.some((activity) => activity.type === 'parked' && activity.runId === runId));
      const journal = (await waitForSettled(submitter.store, [runId])).get(runId) ?? [];
      const state = foldJournal(journal);
      expect(state.status).toBe('compensated');
      expect(state.failure).toMatchObject({ stage: 'approve', error: { name: 'WaitTimeoutError' } });
      expect(compensated.filter((id) => id === runId)).toHaveLength(1);
      const waited = journal.find((event) => event.type === 'wait.started');
      const failed = journal.find((event) => event.type === 'stage.failed');
      expect(failed?.at).toBeGreaterThanOrEqual(waited?.type === 'wait.started' ? (waited.dueAt ?? Infinity) : Infinity);
    } finally {
      await w.stop({ timeoutMs: 1_000 });
      await submitter.close();
    }
  });

  it('a signal request the worker had not seen when it parked the run is not lost: the park leaves the run claimable at once', async () => {
    const store = open();
    const submitter = createOrchestrator({ store, sagas: [forever] });
    const runId = await submitter.submit(forever, { n: 1 });
    const [claimed] = await store.claim({ owner: 'hand', sagas: [{ name: forever.name, shapeHash: forever.shapeHash }], limit: 1, leaseMs: 30_000 });
    expect(claimed?.runId).toBe(runId);
    const lease = claimed?.lease ?? { owner: 'hand', epoch: 0 };
    // Sent while the owner decides to park: the owner has not journaled it.
    await store.requestSignal({ runId, signal: 'go', signalId: 'late', payload: { n: 2 } });
    await store.requestSignal({ runId, signal: 'go', signalId: 'late', payload: { n: 2 } });
    expect((await rowOf(runId))?.signal_requests).toHaveLength(1);
    await expect(store.park({ runId, lease, wakeInMs: null, handledSignals: [] })).resolves.toBe('requeued');
    expect((await rowOf(runId))?.wake_at).toBeNull();
    const [again] = await store.claim({ owner: 'hand-2', sagas: [{ name: forever.name, shapeHash: forever.shapeHash }], limit: 1, leaseMs: 30_000 });
    expect(again?.runId).toBe(runId);
    expect(again?.signalRequests?.map((request) => request.signalId)).toEqual(['late']);
    // A park under the lease it lost changes nothing; under the new one, with the request
    // journaled by then, the run parks until a signal or a cancel comes.
    await expect(store.park({ runId, lease, wakeInMs: null, handledSignals: ['late'] })).resolves.toBe('lost');
    await expect(store.park({ runId, lease: again?.lease ?? lease, wakeInMs: null, handledSignals: ['late'] })).resolves.toBe('parked');
    expect(await rowOf(runId)).toMatchObject({ lease_owner: null, wake_at: 'infinity', signal_requests: null });
    // Parked until a signal: no claim finds it.
    expect(await store.claim({ owner: 'hand-3', sagas: [{ name: forever.name, shapeHash: forever.shapeHash }], limit: 10, leaseMs: 30_000 })).toEqual([]);
    await expect(store.park({ runId, lease, wakeInMs: -1, handledSignals: [] })).rejects.toThrow(/wakeInMs must be null or a finite number >= 0/);
    await store.requestCancel(runId, 'cleanup');
    await submitter.close();
  });

  it('a signal request this worker\u2019s definition refuses (a payload not of its schema) is reported once, never journaled, and does not wake the run again and again', async () => {
    const activities: WorkerActivity[] = [];
    const refused: Array<[string, string | undefined, string]> = [];
    const w = createWorker({
      store: open(),
      sagas: [forever],
      workerId: 'park-w5',
      leaseMs: 30_000,
      pollIntervalMs: 100,
      instrumentation: { worker: (activity) => activities.push(activity) },
      onError: (error, context) => refused.push([context.operation, context.runId, error.name]),
    });
    await w.start();
    const store = open();
    const sender = createOrchestrator({ store, sagas: [forever] });
    try {
      const runId = await sender.submit(forever, { n: 1 });
      const parks = () => activities.filter((activity) => activity.type === 'parked' && activity.runId === runId).length;
      await waitFor('the run is parked', async () => parks() === 1 && (await rowOf(runId))?.wake_at !== null);
      // As if sent by a process whose schema differed: straight to the store, unchecked.
      await store.requestSignal({ runId, signal: 'go', signalId: 'bad', payload: { n: 'not a number' } });
      await waitFor('the run is parked again', async () => parks() === 2 && (await rowOf(runId))?.wake_at !== null);
      expect(refused).toEqual([['signal', runId, 'SignalPayloadError']]);
      const row = await rowOf(runId);
      expect(row).toMatchObject({ lease_owner: null, wake_at: 'infinity', signal_requests: null });
      expect(((await store.load(runId)) ?? []).filter((event) => event.type === 'signal.received')).toEqual([]);
      await sender.signal(runId, 'go', { n: 2 }, { signalId: 'good' });
      const journal = (await waitForSettled(store, [runId])).get(runId) ?? [];
      expect(foldJournal(journal).stages.get('done')?.output).toBe(2);
      expect(parks()).toBe(2);
    } finally {
      await w.stop({ timeoutMs: 1_000 });
      await sender.close();
    }
  });

  it('a park the store refuses is retried, and one that keeps failing leaves the run to be claimed again once its lease lapses: no wait is lost', async () => {
    const real = open();
    let failures = Number.POSITIVE_INFINITY;
    const errors: string[] = [];
    // The worker's store, with park failing as a database that went away would.
    const flaky = new Proxy(real, {
      get(target, key, receiver) {
        if (key === 'park') {
          return (request: Parameters<PostgresStore['park']>[0]) => {
            if (failures-- > 0) return Promise.reject(new Error('connection terminated'));
            return target.park(request);
          };
        }
        const value: unknown = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const activities: WorkerActivity[] = [];
    const w = createWorker({
      store: flaky,
      sagas: [forever],
      workerId: 'park-w6',
      leaseMs: 1_500,
      pollIntervalMs: 100,
      retry: { initialDelayMs: 5, maxDelayMs: 20 },
      instrumentation: { worker: (activity) => activities.push(activity) },
      onError: (error, context) => errors.push(`${context.operation} ${error.message}`),
    });
    await w.start();
    const sender = createOrchestrator({ store: real, sagas: [forever] });
    try {
      const runId = await sender.submit(forever, { n: 3 });
      // Every retry of the first park fails: the worker reports it and lets the lease lapse.
      await waitFor('the park is given up', () => errors.filter((line) => line.startsWith('park ')).length >= 7);
      failures = 0;
      // Claimed again after the lease ran out, run to its wait again, and parked this time.
      await waitFor('the run is parked', async () => activities.filter((activity) => activity.type === 'parked' && activity.runId === runId).length >= 2 && (await rowOf(runId))?.wake_at === 'infinity');
      const journal = (await real.load(runId)) ?? [];
      expect(journal.filter((event) => event.type === 'wait.started')).toHaveLength(1);
      await sender.signal(runId, 'go', { n: 4 });
      const settled = (await waitForSettled(real, [runId])).get(runId) ?? [];
      expect(foldJournal(settled).stages.get('done')?.output).toBe(4);
    } finally {
      await w.stop({ timeoutMs: 1_000 });
      await sender.close();
    }
  });

  it('600 runs waiting at once hold nothing in a worker of concurrency 10, and a burst of signals wakes every one', async () => {
    const count = 600;
    const activities: WorkerActivity[] = [];
    const w = worker('park-w4', activities, { concurrency: 10 });
    await w.start();
    const sender = createOrchestrator({ store: open(), sagas: [forever] });
    try {
      const runIds = await Promise.all(Array.from({ length: count }, (_, n) => sender.submit(forever, { n })));
      const parked = new Set<string>();
      await waitFor(
        `${count} runs parked`,
        () => {
          for (const activity of activities.splice(0)) if (activity.type === 'parked') parked.add(activity.runId);
          return parked.size === count;
        },
        50_000,
      );
      expect(w.activeRuns).toEqual([]);
      // The burst, as webhooks would send it: 25 at a time, each resolving once its signal is journaled.
      await lastValueFrom(from(runIds.entries()).pipe(mergeMap(([n, runId]) => sender.signal(runId, 'go', { n }, { signalId: `go-${n}` }), 25)));
      const journals = await waitForSettled(sender.store, runIds, 50_000);
      runIds.forEach((runId, n) => {
        const state = foldJournal(journals.get(runId) ?? []);
        expect(state.status).toBe('completed');
        expect(state.stages.get('done')?.output).toBe(n);
      });
    } finally {
      await w.stop({ timeoutMs: 1_000 });
      await sender.close();
    }
  });
});
