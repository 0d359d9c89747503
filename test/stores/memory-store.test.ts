import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, RunNotFoundError, runIdProblem, SagaInputError } from 'sagaflow';
import { appendOf, createRun, eventAt, LEASE, OWNER, runStarted, seedRun } from './store-conformance.js';
import { describeStoreConformance } from './store-conformance.js';

describeStoreConformance('MemoryStore', () => {
  let clock = Date.now();
  return Promise.resolve({ store: new MemoryStore({ now: () => clock }), advanceClock: (ms: number) => void (clock += ms) });
}, false);

describe('runIdProblem', () => {
  it('says in a phrase why a store cannot keep an id, with the article the type takes', () => {
    expect([undefined, null, 42, {}, 'order-42', '', 'a\u0000b', '\ud800', 'x'.repeat(201)].map((id) => runIdProblem(id))).toEqual([
      'it is undefined, not a string',
      'it is null, not a string',
      'it is a number, not a string',
      'it is an object, not a string',
      undefined,
      'it is empty',
      'it holds a NUL character',
      'it holds a lone surrogate (ill-formed Unicode)',
      'it is 201 characters long (at most 200)',
    ]);
  });

  it('refuses every id start() refuses, so that an id it accepts can be started', async () => {
    const saga = defineSaga({ name: 'ids', input: z.object({}) }).stage('a', { execute: () => 'A' }).build();
    const orchestrator = createOrchestrator();
    const ids = ['order-42', ' ', '\t', 'a\nb', 'a\u001b[31mb', 'a\u0085b', ' padded '];
    const startRefuses = ids.map((id) => {
      try {
        orchestrator.start(saga, {}, { runId: id });
        return false;
      } catch (error) {
        expect(error).toBeInstanceOf(SagaInputError);
        return true;
      }
    });
    expect(startRefuses).toEqual([false, true, true, true, true, true, false]);
    expect(ids.map((id) => runIdProblem(id))).toEqual([
      undefined,
      'it is blank (white space only)',
      'it is blank (white space only)',
      'it holds a control character (U+000A at index 1)',
      'it holds a control character (U+001B at index 1)',
      'it holds a control character (U+0085 at index 1)',
      undefined,
    ]);
    await orchestrator.close();
  });
});

describe('MemoryStore', () => {
  describe('retention', () => {
    it('keeps at most maxSettledRuns settled runs, forgetting the one that settled longest ago', async () => {
      const store = new MemoryStore({ maxSettledRuns: 3 });
      const runIds = Array.from({ length: 5 }, () => uuidv7());
      for (const runId of runIds) await seedRun(store, runId, 2, 'running');
      // Settled in another order than created: retention follows settling.
      for (const index of [2, 0, 4, 1]) {
        const runId = runIds[index] ?? '';
        await store.append(appendOf([{ type: 'run.completed', runId, saga: 'conformance', seq: 2, at: 3 }], 'completed'));
      }

      expect(await store.countRuns()).toEqual({ completed: 3, running: 1 });
      expect(await store.load(runIds[2] ?? '')).toBeUndefined();
      await expect(store.acquire({ runId: runIds[2] ?? '', owner: OWNER, leaseMs: 1_000 })).rejects.toBeInstanceOf(RunNotFoundError);
      expect((await store.listRuns()).map((run) => run.runId)).toEqual([runIds[0], runIds[1], runIds[3], runIds[4]]);
    });

    it('never forgets a run that is still moving, and counts a redriven run as settling anew', async () => {
      const store = new MemoryStore({ maxSettledRuns: 1 });
      const [paused, completed, moving] = [uuidv7(), uuidv7(), uuidv7()];
      await seedRun(store, paused, 2, 'paused');
      await seedRun(store, moving, 2, 'running');
      // The redrive takes the paused run out of the settled ones...
      const redrive = await store.acquire({ runId: paused, owner: 'operator', leaseMs: 60_000 });
      expect(redrive.acquired).toBe(true);
      await store.append({ ...appendOf([{ type: 'run.resumed', runId: paused, saga: 'conformance', seq: 2, at: 3, mode: 'redrive' }]), lease: { owner: 'operator', epoch: 2 } });
      await seedRun(store, completed, 3, 'completed');
      expect(await store.countRuns()).toEqual({ running: 2, completed: 1 });
      // ...and its settling again makes it the newest settled run.
      await store.append({ ...appendOf([{ type: 'run.completed', runId: paused, saga: 'conformance', seq: 3, at: 4 }], 'completed'), lease: { owner: 'operator', epoch: 2 } });
      expect((await store.listRuns({ status: 'completed' })).map((run) => run.runId)).toEqual([paused]);
      expect(await store.load(moving)).toHaveLength(2);
    });

    it('keeps 10,000 settled runs by default, so 50,000 runs leave memory bounded', async () => {
      const store = new MemoryStore();
      for (let index = 0; index < 50_000; index++) {
        const runId = `run-${String(index).padStart(5, '0')}`;
        await createRun(store, runStarted(runId));
        await store.append(appendOf([{ type: 'run.completed', runId, saga: 'conformance', seq: 1, at: index }], 'completed'));
      }
      expect(await store.countRuns()).toEqual({ completed: 10_000 });
      expect((await store.listRuns({ limit: 1 }))[0]?.runId).toBe('run-40000');
    });

    it('lets go of every forgotten or pruned run at once: nothing of its journal stays reachable', async () => {
      // A full GC, to see what the store still reaches (vitest's workers run without --expose-gc).
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const collected = async (refs: ReadonlyArray<WeakRef<object>>): Promise<number> => {
        await new Promise((resolve) => setImmediate(resolve)); // a WeakRef holds its target until the job ends
        gc();
        return refs.filter((ref) => ref.deref() === undefined).length;
      };
      const journalOf = async (store: MemoryStore, runId: string): Promise<WeakRef<object>> => new WeakRef((await store.load(runId))?.[0] as object);

      // Forgotten by retention: 300 runs settle with room for 10.
      const bounded = new MemoryStore({ maxSettledRuns: 10 });
      const forgotten: Array<WeakRef<object>> = [];
      for (let index = 0; index < 300; index++) {
        const runId = `bounded-${index}`;
        await seedRun(bounded, runId, 2, 'completed');
        if (index < 290) forgotten.push(await journalOf(bounded, runId));
      }
      expect(await collected(forgotten)).toBe(290);

      // Pruned while far below the bound (the case where no retention ever runs), some runs kept.
      const pruned = new MemoryStore({ maxSettledRuns: 3_000 });
      const gone: Array<WeakRef<object>> = [];
      for (let index = 0; index < 3_000; index++) {
        const runId = `pruned-${index}`;
        await seedRun(pruned, runId, 2, index % 100 === 0 ? 'compensated' : 'completed');
        if (index % 100 !== 0) gone.push(await journalOf(pruned, runId));
      }
      expect(await pruned.prune({ olderThan: Number.MAX_SAFE_INTEGER, statuses: ['completed'] })).toBe(gone.length);
      expect(await collected(gone)).toBe(gone.length);
      // The kept runs are still there, and retention still forgets them in the order they settled.
      expect(await pruned.countRuns()).toEqual({ compensated: 30 });
      for (let index = 0; index < 2_971; index++) await seedRun(pruned, `later-${index}`, 2, 'completed');
      expect(await pruned.load('pruned-0')).toBeUndefined();
      expect(await pruned.load('pruned-100')).toHaveLength(2);
      expect(await pruned.countRuns()).toEqual({ compensated: 29, completed: 2_971 });
    });

    it('keeps every run with Infinity', async () => {
      const store = new MemoryStore({ maxSettledRuns: Infinity });
      for (let index = 0; index < 50; index++) await seedRun(store, uuidv7(), 3, 'completed');
      expect(await store.countRuns()).toEqual({ completed: 50 });
    });

    it('refuses a bound that is not an integer >= 0 or Infinity', () => {
      for (const bad of [-1, 1.5, Number.NaN]) expect(() => new MemoryStore({ maxSettledRuns: bad })).toThrow(/maxSettledRuns/);
    });
  });

  describe('ownership in one process', () => {
    it('fences two owners sharing one store, on the injected clock', async () => {
      let clock = 1_000;
      const store = new MemoryStore({ now: () => clock });
      const runId = uuidv7();
      await createRun(store, runStarted(runId), OWNER, 500);
      expect(await store.acquire({ runId, owner: 'second', leaseMs: 500 })).toMatchObject({ acquired: false, heldBy: { owner: OWNER, expiresAt: 1_500 } });

      clock = 1_499;
      expect((await store.leaseOf(runId))?.live).toBe(true);
      clock = 1_500;
      expect(await store.leaseOf(runId)).toEqual({ owner: OWNER, epoch: 1, live: false, expiresAt: 1_500, remainingMs: 0 });
      const taken = await store.acquire({ runId, owner: 'second', leaseMs: 500 });
      expect(taken).toMatchObject({ acquired: true, lease: { owner: 'second', epoch: 2 } });
      await expect(store.append(appendOf([eventAt(runId, 1)], 'running', LEASE))).rejects.toMatchObject({ name: 'LeaseLostError' });
    });
  });
});
