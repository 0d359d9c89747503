/**
 * Waits on PostgreSQL with workers: signals sent from another process reach the worker that owns
 * the run (or the one that claims it later), and a timer wait survives a change of worker.
 */
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, createWorker, defineSaga, SignalTimeoutError, type Worker } from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { dropSchemas, postgresForTests, uniqueSchema } from '../support/postgres.js';
import { waitFor, waitForSettled } from './support.js';

const url = await postgresForTests();
const schema = uniqueSchema('waits');
const stores: PostgresStore[] = [];
const open = (): PostgresStore => {
  const store = new PostgresStore({ connectionString: url ?? '', schema, maxConnections: 3 });
  stores.push(store);
  return store;
};
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  if (url !== undefined) await dropSchemas(url, schema);
});

const approval = defineSaga({ name: 'pg-approval', input: z.object({ cents: z.number() }) })
  .stage('hold', { execute: ({ input }) => ({ held: input.cents }), compensate: () => undefined })
  .waitForSignal('approve', { signal: 'approved', schema: z.object({ by: z.string() }), timeoutMs: 600_000 })
  .stage('pay', { execute: ({ results }) => `approved by ${results.approve.by}` })
  .build();

const coolOff = defineSaga({ name: 'pg-cool-off', input: z.object({ cents: z.number() }) })
  .stage('hold', { execute: ({ input }) => ({ held: input.cents }) })
  .sleep('cool', { durationMs: 1_500 })
  .stage('release', { execute: () => 'released' })
  .build();

function worker(id: string, leaseMs = 3_000, scheduler?: SchedulerLike): Worker {
  return createWorker({ store: open(), sagas: [approval, coolOff], workerId: id, leaseMs, pollIntervalMs: 100, scheduler });
}

/** Real time, read `ms` later than it is: a worker started that much later, as far as any deadline goes. */
const clockAhead = (ms: number): SchedulerLike => ({ now: () => Date.now() + ms, schedule: asyncScheduler.schedule.bind(asyncScheduler) });

describe.runIf(url !== undefined)('waits with workers on PostgreSQL', () => {
  it('a signal from another process reaches the worker that owns the run; one sent before the claim is delivered on claim', async () => {
    const store = open();
    const sender = createOrchestrator({ store, sagas: [approval] });
    const early = await sender.submit(approval, { cents: 1 });
    // Sent while the run is queued and nobody owns it: kept in the store for whoever claims it.
    await sender.store.requestSignal?.({ runId: early, signal: 'approved', signalId: 'early-1', payload: { by: 'early' } });
    const w = worker('waits-w1');
    await w.start();
    try {
      const late = await sender.submit(approval, { cents: 2 });
      await waitFor('the late run waits', async () => ((await store.load(late)) ?? []).some((event) => event.type === 'wait.started'));
      await expect(sender.signal(late, 'approved', { by: 'ops' }, { signalId: 'late-1' })).resolves.toEqual({ accepted: true, signalId: 'late-1', delivered: 'waiting' });
      const journals = await waitForSettled(store, [early, late]);
      const outcome = async (runId: string) => (await sender.inspect(runId)).outputs;
      expect(await outcome(early)).toMatchObject({ pay: 'approved by early' });
      expect(await outcome(late)).toMatchObject({ pay: 'approved by ops' });
      for (const journal of journals.values()) expect(journal.filter((event) => event.type === 'signal.received')).toHaveLength(1);
    } finally {
      await w.stop({ timeoutMs: 1_000 });
      await sender.close();
    }
  }, 60_000);

  it('with timeoutMs, a signal to a submitted run no worker serves rejects with SignalTimeoutError; the recorded request reaches the worker that claims it', async () => {
    const store = open();
    const sender = createOrchestrator({ store, sagas: [approval] });
    const runId = await sender.submit(approval, { cents: 4 });
    const failed = await sender.signal(runId, 'approved', { by: 'ops' }, { signalId: 'unserved-1', timeoutMs: 300 }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(SignalTimeoutError);
    expect(failed).toMatchObject({ code: 'SIGNAL_TIMEOUT', runId, signal: 'approved', signalId: 'unserved-1', owner: 'a worker' });
    expect((await sender.inspect(runId)).status).toBe('queued');
    const w = worker('waits-w4');
    await w.start();
    try {
      const journal = (await waitForSettled(store, [runId])).get(runId) ?? [];
      expect(journal.flatMap((event) => (event.type === 'signal.received' ? [event.signalId] : []))).toEqual(['unserved-1']);
      expect((await sender.inspect(runId)).outputs).toMatchObject({ pay: 'approved by ops' });
    } finally {
      await w.stop({ timeoutMs: 1_000 });
      await sender.close();
    }
  }, 60_000);

  it('a signal sent in time while no worker runs (a deploy) is on time for the worker that claims the run after the deadline', async () => {
    const store = open();
    const sender = createOrchestrator({ store, sagas: [approval] });
    const first = worker('waits-w5');
    await first.start();
    const runId = await sender.submit(approval, { cents: 5 });
    await waitFor('the run waits', async () => ((await store.load(runId)) ?? []).some((event) => event.type === 'wait.started'));
    await first.stop({ timeoutMs: 0 });
    // Ten minutes to approve; approved at once, while no worker runs: the request is recorded for the next.
    const unserved = await sender.signal(runId, 'approved', { by: 'ops' }, { signalId: 'in-time-1', timeoutMs: 300 }).catch((error: unknown) => error);
    expect(unserved).toBeInstanceOf(SignalTimeoutError);
    // The next worker comes up two hours later, long past the wait's deadline.
    const next = worker('waits-w6', 3_000, clockAhead(2 * 3_600_000));
    await next.start();
    try {
      const journal = (await waitForSettled(store, [runId])).get(runId) ?? [];
      expect(journal.flatMap((event) => (event.type === 'signal.received' ? [event.signalId] : []))).toEqual(['in-time-1']);
      const outcome = await sender.inspect(runId);
      expect([outcome.status, outcome.outputs.pay]).toEqual(['completed', 'approved by ops']);
    } finally {
      await next.stop({ timeoutMs: 1_000 });
      await sender.close();
    }
  }, 60_000);

  it('a timer wait survives a change of worker: the next one waits only for what is left, from the journaled time', async () => {
    const store = open();
    const submitter = createOrchestrator({ store, sagas: [coolOff] });
    const first = worker('waits-w2');
    await first.start();
    const runId = await submitter.submit(coolOff, { cents: 3 });
    await waitFor('the run sleeps', async () => ((await store.load(runId)) ?? []).some((event) => event.type === 'wait.started'));
    // The first worker goes away while the run sleeps; its lease is given up.
    await first.stop({ timeoutMs: 0 });
    const second = worker('waits-w3');
    await second.start();
    try {
      const journal = (await waitForSettled(store, [runId])).get(runId) ?? [];
      const wait = journal.find((event) => event.type === 'wait.started');
      const woke = journal.find((event) => event.type === 'stage.completed' && event.stage === 'cool');
      expect(journal.filter((event) => event.type === 'wait.started')).toHaveLength(1);
      expect(journal.some((event) => event.type === 'run.resumed')).toBe(true);
      const dueAt = (wait as { dueAt: number }).dueAt;
      expect(woke?.at).toBeGreaterThanOrEqual(dueAt);
      // Not a second full wait after the takeover.
      expect((woke?.at ?? Infinity) - dueAt).toBeLessThan(1_500);
      expect((await submitter.inspect(runId)).status).toBe('completed');
    } finally {
      await second.stop({ timeoutMs: 1_000 });
      await submitter.close();
    }
  }, 60_000);
});

