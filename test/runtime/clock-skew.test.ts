/**
 * Clocks that disagree: leases run on the store's clock, but events, waits and retries are timed
 * on the clock of the process that writes them. A process whose clock is behind the one that wrote
 * a run's journal (another host's), or a wall clock stepped back during a stage (NTP), must neither
 * journal a negative duration (the event schema refuses it: the journal could no longer be read)
 * nor wait for a retry for the skew on top of its delay.
 */
import { asyncScheduler, filter, firstValueFrom, type SchedulerAction, type SchedulerLike } from 'rxjs';
import Database from 'better-sqlite3';
import { describe, expect, it, onTestFinished } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, sagaEventSchema, type AnySaga, type SagaEvent, type SagaStore } from 'sagaflow';
import { SqliteStore } from 'sagaflow/sqlite';
import { createVirtualClock, type VirtualClock } from 'sagaflow/testing';
import { tempDatabase } from '../stores/sqlite-temp.js';

const input = z.object({});
const HOUR = 3_600_000;
const T = Date.UTC(2026, 11, 6, 12);

/** An orchestrator on `store` whose clock reads `now` (and stands still unless `autoAdvance`), closed after the test. */
function processAt(store: SagaStore, saga: AnySaga, now: number, autoAdvance = true): { clock: VirtualClock; orchestrator: ReturnType<typeof createOrchestrator> } {
  const clock = createVirtualClock({ now, autoAdvance });
  const orchestrator = createOrchestrator({ store, sagas: [saga], scheduler: clock });
  onTestFinished(() => orchestrator.close({ timeoutMs: 0 }));
  return { clock, orchestrator };
}

/**
 * Starts a run of `build(clock)` in a process whose clock reads T (standing still), stops that
 * process once `stopAfter` is journaled, and resumes the run in one whose clock is an hour behind.
 * `clock()` reads the clock of whichever process drives the run; `calls` are what the saga's own
 * code recorded on it. Resolves with the outcome and how long after the resume each call came.
 */
async function takenOverAnHourBehind(build: (clock: () => number) => AnySaga, stopAfter: SagaEvent['type'], calls: Array<{ attempt: number; at: number }>) {
  const store = new MemoryStore();
  let current: VirtualClock | undefined;
  const saga = build(() => current?.now() ?? 0);
  const first = processAt(store, saga, T, false);
  current = first.clock;
  const run = first.orchestrator.start(saga, {});
  await firstValueFrom(run.events$.pipe(filter((event: SagaEvent) => event.type === stopAfter)));
  await first.orchestrator.close({ timeoutMs: 0 });

  const second = processAt(store, saga, T - HOUR);
  current = second.clock;
  const resumedAt = second.clock.now();
  const outcome = await second.orchestrator.resume(run.runId).outcome;
  return { outcome, attempts: calls.map((call) => call.attempt), sinceResume: calls.slice(1).map((call) => call.at - resumedAt) };
}

describe('a run taken over by a process whose clock is an hour behind the one that wrote its journal', () => {
  it('retries a stage after its journaled delay, not after the delay plus the skew', async () => {
    const calls: Array<{ attempt: number; at: number }> = [];
    const taken = await takenOverAnHourBehind(
      (clock) =>
        defineSaga({ name: 'skewed-retry', input })
          .stage('charge', {
            retry: { maxAttempts: 3, initialDelayMs: 1_000, jitter: false },
            execute: ({ attempt }) => {
              calls.push({ attempt, at: clock() });
              if (attempt === 1) throw new Error('card network busy');
              return 'charged';
            },
          })
          .build(),
      'stage.retrying',
      calls,
    );
    expect(taken.outcome.status).toBe('completed');
    expect(taken.attempts).toEqual([1, 2]);
    expect(taken.sinceResume[0]).toBeLessThanOrEqual(1_000);
  });

  it('retries a compensation after its journaled delay, not after the delay plus the skew', async () => {
    const refunds: Array<{ attempt: number; at: number }> = [];
    const taken = await takenOverAnHourBehind(
      (clock) =>
        defineSaga({ name: 'skewed-refund', input })
          .stage('charge', {
            execute: () => 'charged',
            compensate: ({ attempt }) => {
              refunds.push({ attempt, at: clock() });
              if (attempt === 1) throw new Error('refund service busy');
            },
            compensation: { retry: { maxAttempts: 3, initialDelayMs: 1_000, jitter: false } },
          })
          .stage('ship', { after: ['charge'], execute: () => Promise.reject(new Error('no courier')) })
          .build(),
      'compensation.retrying',
      refunds,
    );
    expect(taken.outcome.status).toBe('compensated');
    expect(taken.attempts).toEqual([1, 2]);
    expect(taken.sinceResume[0]).toBeLessThanOrEqual(1_000);
  });
});

describe('a signal wait taken over by a process whose clock is behind', () => {
  it('journals the wait with a duration the journal can be read back with', async () => {
    const database = tempDatabase();
    onTestFinished(database.remove);
    const store = new SqliteStore({ path: database.path });
    onTestFinished(() => store.close());
    const saga = defineSaga({ name: 'skewed-wait', input })
      .stage('hold', { execute: () => 'held', compensate: () => undefined })
      .waitForSignal('approval', { signal: 'approval', schema: z.object({ by: z.string() }), timeoutMs: 15 * 60_000 })
      .stage('settle', { execute: ({ results }) => `approved by ${results.approval.by}` })
      .build();

    const first = processAt(store, saga, T, false);
    const run = first.orchestrator.start(saga, {});
    await firstValueFrom(run.events$.pipe(filter((event: SagaEvent) => event.type === 'wait.started')));
    await first.orchestrator.close({ timeoutMs: 0 });

    // The signal takes the run over in a process whose clock is an hour behind the first's.
    const second = processAt(store, saga, T - HOUR);
    await second.orchestrator.signal(run.runId, 'approval', { by: 'ada' });
    const settled = await firstValueFrom(second.orchestrator.watch(run.runId).pipe(filter((event: SagaEvent) => event.type === 'run.completed')));
    expect(settled.seq).toBeGreaterThan(0);

    // The journal stays readable: inspect reads it back through the event schema.
    const state = await second.orchestrator.inspect(run.runId);
    expect(state).toMatchObject({ status: 'completed', stages: { settle: { output: 'approved by ada' } } });
    const journal = (await store.load(run.runId)) ?? [];
    expect(journal.find((event) => event.type === 'stage.completed' && event.stage === 'approval')).toMatchObject({ durationMs: 0, output: { by: 'ada' } });
  });
});

describe('a wall clock stepped back while a stage runs', () => {
  it('journals the attempt with a duration the journal can be read back with', async () => {
    const database = tempDatabase();
    onTestFinished(database.remove);
    const store = new SqliteStore({ path: database.path });
    onTestFinished(() => store.close());
    // Real time, read through a clock that an NTP step can set back.
    let offset = 0;
    const scheduler: SchedulerLike = {
      now: () => Date.now() + offset,
      schedule: <T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T) => asyncScheduler.schedule(work, delay, state),
    };
    const saga = defineSaga({ name: 'stepped-back', input })
      .stage('charge', {
        execute: () => {
          offset = -HOUR;
          return 'charged';
        },
        compensate: () => {
          offset -= HOUR;
        },
      })
      .stage('ship', { execute: () => Promise.reject(new Error('no courier')) })
      .build();
    const orchestrator = createOrchestrator({ store, sagas: [saga], scheduler });
    onTestFinished(() => orchestrator.close({ timeoutMs: 0 }));

    const outcome = await orchestrator.start(saga, {}).outcome;
    expect(outcome.status).toBe('compensated');
    const state = await orchestrator.inspect(outcome.runId);
    expect(state.status).toBe('compensated');
    const journal = (await store.load(outcome.runId)) ?? [];
    for (const event of journal) if ('durationMs' in event) expect(event.durationMs).toBeGreaterThanOrEqual(0);
  });
});

describe('a journal an earlier sagaflow wrote with a negative duration', () => {
  it('is read back, the duration as 0 ms, by load and inspect (which refused the whole journal)', async () => {
    const database = tempDatabase();
    onTestFinished(database.remove);
    const saga = defineSaga({ name: 'old-skew', input })
      .waitForSignal('approval', { signal: 'approval', schema: z.object({ by: z.string() }), timeoutMs: 60_000 })
      .stage('charge', { execute: () => 'charged' })
      .build();
    const store = new SqliteStore({ path: database.path });
    onTestFinished(() => store.close());
    const first = processAt(store, saga, T, false);
    const run = first.orchestrator.start(saga, {});
    await firstValueFrom(run.events$.pipe(filter((event: SagaEvent) => event.type === 'wait.started')));
    await first.orchestrator.signal(run.runId, 'approval', { by: 'ada' });
    const approved = await firstValueFrom(run.events$.pipe(filter((event: SagaEvent) => event.type === 'stage.completed' && event.stage === 'approval')));
    await first.orchestrator.close({ timeoutMs: 0 });
    // What the unfixed decider journaled when a process an hour behind took the wait over.
    const raw = new Database(database.path);
    const row = raw.prepare('SELECT body FROM sagaflow_events WHERE run_id = ? AND seq = ?').get(run.runId, approved.seq) as { body: string };
    raw.prepare('UPDATE sagaflow_events SET body = ? WHERE run_id = ? AND seq = ?').run(JSON.stringify({ ...(JSON.parse(row.body) as object), durationMs: -HOUR }), run.runId, approved.seq);
    raw.close();

    expect((await store.load(run.runId))?.find((event) => event.seq === approved.seq)).toMatchObject({ type: 'stage.completed', stage: 'approval', durationMs: 0 });
    const later = processAt(store, saga, T + 1_000);
    const outcome = await later.orchestrator.inspect(run.runId);
    expect([outcome.status, outcome.outputs.charge, outcome.stages.approval?.status]).toEqual(['completed', 'charged', 'completed']);
    expect(sagaEventSchema.parse({ ...approved, durationMs: -1 })).toMatchObject({ durationMs: 0 });
  });
});
