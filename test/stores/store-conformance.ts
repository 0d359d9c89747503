import { v7 as uuidv7 } from 'uuid';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  LeaseLostError,
  RunAlreadyExistsError,
  RunLeasedError,
  RunNotFoundError,
  StoreConflictError,
  StoreUnsupportedError,
  supportsWorkers,
  type AppendRequest,
  type LeaseToken,
  type RunStartedEvent,
  type RunStatus,
  type SagaEvent,
  type SagaStore,
} from 'sagaflow';

/** A store for one test, and what the suite may do to it beyond the {@link SagaStore} contract. */
export interface OpenedStore {
  readonly store: SagaStore;
  /** Disposes of what the store left behind (files, schemas), after the suite closed the store. */
  readonly cleanup?: () => Promise<void>;
  /**
   * A second store on the same data, as another process opens it (SQLite: the same file;
   * PostgreSQL: the same schema). Absent for a store that lives in one object (memory). The suite
   * closes it.
   */
  readonly openPeer?: () => SagaStore;
  /** Moves the store's lease clock forward, when the test controls it (MemoryStore's `now`). */
  readonly advanceClock?: (ms: number) => void;
  /** Makes a run's summary row unreadable (a status that is no run status), as a hand edit could. */
  readonly corruptSummary?: (runId: string) => Promise<void>;
}

/** What {@link describeStoreConformance} needs to get a fresh, empty store for one test. */
export type OpenStore = () => Promise<OpenedStore>;

const T0 = 1_700_000_000_000;

/** The owner the suite's helpers create runs for, with the lease every helper append carries. */
export const OWNER = 'conformance-owner';
export const LEASE: LeaseToken = { owner: OWNER, epoch: 1 };
const LONG_LEASE_MS = 60_000;
/** Short enough to wait out on a real clock, long enough not to run out between two statements. */
const SHORT_LEASE_MS = 150;

/** A `run.started` event, the first of every journal. */
const STAGES = ['reserve', 'charge'];

export function runStarted(runId: string, saga = 'conformance', input: unknown = { order: 1 }): RunStartedEvent {
  return { type: 'run.started', runId, saga, seq: 0, at: T0, version: '1', shapeHash: 'shape-1', input, stages: STAGES };
}

/**
 * The event at `seq` of a plausible journal after `run.started`: stage starts and
 * completions, alternating. `at` grows with `seq` so created/updated times are checkable.
 */
export function eventAt(runId: string, seq: number, saga = 'conformance', output: unknown = { n: seq }): SagaEvent {
  if (seq === 0) return runStarted(runId, saga);
  // The stages run.started declares, in turn, so that the journal folds (a stage it does not declare would be corruption).
  const stage = STAGES[Math.floor((seq - 1) / 2) % STAGES.length] as string;
  return seq % 2 === 1
    ? { type: 'stage.started', runId, saga, seq, at: T0 + seq, stage, attempt: 1 }
    : { type: 'stage.completed', runId, saga, seq, at: T0 + seq, stage, attempt: 1, output, durationMs: 3 };
}

/** Events `from` … `from + count - 1` of a run. */
export function eventsFrom(runId: string, from: number, count: number, saga = 'conformance'): SagaEvent[] {
  return Array.from({ length: count }, (_, offset) => eventAt(runId, from + offset, saga));
}

/** An append request for `events`, expecting the first one's seq, with the helpers' lease (or `null` for none). */
export function appendOf(events: readonly SagaEvent[], status: RunStatus = 'running', lease: LeaseToken | null = LEASE): AppendRequest {
  const first = events[0];
  if (first === undefined) throw new TypeError('appendOf needs at least one event');
  return { runId: first.runId, saga: first.saga, expectedSeq: first.seq, events, status, ...(lease === null ? {} : { lease }) };
}

/** Creates a run owned by {@link OWNER} (epoch 1) with `run.started`. */
export function createRun(store: SagaStore, event: RunStartedEvent, owner = OWNER, leaseMs = LONG_LEASE_MS): Promise<void> {
  return store.create({ event, owner: { owner, leaseMs } });
}

/** Creates a run with `count` events: `run.started`, then the rest in one append under {@link LEASE}. */
export async function seedRun(store: SagaStore, runId: string, count: number, status: RunStatus = 'running', saga = 'conformance'): Promise<SagaEvent[]> {
  const events = eventsFrom(runId, 0, count, saga);
  const [first, ...rest] = events;
  if (rest.length === 0 && status !== 'running') throw new TypeError('seedRun: a run of one event is running');
  await createRun(store, first as RunStartedEvent);
  if (rest.length > 0) await store.append(appendOf(rest, status));
  return events;
}

/** What a promise rejected with (fails the test if it resolved). */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value: unknown) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

/**
 * The behaviour every {@link SagaStore} must have: runs created with a lease, fenced appends with
 * optimistic concurrency, takeover of expired leases, heartbeats, cancel requests, ordered
 * validated loads, filtered listing and counting, pruning, and refusal of ids no store can keep.
 * Reused by each store's test file.
 *
 * @param name - the store, for the describe block's title.
 * @param open - gives a fresh, empty store for each test, and how to dispose of it.
 */
/**
 * @param rowsOnDisk - whether the store keeps runs in rows a hand edit can break (SQLite,
 *   PostgreSQL): those stores get the corrupt-row tests too.
 */
export function describeStoreConformance(name: string, open: OpenStore, rowsOnDisk = true): void {
  describe(`${name}: SagaStore conformance`, () => {
    let opened: OpenedStore;
    let store: SagaStore;
    const peers: SagaStore[] = [];

    beforeEach(async () => {
      opened = await open();
      store = opened.store;
    });

    afterEach(async () => {
      for (const peer of peers.splice(0)) await peer.close();
      await store.close();
      await opened.cleanup?.();
    });

    /** The other process's view: a second store on the same data, or the same store object. */
    function peer(): SagaStore {
      if (opened.openPeer === undefined) return store;
      const other = opened.openPeer();
      peers.push(other);
      return other;
    }

    /** Waits until the run's lease has run out by the store's clock (at once with a controlled clock). */
    async function expireLease(runId: string): Promise<void> {
      if (opened.advanceClock !== undefined) {
        opened.advanceClock(SHORT_LEASE_MS + 1);
      } else {
        const deadline = Date.now() + 10_000;
        while ((await store.leaseOf(runId))?.live === true) {
          if (Date.now() > deadline) throw new Error(`the lease on run ${runId} did not expire within 10 s`);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
      expect((await store.leaseOf(runId))?.live).toBe(false);
    }

    describe('create', () => {
      it('creates a run with its run.started, owned at epoch 1 for leaseMs on the store clock', async () => {
        const runId = uuidv7();
        const before = Date.now();
        await createRun(store, runStarted(runId));

        expect(await store.load(runId)).toEqual([runStarted(runId)]);
        const lease = await store.leaseOf(runId);
        expect(lease).toMatchObject({ owner: OWNER, epoch: 1, live: true });
        if (opened.advanceClock === undefined) {
          // The store's clock is not this process's, but it is the same machine's.
          expect(lease?.expiresAt).toBeGreaterThan(before + LONG_LEASE_MS - 5_000);
          expect(lease?.expiresAt).toBeLessThan(Date.now() + LONG_LEASE_MS + 5_000);
        }
        expect(await store.listRuns()).toEqual([{ runId, saga: 'conformance', status: 'running', events: 1, createdAt: T0, updatedAt: T0, submitted: false }]);
      });

      it('refuses an id that exists with RunAlreadyExistsError naming the run, its status and its saga, leaving it untouched', async () => {
        const runId = 'order-42';
        const events = await seedRun(store, runId, 3, 'completed', 'refunds');
        const listing = await store.listRuns();

        const error = await rejectionOf(createRun(store, runStarted(runId, 'conformance', { another: true }), 'someone-else'));
        expect(error).toBeInstanceOf(RunAlreadyExistsError);
        expect(error).toMatchObject({ runId, status: 'completed', saga: 'refunds', code: 'RUN_ALREADY_EXISTS' });
        expect((error as Error).message).toContain("order-42 already exists (saga 'refunds', completed)");
        expect(await store.load(runId)).toEqual(events);
        expect(await store.listRuns()).toEqual(listing);
        expect(await store.leaseOf(runId)).toBeUndefined();

        const live = uuidv7();
        await createRun(store, runStarted(live));
        await expect(createRun(peer(), runStarted(live), 'someone-else')).rejects.toMatchObject({ name: 'RunAlreadyExistsError', status: 'running' });
        expect(await store.leaseOf(live)).toMatchObject({ owner: OWNER, epoch: 1 });
      });

      it('lets exactly one of several racing creators of one id win', async () => {
        const runId = uuidv7();
        const stores = [store, peer(), peer()];
        const results = await Promise.allSettled(stores.map((racer, index) => createRun(racer, runStarted(runId, 'conformance', { racer: index }), `racer-${index}`)));

        const winners = results.flatMap((result, index) => (result.status === 'fulfilled' ? [index] : []));
        expect(winners).toHaveLength(1);
        for (const result of results) if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(RunAlreadyExistsError);
        expect(await store.load(runId)).toEqual([runStarted(runId, 'conformance', { racer: winners[0] })]);
        expect(await store.leaseOf(runId)).toMatchObject({ owner: `racer-${winners[0] ?? -1}`, epoch: 1 });
      });

      it('refuses what is not a run.started at seq 0, writing nothing', async () => {
        const runId = uuidv7();
        const notStarted = eventAt(runId, 1) as unknown as RunStartedEvent;
        await expect(store.create({ event: notStarted, owner: { owner: OWNER, leaseMs: 1_000 } })).rejects.toBeInstanceOf(TypeError);
        await expect(store.create({ event: { ...runStarted(runId), seq: 3 }, owner: { owner: OWNER, leaseMs: 1_000 } })).rejects.toBeInstanceOf(TypeError);
        await expect(store.create({ event: runStarted(runId), owner: { owner: OWNER, leaseMs: 0 } })).rejects.toThrow(/leaseMs/);
        // Each refusal names the run and what is wrong.
        await expect(store.create({ event: { ...runStarted(runId), saga: 'a\u0000b' }, owner: { owner: OWNER, leaseMs: 1_000 } })).rejects.toThrow(`Create run ${runId}: the saga name "a\\u0000b" holds a NUL character`);
        await expect(store.create({ event: runStarted(runId), owner: { owner: '', leaseMs: 1_000 } })).rejects.toThrow(`Create run ${runId}: the owner must be a non-empty string.`);
        await expect(store.create({ event: runStarted(runId), owner: { owner: 'x\ud800', leaseMs: 1_000 } })).rejects.toThrow(`Create run ${runId}: the owner "x\\ud800" holds a lone surrogate`);
        await expect(store.create({ event: runStarted(runId), owner: { owner: OWNER, leaseMs: Number.NaN } })).rejects.toThrow(`Create run ${runId}: leaseMs must be a finite number of milliseconds > 0, not NaN.`);
        expect(await store.listRuns()).toEqual([]);
      });

      it('queues a run without owner on a work-queue store, and refuses it on any other', async () => {
        const runId = uuidv7();
        const submitted: RunStartedEvent = { ...runStarted(runId), submitted: true };
        if (!supportsWorkers(store)) {
          await expect(store.create({ event: submitted })).rejects.toBeInstanceOf(StoreUnsupportedError);
          expect(await store.listRuns()).toEqual([]);
          return;
        }
        await expect(store.create({ event: runStarted(runId) })).rejects.toThrow(/submitted: true/);
        await store.create({ event: submitted });
        expect(await store.leaseOf(runId)).toBeUndefined();
        expect(await store.listRuns()).toEqual([{ runId, saga: 'conformance', status: 'queued', events: 1, createdAt: T0, updatedAt: T0, submitted: true }]);
        await expect(store.create({ event: submitted })).rejects.toMatchObject({ name: 'RunAlreadyExistsError', status: 'queued' });
      });
    });

    describe('run ids', () => {
      const bad: ReadonlyArray<{ what: string; id: string; escaped: string }> = [
        { what: 'empty', id: '', escaped: '""' },
        { what: 'with NUL', id: 'order\u000042', escaped: '"order\\u000042"' },
        { what: 'with a lone high surrogate', id: 'order-\ud800', escaped: '"order-\\ud800"' },
        { what: 'with a lone low surrogate', id: '\udc00-order', escaped: '"\\udc00-order"' },
        { what: 'over 200 characters', id: 'x'.repeat(201), escaped: '"xxxxxxxx' },
      ];

      it.each(bad)('refuses an id $what with a TypeError naming it, before writing anything', async ({ id, escaped }) => {
        const error = await rejectionOf(createRun(store, runStarted(id)));
        expect(error).toBeInstanceOf(TypeError);
        expect((error as Error).message).toContain(escaped);
        expect(await store.listRuns()).toEqual([]);
        expect(await store.countRuns()).toEqual({});

        await expect(store.append(appendOf([eventAt(id, 1)]))).rejects.toBeInstanceOf(TypeError);
        await expect(store.acquire({ runId: id, owner: OWNER, leaseMs: 1_000 })).rejects.toBeInstanceOf(TypeError);
        await expect(store.requestCancel(id, 'stop')).rejects.toBeInstanceOf(TypeError);
        await expect(store.load(id)).rejects.toBeInstanceOf(TypeError);
        await expect(store.leaseOf(id)).rejects.toBeInstanceOf(TypeError);
        // No run can have the id: a heartbeat reports it lost, a release has nothing to do.
        const held = uuidv7();
        await createRun(store, runStarted(held));
        expect(await store.heartbeat(OWNER, [{ runId: id, lease: LEASE }, { runId: held, lease: LEASE }], LONG_LEASE_MS)).toEqual({ lost: [id], cancelRequests: [] });
        await store.release(id, LEASE);
        expect((await store.listRuns()).map((run) => run.runId)).toEqual([held]);
      });

      it('keeps ids of up to 200 characters, astral characters included, exactly', async () => {
        const ids = ['a'.repeat(200), 'commande-é-東京-🚀', 'with space and "quotes" and \\ backslash', '%_[*?]'];
        for (const id of ids) await seedRun(store, id, 2);
        for (const id of ids) expect(await store.load(id)).toEqual(eventsFrom(id, 0, 2));
        expect((await store.listRuns()).map((run) => run.runId).sort()).toEqual([...ids].sort());
      });
    });

    describe('append and load', () => {
      it('appends at the expected seq and loads the journal back', async () => {
        const runId = uuidv7();
        await createRun(store, runStarted(runId));
        const first = eventsFrom(runId, 1, 2);
        await store.append(appendOf(first));
        const second = eventsFrom(runId, 3, 3);
        await store.append(appendOf(second));

        expect(await store.load(runId)).toEqual([runStarted(runId), ...first, ...second]);
      });

      it('returns undefined for a run it does not have', async () => {
        await seedRun(store, uuidv7(), 2);
        expect(await store.load(uuidv7())).toBeUndefined();
      });

      it('refuses an append to a run that was never created, at any seq, writing nothing', async () => {
        const runId = uuidv7();
        for (const seq of [0, 1]) {
          const error = await rejectionOf(store.append(appendOf([eventAt(runId, seq)])));
          expect(error).toBeInstanceOf(RunNotFoundError);
          expect(error).toMatchObject({ runId });
        }
        await expect(store.append(appendOf([eventAt(runId, 0)], 'running', null))).rejects.toBeInstanceOf(RunNotFoundError);
        expect(await store.load(runId)).toBeUndefined();
        expect(await store.listRuns()).toEqual([]);
      });

      it('loads events in seq order across many appends', async () => {
        const runId = uuidv7();
        await createRun(store, runStarted(runId));
        for (let seq = 1; seq < 20; seq++) await store.append(appendOf([eventAt(runId, seq)]));

        const loaded = await store.load(runId);
        expect(loaded?.map((event) => event.seq)).toEqual(Array.from({ length: 20 }, (_, seq) => seq));
      });

      it('keeps runs apart', async () => {
        const [left, right] = [uuidv7(), uuidv7()];
        const leftEvents = await seedRun(store, left, 3, 'running', 'left-saga');
        const rightEvents = await seedRun(store, right, 5, 'completed', 'right-saga');

        expect(await store.load(left)).toEqual(leftEvents);
        expect(await store.load(right)).toEqual(rightEvents);
      });

      it('gives each load its own array', async () => {
        const runId = uuidv7();
        const events = await seedRun(store, runId, 3);
        const loaded = (await store.load(runId)) as SagaEvent[];
        loaded.pop();

        expect(await store.load(runId)).toEqual(events);
      });

      it('round-trips unicode and deeply nested JSON exactly', async () => {
        const runId = uuidv7();
        const output = {
          text: 'Zürich → 東京 🚀 café (e\u0301) \u0000 "quoted" \\ back\nslash\ttab \u2028',
          lone: '\ud800 alone',
          numbers: [0, -1, 1.5, 1e-7, 2 ** 53 - 1, -(2 ** 31), 123456789.123],
          flags: [true, false, null],
          empty: { object: {}, array: [], string: '' },
          'key with spaces & ünïcødé 🔑': { nested: [[[{ deep: [1, [2, [3, { deeper: 'yes' }]]] }]]] },
          large: 'x'.repeat(100_000),
        };
        const input = { customer: 'Ærøskøbing', items: [{ sku: 'ü-1', qty: 2 }], meta: { tags: ['α', 'β'] }, nul: 'a\u0000b' };
        const started = runStarted(runId, 'unicode-☃', input);
        const events: SagaEvent[] = [
          { type: 'stage.started', runId, saga: 'unicode-☃', seq: 1, at: T0 + 1, stage: 'réserver', attempt: 1 },
          { type: 'stage.completed', runId, saga: 'unicode-☃', seq: 2, at: T0 + 2, stage: 'réserver', attempt: 1, output, durationMs: 1.25 },
          { type: 'stage.started', runId, saga: 'unicode-☃', seq: 3, at: T0 + 3, stage: 'charge', attempt: 1 },
          {
            type: 'stage.failed',
            runId,
            saga: 'unicode-☃',
            seq: 4,
            at: T0 + 4,
            stage: 'charge',
            attempt: 1,
            error: { name: 'Error', message: 'carte refusée 💳', code: 'E_CARD', stack: 'Error: carte refusée\n    at x', data: { cause: { name: 'Inner', message: '∅' } } },
          },
          { type: 'stage.completed', runId, saga: 'unicode-☃', seq: 5, at: T0 + 5, stage: 'no-output', attempt: 2, durationMs: 0 },
        ];
        await createRun(store, started);
        await store.append(appendOf(events));

        const loaded = await store.load(runId);
        expect(loaded).toEqual([started, ...events]);
        const completed = loaded?.[2];
        expect(completed?.type === 'stage.completed' ? JSON.stringify(completed.output) : undefined).toBe(JSON.stringify(output));
        expect(loaded?.[5]).not.toHaveProperty('output');
      });
    });

    describe('optimistic concurrency', () => {
      it('refuses an append whose expected seq is not the journal length, naming both', async () => {
        const runId = uuidv7();
        const events = await seedRun(store, runId, 3);

        const behind = store.append(appendOf([eventAt(runId, 1)]));
        await expect(behind).rejects.toBeInstanceOf(StoreConflictError);
        await expect(behind).rejects.toMatchObject({ runId, expectedSeq: 1, actualSeq: 3, code: 'STORE_CONFLICT' });

        const ahead = store.append(appendOf([eventAt(runId, 5)]));
        await expect(ahead).rejects.toMatchObject({ name: 'StoreConflictError', runId, expectedSeq: 5, actualSeq: 3 });

        expect(await store.load(runId)).toEqual(events);
      });

      it('lets exactly one of several racing appends for the same seq win', async () => {
        const runId = uuidv7();
        await seedRun(store, runId, 1);
        const racers = Array.from({ length: 5 }, (_, racer): SagaEvent => ({
          type: 'stage.started',
          runId,
          saga: 'conformance',
          seq: 1,
          at: T0 + racer,
          stage: `racer-${racer}`,
          attempt: 1,
        }));

        const results = await Promise.allSettled(racers.map((event) => store.append(appendOf([event]))));

        const winners = results.flatMap((result, racer) => (result.status === 'fulfilled' ? [racer] : []));
        expect(winners).toHaveLength(1);
        for (const result of results) {
          if (result.status === 'rejected') expect(result.reason).toBeInstanceOf(StoreConflictError);
        }
        const journal = await store.load(runId);
        expect(journal).toHaveLength(2);
        expect(journal?.[1]).toEqual(racers[winners[0] ?? -1]);
      });

      it('appends all of a multi-event request or none of it', async () => {
        const runId = uuidv7();
        await seedRun(store, runId, 2);
        const ours = eventsFrom(runId, 2, 4);
        const theirs: SagaEvent = { type: 'run.cancelling', runId, saga: 'conformance', seq: 2, at: T0 + 99, reason: 'operator', by: 'external' };

        const results = await Promise.allSettled([store.append(appendOf(ours)), store.append(appendOf([theirs]))]);

        const journal = await store.load(runId);
        expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
        expect(journal?.slice(2)).toEqual(results[0].status === 'fulfilled' ? ours : [theirs]);

        // A refused multi-event append leaves nothing behind either.
        const length = journal?.length ?? 0;
        await expect(store.append(appendOf(eventsFrom(runId, length - 1, 3)))).rejects.toBeInstanceOf(StoreConflictError);
        expect(await store.load(runId)).toHaveLength(length);
      });

      it('rejects events that do not follow on from expectedSeq, or are none, writing nothing', async () => {
        const runId = uuidv7();
        await seedRun(store, runId, 2);
        const gapped = [eventAt(runId, 2), eventAt(runId, 4)];

        await expect(store.append({ ...appendOf(gapped), expectedSeq: 2 })).rejects.toBeInstanceOf(TypeError);
        await expect(store.append({ ...appendOf([eventAt(uuidv7(), 2)]), runId })).rejects.toBeInstanceOf(TypeError);
        await expect(store.append({ ...appendOf([eventAt(runId, 2)]), events: [] })).rejects.toThrow(/no events/);
        expect(await store.load(runId)).toHaveLength(2);
      });

      it('commits concurrent appends to different runs', async () => {
        const runIds = Array.from({ length: 50 }, () => uuidv7());
        await Promise.all(runIds.map((runId) => createRun(store, runStarted(runId))));
        await Promise.all(runIds.map((runId) => store.append(appendOf(eventsFrom(runId, 1, 2)))));

        for (const runId of runIds) expect(await store.load(runId)).toEqual(eventsFrom(runId, 0, 3));
      });
    });

    describe('leases and fencing', () => {
      it('accepts appends with the holding lease only: another owner or epoch is LeaseLostError, none is RunLeasedError', async () => {
        const runId = uuidv7();
        await seedRun(store, runId, 2);

        for (const stale of [{ owner: OWNER, epoch: 2 }, { owner: OWNER, epoch: 0 }, { owner: 'intruder', epoch: 1 }]) {
          const error = await rejectionOf(store.append(appendOf([eventAt(runId, 2)], 'running', stale)));
          expect(error).toBeInstanceOf(LeaseLostError);
          expect(error).toMatchObject({ runId, owner: stale.owner, epoch: stale.epoch, code: 'LEASE_LOST' });
        }
        const leased = await rejectionOf(peer().append(appendOf([eventAt(runId, 2)], 'running', null)));
        expect(leased).toBeInstanceOf(RunLeasedError);
        expect(leased).toMatchObject({ runId, owner: OWNER, epoch: 1 });
        expect(await store.load(runId)).toHaveLength(2);
        await store.append(appendOf([eventAt(runId, 2)]));
        expect(await store.load(runId)).toHaveLength(3);
      });

      it("says how long a lease has left by the store's own clock (remainingMs), in leaseOf and a refused takeover; 0 once it ran out", async () => {
        const runId = uuidv7();
        await createRun(store, runStarted(runId));
        const lease = await store.leaseOf(runId);
        // Measured by the store's clock, whatever this process's says: at most the lease, less only the call's own time.
        expect(lease?.remainingMs).toBeLessThanOrEqual(LONG_LEASE_MS);
        expect(lease?.remainingMs).toBeGreaterThan(LONG_LEASE_MS - 5_000);
        const refused = await peer().acquire({ runId, owner: 'rival', leaseMs: LONG_LEASE_MS });
        if (refused.acquired) throw new Error('a live lease was taken over');
        expect(refused.heldBy.remainingMs).toBeLessThanOrEqual(LONG_LEASE_MS);
        expect(refused.heldBy.remainingMs).toBeGreaterThan(LONG_LEASE_MS - 5_000);

        const shortRun = uuidv7();
        await createRun(store, runStarted(shortRun), OWNER, SHORT_LEASE_MS);
        await expireLease(shortRun);
        expect((await store.leaseOf(shortRun))?.remainingMs).toBe(0);
      });

      it('checks the lease before the seq: a stale owner learns it lost the run even when its seq would fit', async () => {
        const runId = uuidv7();
        await seedRun(store, runId, 2);
        await expect(store.append(appendOf([eventAt(runId, 5)], 'running', { owner: OWNER, epoch: 7 }))).rejects.toBeInstanceOf(LeaseLostError);
      });

      it('lets a lease that ran out keep appending and heartbeating while nobody took the run over', async () => {
        const runId = uuidv7();
        await createRun(store, runStarted(runId), OWNER, SHORT_LEASE_MS);
        await expireLease(runId);

        await store.append(appendOf([eventAt(runId, 1)]));
        expect(await store.heartbeat(OWNER, [{ runId, lease: LEASE }], LONG_LEASE_MS)).toEqual({ lost: [], cancelRequests: [] });
        expect(await store.leaseOf(runId)).toMatchObject({ owner: OWNER, epoch: 1, live: true });
        await store.append(appendOf([eventAt(runId, 2)]));
      });

      it('refuses to hand a live run to another owner, changing nothing', async () => {
        const runId = uuidv7();
        await seedRun(store, runId, 2);
        const before = await store.leaseOf(runId);

        const result = await peer().acquire({ runId, owner: 'other', leaseMs: LONG_LEASE_MS });
        // remainingMs goes down as the store's clock goes on: the rest of the lease is unchanged.
        expect(result).toEqual({ acquired: false, heldBy: { owner: OWNER, epoch: 1, live: true, expiresAt: before?.expiresAt, remainingMs: expect.any(Number) } });
        // Not even its own owner takes it twice: acquire is the lock.
        expect((await store.acquire({ runId, owner: OWNER, leaseMs: LONG_LEASE_MS })).acquired).toBe(false);
        expect(await store.leaseOf(runId)).toEqual({ ...before, remainingMs: expect.any(Number) });
        await store.append(appendOf([eventAt(runId, 2)]));
      });

      it('hands a run whose lease expired to a new owner at the next epoch, and fences the old owner out', async () => {
        const runId = uuidv7();
        await createRun(store, runStarted(runId), OWNER, SHORT_LEASE_MS);
        await store.append(appendOf(eventsFrom(runId, 1, 2)));
        await expireLease(runId);

        const other = peer();
        const taken = await other.acquire({ runId, owner: 'successor', leaseMs: LONG_LEASE_MS });
        expect(taken).toEqual({ acquired: true, lease: { owner: 'successor', epoch: 2 }, events: eventsFrom(runId, 0, 3) });
        expect(await store.leaseOf(runId)).toMatchObject({ owner: 'successor', epoch: 2, live: true });

        // The old owner's next append fits the journal (seq 3), yet its epoch is stale.
        await expect(store.append(appendOf([eventAt(runId, 3)]))).rejects.toMatchObject({ name: 'LeaseLostError', runId, owner: OWNER, epoch: 1 });
        expect(await store.heartbeat(OWNER, [{ runId, lease: LEASE }], LONG_LEASE_MS)).toEqual({ lost: [runId], cancelRequests: [] });
        await other.append(appendOf([eventAt(runId, 3)], 'running', { owner: 'successor', epoch: 2 }));
        expect(await store.load(runId)).toEqual(eventsFrom(runId, 0, 4));
      });

      it('lets exactly one of several racing acquirers of an expired run win', async () => {
        const runId = uuidv7();
        await createRun(store, runStarted(runId), OWNER, SHORT_LEASE_MS);
        await expireLease(runId);
        const stores = [store, peer(), peer()];

        const results = await Promise.all(stores.map((racer, index) => racer.acquire({ runId, owner: `racer-${index}`, leaseMs: LONG_LEASE_MS })));

        const winners = results.filter((result) => result.acquired);
        expect(winners).toHaveLength(1);
        const winner = winners[0];
        expect(winner?.acquired === true ? winner.lease.epoch : undefined).toBe(2);
        for (const result of results) if (!result.acquired) expect(result.heldBy).toMatchObject({ epoch: 2, live: true });
      });

      it('takes a released run over at once, with the next epoch', async () => {
        const runId = uuidv7();
        await seedRun(store, runId, 2);
        await store.release(runId, { owner: OWNER, epoch: 2 });
        await store.release(runId, { owner: 'other', epoch: 1 });
        expect(await store.leaseOf(runId)).toMatchObject({ owner: OWNER, epoch: 1 });

        await store.release(runId, LEASE);
        expect(await store.leaseOf(runId)).toBeUndefined();
        await expect(store.append(appendOf([eventAt(runId, 2)]))).rejects.toBeInstanceOf(LeaseLostError);
        const taken = await peer().acquire({ runId, owner: 'next', leaseMs: LONG_LEASE_MS });
        expect(taken.acquired && taken.lease).toEqual({ owner: 'next', epoch: 2 });
        await store.release(uuidv7(), LEASE);
      });

      it('returns only the events past knownEvents to a takeover (none if the journal has not grown), the whole journal if it is shorter', async () => {
        const runId = uuidv7();
        await seedRun(store, runId, 3);
        await store.release(runId, LEASE);
        const grown = await peer().acquire({ runId, owner: 'next', leaseMs: LONG_LEASE_MS, knownEvents: 2 });
        expect(grown).toEqual({ acquired: true, lease: { owner: 'next', epoch: 2 }, events: eventsFrom(runId, 2, 1) });

        await store.release(runId, { owner: 'next', epoch: 2 });
        const same = await peer().acquire({ runId, owner: 'next', leaseMs: LONG_LEASE_MS, knownEvents: 3 });
        expect(same).toEqual({ acquired: true, lease: { owner: 'next', epoch: 3 }, events: [] });

        await store.release(runId, { owner: 'next', epoch: 3 });
        const shorter = await peer().acquire({ runId, owner: 'next', leaseMs: LONG_LEASE_MS, knownEvents: 4 });
        expect(shorter).toEqual({ acquired: true, lease: { owner: 'next', epoch: 4 }, events: eventsFrom(runId, 0, 3) });

        for (const knownEvents of [-1, 1.5, Number.NaN]) {
          await expect(store.acquire({ runId, owner: 'next', leaseMs: LONG_LEASE_MS, knownEvents })).rejects.toBeInstanceOf(TypeError);
        }
        expect(await store.leaseOf(runId)).toMatchObject({ owner: 'next', epoch: 4 });
      });

      it('accepts an append without lease once the lease ran out, and fences the expired holder out', async () => {
        const runId = uuidv7();
        await createRun(store, runStarted(runId), OWNER, SHORT_LEASE_MS);
        await expireLease(runId);

        await peer().append(appendOf([eventAt(runId, 1)], 'running', null));
        expect(await store.leaseOf(runId)).toBeUndefined();
        await expect(store.append(appendOf([eventAt(runId, 2)]))).rejects.toBeInstanceOf(LeaseLostError);
        expect((await store.heartbeat(OWNER, [{ runId, lease: LEASE }], LONG_LEASE_MS)).lost).toEqual([runId]);
      });

      it('ends the lease and the cancel request when an append settles the run', async () => {
        const runId = uuidv7();
        await seedRun(store, runId, 2);
        await store.requestCancel(runId, 'stop');
        await store.append(appendOf([{ type: 'run.cancelled', runId, saga: 'conformance', seq: 2, at: T0 + 2 }], 'cancelled'));

        expect(await store.leaseOf(runId)).toBeUndefined();
        expect(await store.heartbeat(OWNER, [{ runId, lease: LEASE }], LONG_LEASE_MS)).toEqual({ lost: [runId], cancelRequests: [] });
        await store.requestCancel(runId, 'too late');
        // A redrive takes the settled run over at the next epoch, with no cancel request.
        const redrive = await peer().acquire({ runId, owner: 'operator', leaseMs: LONG_LEASE_MS });
        expect(redrive).toEqual({ acquired: true, lease: { owner: 'operator', epoch: 2 }, events: await store.load(runId) });
      });

      it('ends the lease when an append keeps a settled status', async () => {
        const runId = uuidv7();
        await seedRun(store, runId, 3, 'paused');
        const taken = await store.acquire({ runId, owner: 'operator', leaseMs: LONG_LEASE_MS });
        expect(taken.acquired).toBe(true);
        const lease = { owner: 'operator', epoch: 2 };
        await store.append(appendOf([eventAt(runId, 3)], 'paused', lease));
        expect(await store.leaseOf(runId)).toBeUndefined();
        await expect(store.append(appendOf([eventAt(runId, 4)], 'running', lease))).rejects.toBeInstanceOf(LeaseLostError);
      });

      it('refuses to acquire a run that does not exist', async () => {
        await expect(store.acquire({ runId: uuidv7(), owner: OWNER, leaseMs: 1_000 })).rejects.toBeInstanceOf(RunNotFoundError);
        await expect(store.acquire({ runId: uuidv7(), owner: OWNER, leaseMs: -1 })).rejects.toBeInstanceOf(TypeError);
        expect(await store.leaseOf(uuidv7())).toBeUndefined();
      });
    });

    describe('heartbeats', () => {
      it('extends the held leases on the store clock and reports the lost ones', async () => {
        const [held, other] = [uuidv7(), uuidv7()];
        await createRun(store, runStarted(held), OWNER, 1_000);
        await createRun(store, runStarted(other), 'other-owner', 1_000);
        const before = (await store.leaseOf(held))?.expiresAt ?? 0;

        const result = await store.heartbeat(
          OWNER,
          [
            { runId: held, lease: LEASE },
            { runId: other, lease: LEASE },
            { runId: uuidv7(), lease: LEASE },
          ],
          LONG_LEASE_MS,
        );
        expect(result.cancelRequests).toEqual([]);
        expect(result.lost).toHaveLength(2);
        expect(result.lost).toContain(other);
        expect((await store.leaseOf(held))?.expiresAt).toBeGreaterThan(before + LONG_LEASE_MS / 2);
        expect(await store.leaseOf(other)).toMatchObject({ owner: 'other-owner', epoch: 1 });
        expect(await store.heartbeat(OWNER, [{ runId: held, lease: { owner: OWNER, epoch: 9 } }], LONG_LEASE_MS)).toEqual({ lost: [held], cancelRequests: [] });
        expect(await store.heartbeat('someone', [{ runId: held, lease: LEASE }], LONG_LEASE_MS)).toEqual({ lost: [held], cancelRequests: [] });
        expect(await store.heartbeat(OWNER, [], LONG_LEASE_MS)).toEqual({ lost: [], cancelRequests: [] });
      });
    });

    describe('cancel requests', () => {
      it('keeps the first reason, hands it to the holder on heartbeat and to the next owner on acquire', async () => {
        const runId = uuidv7();
        await createRun(store, runStarted(runId), OWNER, SHORT_LEASE_MS);
        await peer().requestCancel(runId, 'customer changed their mind');
        await store.requestCancel(runId, 'second reason is ignored');

        expect(await store.heartbeat(OWNER, [{ runId, lease: LEASE }], SHORT_LEASE_MS)).toEqual({
          lost: [],
          cancelRequests: [{ runId, reason: 'customer changed their mind' }],
        });
        await expireLease(runId);
        const taken = await peer().acquire({ runId, owner: 'successor', leaseMs: LONG_LEASE_MS });
        expect(taken).toMatchObject({ acquired: true, cancelRequest: { runId, reason: 'customer changed their mind' } });
      });

      it('refuses a request for a run that does not exist', async () => {
        const runId = uuidv7();
        await expect(store.requestCancel(runId, 'x')).rejects.toMatchObject({ name: 'RunNotFoundError', runId });
      });

      it('keeps no request for a settled run', async () => {
        const runId = uuidv7();
        await seedRun(store, runId, 3, 'completed');
        await store.requestCancel(runId, 'too late');
        const taken = await store.acquire({ runId, owner: 'operator', leaseMs: LONG_LEASE_MS });
        expect(taken.acquired && taken.cancelRequest).toBeUndefined();
      });
    });

    describe('signal requests', () => {
      it('keeps one request per signalId, hands them to the holder on heartbeat, and drops one once its signal.received is journaled', async () => {
        const runId = uuidv7();
        await createRun(store, runStarted(runId));
        const requestSignal = (signalId: string, payload: unknown): Promise<void> =>
          (peer().requestSignal ?? (() => Promise.reject(new Error(`${name} has no requestSignal`)))).call(peer(), { runId, signal: 'approved', signalId, payload });
        await requestSignal('s-1', { by: 'ann' });
        await requestSignal('s-1', { by: 'a duplicate' });
        await requestSignal('s-2', { by: 'bob' });
        const beat = async () => (await store.heartbeat(OWNER, [{ runId, lease: LEASE }], LONG_LEASE_MS)).signalRequests?.map((request) => [request.signalId, request.payload]);
        expect(await beat()).toEqual([
          ['s-1', { by: 'ann' }],
          ['s-2', { by: 'bob' }],
        ]);
        const received: SagaEvent = { type: 'signal.received', runId, saga: 'conformance', seq: 1, at: 2_000, signal: 'approved', signalId: 's-1', payload: { by: 'ann' } };
        await store.append(appendOf([received]));
        expect(await beat()).toEqual([['s-2', { by: 'bob' }]]);
        await store.append(appendOf([{ ...received, seq: 2, signalId: 's-2', payload: { by: 'bob' } }]));
        expect(await beat()).toBeUndefined();
      });

      it('hands back a payload holding NUL and lone surrogates exactly as it was sent (PostgreSQL jsonb refuses both), and when each request was sent', async () => {
        const runId = uuidv7();
        await createRun(store, runStarted(runId));
        const payload = { note: 'a\u0000b', half: 'x\ud800y', low: '\udc00', pair: '\ud83d\ude00', text: 'a \\u0000 written out' };
        await (peer().requestSignal ?? (() => Promise.reject(new Error(`${name} has no requestSignal`)))).call(peer(), { runId, signal: 'approved', signalId: 's-odd', payload, requestedAt: 1_001 });
        await peer().requestSignal?.({ runId, signal: 'approved', signalId: 's-plain', payload: { by: 'ann' }, requestedAt: 1_002 });
        await peer().requestSignal?.({ runId, signal: 'approved', signalId: 's-none', requestedAt: 1_003 });
        await peer().requestSignal?.({ runId, signal: 'approved', signalId: 's-unstamped' });
        const beat = await store.heartbeat(OWNER, [{ runId, lease: LEASE }], LONG_LEASE_MS);
        expect(beat.signalRequests?.map((request) => [request.signalId, request.payload, request.requestedAt])).toEqual([
          ['s-odd', payload, 1_001],
          ['s-plain', { by: 'ann' }, 1_002],
          ['s-none', undefined, 1_003],
          ['s-unstamped', undefined, undefined],
        ]);
      });
    });

    describe('listRuns', () => {
      // Ids in creation order; statuses and sagas mixed so every filter has something to drop.
      const fixture: ReadonlyArray<{ saga: string; status: RunStatus; events: number }> = [
        { saga: 'transfer', status: 'completed', events: 4 },
        { saga: 'transfer', status: 'running', events: 2 },
        { saga: 'booking', status: 'compensating', events: 6 },
        { saga: 'booking', status: 'paused', events: 3 },
        { saga: 'transfer', status: 'compensation_failed', events: 7 },
        { saga: 'booking', status: 'running', events: 1 },
        { saga: 'fulfilment', status: 'cancelled', events: 5 },
        { saga: 'transfer', status: 'compensated', events: 8 },
      ];
      let runIds: string[];

      beforeEach(async () => {
        runIds = fixture.map(() => uuidv7());
        // Created out of id order, to show the listing sorts.
        for (const index of [3, 0, 7, 5, 1, 6, 2, 4]) {
          const run = fixture[index];
          const runId = runIds[index];
          if (run === undefined || runId === undefined) throw new Error('fixture index out of range');
          await seedRun(store, runId, run.events, run.status, run.saga);
        }
      });

      const idsWhere = (predicate: (run: (typeof fixture)[number]) => boolean): string[] =>
        runIds.filter((_, index) => {
          const run = fixture[index];
          return run !== undefined && predicate(run);
        });

      it('lists every run in id order with its summary', async () => {
        const runs = await store.listRuns();
        expect(runs.map((run) => run.runId)).toEqual(runIds);
        expect(runs[2]).toEqual({ runId: runIds[2], saga: 'booking', status: 'compensating', events: 6, createdAt: T0, updatedAt: T0 + 5, submitted: false });
        expect(runs[5]).toEqual({ runId: runIds[5], saga: 'booking', status: 'running', events: 1, createdAt: T0, updatedAt: T0, submitted: false });
      });

      it('takes a query field given as undefined as absent (exactOptionalPropertyTypes callers write them)', async () => {
        const query = { status: undefined, saga: undefined, limit: undefined, afterRunId: undefined, runIdPrefix: undefined, order: undefined };
        expect(await store.listRuns(query)).toEqual(await store.listRuns());
        expect(await store.countRuns({ saga: undefined })).toEqual(await store.countRuns());
      });

      it('lists an empty store as an empty list', async () => {
        const { store: empty, cleanup: cleanupEmpty } = await open();
        try {
          expect(await empty.listRuns()).toEqual([]);
          expect(await empty.listRuns({ status: 'running' })).toEqual([]);
          expect(await empty.countRuns()).toEqual({});
        } finally {
          await empty.close();
          await cleanupEmpty?.();
        }
      });

      it('filters by one status', async () => {
        const runs = await store.listRuns({ status: 'running' });
        expect(runs.map((run) => run.runId)).toEqual(idsWhere((run) => run.status === 'running'));
        expect(runs.every((run) => run.status === 'running')).toBe(true);
      });

      it('filters by several statuses: the unfinished runs', async () => {
        const runs = await store.listRuns({ status: ['running', 'compensating'] });
        expect(runs.map((run) => run.runId)).toEqual(idsWhere((run) => run.status === 'running' || run.status === 'compensating'));
        expect(runs).toHaveLength(3);
      });

      it('treats an empty status list as matching nothing', async () => {
        expect(await store.listRuns({ status: [] })).toEqual([]);
      });

      it('filters by saga, alone and with statuses', async () => {
        const booking = await store.listRuns({ saga: 'booking' });
        expect(booking.map((run) => run.runId)).toEqual(idsWhere((run) => run.saga === 'booking'));

        const stuckTransfers = await store.listRuns({ saga: 'transfer', status: ['paused', 'compensation_failed', 'running'] });
        expect(stuckTransfers.map((run) => run.runId)).toEqual(
          idsWhere((run) => run.saga === 'transfer' && ['paused', 'compensation_failed', 'running'].includes(run.status)),
        );
        expect(await store.listRuns({ saga: 'no-such-saga' })).toEqual([]);
      });

      it('limits, and pages with afterRunId', async () => {
        expect((await store.listRuns({ limit: 3 })).map((run) => run.runId)).toEqual(runIds.slice(0, 3));
        expect(await store.listRuns({ limit: 0 })).toEqual([]);
        await expect(store.listRuns({ limit: -1 })).rejects.toBeInstanceOf(TypeError);
        await expect(store.listRuns({ limit: 1.5 })).rejects.toBeInstanceOf(TypeError);

        const pages: string[][] = [];
        let after: string | undefined;
        for (;;) {
          const page = await store.listRuns({ limit: 3, ...(after === undefined ? {} : { afterRunId: after }) });
          if (page.length === 0) break;
          pages.push(page.map((run) => run.runId));
          after = page[page.length - 1]?.runId;
        }
        expect(pages.map((page) => page.length)).toEqual([3, 3, 2]);
        expect(pages.flat()).toEqual(runIds);
      });

      it('lists newest first with order desc, paging backwards with afterRunId', async () => {
        const newestFirst = [...runIds].reverse();
        expect((await store.listRuns({ order: 'desc' })).map((run) => run.runId)).toEqual(newestFirst);
        expect((await store.listRuns({ order: 'asc', limit: 2 })).map((run) => run.runId)).toEqual(runIds.slice(0, 2));

        const pages: string[][] = [];
        let after: string | undefined;
        for (;;) {
          const page = await store.listRuns({ order: 'desc', limit: 3, ...(after === undefined ? {} : { afterRunId: after }) });
          if (page.length === 0) break;
          pages.push(page.map((run) => run.runId));
          after = page[page.length - 1]?.runId;
        }
        expect(pages.flat()).toEqual(newestFirst);
        const booking = await store.listRuns({ order: 'desc', saga: 'booking', afterRunId: runIds[5] ?? '' });
        expect(booking.map((run) => run.runId)).toEqual(idsWhere((run) => run.saga === 'booking').reverse().slice(1));
        await expect(store.listRuns({ order: 'sideways' as 'asc' })).rejects.toBeInstanceOf(TypeError);
      });

      it('pages through a filtered listing', async () => {
        const transfers = idsWhere((run) => run.saga === 'transfer');
        const firstPage = await store.listRuns({ saga: 'transfer', limit: 2 });
        const rest = await store.listRuns({ saga: 'transfer', afterRunId: firstPage[1]?.runId ?? '' });
        expect([...firstPage, ...rest].map((run) => run.runId)).toEqual(transfers);
        expect(await store.listRuns({ afterRunId: runIds[runIds.length - 1] ?? '' })).toEqual([]);
      });

      it('follows the status and length of the latest append', async () => {
        const runId = runIds[1] ?? '';
        await store.append(appendOf(eventsFrom(runId, 2, 3), 'completed'));

        expect(await store.listRuns({ status: 'running' })).not.toContainEqual(expect.objectContaining({ runId }));
        const [summary] = await store.listRuns({ status: 'completed', afterRunId: runIds[0] ?? '', limit: 1 });
        expect(summary).toEqual({ runId, saga: 'transfer', status: 'completed', events: 5, createdAt: T0, updatedAt: T0 + 4, submitted: false });
      });

      it('counts runs per status, of every saga or one', async () => {
        expect(await store.countRuns()).toEqual({
          completed: 1,
          running: 2,
          compensating: 1,
          paused: 1,
          compensation_failed: 1,
          cancelled: 1,
          compensated: 1,
        });
        expect(await store.countRuns({ saga: 'booking' })).toEqual({ compensating: 1, paused: 1, running: 1 });
        expect(await store.countRuns({ saga: 'nothing' })).toEqual({});
      });
    });

    describe('listRuns by id prefix', () => {
      const ids = ['order-1', 'order-10', 'order-2', 'Order-3', 'orders', 'order%x', 'order_y', 'order%', 'refund-1', 'ordé-1', 'order-🚀'];

      beforeEach(async () => {
        for (const runId of ids) await seedRun(store, runId, 1);
      });

      const listed = async (runIdPrefix: string, order?: 'asc' | 'desc'): Promise<string[]> =>
        (await store.listRuns({ runIdPrefix, ...(order === undefined ? {} : { order }) })).map((run) => run.runId);

      it('lists the ids that start with the prefix, case-sensitively, in order', async () => {
        expect(await listed('order-')).toEqual(['order-1', 'order-10', 'order-2', 'order-🚀']);
        expect(await listed('order-', 'desc')).toEqual(['order-🚀', 'order-2', 'order-10', 'order-1']);
        expect(await listed('Order')).toEqual(['Order-3']);
        expect(await listed('ordé')).toEqual(['ordé-1']);
        expect(await listed('order-1')).toEqual(['order-1', 'order-10']);
        expect(await listed('')).toHaveLength(ids.length);
        expect(await listed('nothing')).toEqual([]);
      });

      it('takes % and _ literally', async () => {
        expect(await listed('order%')).toEqual(['order%', 'order%x']);
        expect(await listed('order_')).toEqual(['order_y']);
        expect(await listed('%')).toEqual([]);
        expect(await listed('_')).toEqual([]);
      });

      it('stops at the first id past the prefix, in both orders, whatever the last character', async () => {
        for (const runId of ['order.', 'order-', 'k\u{D7FF}z', 'k\u{E000}', 'm\u{10FFFF}', 'm\u{10FFFF}a', 'n']) await seedRun(store, runId, 1);
        expect(await listed('order-')).toEqual(['order-', 'order-1', 'order-10', 'order-2', 'order-🚀']);
        expect(await listed('order-', 'desc')).toEqual(['order-🚀', 'order-2', 'order-10', 'order-1', 'order-']);
        expect(await listed('k\u{D7FF}')).toEqual(['k\u{D7FF}z']);
        expect(await listed('m\u{10FFFF}', 'desc')).toEqual(['m\u{10FFFF}a', 'm\u{10FFFF}']);
        expect(await listed('\u{10FFFF}')).toEqual([]);
      });

      it('combines with afterRunId and limit', async () => {
        const page = await store.listRuns({ runIdPrefix: 'order-', afterRunId: 'order-1', limit: 2 });
        expect(page.map((run) => run.runId)).toEqual(['order-10', 'order-2']);
      });
    });

    describe('prune', () => {
      /** A run whose last event is at `at`, in `status`. */
      async function runLastWrittenAt(runId: string, at: number, status: RunStatus): Promise<void> {
        await createRun(store, runStarted(runId));
        await store.append(appendOf([{ ...eventAt(runId, 1), at }], status));
      }

      it('deletes settled runs last written before olderThan, by default completed, compensated and cancelled', async () => {
        const old = T0 + 1_000;
        const ids = {
          completed: uuidv7(),
          compensated: uuidv7(),
          cancelled: uuidv7(),
          paused: uuidv7(),
          failed: uuidv7(),
          running: uuidv7(),
          recent: uuidv7(),
        };
        await runLastWrittenAt(ids.completed, old, 'completed');
        await runLastWrittenAt(ids.compensated, old, 'compensated');
        await runLastWrittenAt(ids.cancelled, old, 'cancelled');
        await runLastWrittenAt(ids.paused, old, 'paused');
        await runLastWrittenAt(ids.failed, old, 'compensation_failed');
        await runLastWrittenAt(ids.running, old, 'running');
        await runLastWrittenAt(ids.recent, T0 + 5_000, 'completed');

        expect(await store.prune({ olderThan: T0 + 2_000 })).toBe(3);
        for (const runId of [ids.completed, ids.compensated, ids.cancelled]) expect(await store.load(runId)).toBeUndefined();
        expect((await store.listRuns()).map((run) => run.runId).sort()).toEqual([ids.paused, ids.failed, ids.running, ids.recent].sort());
        // The id is free again.
        await createRun(store, runStarted(ids.completed));

        expect(await store.prune({ olderThan: new Date(T0 + 2_000), statuses: ['paused', 'compensation_failed'] })).toBe(2);
        expect((await store.listRuns()).map((run) => run.runId).sort()).toEqual([ids.running, ids.recent, ids.completed].sort());
        expect(await store.prune({ olderThan: T0 + 2_000 })).toBe(0);
      });

      it('dates a run by its last write: one that settled long ago, was redriven and settled again recently is kept', async () => {
        const runId = uuidv7();
        await runLastWrittenAt(runId, T0 + 1_000, 'paused');
        // Redriven (a settled run has no lease: the append takes none).
        await store.append(appendOf([{ ...eventAt(runId, 2), at: T0 + 3_000 }], 'running', null));
        expect(await store.prune({ olderThan: T0 + 4_000, statuses: ['paused', 'completed'] })).toBe(0);
        await store.append(appendOf([{ ...eventAt(runId, 3), at: T0 + 5_000 }], 'completed', null));
        expect(await store.prune({ olderThan: T0 + 4_000, statuses: ['paused', 'completed'] })).toBe(0);
        expect(await store.prune({ olderThan: T0 + 6_000, statuses: ['paused'] })).toBe(0);
        expect(await store.prune({ olderThan: T0 + 6_000, statuses: ['completed'] })).toBe(1);
        expect(await store.load(runId)).toBeUndefined();
      });

      it('never deletes a settled run under a live lease: one another process took over to redrive or compensate, before its first append', async () => {
        const runId = uuidv7();
        await runLastWrittenAt(runId, T0 + 1_000, 'paused');
        // A redrive from another process: it took the run over, and has yet to write run.resumed.
        const redriver = peer();
        const taken = await redriver.acquire({ runId, owner: 'redriver', leaseMs: LONG_LEASE_MS });
        if (!taken.acquired) throw new Error('the paused run could not be taken over');
        expect(await store.prune({ olderThan: T0 + 2_000, statuses: ['paused'] })).toBe(0);
        // The redrive goes on: the run is still there, whole.
        await redriver.append(appendOf([{ ...eventAt(runId, 2), at: T0 + 3_000 }], 'running', taken.lease));
        expect((await store.load(runId))?.map((event) => event.seq)).toEqual([0, 1, 2]);
      });

      it('deletes a settled run whose lease ran out (a redrive that died before its first append)', async () => {
        const runId = uuidv7();
        await runLastWrittenAt(runId, T0 + 1_000, 'paused');
        const taken = await peer().acquire({ runId, owner: 'redriver', leaseMs: SHORT_LEASE_MS });
        expect(taken.acquired).toBe(true);
        await expireLease(runId);
        expect(await store.prune({ olderThan: T0 + 2_000, statuses: ['paused'] })).toBe(1);
        expect(await store.load(runId)).toBeUndefined();
      });

      it('takes statuses and limit given as undefined as absent: the default statuses, no limit', async () => {
        const settled = uuidv7();
        const paused = uuidv7();
        await runLastWrittenAt(settled, T0 + 1_000, 'completed');
        await runLastWrittenAt(paused, T0 + 1_000, 'paused');
        expect(await store.prune({ olderThan: T0 + 2_000, statuses: undefined, limit: undefined })).toBe(1);
        expect((await store.listRuns()).map((run) => run.runId)).toEqual([paused]);
      });

      it('deletes the oldest first within a limit', async () => {
        const ids = Array.from({ length: 5 }, () => uuidv7());
        // Written in reverse age order: ids[4] is the oldest.
        for (const [index, runId] of ids.entries()) await runLastWrittenAt(runId, T0 + 100 - index, 'completed');

        expect(await store.prune({ olderThan: T0 + 1_000, limit: 2 })).toBe(2);
        expect((await store.listRuns()).map((run) => run.runId)).toEqual(ids.slice(0, 3));
        expect(await store.prune({ olderThan: T0 + 1_000, limit: 0 })).toBe(0);
      });

      it('refuses to prune unfinished statuses and bad limits', async () => {
        for (const status of ['running', 'compensating', 'queued'] as const) {
          await expect(store.prune({ olderThan: Date.now(), statuses: ['completed', status] })).rejects.toThrow(new RegExp(`never deletes ${status}`));
        }
        await expect(store.prune({ olderThan: Date.now(), limit: -1 })).rejects.toBeInstanceOf(TypeError);
        await expect(store.prune({ olderThan: Number.NaN })).rejects.toBeInstanceOf(TypeError);
      });
    });

    // Defined only for stores with rows on disk, rather than skipped for the others.
    if (rowsOnDisk) {
      describe('corrupt rows', () => {
        it('leaves a run whose summary row is unreadable out of listRuns and countRuns, listing the others', async () => {
          if (opened.corruptSummary === undefined) throw new Error(`${name} keeps rows on disk but its test setup cannot corrupt one`);
          const [before, bad, after] = [uuidv7(), uuidv7(), uuidv7()];
          for (const runId of [before, bad, after]) await seedRun(store, runId, 2);
          await opened.corruptSummary(bad);

          expect((await store.listRuns()).map((run) => run.runId)).toEqual([before, after]);
          expect((await store.listRuns({ order: 'desc', limit: 2 })).map((run) => run.runId)).toEqual([after, before]);
          expect(await store.countRuns()).toEqual({ running: 2 });
          expect(await store.load(after)).toHaveLength(2);
        });
      });
    }

    describe('volume', () => {
      it('round-trips a journal of 5,000 events', async () => {
        const runId = uuidv7();
        const chunk = 250;
        await createRun(store, runStarted(runId));
        for (let from = 1; from < 5_000; from += chunk) {
          const count = Math.min(chunk, 5_000 - from);
          await store.append(appendOf(eventsFrom(runId, from, count), from + count === 5_000 ? 'completed' : 'running'));
        }

        const loaded = await store.load(runId);
        expect(loaded).toHaveLength(5_000);
        expect(loaded).toEqual(eventsFrom(runId, 0, 5_000));
        expect(await store.listRuns()).toEqual([{ runId, saga: 'conformance', status: 'completed', events: 5_000, createdAt: T0, updatedAt: T0 + 4_999, submitted: false }]);
      });

      it('round-trips 2,000 runs and lists them in pages', async () => {
        const runIds = Array.from({ length: 2_000 }, () => uuidv7());
        await Promise.all(runIds.map((runId) => createRun(store, runStarted(runId))));
        await Promise.all(runIds.map((runId, index) => store.append(appendOf(eventsFrom(runId, 1, 2), index % 4 === 0 ? 'completed' : 'running'))));

        const listed: string[] = [];
        let after: string | undefined;
        for (;;) {
          const page = await store.listRuns({ limit: 500, ...(after === undefined ? {} : { afterRunId: after }) });
          if (page.length === 0) break;
          listed.push(...page.map((run) => run.runId));
          after = page[page.length - 1]?.runId;
        }
        expect(listed).toEqual(runIds);
        expect(await store.listRuns({ status: 'completed' })).toHaveLength(500);
        expect(await store.listRuns({ status: ['running', 'compensating'] })).toHaveLength(1_500);
        expect(await store.countRuns()).toEqual({ completed: 500, running: 1_500 });
        for (const runId of [runIds[0], runIds[999], runIds[1_999]]) {
          expect(await store.load(runId ?? '')).toEqual(eventsFrom(runId ?? '', 0, 3));
        }
      });
    });
  });
}
