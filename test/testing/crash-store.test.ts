import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import { MemoryStore } from 'sagaflow';
import { crashAfter, crashingStore, SimulatedCrashError } from 'sagaflow/testing';
import { appendOf, eventAt, eventsFrom, LEASE, OWNER, runStarted } from '../stores/store-conformance.js';

describe('crashingStore', () => {
  it('writes up to the matching event, then refuses every write and gives up the leases it held', async () => {
    const durable = new MemoryStore();
    const store = crashingStore(durable, [crashAfter((event) => event.type === 'stage.completed' && event.seq === 4)]);
    const [crashing, bystander] = [uuidv7(), uuidv7()];
    await store.create({ event: runStarted(crashing), owner: { owner: OWNER, leaseMs: 60_000 } });
    await store.create({ event: runStarted(bystander), owner: { owner: OWNER, leaseMs: 60_000 } });
    await store.append(appendOf(eventsFrom(crashing, 1, 2)));

    const error = await store.append(appendOf(eventsFrom(crashing, 3, 3))).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SimulatedCrashError);
    expect(store.crashed).toBe(error);
    // Cut after the matching event, as a crash right after persisting it leaves the journal.
    expect(await durable.load(crashing)).toEqual(eventsFrom(crashing, 0, 5));
    // A crashed process's leases run out; the simulation ends them at once.
    expect(await durable.leaseOf(crashing)).toBeUndefined();
    expect(await durable.leaseOf(bystander)).toBeUndefined();

    for (const write of [
      () => store.append(appendOf([eventAt(bystander, 1)])),
      () => store.create({ event: runStarted(uuidv7()), owner: { owner: OWNER, leaseMs: 1_000 } }),
      () => store.heartbeat(OWNER, [{ runId: bystander, lease: LEASE }], 60_000),
      () => store.acquire({ runId: bystander, owner: OWNER, leaseMs: 1_000 }),
      () => store.release(bystander, LEASE),
      () => store.requestCancel(bystander, 'stop'),
      () => store.prune({ olderThan: 0 }),
    ]) {
      await expect(write()).rejects.toBe(error);
    }
    expect(await store.load(crashing)).toHaveLength(5);
    expect(await store.listRuns()).toHaveLength(2);
    expect(await store.countRuns()).toEqual({ running: 2 });

    // The next "process" takes the run over at once, with the next epoch.
    expect(await durable.acquire({ runId: crashing, owner: 'next', leaseMs: 60_000 })).toMatchObject({ acquired: true, lease: { owner: 'next', epoch: 2 } });
  });

  it('crashes right after a run.started that matches, with the run created', async () => {
    const durable = new MemoryStore();
    const store = crashingStore(durable, [crashAfter((event) => event.type === 'run.started')]);
    const runId = uuidv7();
    await expect(store.create({ event: runStarted(runId), owner: { owner: OWNER, leaseMs: 60_000 } })).rejects.toBeInstanceOf(SimulatedCrashError);
    expect(await durable.load(runId)).toEqual([runStarted(runId)]);
    expect(await durable.leaseOf(runId)).toBeUndefined();
  });

  it('reports a predicate that throws as the test\'s own mistake, naming crashAfter and the event, not as the store\'s error', async () => {
    const store = crashingStore(new MemoryStore(), [
      crashAfter((event) => {
        if (event.type === 'stage.started') throw new Error('predicate bug');
        return false;
      }),
    ]);
    const runId = uuidv7();
    await store.create({ event: runStarted(runId), owner: { owner: OWNER, leaseMs: 60_000 } });
    const error = await store.append(appendOf(eventsFrom(runId, 1, 1))).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe(`crashAfter: its predicate threw Error: predicate bug on stage.started (seq 1) of run ${runId}; fix the predicate.`);
    expect(((error as Error).cause as Error).message).toBe('predicate bug');
  });
});
