import { v7 as uuidv7 } from 'uuid';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreConflictError, type AppendRequest, type RunStartedEvent, type RunStatus, type SagaEvent, type SagaStore } from 'sagaflow';

/** What {@link describeStoreConformance} needs to get a fresh, empty store for one test. */
export type OpenStore = () => Promise<{ store: SagaStore; cleanup?: () => Promise<void> }>;

const T0 = 1_700_000_000_000;

/** A `run.started` event, the first of every journal. */
export function runStarted(runId: string, saga = 'conformance', input: unknown = { order: 1 }): RunStartedEvent {
  return { type: 'run.started', runId, saga, seq: 0, at: T0, version: '1', shapeHash: 'shape-1', input, stages: ['reserve', 'charge'] };
}

/**
 * The event at `seq` of a plausible journal after `run.started`: stage starts and
 * completions, alternating. `at` grows with `seq` so created/updated times are checkable.
 */
export function eventAt(runId: string, seq: number, saga = 'conformance', output: unknown = { n: seq }): SagaEvent {
  if (seq === 0) return runStarted(runId, saga);
  const stage = `stage-${Math.floor((seq - 1) / 2)}`;
  return seq % 2 === 1
    ? { type: 'stage.started', runId, saga, seq, at: T0 + seq, stage, attempt: 1 }
    : { type: 'stage.completed', runId, saga, seq, at: T0 + seq, stage, attempt: 1, output, durationMs: 3 };
}

/** Events `from` … `from + count - 1` of a run. */
export function eventsFrom(runId: string, from: number, count: number, saga = 'conformance'): SagaEvent[] {
  return Array.from({ length: count }, (_, offset) => eventAt(runId, from + offset, saga));
}

/** An append request for `events`, expecting the first one's seq. */
export function appendOf(events: readonly SagaEvent[], status: RunStatus = 'running', saga?: string): AppendRequest {
  const first = events[0];
  if (first === undefined) throw new TypeError('appendOf needs at least one event');
  return { runId: first.runId, saga: saga ?? first.saga, expectedSeq: first.seq, events, status };
}

/** Creates a run with `count` events in one append. */
export async function seedRun(store: SagaStore, runId: string, count: number, status: RunStatus = 'running', saga = 'conformance'): Promise<SagaEvent[]> {
  const events = eventsFrom(runId, 0, count, saga);
  await store.append(appendOf(events, status));
  return events;
}

/**
 * The behaviour every {@link SagaStore} must have: optimistic appends, ordered validated
 * loads and filtered listing. Reused by each store's test file.
 *
 * @param name - the store, for the describe block's title.
 * @param open - gives a fresh, empty store for each test, and how to dispose of it.
 */
export function describeStoreConformance(name: string, open: OpenStore): void {
  describe(`${name}: SagaStore conformance`, () => {
    let store: SagaStore;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ store, cleanup } = await open());
    });

    afterEach(async () => {
      await store.close();
      await cleanup?.();
    });

    describe('append and load', () => {
      it('appends at the expected seq and loads the journal back', async () => {
        const runId = uuidv7();
        const first = eventsFrom(runId, 0, 2);
        await store.append(appendOf(first));
        const second = eventsFrom(runId, 2, 3);
        await store.append(appendOf(second));

        expect(await store.load(runId)).toEqual([...first, ...second]);
      });

      it('returns undefined for a run it does not have', async () => {
        await seedRun(store, uuidv7(), 2);
        expect(await store.load(uuidv7())).toBeUndefined();
      });

      it('loads events in seq order across many appends', async () => {
        const runId = uuidv7();
        for (let seq = 0; seq < 20; seq++) await store.append(appendOf([eventAt(runId, seq)]));

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
        const input = { customer: 'Ærøskøbing', items: [{ sku: 'ü-1', qty: 2 }], meta: { tags: ['α', 'β'] } };
        const events: SagaEvent[] = [
          runStarted(runId, 'unicode-☃', input),
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
        await store.append(appendOf(events));

        const loaded = await store.load(runId);
        expect(loaded).toEqual(events);
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

      it('refuses a first append that does not start at seq 0', async () => {
        const runId = uuidv7();
        await expect(store.append(appendOf([eventAt(runId, 1)]))).rejects.toMatchObject({ name: 'StoreConflictError', expectedSeq: 1, actualSeq: 0 });
        expect(await store.load(runId)).toBeUndefined();
        expect(await store.listRuns()).toEqual([]);
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

      it('rejects events that do not follow on from expectedSeq, writing none of them', async () => {
        const runId = uuidv7();
        await seedRun(store, runId, 2);
        const gapped = [eventAt(runId, 2), eventAt(runId, 4)];

        await expect(store.append({ ...appendOf(gapped), expectedSeq: 2 })).rejects.toBeInstanceOf(TypeError);
        expect(await store.load(runId)).toHaveLength(2);
      });

      it('commits concurrent appends to different runs', async () => {
        const runIds = Array.from({ length: 50 }, () => uuidv7());
        await Promise.all(runIds.map((runId) => store.append(appendOf([eventAt(runId, 0)]))));
        await Promise.all(runIds.map((runId) => store.append(appendOf(eventsFrom(runId, 1, 2)))));

        for (const runId of runIds) expect(await store.load(runId)).toEqual(eventsFrom(runId, 0, 3));
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
        // Appended out of id order, to show the listing sorts.
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
        expect(runs[2]).toEqual({ runId: runIds[2], saga: 'booking', status: 'compensating', events: 6, createdAt: T0, updatedAt: T0 + 5 });
        expect(runs[5]).toEqual({ runId: runIds[5], saga: 'booking', status: 'running', events: 1, createdAt: T0, updatedAt: T0 });
      });

      it('lists an empty store as an empty list', async () => {
        const { store: empty, cleanup: cleanupEmpty } = await open();
        try {
          expect(await empty.listRuns()).toEqual([]);
          expect(await empty.listRuns({ status: 'running' })).toEqual([]);
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
        expect(summary).toEqual({ runId, saga: 'transfer', status: 'completed', events: 5, createdAt: T0, updatedAt: T0 + 4 });
      });
    });

    describe('volume', () => {
      it('round-trips a journal of 5,000 events', async () => {
        const runId = uuidv7();
        const chunk = 250;
        for (let from = 0; from < 5_000; from += chunk) {
          await store.append(appendOf(eventsFrom(runId, from, chunk), from + chunk === 5_000 ? 'completed' : 'running'));
        }

        const loaded = await store.load(runId);
        expect(loaded).toHaveLength(5_000);
        expect(loaded).toEqual(eventsFrom(runId, 0, 5_000));
        expect(await store.listRuns()).toEqual([{ runId, saga: 'conformance', status: 'completed', events: 5_000, createdAt: T0, updatedAt: T0 + 4_999 }]);
      });

      it('round-trips 2,000 runs and lists them in pages', async () => {
        const runIds = Array.from({ length: 2_000 }, () => uuidv7());
        await Promise.all(runIds.map((runId, index) => store.append(appendOf(eventsFrom(runId, 0, 3), index % 4 === 0 ? 'completed' : 'running'))));

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
        for (const runId of [runIds[0], runIds[999], runIds[1_999]]) {
          expect(await store.load(runId ?? '')).toEqual(eventsFrom(runId ?? '', 0, 3));
        }
      });
    });
  });
}
