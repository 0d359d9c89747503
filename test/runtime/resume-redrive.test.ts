import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createOrchestrator,
  defineSaga,
  MemoryStore,
  NonRetryableError,
  OrchestratorClosedError,
  RunNotFoundError,
  RunStateError,
  SagaFailedError,
  SagaNotRegisteredError,
  SagaShapeMismatchError,
  StoreUnavailableError,
  type AnySaga,
  type OrchestratorOptions,
  type SagaEventDraft,
  type SagaStore,
} from 'sagaflow';
import { SqliteStore } from 'sagaflow/sqlite';
import { tempDatabase } from '../stores/sqlite-temp.js';
import { collect, trace } from '../support/collect.js';
import { deferred } from '../support/deferred.js';

/** A builder without per-stage types, for stage names computed in a loop. */
interface LooseBuilder {
  stage(name: string, definition: object): LooseBuilder;
  build(): AnySaga;
}
import { storeOrphanedJournal } from '../support/journal.js';

const input = z.object({ id: z.string() });

/** Writes a journal by hand, as a process that crashed would have left it. */
async function writeJournal(store: SagaStore, runId: string, saga: { name: string; version: string; shapeHash: string; stages: readonly { name: string }[] }, drafts: SagaEventDraft[]): Promise<void> {
  const events = [
    { type: 'run.started', version: saga.version, shapeHash: saga.shapeHash, input: { id: 'x' }, stages: saga.stages.map((stage) => stage.name) } as SagaEventDraft,
    ...drafts,
  ].map((draft, seq) => ({ ...draft, runId, saga: saga.name, seq, at: 1_000 + seq }));
  await storeOrphanedJournal(store, events);
}

/** A journal's events after run.started: `a` completed, `b` started and never settled. */
const B_IN_FLIGHT: SagaEventDraft[] = [
  { type: 'stage.started', stage: 'a', attempt: 1 },
  { type: 'stage.completed', stage: 'a', attempt: 1, output: 'a-out', durationMs: 1 },
  { type: 'stage.started', stage: 'b', attempt: 1 },
];

/** `store` with some of its methods replaced (the rest are the store's own). */
function storeWith(store: MemoryStore, overrides: Partial<SagaStore>): SagaStore {
  return Object.assign(Object.create(store) as MemoryStore, overrides);
}

/** `count` runs named `prefix-0000`, `prefix-0001`, … journaled with `drafts` after run.started (more than 1,000: more than one page of recover()). */
async function writeRuns(store: SagaStore, prefix: string, count: number, saga: Parameters<typeof writeJournal>[2], drafts: SagaEventDraft[] = B_IN_FLIGHT): Promise<string[]> {
  const runIds = Array.from({ length: count }, (_, index) => `${prefix}-${String(index).padStart(4, '0')}`);
  for (const runId of runIds) await writeJournal(store, runId, saga, drafts);
  return runIds;
}

/** The store, with every takeover held at `gate` once it is asked for (`inAcquire` resolves then). */
function gatedAcquire(store: MemoryStore): { readonly gated: SagaStore; readonly inAcquire: ReturnType<typeof deferred<void>>; readonly gate: ReturnType<typeof deferred<void>> } {
  const inAcquire = deferred<void>();
  const gate = deferred<void>();
  const gated: SagaStore = storeWith(store, {
    async acquire(request: Parameters<SagaStore['acquire']>[0]) {
      inAcquire.resolve();
      await gate.promise;
      return store.acquire(request);
    },
  });
  return { gated, inAcquire, gate };
}

function recordingSaga(calls: string[], options: { failAt?: string; onFailure?: 'compensate' | 'pause' } = {}) {
  const step = (name: string) => ({
    execute: async ({ idempotencyKey, attempt }: { idempotencyKey: string; attempt: number }) => {
      calls.push(`execute:${name}:${attempt}:${idempotencyKey}`);
      if (options.failAt === name) throw new Error(`${name} is down`);
      return `${name}-out`;
    },
    compensate: async ({ output, idempotencyKey }: { output: unknown; idempotencyKey: string }) => {
      calls.push(`compensate:${name}:${String(output)}:${idempotencyKey}`);
    },
  });
  return defineSaga({ name: 'journaled', input, ...(options.onFailure ? { onFailure: options.onFailure } : {}) })
    .stage('a', step('a'))
    .stage('b', step('b'))
    .stage('c', step('c'))
    .build();
}

describe('onFailure: pause, redrive and compensate (rule 6)', () => {
  it('pauses with outputs; redrive re-executes only what did not complete, same key, attempts continuing, fresh budget', async () => {
    const calls: string[] = [];
    const store = new MemoryStore();
    const broken = { down: true };
    const saga = defineSaga({ name: 'pausing', input, onFailure: 'pause' })
      .stage('a', {
        execute: async ({ idempotencyKey }) => {
          calls.push(`a:${idempotencyKey}`);
          return 'A';
        },
      })
      .stage('b', {
        retry: { maxAttempts: 2, initialDelayMs: 0, jitter: false },
        execute: async ({ idempotencyKey, attempt }) => {
          calls.push(`b:${attempt}:${idempotencyKey}`);
          if (broken.down) throw new Error('b is down');
          return 'B';
        },
      })
      .build();
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const error = await orchestrator.run(saga, { id: '1' }).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(SagaFailedError);
    const paused = (error as SagaFailedError).outcome;
    expect(paused.status).toBe('paused');
    expect(paused.outputs).toEqual({ a: 'A' });
    expect(paused.failure?.stage).toBe('b');
    expect((error as Error).message).toContain("is paused with completed stage(s) 'a' kept: redrive it to continue or compensate it to roll back.");
    expect(await orchestrator.inspect(paused.runId)).toEqual(paused);

    broken.down = false;
    const outcome = await orchestrator.redrive(paused.runId).outcome;
    expect(outcome.status).toBe('completed');
    expect(outcome.failure).toBeUndefined();
    expect(outcome.outputs).toEqual({ a: 'A', b: 'B' });
    expect(outcome.stages.b?.attempts).toBe(3);
    const keysOfB = new Set(calls.filter((call) => call.startsWith('b:')).map((call) => call.split(':')[2]));
    expect(keysOfB.size).toBe(1);
    expect(calls.filter((call) => call.startsWith('a:'))).toHaveLength(1);
    expect(calls.map((call) => call.split(':').slice(0, 2).join(':'))).toEqual(['a:' + calls[0]?.split(':')[1], 'b:1', 'b:2', 'b:3']);
  });

  it('watch() of a run redriven by another orchestrator goes on past the pause it went on from, to its end', async () => {
    const calls: string[] = [];
    const store = new MemoryStore();
    const saga = recordingSaga(calls, { failAt: 'c', onFailure: 'pause' });
    const first = createOrchestrator({ store, sagas: [saga] });
    const paused = await first.start(saga, { id: '1' }).outcome;
    expect(paused.status).toBe('paused');
    const other = createOrchestrator({ store, sagas: [saga] });
    const rolledBack = await other.compensate(paused.runId).outcome;
    expect(rolledBack.status).toBe('compensated');
    // `first` drives nothing now: it reads the journal from the store, pause and all.
    const watched = await collect(first.watch(paused.runId, { pollIntervalMs: 5 }));
    expect(watched.map((event) => event.seq)).toEqual([...Array(watched.length).keys()]);
    expect(trace(watched)).toContain('run.paused');
    expect(watched.at(-1)?.type).toBe('run.compensated');
    await Promise.all([first.close(), other.close()]);
  });

  it('watch() of a run another orchestrator drives completes once the run pauses, its journal ending at run.paused', async () => {
    const gate = deferred();
    const store = new MemoryStore();
    const saga = defineSaga({ name: 'pause-watched', input, onFailure: 'pause' })
      .stage('a', { execute: async () => 'A' })
      .stage('b', {
        execute: async (): Promise<string> => {
          await gate.promise;
          throw new Error('b is down');
        },
      })
      .build();
    const driver = createOrchestrator({ store, sagas: [saga] });
    const watcher = createOrchestrator({ store, sagas: [saga] });
    const run = driver.start(saga, { id: '1' });
    await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'stage.started' && event.stage === 'b')));
    const watched = collect(watcher.watch(run.runId, { pollIntervalMs: 5 }));
    gate.resolve();
    expect((await run.outcome).status).toBe('paused');
    const events = await watched;
    expect(events.at(-1)?.type).toBe('run.paused');
    expect(events.map((event) => event.seq)).toEqual([...Array(events.length).keys()]);
    await Promise.all([driver.close(), watcher.close()]);
  });

  it('compensate rolls a paused run back', async () => {
    const calls: string[] = [];
    const saga = recordingSaga(calls, { failAt: 'c', onFailure: 'pause' });
    const orchestrator = createOrchestrator({ sagas: [saga] });
    const paused = await orchestrator.start(saga, { id: '1' }).outcome;
    expect(paused.status).toBe('paused');
    const run = orchestrator.compensate(paused.runId);
    const [outcome, events] = await Promise.all([run.outcome, collect(run.events$)]);
    expect(outcome.status).toBe('compensated');
    expect(outcome.compensationOrder).toEqual(['b', 'a']);
    expect(trace(events).slice(0, 1)).toEqual(['run.started']);
    expect(trace(events)).toContain('run.resumed');
  });

  it.each(['memory', 'sqlite'] as const)(
    'redrive() and compensate() called by an events$ subscriber the moment run.paused or run.compensation_failed is announced go on from there (%s): they were refused with RunStateError "it is being driven by this orchestrator right now" for a run that had just stopped',
    async (kind) => {
      const database = kind === 'sqlite' ? tempDatabase() : undefined;
      const store = database === undefined ? new MemoryStore() : new SqliteStore({ path: database.path });
      const broken = { execute: true, compensate: true };
      const saga = defineSaga({ name: 'auto-operator', input, onFailure: 'pause' })
        .stage('a', {
          execute: () => 'A',
          compensate: () => {
            if (broken.compensate) throw new Error('refund service down');
          },
          compensation: { retry: { maxAttempts: 1 } },
        })
        .stage('b', {
          execute: () => {
            if (broken.execute) throw new Error('b is down');
            return 'B';
          },
        })
        .build();
      const orchestrator = createOrchestrator({ store, sagas: [saga] });
      const acted: Array<Promise<string>> = [];
      const statusOf = (run: { outcome: Promise<{ status: string }> }): Promise<string> =>
        run.outcome.then(
          (outcome) => outcome.status,
          (error: unknown) => `rejected: ${(error as Error).message}`,
        );
      // An automatic operator: compensate what pauses, redrive a rollback that failed once the refund service is back.
      orchestrator.events$.subscribe((event) => {
        if (event.type === 'run.paused') acted.push(statusOf(orchestrator.compensate(event.runId)));
        if (event.type === 'run.compensation_failed') {
          broken.compensate = false;
          acted.push(statusOf(orchestrator.redrive(event.runId)));
        }
      });
      const paused = await orchestrator.start(saga, { id: '1' }).outcome;
      expect(paused.status).toBe('paused');
      expect(await acted[0]).toBe('compensation_failed');
      expect(await acted[1]).toBe('compensated');
      expect((await orchestrator.inspect(paused.runId)).compensationOrder).toEqual(['a']);
      await orchestrator.close();
      if (store instanceof SqliteStore) await store.close();
      await database?.remove();
    },
  );

  it('refuses redrive of a completed run, compensate of a compensated run, and unknown ids, with named errors', async () => {
    const calls: string[] = [];
    const saga = recordingSaga(calls);
    const orchestrator = createOrchestrator({ sagas: [saga] });
    const done = await orchestrator.start(saga, { id: '1' }).outcome;
    const redrive = await orchestrator.redrive(done.runId).outcome.catch((reason: unknown) => reason);
    expect(redrive).toBeInstanceOf(RunStateError);
    expect((redrive as Error).message).toBe(
      `Cannot redrive run ${done.runId} of saga 'journaled': it is completed, and redrive needs a run that is paused or compensation_failed.`,
    );
    const missing = orchestrator.compensate('no-such-run');
    expect(await missing.outcome.catch((reason: unknown) => reason)).toBeInstanceOf(RunNotFoundError);
    expect(await collect(missing.events$)).toEqual([]);
    await expect(orchestrator.inspect('no-such-run')).rejects.toThrow('No saga run with id no-such-run exists in this store.');
  });
  it.each([
    ['redrive', 'cancelled'],
    ['compensate', 'compensated'],
  ] as const)('a cancel() of the handle %s() returned, asked before the run is picked up, is carried out once it goes on (%s)', async (mode, status) => {
    const calls: string[] = [];
    const store = new MemoryStore();
    const saga = recordingSaga(calls, { failAt: 'b', onFailure: 'pause' });
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const paused = await orchestrator.start(saga, { id: 'x' }, { runId: `paused-${mode}` }).outcome;
    expect(paused.status).toBe('paused');
    const run = mode === 'redrive' ? orchestrator.redrive(`paused-${mode}`) : orchestrator.compensate(`paused-${mode}`);
    run.cancel('changed my mind');
    const outcome = await run.outcome;
    expect(outcome.status).toBe(status);
    // b is not tried again; a is compensated.
    expect(calls.filter((call) => call.startsWith('execute:b:'))).toHaveLength(1);
    expect(calls.filter((call) => call.startsWith('compensate:a:'))).toHaveLength(1);
    await orchestrator.close();
  });
});

describe('resume after a crash (rule 7)', () => {
  it('re-executes a stage that started but did not complete (same key, next attempt) and never a completed one', async () => {
    const store = new MemoryStore();
    const calls: string[] = [];
    const saga = recordingSaga(calls);
    await writeJournal(store, 'crashed-1', saga, B_IN_FLIGHT);
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const run = orchestrator.resume('crashed-1');
    const [outcome, events] = await Promise.all([run.outcome, collect(run.events$)]);
    expect(outcome.status).toBe('completed');
    expect(calls.map((call) => call.split(':').slice(0, 3).join(':'))).toEqual(['execute:b:2', 'execute:c:1']);
    // The key of the re-executed stage is the one any process derives for (run, stage).
    const again = await createOrchestrator({ store: new MemoryStore(), sagas: [saga] }).start(saga, { id: 'x' }, { runId: 'crashed-1' }).outcome;
    expect(again.status).toBe('completed');
    expect(calls.filter((call) => call.startsWith('execute:b:')).map((call) => call.split(':')[3])).toEqual([calls[0]?.split(':')[3], calls[0]?.split(':')[3]]);
    expect(trace(events).slice(0, 5)).toEqual(['run.started', 'stage.started:a', 'stage.completed:a', 'stage.started:b', 'run.resumed']);
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index));
  });

  it('settles a stage in flight while the run was stopping as unknown and compensates it with outcome unknown and output undefined', async () => {
    const store = new MemoryStore();
    const calls: string[] = [];
    const saga = defineSaga({ name: 'journaled', input })
      .stage('a', { execute: async () => 'a-out', compensate: async ({ output }) => void calls.push(`compensate:a:${String(output)}`) })
      .stage('b', { after: ['a'], execute: async () => 'b-out', compensate: async ({ outcome, output }) => void calls.push(`compensate:b:${outcome}:${String(output)}`) })
      .stage('c', { after: ['a'], execute: async () => 'c-out', compensate: async () => void calls.push('compensate:c') })
      .build();
    await writeJournal(store, 'crashed-2', saga, [
      { type: 'stage.started', stage: 'a', attempt: 1 },
      { type: 'stage.completed', stage: 'a', attempt: 1, output: 'a-out', durationMs: 1 },
      { type: 'stage.started', stage: 'b', attempt: 1 },
      { type: 'stage.started', stage: 'c', attempt: 1 },
      { type: 'stage.failed', stage: 'c', attempt: 1, error: { name: 'Error', message: 'c broke' } },
    ]);
    const outcome = await createOrchestrator({ store, sagas: [saga] }).resume('crashed-2').outcome;
    expect(outcome.status).toBe('compensated');
    expect(outcome.stages.b?.status).toBe('compensated');
    expect(outcome.stages.b?.cancelReason).toContain('outcome is unknown');
    expect(calls).toEqual(['compensate:b:unknown:undefined', 'compensate:a:a-out']);
  });

  it('resumes an interrupted rollback: a completed compensation is never run again, the interrupted one is', async () => {
    const store = new MemoryStore();
    const calls: string[] = [];
    const saga = recordingSaga(calls, { failAt: 'c' });
    await writeJournal(store, 'crashed-3', saga, [
      { type: 'stage.started', stage: 'a', attempt: 1 },
      { type: 'stage.completed', stage: 'a', attempt: 1, output: 'a-out', durationMs: 1 },
      { type: 'stage.started', stage: 'b', attempt: 1 },
      { type: 'stage.completed', stage: 'b', attempt: 1, output: 'b-out', durationMs: 1 },
      { type: 'stage.started', stage: 'c', attempt: 1 },
      { type: 'stage.failed', stage: 'c', attempt: 1, error: { name: 'Error', message: 'c is down' } },
      { type: 'run.compensating', cause: { kind: 'failed', stage: 'c', error: { name: 'Error', message: 'c is down' } } },
      { type: 'compensation.started', stage: 'b', attempt: 1 },
      { type: 'compensation.completed', stage: 'b', attempt: 1, durationMs: 1 },
      { type: 'compensation.started', stage: 'a', attempt: 1 },
    ]);
    const outcome = await createOrchestrator({ store, sagas: [saga] }).resume('crashed-3').outcome;
    expect(outcome.status).toBe('compensated');
    expect(outcome.compensationOrder).toEqual(['b', 'a']);
    expect(outcome.stages.a?.compensation?.attempts).toBe(2);
    expect(calls.map((call) => call.split(':').slice(0, 3).join(':'))).toEqual(['compensate:a:a-out']);
  });

  it('recover() resumes every running or compensating run it has the saga for, and leaves settled ones alone', async () => {
    const store = new MemoryStore();
    const calls: string[] = [];
    const saga = recordingSaga(calls);
    await writeJournal(store, 'r-1', saga, [{ type: 'stage.started', stage: 'a', attempt: 1 }]);
    await writeJournal(store, 'r-2', saga, []);
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const done = await orchestrator.start(saga, { id: 'done' }).outcome;
    const handles = await orchestrator.recover();
    expect(handles.map((handle) => handle.runId).sort()).toEqual(['r-1', 'r-2']);
    const outcomes = await Promise.all(handles.map((handle) => handle.outcome));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['completed', 'completed']);
    expect((await orchestrator.inspect(done.runId)).status).toBe('completed');
    expect(await orchestrator.recover()).toEqual([]);
  });

  it('recover() takes over every page of runs before any of them goes on, then drives them all: nothing lost, nothing run twice', async () => {
    const store = new MemoryStore();
    const calls: string[] = [];
    const saga = recordingSaga(calls);
    // More than one page of recover() (1,000 runs a page).
    const runIds = await writeRuns(store, 'paged', 1_201, saga);
    let acquires = 0;
    const observed: SagaStore = storeWith(store, {
      acquire(request: Parameters<SagaStore['acquire']>[0]) {
        acquires++;
        return store.acquire(request);
      },
    });
    const orchestrator = createOrchestrator({ store: observed, sagas: [saga] });
    const takenOverAtFirstEvent: number[] = [];
    const subscription = orchestrator.events$.subscribe(() => {
      if (takenOverAtFirstEvent.length === 0) takenOverAtFirstEvent.push(acquires);
    });
    const handles = await orchestrator.recover();
    const outcomes = await Promise.all(handles.map((handle) => handle.outcome));
    subscription.unsubscribe();
    expect(takenOverAtFirstEvent).toEqual([runIds.length]);
    expect(handles.map((handle) => handle.runId).sort()).toEqual(runIds);
    expect(outcomes.every((outcome) => outcome.status === 'completed')).toBe(true);
    // b and c once per run, a never again.
    expect(calls.filter((call) => call.startsWith('execute:b:')).length).toBe(runIds.length);
    expect(calls.filter((call) => call.startsWith('execute:c:')).length).toBe(runIds.length);
    expect(calls.some((call) => call.startsWith('execute:a:'))).toBe(false);
  });

  it('a close() while recover() holds runs it took over gives their leases back and journals nothing: another process recovers them', async () => {
    const store = new MemoryStore();
    const saga = recordingSaga([]);
    const runIds = await writeRuns(store, 'held', 1_001, saga);
    let closing: Promise<void> | undefined;
    let lists = 0;
    const closesOnSecondPage: SagaStore = storeWith(store, {
      listRuns(query: Parameters<SagaStore['listRuns']>[0]) {
        // The first page is taken over (and held); the process is stopped before the second.
        if (++lists === 2) closing = orchestrator.close();
        return store.listRuns(query);
      },
    });
    const orchestrator = createOrchestrator({ store: closesOnSecondPage, sagas: [saga] });
    const handles = await orchestrator.recover();
    await closing;
    expect(handles).toHaveLength(1_000);
    const failures = await Promise.all(handles.map((handle) => handle.outcome.then(() => undefined, (error: unknown) => error)));
    expect(failures.every((error) => error instanceof OrchestratorClosedError)).toBe(true);
    for (const runId of runIds) {
      expect((await store.load(runId))?.length).toBe(4);
      expect(await store.leaseOf(runId)).toBeUndefined();
    }
    const next = await createOrchestrator({ store, sagas: [saga] }).recover();
    expect(next).toHaveLength(runIds.length);
    expect((await Promise.all(next.map((handle) => handle.outcome))).every((outcome) => outcome.status === 'completed')).toBe(true);
  });

  it('a takeover that fails with StoreUnavailableError mid-page: recover() rejects, and the page\'s runs taken over after it are driven, not held with a lease nobody keeps', async () => {
    const store = new MemoryStore();
    const saga = recordingSaga([]);
    await writeJournal(store, 'broken-1', saga, B_IN_FLIGHT);
    await writeJournal(store, 'late-2', saga, B_IN_FLIGHT);
    const failing: SagaStore = storeWith(store, {
      load(runId: string) {
        if (runId === 'broken-1') return Promise.reject(new StoreUnavailableError('memory', 'the disk went away'));
        return store.load(runId);
      },
      async acquire(request: Parameters<SagaStore['acquire']>[0]) {
        // Taken over after the other run's failure is known (a slower round trip).
        await new Promise((resolve) => setImmediate(resolve));
        return store.acquire(request);
      },
    });
    const orchestrator = createOrchestrator({ store: failing, sagas: [saga] });
    await expect(orchestrator.recover()).rejects.toBeInstanceOf(StoreUnavailableError);
    // close() waits for what is driven here: a run held and never driven would keep it waiting.
    await orchestrator.close();
    expect((await orchestrator.inspect('late-2')).status).toBe('completed');
    expect(await store.leaseOf('late-2')).toBeUndefined();
  });

  it('cancel(), resume() and a second process\'s recover() while recover() holds a run: one handle, the cancel carried out, the run not taken twice', async () => {
    const store = new MemoryStore();
    const calls: string[] = [];
    const saga = recordingSaga(calls);
    await writeRuns(store, 'hold', 1_001, saga);
    let lists = 0;
    let duringHold: Promise<void> | undefined;
    const other = createOrchestrator({ store, sagas: [saga], ownerId: 'other-process' });
    const probing: SagaStore = storeWith(store, {
      listRuns(query: Parameters<SagaStore['listRuns']>[0]) {
        if (++lists === 2) {
          // The first page is taken over and held.
          duringHold = (async () => {
            const held = orchestrator.resume('hold-0000');
            await orchestrator.cancel('hold-0000', 'stop it');
            expect(orchestrator.resume('hold-0000')).toBe(held);
            const theirs = await other.recover();
            expect(theirs.map((run) => run.runId)).not.toContain('hold-0000');
            expect(theirs.skipped.find((skipped) => skipped.runId === 'hold-0000')?.reason).toBe('owned');
          })();
        }
        return store.listRuns(query);
      },
    });
    const orchestrator = createOrchestrator({ store: probing, sagas: [saga] });
    const handles = await orchestrator.recover();
    await duringHold;
    const outcome = await (handles.find((handle) => handle.runId === 'hold-0000') as (typeof handles)[number]).outcome;
    expect(outcome.status).toBe('cancelled');
    // Picked up with the cancel, as one asked through the store: run.resumed first, then run.cancelling.
    expect(((await store.load('hold-0000')) ?? []).slice(4, 6).map((event) => event.type)).toEqual(['run.resumed', 'run.cancelling']);
    await Promise.all(handles.map((handle) => handle.outcome));
    await orchestrator.close();
    await other.close();
  });

  /**
   * recover() over 1,001 runs `prefix-0000`…, with a cancel() of the first run and a close() made
   * while it holds the first page (as its second page is listed); resolves once close() has.
   */
  async function cancelThenCloseWhileHeld(prefix: string, overrides: Partial<SagaStore> = {}, onError?: OrchestratorOptions['onError']): Promise<{ store: MemoryStore; saga: ReturnType<typeof recordingSaga> }> {
    const store = new MemoryStore();
    const saga = recordingSaga([]);
    await writeRuns(store, prefix, 1_001, saga);
    let lists = 0;
    let closing: Promise<void> | undefined;
    const closesOnSecondPage: SagaStore = storeWith(store, {
      async listRuns(query: Parameters<SagaStore['listRuns']>[0]) {
        if (++lists === 2) {
          await orchestrator.cancel(`${prefix}-0000`, 'stop it');
          closing = orchestrator.close();
        }
        return store.listRuns(query);
      },
      ...overrides,
    });
    const orchestrator = createOrchestrator({ store: closesOnSecondPage, sagas: [saga], ...(onError === undefined ? {} : { onError }) });
    await orchestrator.recover();
    await closing;
    return { store, saga };
  }

  it('a cancel() of a run recover() holds, then close() before it is driven: the cancel is not lost, the next process carries it out', async () => {
    const { store, saga } = await cancelThenCloseWhileHeld('cc');
    const next = createOrchestrator({ store, sagas: [saga] });
    const recovered = await next.recover();
    const outcome = await (recovered.find((handle) => handle.runId === 'cc-0000') as (typeof recovered)[number]).outcome;
    expect(outcome.status).toBe('cancelled');
    await Promise.all(recovered.map((handle) => handle.outcome));
    await next.close();
  });

  it('a cancel() of a run recover() holds that the store cannot record at close(): reported as a failed cancel naming the run, the lease still given back', async () => {
    const unreachable = new StoreUnavailableError('memory:test', 'the cancel request could not be written');
    const reported: Array<{ error: Error; operation: string; runId: string | undefined }> = [];
    const { store } = await cancelThenCloseWhileHeld('cf', { requestCancel: () => Promise.reject(unreachable) }, (error, context) =>
      reported.push({ error, operation: context.operation, runId: context.runId }),
    );
    expect(reported).toEqual([{ error: unreachable, operation: 'cancel', runId: 'cf-0000' }]);
    // Given back all the same: the next process takes it over at once, without the cancel.
    expect(await store.leaseOf('cf-0000')).toBeUndefined();
  });

  it('a close() while recover() is taking a run over: close() resolves, the run is left unowned with nothing journaled, and its handle (as resume() returned it) fails', async () => {
    const store = new MemoryStore();
    const saga = recordingSaga([]);
    await writeJournal(store, 'mid-takeover', saga, B_IN_FLIGHT);
    const { gated, inAcquire, gate } = gatedAcquire(store);
    const orchestrator = createOrchestrator({ store: gated, sagas: [saga] });
    const recovering = orchestrator.recover();
    await inAcquire.promise;
    const seen = orchestrator.resume('mid-takeover');
    const closing = orchestrator.close();
    gate.resolve();
    const recovered = await recovering;
    await closing;
    expect(recovered).toEqual([]);
    await expect(seen.outcome).rejects.toBeInstanceOf(OrchestratorClosedError);
    expect((await store.load('mid-takeover'))?.length).toBe(4);
    expect(await store.leaseOf('mid-takeover')).toBeUndefined();
  });

  it('a close() while recover() holds runs and waits on the store gives the held runs back before it resolves, timeout or not', async () => {
    const store = new MemoryStore();
    const saga = recordingSaga([]);
    await writeRuns(store, 'slow', 1_001, saga);
    const listing = deferred<void>();
    const secondPage = deferred<void>();
    let lists = 0;
    const stalls: SagaStore = storeWith(store, {
      async listRuns(query: Parameters<SagaStore['listRuns']>[0]) {
        if (++lists === 2) {
          listing.resolve();
          await secondPage.promise;
        }
        return store.listRuns(query);
      },
    });
    const orchestrator = createOrchestrator({ store: stalls, sagas: [saga] });
    const recovering = orchestrator.recover();
    await listing.promise;
    const held = orchestrator.resume('slow-0000');
    await orchestrator.close({ timeoutMs: 1 });
    expect(await store.leaseOf('slow-0000')).toBeUndefined();
    await expect(held.outcome).rejects.toBeInstanceOf(OrchestratorClosedError);
    secondPage.resolve();
    expect(await recovering).toHaveLength(1_000);
    expect((await store.load('slow-0000'))?.length).toBe(4);
  });

  it('a run recover() passes over (another process owns it) ends the handle resume() returned meanwhile, and close() does not wait for it', async () => {
    const store = new MemoryStore();
    const saga = recordingSaga([]);
    await writeJournal(store, 'theirs', saga, B_IN_FLIGHT);
    expect(await store.acquire({ runId: 'theirs', owner: 'other-process', leaseMs: 60_000 })).toMatchObject({ acquired: true });
    const { gated, inAcquire, gate } = gatedAcquire(store);
    const orchestrator = createOrchestrator({ store: gated, sagas: [saga] });
    const recovering = orchestrator.recover();
    await inAcquire.promise;
    const seen = orchestrator.resume('theirs');
    gate.resolve();
    const recovered = await recovering;
    expect(recovered.skipped.map((skipped) => skipped.reason)).toEqual(['owned']);
    await expect(seen.outcome).rejects.toBeInstanceOf(RunStateError);
    await orchestrator.close();
  });

  it('a run whose lease runs out while recover() holds it, taken over by another process: the holder drives nothing of it (fenced), every stage runs once', async () => {
    let clock = 1_000_000;
    const store = new MemoryStore({ now: () => clock });
    const calls: string[] = [];
    const saga = recordingSaga(calls);
    const runIds = await writeRuns(store, 'lapse', 1_001, saga);
    const other = createOrchestrator({ store, sagas: [saga], ownerId: 'other-process' });
    let theirs: Awaited<ReturnType<typeof other.recover>> | undefined;
    let lists = 0;
    const slow: SagaStore = storeWith(store, {
      async listRuns(query: Parameters<SagaStore['listRuns']>[0]) {
        if (++lists === 2) {
          // The first page is held; its leases lapse (a stalled process) and another process recovers everything.
          clock += 60_000;
          theirs = await other.recover();
        }
        return store.listRuns(query);
      },
    });
    const orchestrator = createOrchestrator({ store: slow, sagas: [saga], ownerId: 'stalled-process' });
    const ours = await orchestrator.recover();
    const ourResults = await Promise.all(ours.map((handle) => handle.outcome.then((outcome) => outcome.status, (error: unknown) => (error as Error).name)));
    expect(theirs).toHaveLength(runIds.length);
    const theirOutcomes = await Promise.all((theirs ?? []).map((handle) => handle.outcome));
    expect(theirOutcomes.every((outcome) => outcome.status === 'completed')).toBe(true);
    expect(ourResults.every((result) => result === 'LeaseLostError')).toBe(true);
    expect(calls.filter((call) => call.startsWith('execute:b:')).length).toBe(runIds.length);
    expect(calls.filter((call) => call.startsWith('execute:c:')).length).toBe(runIds.length);
    for (const runId of runIds.slice(0, 3)) {
      const journal = (await store.load(runId)) ?? [];
      expect(journal.filter((event) => event.type === 'run.resumed')).toHaveLength(1);
    }
    await orchestrator.close();
    await other.close();
  });

  it('two recover() calls at once: each run is picked up by one of them, and driven once', async () => {
    const store = new MemoryStore();
    const calls: string[] = [];
    const saga = recordingSaga(calls);
    const runIds = await writeRuns(store, 'twice', 1_001, saga);
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const [first, second] = await Promise.all([orchestrator.recover(), orchestrator.recover()]);
    const picked = [...first, ...second].map((handle) => handle.runId).sort();
    expect(picked).toEqual(runIds);
    const outcomes = await Promise.all([...first, ...second].map((handle) => handle.outcome));
    expect(outcomes.every((outcome) => outcome.status === 'completed')).toBe(true);
    expect(calls.filter((call) => call.startsWith('execute:b:')).length).toBe(runIds.length);
    await orchestrator.close();
  });

  it('signal() of a run recover() holds waits for it to be driven, then is journaled once and taken by the waiting stage', async () => {
    const store = new MemoryStore();
    const saga = defineSaga({ name: 'signalled', input })
      .stage('a', { execute: async () => 'a-out' })
      .waitForSignal('w', { signal: 'go', schema: z.object({ n: z.number() }) })
      .build();
    const aDone: SagaEventDraft[] = [
      { type: 'stage.started', stage: 'a', attempt: 1 },
      { type: 'stage.completed', stage: 'a', attempt: 1, output: 'a-out', durationMs: 1 },
    ];
    await writeRuns(store, 'sig', 1_001, saga, aDone);
    let lists = 0;
    let signalled: Promise<unknown> | undefined;
    const probing: SagaStore = storeWith(store, {
      listRuns(query: Parameters<SagaStore['listRuns']>[0]) {
        if (++lists === 2) signalled = orchestrator.signal('sig-0000', 'go', { n: 7 }, { signalId: 'the-one' });
        return store.listRuns(query);
      },
    });
    const orchestrator = createOrchestrator({ store: probing, sagas: [saga] });
    const handles = await orchestrator.recover();
    expect(await signalled).toMatchObject({ accepted: true, signalId: 'the-one' });
    const outcome = await (handles.find((handle) => handle.runId === 'sig-0000') as (typeof handles)[number]).outcome;
    expect(outcome.status).toBe('completed');
    expect(outcome.stages.w?.output).toEqual({ n: 7 });
    const journal = (await store.load('sig-0000')) ?? [];
    expect(journal.filter((event) => event.type === 'signal.received')).toHaveLength(1);
    await orchestrator.close({ timeoutMs: 1 });
  });

  it.each([
    ['only the events it had not read', true],
    ['the whole journal, from a store that ignores knownEvents', false],
  ])('recover() decides on the journal as the takeover found it, grown since the read: %s', async (_, honoursKnownEvents) => {
    const inner = new MemoryStore();
    const calls: string[] = [];
    const saga = recordingSaga(calls);
    await writeJournal(inner, 'grown-1', saga, B_IN_FLIGHT);
    const asked: Array<number | undefined> = [];
    // Between recover()'s read and its takeover, another process (its lease gone) journals b's completion.
    const store: SagaStore = Object.assign(Object.create(inner) as MemoryStore, {
      async acquire(request: Parameters<SagaStore['acquire']>[0]) {
        asked.push(request.knownEvents);
        const seq = (await inner.load(request.runId))?.length ?? 0;
        const completed = { type: 'stage.completed', runId: request.runId, saga: saga.name, seq, at: 2_000, stage: 'b', attempt: 1, output: 'b-elsewhere', durationMs: 1 } as const;
        await inner.append({ runId: request.runId, saga: saga.name, expectedSeq: seq, events: [completed], status: 'running' });
        const { knownEvents: _ignored, ...whole } = request;
        return inner.acquire(honoursKnownEvents ? request : whole);
      },
    });
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const [handle] = await orchestrator.recover();
    const [outcome, events] = await Promise.all([handle?.outcome, handle === undefined ? [] : collect(handle.events$)]);
    expect(asked).toEqual([4]);
    expect(outcome).toMatchObject({ status: 'completed', outputs: { a: 'a-out', b: 'b-elsewhere', c: 'c-out' } });
    expect(calls.map((call) => call.split(':').slice(0, 3).join(':'))).toEqual(['execute:c:1']);
    expect(trace(events).slice(0, 6)).toEqual(['run.started', 'stage.started:a', 'stage.completed:a', 'stage.started:b', 'stage.completed:b', 'run.resumed']);
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index));
    expect(await inner.load('grown-1')).toEqual(events);
  });

  it('resume() of a run this orchestrator already drives returns the same handle', async () => {
    const store = new MemoryStore();
    const saga = recordingSaga([]);
    await writeJournal(store, 'dup', saga, []);
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const first = orchestrator.resume('dup');
    await Promise.resolve();
    const second = orchestrator.resume('dup');
    expect(second).toBe(first);
    expect((await first.outcome).status).toBe('completed');
  });
});

describe('resume() of a run this orchestrator drives, given { saga }', () => {
  it("refuses a saga of another name, as for a stored run, instead of returning the run's handle typed with that saga", async () => {
    const waiting = defineSaga({ name: 'waiting', input })
      .waitForSignal('approval', { signal: 'approved', schema: z.object({}) })
      .build();
    const other = defineSaga({ name: 'other', input })
      .stage('x', { execute: async () => ({ entryId: 'x' }) })
      .build();
    const orchestrator = createOrchestrator({ sagas: [waiting, other] });
    const run = orchestrator.start(waiting, { id: '1' }, { runId: 'driven-here' });
    await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'wait.started')));
    expect(orchestrator.resume('driven-here', { saga: waiting })).toBe(run);
    const asOther = orchestrator.resume('driven-here', { saga: other });
    expect(asOther).not.toBe(run);
    const refused = await asOther.outcome.catch((reason: unknown) => reason);
    expect(refused).toBeInstanceOf(SagaShapeMismatchError);
    expect((refused as SagaShapeMismatchError).saga).toBe('waiting');
    // Passing { saga } is what it did: the error must not tell it to do so, but why it cannot work.
    expect((refused as SagaShapeMismatchError).sagaVersion).toBe('1');
    expect((refused as Error).message).toBe(
      `Run driven-here of saga 'waiting' cannot continue with the definition passed as { saga }, which is saga 'other' (version 1, shape ${other.shapeHash.slice(0, 12)}): a run goes on with a definition of its own saga; pass a version of saga 'waiting'.`,
    );
    run.cancel('done');
    expect((await run.outcome).status).toBe('cancelled');
    await orchestrator.close();
  });
});

describe('definition shape (rule 8)', () => {
  it('refuses to continue a run with a definition of another shape unless it is passed explicitly', async () => {
    const store = new MemoryStore();
    const v1 = defineSaga({ name: 'evolving', version: '1', input, onFailure: 'pause' })
      .stage('a', { execute: async () => 'A' })
      .stage('b', {
        execute: async () => {
          throw new Error('b down');
        },
      })
      .build();
    const v2 = defineSaga({ name: 'evolving', version: '2', input, onFailure: 'pause' })
      .stage('a', { execute: async () => 'A' })
      .stage('b2', { execute: async () => 'B2' })
      .build();
    const paused = await createOrchestrator({ store, sagas: [v1] }).start(v1, { id: '1' }).outcome;
    const later = createOrchestrator({ store, sagas: [v2] });
    const refused = await later.redrive(paused.runId).outcome.catch((reason: unknown) => reason);
    expect(refused).toBeInstanceOf(SagaShapeMismatchError);
    expect((refused as Error).message).toContain(`was started with version 1 (shape ${v1.shapeHash.slice(0, 12)})`);
    expect((refused as Error).message).toContain(`registered definition is version 2 (shape ${v2.shapeHash.slice(0, 12)})`);

    const run = later.redrive(paused.runId, { saga: v2 });
    const [outcome, events] = await Promise.all([run.outcome, collect(run.events$)]);
    expect(outcome.status).toBe('completed');
    expect(outcome.version).toBe('2');
    expect(events.find((event) => event.type === 'run.resumed')).toMatchObject({ mode: 'redrive', version: '2', shapeHash: v2.shapeHash });
  });

  it('a redrive onto a definition that puts a new stage before a completed one starts no dependant of that stage before the new stage completes', async () => {
    // v2 inserts `z` before `a`, which completed on v1: `b` (after `a`) has `z` as an ancestor in
    // v2, so it must not start before `z` completes, or its `results.z` would be missing.
    const store = new MemoryStore();
    const v1 = defineSaga({ name: 'inserted', version: '1', input, onFailure: 'pause' })
      .stage('a', { execute: async () => 'A' })
      .stage('b', {
        execute: async () => {
          throw new Error('b down');
        },
      })
      .build();
    const zRuns = deferred<void>();
    const seen: unknown[] = [];
    const v2 = defineSaga({ name: 'inserted', version: '2', input, onFailure: 'pause' })
      .stage('z', {
        after: [],
        execute: async () => {
          await zRuns.promise;
          return 'Z';
        },
      })
      .stage('a', { after: ['z'], execute: async () => 'A' })
      .stage('b', {
        execute: async ({ results }) => {
          seen.push({ a: results.a, z: results.z });
          return 'B';
        },
      })
      .build();
    const paused = await createOrchestrator({ store, sagas: [v1] }).start(v1, { id: '1' }).outcome;
    expect(paused.status).toBe('paused');
    const later = createOrchestrator({ store, sagas: [v2] });
    const run = later.redrive(paused.runId, { saga: v2 });
    await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'stage.started' && event.stage === 'z')));
    zRuns.resolve();
    const outcome = await run.outcome;
    expect(outcome.status).toBe('completed');
    expect(seen).toEqual([{ a: 'A', z: 'Z' }]);
    expect(outcome.completionOrder).toEqual(['a', 'z', 'b']);
    await later.close();
  });

  it('a redrive onto a definition that puts a new stage before a completed chain of 40 diamonds releases the failed stage once, not once per path (2^40)', { timeout: 20_000 }, async () => {
    // v1: a, then 40 diamonds (b_i and c_i after the previous join, d_i after both), then f, which
    // fails: the run pauses with 121 stages completed. v2 puts z before a. f waits on z through
    // 2^40 paths of completed stages; counting or releasing its wait path by path would never end.
    const store = new MemoryStore();
    const build = (version: string, withZ: boolean, f: () => Promise<string>) => {
      let saga = defineSaga({ name: 'diamonds', version, input, onFailure: 'pause' }) as unknown as LooseBuilder;
      if (withZ) saga = saga.stage('z', { after: [], execute: async () => 'Z' });
      saga = saga.stage('a', { after: withZ ? ['z'] : [], execute: async () => 'A' });
      let join = 'a';
      for (let diamond = 0; diamond < 40; diamond++) {
        saga = saga.stage(`b${diamond}`, { after: [join], execute: async () => 1 }).stage(`c${diamond}`, { after: [join], execute: async () => 1 });
        join = `d${diamond}`;
        saga = saga.stage(join, { after: [`b${diamond}`, `c${diamond}`], execute: async () => 1 });
      }
      return saga.stage('f', { after: [join], execute: f }).build();
    };
    const v1 = build('1', false, async () => {
      throw new Error('f down');
    });
    const seen: unknown[] = [];
    const v2 = build('2', true, async () => {
      seen.push('f');
      return 'F';
    });
    const paused = await createOrchestrator({ store, sagas: [v1] }).start(v1, { id: '1' }).outcome;
    expect(paused.status).toBe('paused');
    const later = createOrchestrator({ store, sagas: [v2] });
    const outcome = await later.redrive(paused.runId, { saga: v2 }).outcome;
    expect(outcome.status).toBe('completed');
    expect(seen).toEqual(['f']);
    expect(outcome.completionOrder.slice(-2)).toEqual(['z', 'f']);
    // The journal folds (as inspect and the CLI fold it) to the same end.
    expect((await later.inspect(paused.runId)).status).toBe('completed');
    await later.close();
  });

  it('a resume onto a definition that puts a new stage before the stage in flight at the crash runs that stage again only after the new one', async () => {
    // v1: a → b, the process stopped while b ran. v2 puts z between them: b must not run again
    // before z completes, or its `results.z` would be missing.
    const store = new MemoryStore();
    const v1 = recordingSaga([]);
    await writeJournal(store, 'in-flight', v1, B_IN_FLIGHT);
    const zRuns = deferred<void>();
    const seen: unknown[] = [];
    const v2 = defineSaga({ name: 'journaled', version: '2', input })
      .stage('a', { execute: async () => 'a-out', compensate: async () => undefined })
      .stage('z', {
        execute: async () => {
          await zRuns.promise;
          return 'Z';
        },
      })
      .stage('b', {
        execute: async ({ results }) => {
          seen.push({ a: results.a, z: results.z });
          return 'B';
        },
        compensate: async () => undefined,
      })
      .stage('c', { execute: async () => 'C', compensate: async () => undefined })
      .build();
    const later = createOrchestrator({ store, sagas: [v2] });
    const run = later.resume('in-flight', { saga: v2 });
    await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'stage.started' && event.stage === 'z')));
    zRuns.resolve();
    const outcome = await run.outcome;
    expect(outcome.status).toBe('completed');
    expect(seen).toEqual([{ a: 'a-out', z: 'Z' }]);
    expect(outcome.completionOrder).toEqual(['a', 'z', 'b', 'c']);
    await later.close();
  });

  it('a stage held at such a resume takes no slot of concurrency 1, and, when the new stage fails, is rolled back as outcome-unknown', async () => {
    const store = new MemoryStore();
    await writeJournal(store, 'held', recordingSaga([]), B_IN_FLIGHT);
    const undone: string[] = [];
    const step = (name: string) => ({
      execute: async () => `${name}-out`,
      compensate: async ({ output }: { output: unknown }) => {
        undone.push(`${name}:${String(output)}`);
      },
    });
    const v2 = defineSaga({ name: 'journaled', version: '2', input, concurrency: 1 })
      .stage('a', step('a'))
      .stage('z', {
        execute: async () => {
          throw new NonRetryableError('z is down');
        },
      })
      .stage('b', step('b'))
      .stage('c', step('c'))
      .build();
    const later = createOrchestrator({ store, sagas: [v2] });
    const outcome = await later.resume('held', { saga: v2 }).outcome;
    expect(outcome.status).toBe('compensated');
    expect(outcome.failure?.stage).toBe('z');
    expect(outcome.stages.b).toMatchObject({ status: 'compensated', attempts: 1 });
    // b ran in the process that stopped: it may have taken effect, so it is undone (with no output) before a.
    expect(undone).toEqual(['b:undefined', 'a:a-out']);
    await later.close();
  });

  it('with both versions registered, a run continues with the one it started with', async () => {
    const store = new MemoryStore();
    const calls: string[] = [];
    const v1 = recordingSaga(calls);
    const v2 = defineSaga({ name: 'journaled', version: '2', input }).stage('only', { execute: async () => 'new' }).build();
    await writeJournal(store, 'old-run', v1, []);
    const outcome = await createOrchestrator({ store, sagas: [v2, v1] }).resume('old-run').outcome;
    expect(outcome.completionOrder).toEqual(['a', 'b', 'c']);
  });

  it('names the missing saga when a run’s saga is not registered', async () => {
    const store = new MemoryStore();
    await writeJournal(store, 'orphan', recordingSaga([]), []);
    const error = await createOrchestrator({ store }).resume('orphan').outcome.catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(SagaNotRegisteredError);
    expect((error as Error).message).toBe(
      "Run orphan belongs to saga 'journaled', which is not registered (registered: none): pass it in the sagas option (createOrchestrator({ sagas }), createSagaTest({ sagas }), --sagas on the command line), or as { saga } to resume, redrive or compensate.",
    );
  });
});
