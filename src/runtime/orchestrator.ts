import {
  EMPTY,
  NEVER,
  Observable,
  catchError,
  ignoreElements,
  asyncScheduler,
  defer,
  exhaustMap,
  expand,
  from,
  merge,
  mergeMap,
  retry,
  takeWhile,
  tap,
  throwError,
  timer,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { v7 as uuidv7 } from 'uuid';
import type { AnySaga, Saga } from '../definition/saga.js';
import { SagaInputError, type Issue } from '../errors/definition-errors.js';
import {
  OrchestratorClosedError,
  RunNotFoundError,
  RunStateError,
  SagaNotRegisteredError,
  SagaShapeMismatchError,
} from '../errors/run-errors.js';
import { SagaCancelledError, SagaCompensationError, SagaFailedError, type SagaRunError } from '../errors/saga-run-error.js';
import { StoreUnavailableError, StoreUnsupportedError } from '../errors/store-errors.js';
import { applyEvent, foldJournal, initialRunState, type MutableRunState, type RunState } from '../journal/fold.js';
import { toOutcome, type RunStatus, type SagaOutcome } from '../journal/outcome.js';
import type { SagaEvent } from '../journal/saga-event.js';
import { MemoryStore } from '../stores/memory-store.js';
import type { SagaStore } from '../stores/saga-store.js';
import { supportsWorkers } from '../stores/work-queue.js';
import { EventStream } from './event-stream.js';
import { copyJson } from './json-value.js';
import { RunDriver, resumeDrafts, type RunDriverOptions, type RunStartedDraft } from './run-driver.js';
import { RunHandle, type SagaRun } from './saga-run.js';

/**
 * Options of {@link createOrchestrator}.
 *
 * @remarks
 * Every option has a default: `createOrchestrator()` runs sagas in memory, in real time. For
 * runs that survive a crash, pass a durable `store` (`SqliteStore`, `PostgresStore`) and every
 * saga whose stored runs it may have to pick up in `sagas` (`start` registers the sagas it is given,
 * but only for the life of this orchestrator). `scheduler` and `random` exist for tests:
 * a virtual clock makes retries and timeouts instant, and a fixed `random` makes jitter
 * deterministic.
 *
 * @example
 * ```ts
 * import { MemoryStore, type OrchestratorOptions } from 'sagaflow';
 * const options: OrchestratorOptions = { store: new MemoryStore(), sagas: [] };
 * ```
 */
export interface OrchestratorOptions {
  /** Where journals live. Default: a new `MemoryStore` (nothing survives the process). */
  readonly store?: SagaStore;
  /**
   * The sagas this orchestrator may resume, redrive, compensate and inspect by run id. Sagas
   * passed to `start` are registered automatically. Several versions of one saga may be
   * registered: a stored run continues with the one whose shape it was started with.
   */
  readonly sagas?: readonly AnySaga[];
  /**
   * The clock and timers of retries and timeouts, and of event timestamps. Default: RxJS's
   * `asyncScheduler` (real time). Tests pass a virtual-time scheduler from `sagaflow/testing`.
   */
  readonly scheduler?: SchedulerLike;
  /** Source of retry jitter, numbers in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
}

/**
 * Options of {@link Orchestrator.start}.
 *
 * @remarks
 * Also taken by {@link Orchestrator.run}. A `runId` of your own (1 to 200 characters) makes
 * `start` idempotent per business key: a second `start` with an id that already exists in the
 * store writes nothing and rejects its `outcome` with `StoreConflictError` (`RunStateError` if the
 * run is active in this orchestrator), so check with `inspect` first if you may retry. Aborting
 * `signal` cancels like `run.cancel(reason)`, using the signal's reason as the cancellation
 * reason; with a signal already aborted, the run is cancelled before any `execute` is invoked.
 *
 * @example
 * ```ts
 * import type { StartOptions } from 'sagaflow';
 * const options: StartOptions = { runId: 'order-1234', signal: AbortSignal.timeout(60_000) };
 * ```
 */
export interface StartOptions {
  /** The run's id. Default: a new uuid v7 (sortable by time). Must be unique in the store. */
  readonly runId?: string;
  /** Aborting it cancels the run, like `run.cancel(reason)`. */
  readonly signal?: AbortSignal;
}

/**
 * Options of {@link Orchestrator.resume}, {@link Orchestrator.redrive} and {@link Orchestrator.compensate}.
 *
 * @remarks
 * Without `saga`, a stored run continues with the registered definition whose shape hash matches
 * the run's, whatever its version. Pass `saga` to continue on purpose with a definition whose
 * shape changed (an added or rewired stage): the run then records that definition's version and
 * shape in its `run.resumed` event. It must have the run's saga name.
 *
 * @example
 * ```ts
 * import type { ContinueOptions, Saga } from 'sagaflow';
 * declare const transferV2: Saga;
 * const options: ContinueOptions = { saga: transferV2 };
 * ```
 */
export interface ContinueOptions {
  /**
   * Continue with this definition even if its shape differs from the one the run was started
   * with (contract rule 8). Without it, a run continues only with a registered definition of
   * the same shape.
   */
  readonly saga?: AnySaga;
}

/**
 * Options of {@link Orchestrator.close}.
 *
 * @remarks
 * Use `timeoutMs` in a shutdown handler whose time is bounded (a container's grace period): runs
 * not settled by then are detached, not failed. Their `execute` and `compensate` signals are
 * aborted and nothing more is written for them, so another process resumes them from their
 * journal, with the same idempotency keys.
 *
 * @example
 * ```ts
 * import type { CloseOptions } from 'sagaflow';
 * const options: CloseOptions = { timeoutMs: 10_000 };
 * ```
 */
export interface CloseOptions {
  /**
   * Wait at most this long for active runs to settle; the rest are left in place (their
   * journals stay in the store, resumable later) and their `outcome` rejects with an
   * `OrchestratorClosedError`. Default: wait for every run.
   */
  readonly timeoutMs?: number;
}

/**
 * Options of {@link Orchestrator.watch}.
 *
 * @remarks
 * Only matters for a run that this orchestrator does not drive: a run it drives streams its
 * events as they become durable, with no polling. Lower `pollIntervalMs` for snappier progress on
 * a store without notifications (`SqliteStore` shared by two processes), at the cost of one
 * journal read per interval.
 *
 * @example
 * ```ts
 * import type { WatchOptions } from 'sagaflow';
 * const options: WatchOptions = { pollIntervalMs: 100 };
 * ```
 */
export interface WatchOptions {
  /**
   * How often to read the store for new events of a run driven elsewhere. Default 250 ms; 2 000 ms
   * on a store that announces each append to a watched run (`PostgresStore`), where polling only
   * makes up for lost notifications.
   */
  readonly pollIntervalMs?: number;
}

/**
 * Runs sagas and keeps their journals: start, inspect, cancel, resume, redrive, compensate.
 *
 * @remarks
 * Made by {@link createOrchestrator}. Each run is journaled in the store before anything is
 * acted on, so a run that this process does not finish can be continued from its journal by
 * another orchestrator on the same store.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { createOrchestrator, defineSaga } from 'sagaflow';
 * const hello = defineSaga({ name: 'hello', input: z.object({ name: z.string() }) })
 *   .stage('greet', { execute: async ({ input }) => `hello ${input.name}` })
 *   .build();
 * const orchestrator = createOrchestrator({ sagas: [hello] });
 * const outputs = await orchestrator.run(hello, { name: 'Ada' }); // { greet: 'hello Ada' }
 * await orchestrator.close();
 * ```
 */
export interface Orchestrator {
  /** The store journals are kept in. */
  readonly store: SagaStore;
  /** Every event of every run this orchestrator drives, live, once durable. */
  readonly events$: Observable<SagaEvent>;
  /**
   * Starts a run and returns its handle at once.
   *
   * @remarks
   * **`outcome` resolves for every ending, failed and cancelled ones included**: check
   * `outcome.status` (`'completed'` narrows `outputs` to every stage). Use {@link Orchestrator.run}
   * to get a rejection instead for every ending but `completed`.
   *
   * The input is validated and `run.started` is queued before `start` returns; stages begin once it
   * is durable. Returning a handle, it throws synchronously for what is wrong with the call itself
   * (bad input, a bad `runId`, a closed orchestrator); other refusals arrive on the handle's
   * `outcome`: `StoreConflictError` for a `runId` that already exists in the store,
   * `RunStateError` for one active here, and store errors if the journal cannot be written.
   *
   * @throws {@link SagaInputError} when the input does not match the saga's schema or is not
   * plain JSON, or the `runId` is invalid; nothing is stored then.
   * @throws {@link OrchestratorClosedError} after `close()`.
   */
  start<TInput, TOutputs, TRawInput>(saga: Saga<TInput, TOutputs, TRawInput>, input: NoInfer<TRawInput>, options?: StartOptions): SagaRun<TOutputs>;
  /**
   * Starts a run and waits for it: resolves with every stage's output when it completes, and
   * **rejects for every other ending** (compensated, paused, cancelled, compensation_failed).
   *
   * @remarks
   * `start(…).outcome` resolves instead, for every ending. Narrow a rejection to the saga's types
   * with `isRunError(saga, error)`.
   *
   * @throws {@link SagaFailedError} (compensated or paused after a failure),
   * {@link SagaCancelledError}, {@link SagaCompensationError}: each carries `.outcome` and the
   * `.outputs` of every stage that completed. {@link SagaInputError} for bad input,
   * {@link OrchestratorClosedError} after `close()`, and whatever `start`'s `outcome` rejects with
   * (a store error, `StoreConflictError` for an existing `runId`). Always a rejection, never a
   * synchronous throw.
   */
  run<TInput, TOutputs, TRawInput>(saga: Saga<TInput, TOutputs, TRawInput>, input: NoInfer<TRawInput>, options?: StartOptions): Promise<TOutputs>;
  /**
   * Reads a run's journal from the store and folds it into its outcome. A live run shows
   * `queued`, `running` or `compensating`.
   *
   * @throws {@link RunNotFoundError} for an unknown run id; `StoreCorruptionError` or
   * `StoreUnavailableError` when the store cannot give a valid journal (all as rejections).
   */
  inspect(runId: string): Promise<SagaOutcome>;
  /**
   * Continues an unfinished (`running` or `compensating`) run from its journal, after a crash.
   * A stage that started but did not complete is executed again (same idempotency key).
   * Returns the existing handle if this orchestrator already drives the run.
   *
   * @remarks
   * On a store shared with workers, a submitted run is never driven here: workers own it (one
   * takes it over once its lease expires), so the handle only follows it from the store until it
   * settles. Any other run under a live lease is refused with `RunStateError`.
   *
   * Never throws: a refusal rejects the handle's `outcome` with `RunNotFoundError`,
   * `RunStateError` (the run is settled or paused), `SagaNotRegisteredError`,
   * `SagaShapeMismatchError` or `OrchestratorClosedError`, and nothing is written.
   */
  resume(runId: string, options?: ContinueOptions): SagaRun;
  /**
   * Resumes every unfinished run in the store that this orchestrator has the saga for; returns
   * their handles.
   *
   * @remarks
   * Call it once at start-up, after registering every saga that may have unfinished runs. Runs of
   * sagas this orchestrator was not given are passed over silently (they may belong to another
   * service sharing the store); a run whose saga is registered but with another shape gets a handle
   * whose `outcome` rejects with `SagaShapeMismatchError`. On a store shared with workers it leaves
   * alone runs under a live lease and every submitted run (workers take those over), so it is
   * safe to call at start-up next to a fleet. `paused` and `compensation_failed` runs wait for an
   * operator and are not resumed.
   *
   * @throws `StoreUnavailableError` (rejects) when the store cannot list or load runs.
   */
  recover(): Promise<SagaRun[]>;
  /**
   * Goes on from where a `paused` or `compensation_failed` run stopped: re-executes the stages
   * that did not complete (same idempotency keys, a fresh retry budget), or retries only the
   * failed compensations.
   *
   * @remarks
   * A submitted run is not driven here: `run.resumed` is written and the run goes back to the
   * workers' queue; the handle follows it from the store and its `outcome` resolves when a
   * worker settles it.
   *
   * Never throws: a refusal rejects the handle's `outcome` with `RunNotFoundError`,
   * `RunStateError` (the run is neither `paused` nor `compensation_failed`),
   * `SagaNotRegisteredError`, `SagaShapeMismatchError` or `OrchestratorClosedError`, and nothing is
   * written.
   */
  redrive(runId: string, options?: ContinueOptions): SagaRun;
  /**
   * Rolls back a `paused` run.
   *
   * @remarks
   * Completed stages are compensated per the saga's `compensation` policy, with the run's failure
   * as `ctx.cause`; the run ends `compensated` (or `compensation_failed`). A submitted run goes
   * back to the workers' queue, as with {@link Orchestrator.redrive}. Never throws: a refusal
   * rejects the handle's `outcome` as for `redrive` (`RunStateError` when the run is not `paused`).
   */
  compensate(runId: string, options?: ContinueOptions): SagaRun;
  /**
   * Cancels a run by id, wherever it is driven: here, by a worker (it acts within one
   * heartbeat), or nowhere (a run left unfinished by a crashed process is resumed here and
   * cancelled).
   *
   * @remarks
   * Resolves once the cancel is accepted or requested, not when the run has settled: follow it
   * with `watch(runId)` or the run's handle. For a run this orchestrator drives, it is
   * `handle.cancel(reason)`: it resolves and does nothing if that run is already stopping or
   * rolling back. `reason` defaults to `'cancelled'`.
   *
   * @throws {@link RunNotFoundError}, or {@link RunStateError} when a run not driven here is not
   * going forward (not `queued` or `running`); both as rejections.
   */
  cancel(runId: string, reason?: string): Promise<void>;
  /**
   * Queues a run for workers and returns its id; never executes it in this process.
   *
   * @remarks
   * Resolves once `run.started` (with `submitted: true`) and the queue entry are durable; a worker
   * that registered the saga with the same shape picks it up. Follow it with `watch(runId)` and
   * `inspect(runId)` (`queued` until a worker claims it), and cancel it with `cancel(runId)`.
   *
   * @throws {@link SagaInputError} for bad input; {@link StoreUnsupportedError} when the store
   * cannot share runs with workers; {@link OrchestratorClosedError} after `close()`;
   * `StoreConflictError` when the `runId` exists already (all as rejections).
   */
  submit<TInput, TOutputs, TRawInput>(saga: Saga<TInput, TOutputs, TRawInput>, input: NoInfer<TRawInput>, options?: { readonly runId?: string }): Promise<string>;
  /**
   * Streams a run's journal from the store — from its first event, then live — wherever it
   * runs; completes when the run settles (or pauses).
   *
   * @remarks
   * For a run this orchestrator drives, this is its handle's `events$`. Otherwise the journal
   * is read from the store whenever the store announces an append to the run (`PostgresStore`
   * does, with `LISTEN`/`NOTIFY`, for runs someone watches), and every `pollIntervalMs` in any
   * case, since notifications can be lost; a store that is briefly unavailable is read again at
   * the next poll. Each event is emitted once, in `seq` order.
   *
   * @throws {@link RunNotFoundError} (as an error notification) for an unknown run id.
   */
  watch(runId: string, options?: WatchOptions): Observable<SagaEvent>;
  /**
   * Stops taking runs and waits for active runs to settle (see {@link CloseOptions}).
   *
   * @remarks
   * `events$` completes once it resolves. It neither cancels runs nor closes the store: close the
   * store yourself afterwards. Handles that only follow submitted runs from the store reject with
   * `OrchestratorClosedError` at once; workers keep driving those runs.
   */
  close(options?: CloseOptions): Promise<void>;
}


interface ActiveRun {
  readonly handle: RunHandle<unknown>;
  driver?: RunDriver;
}

/** How often a follower renews its watch on a run (stores that announce appends to watched runs). */
const WATCH_RENEW_MS = 10_000;

const SETTLING_EVENTS = new Set<SagaEvent['type']>([
  'run.completed',
  'run.compensated',
  'run.cancelled',
  'run.compensation_failed',
  'run.paused',
]);

/**
 * Creates an {@link Orchestrator}.
 *
 * @remarks
 * Cheap and synchronous: it opens nothing (a store connects on first use) and starts no run;
 * call `recover()` to resume what a previous process left unfinished. Create one per process and
 * store, and `close()` it on shutdown. Two orchestrators may share a store, but must not drive the
 * same run: optimistic concurrency makes the second writer fail with `StoreConflictError`.
 *
 * @example
 * ```ts
 * import { createOrchestrator, type AnySaga } from 'sagaflow';
 * import { SqliteStore } from 'sagaflow/sqlite';
 * declare const transfer: AnySaga;
 * const store = new SqliteStore({ path: '.sagaflow/sagas.db' });
 * const orchestrator = createOrchestrator({ store, sagas: [transfer] });
 * await orchestrator.recover(); // pick up what the last process left running
 * process.once('SIGTERM', () => {
 *   void orchestrator.close({ timeoutMs: 10_000 }).then(() => store.close());
 * });
 * ```
 */
export function createOrchestrator(options: OrchestratorOptions = {}): Orchestrator {
  return new SagaOrchestrator(options);
}

/**
 * The error `orchestrator.run()` rejects with for an outcome that is not `completed`.
 *
 * @remarks
 * Use it to turn an outcome obtained another way (`run.outcome`, `inspect`, a test harness) into
 * the same error `run()` would throw. `cancelled` gives a {@link SagaCancelledError},
 * `compensation_failed` a {@link SagaCompensationError}, and any other status a
 * {@link SagaFailedError}, including `completed` and the live statuses: check the status first.
 *
 * @example
 * ```ts
 * import { runErrorFor, type SagaOutcome } from 'sagaflow';
 * declare const outcome: SagaOutcome;
 * if (outcome.status !== 'completed') throw runErrorFor(outcome);
 * ```
 */
export function runErrorFor<TOutputs>(outcome: SagaOutcome<TOutputs>): SagaRunError<TOutputs> {
  switch (outcome.status) {
    case 'cancelled':
      return new SagaCancelledError(outcome);
    case 'compensation_failed':
      return new SagaCompensationError(outcome);
    default:
      return new SagaFailedError(outcome);
  }
}

class SagaOrchestrator implements Orchestrator {
  readonly store: SagaStore;
  readonly events$: Observable<SagaEvent>;
  private readonly events = new EventStream<SagaEvent>();
  private readonly scheduler: SchedulerLike;
  private readonly random: () => number;
  private readonly registry = new Map<string, AnySaga[]>();
  private readonly active = new Map<string, ActiveRun>();
  /** Submitted runs that a handle here follows from the store while workers drive them. */
  private readonly followed = new Map<string, { readonly handle: RunHandle<unknown>; readonly subscription: Subscription }>();
  private closed = false;

  constructor(options: OrchestratorOptions) {
    this.store = options.store ?? new MemoryStore();
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.random = options.random ?? Math.random;
    this.events$ = this.events.observable$;
    for (const saga of options.sagas ?? []) this.register(saga);
  }

  start<TInput, TOutputs, TRawInput>(saga: Saga<TInput, TOutputs, TRawInput>, input: TRawInput, options: StartOptions = {}): SagaRun<TOutputs> {
    if (this.closed) throw new OrchestratorClosedError(`start() of saga '${saga.name}' was called after close()`);
    const started = this.prepareStart(saga, input, options.runId, false);
    const handle = new RunHandle<TOutputs>(started.runId);
    if (this.active.has(started.runId)) {
      handle.fail(new RunStateError(saga.name, started.runId, 'start', 'running', [], `a run with id ${started.runId} is already active`));
      return handle;
    }
    const signal = options.signal;
    if (signal === undefined) {
      this.drive(saga, started, handle).start();
      return handle;
    }
    const onAbort = (): void => handle.cancel(abortReason(signal));
    this.drive(saga, started, handle, () => signal.removeEventListener('abort', onAbort)).start();
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    return handle;
  }

  async run<TInput, TOutputs, TRawInput>(saga: Saga<TInput, TOutputs, TRawInput>, input: TRawInput, options?: StartOptions): Promise<TOutputs> {
    const outcome = await this.start(saga, input, options).outcome;
    if (outcome.status === 'completed') return outcome.outputs as TOutputs;
    throw runErrorFor(outcome);
  }

  async inspect(runId: string): Promise<SagaOutcome> {
    return toOutcome(await this.loadState(runId));
  }

  resume(runId: string, options: ContinueOptions = {}): SagaRun {
    const existing = this.active.get(runId) ?? this.followed.get(runId);
    if (existing !== undefined) return existing.handle;
    return this.pickUp(runId, 'resume', options);
  }

  async recover(): Promise<SagaRun[]> {
    const handles: SagaRun[] = [];
    let afterRunId: string | undefined;
    for (;;) {
      const page = await this.store.listRuns({ status: ['running', 'compensating'], limit: 1_000, ...(afterRunId === undefined ? {} : { afterRunId }) });
      for (const run of page) {
        // Runs of sagas this process does not know belong to someone else sharing the store.
        if (this.active.has(run.runId) || !this.registry.has(run.saga)) continue;
        if (supportsWorkers(this.store)) {
          // Workers own submitted runs, even with an expired lease: one of them takes it over.
          // Driving one here too would race with that takeover.
          if ((await this.store.leaseOf(run.runId))?.live === true) continue;
          const journal = await this.store.load(run.runId);
          const first = journal?.[0];
          if (first?.type === 'run.started' && first.submitted === true) continue;
        }
        handles.push(this.pickUp(run.runId, 'resume', {}));
      }
      if (page.length < 1_000) break;
      afterRunId = page[page.length - 1]?.runId;
    }
    return handles;
  }

  redrive(runId: string, options: ContinueOptions = {}): SagaRun {
    return this.pickUp(runId, 'redrive', options);
  }

  compensate(runId: string, options: ContinueOptions = {}): SagaRun {
    return this.pickUp(runId, 'compensate', options);
  }

  async cancel(runId: string, reason = 'cancelled'): Promise<void> {
    const existing = this.active.get(runId);
    if (existing !== undefined) {
      existing.handle.cancel(reason);
      return;
    }
    const state = await this.loadState(runId);
    // Already on its way to an ending (stopping after a failure or a cancel, or rolling back):
    // a cancel has nothing left to do, as for a run driven here.
    if (state.status === 'compensating' || ((state.status === 'running' || state.status === 'queued') && state.stopping)) return;
    if (state.status !== 'running' && state.status !== 'queued') {
      throw new RunStateError(state.saga, runId, 'cancel', state.status, ['queued', 'running', 'compensating']);
    }
    if (supportsWorkers(this.store) && (state.submitted || (await this.store.leaseOf(runId))?.live === true)) {
      await this.store.requestCancel(runId, reason);
      return;
    }
    // Nobody drives it: a process stopped while running it. Pick it up here and cancel it.
    this.resume(runId).cancel(reason);
  }

  async submit<TInput, TOutputs, TRawInput>(
    saga: Saga<TInput, TOutputs, TRawInput>,
    input: TRawInput,
    options: { readonly runId?: string } = {},
  ): Promise<string> {
    if (this.closed) throw new OrchestratorClosedError(`submit() of saga '${saga.name}' was called after close()`);
    const started = this.prepareStart(saga, input, options.runId, true);
    const store = this.store;
    if (!supportsWorkers(store)) {
      throw new StoreUnsupportedError(store.description, 'submit()', 'workers need a store they can share, such as PostgresStore; use start() to run in this process');
    }
    await store.submit({
      runId: started.runId,
      saga: saga.name,
      expectedSeq: 0,
      status: 'queued',
      events: [{ ...started, seq: 0, at: this.scheduler.now() }],
    });
    return started.runId;
  }

  watch(runId: string, options: WatchOptions = {}): Observable<SagaEvent> {
    const pollIntervalMs = options.pollIntervalMs ?? this.defaultPollIntervalMs();
    return defer(() => {
      const local = this.active.get(runId);
      if (local !== undefined) return local.handle.events$;
      return this.followStore$(runId, 0, pollIntervalMs);
    });
  }

  async close(options: CloseOptions = {}): Promise<void> {
    this.closed = true;
    // Workers drive these: there is nothing here to wait for, only a view to stop.
    for (const [runId, follower] of [...this.followed]) {
      follower.subscription.unsubscribe();
      follower.handle.fail(new OrchestratorClosedError(`this orchestrator stopped following run ${runId}; workers go on driving it (watch it from another orchestrator)`));
    }
    this.followed.clear();
    const settled = Promise.allSettled([...this.active.values()].map((run) => run.handle.outcome));
    if (options.timeoutMs === undefined) {
      await settled;
    } else {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, options.timeoutMs);
      });
      await Promise.race([settled, timedOut]);
      clearTimeout(timer);
      for (const [runId, run] of [...this.active]) {
        const error = new OrchestratorClosedError(
          `run ${runId} was still active when close() timed out after ${options.timeoutMs} ms; it was left in place and can be resumed`,
        );
        if (run.driver === undefined) run.handle.fail(error);
        else run.driver.detach(error);
      }
    }
    this.events.complete();
  }

  // ---------------------------------------------------------------------------------------

  private register(saga: AnySaga): void {
    const versions = this.registry.get(saga.name);
    if (versions === undefined) this.registry.set(saga.name, [saga]);
    else if (!versions.includes(saga)) versions.push(saga);
  }

  private prepareStart<TInput, TOutputs, TRawInput>(
    saga: Saga<TInput, TOutputs, TRawInput>,
    input: TRawInput,
    runId: string | undefined,
    submitted: boolean,
  ): RunStartedDraft {
    if (runId !== undefined && (typeof runId !== 'string' || runId.trim() === '' || runId.length > 200)) {
      throw new SagaInputError(saga.name, [{ path: 'options.runId', message: 'must be a non-empty string of at most 200 characters' }]);
    }
    const parsed = saga.input.safeParse(input);
    if (!parsed.success) {
      const issues: Issue[] = parsed.error.issues.map((issue) => ({
        path: ['input', ...issue.path.map(String)].join('.'),
        message: issue.message,
      }));
      throw new SagaInputError(saga.name, issues, { cause: parsed.error });
    }
    const copy = copyJson(parsed.data, 'input');
    if (!copy.ok) throw new SagaInputError(saga.name, [{ path: copy.problem.path, message: copy.problem.problem }]);
    this.register(saga);
    return {
      type: 'run.started',
      runId: runId ?? uuidv7(),
      saga: saga.name,
      version: saga.version,
      shapeHash: saga.shapeHash,
      input: copy.value,
      stages: saga.stages.map((stage) => stage.name),
      ...(submitted ? { submitted: true } : {}),
    };
  }

  /** Creates the driver of a run and wires it to its handle and to `events$`. */
  private drive(saga: AnySaga, journal: RunStartedDraft | readonly SagaEvent[], handle: RunHandle<unknown>, onEnd?: () => void): RunDriver {
    const active: ActiveRun = { handle };
    this.active.set(handle.runId, active);
    const driver = new RunDriver(new DrivenRun(saga as Saga, this.store, this.scheduler, this.random, this.events, this.active, handle, onEnd), journal);
    active.driver = driver;
    handle.attach((reason) => driver.cancel(reason));
    return driver;
  }

  private async loadState(runId: string): Promise<RunState> {
    const journal = await this.store.load(runId);
    if (journal === undefined || journal.length === 0) throw new RunNotFoundError(runId);
    return foldJournal(journal);
  }

  /** Resume, redrive or compensate a stored run: checks, then drives it from its journal. */
  private pickUp(runId: string, mode: 'resume' | 'redrive' | 'compensate', options: ContinueOptions): RunHandle<Record<string, unknown>> {
    const handle = new RunHandle<Record<string, unknown>>(runId);
    if (this.closed) {
      handle.fail(new OrchestratorClosedError(`${mode}() of run ${runId} was called after close()`));
      return handle;
    }
    const existing = this.active.get(runId);
    if (existing !== undefined) {
      const status: RunStatus = existing.driver?.state.status ?? 'running';
      const saga = existing.driver?.state.saga ?? '?';
      handle.fail(new RunStateError(saga, runId, mode, status, allowedStatuses(mode), `it is being driven by this orchestrator right now`));
      return handle;
    }
    // Claim the id at once so that concurrent calls for the same run do not both pick it up.
    this.active.set(runId, { handle: handle });
    void (async () => {
      try {
        const journal = await this.store.load(runId);
        if (journal === undefined || journal.length === 0) throw new RunNotFoundError(runId);
        const state = foldJournal(journal);
        const allowed = allowedStatuses(mode);
        if (!allowed.includes(state.status)) throw new RunStateError(state.saga, runId, mode, state.status, allowed);
        if (state.submitted && supportsWorkers(this.store)) {
          await this.handBack(state, journal, mode, options, handle);
          return;
        }
        if (supportsWorkers(this.store)) {
          const lease = await this.store.leaseOf(runId);
          if (lease?.live === true) {
            throw new RunStateError(state.saga, runId, mode, state.status, allowed, `worker ${lease.owner} holds its lease; it is being driven there`);
          }
        }
        const saga = this.sagaFor(state, options.saga);
        if (this.closed) throw new OrchestratorClosedError(`${mode}() of run ${runId} was called after close()`);
        const change = saga.shapeHash === state.shapeHash && saga.version === state.version ? undefined : { version: saga.version, shapeHash: saga.shapeHash };
        this.active.delete(runId);
        handle.replay(journal);
        this.drive(saga, journal, handle).resume(mode, change);
      } catch (error) {
        if (this.active.get(runId)?.handle === handle) this.active.delete(runId);
        handle.fail(error);
      }
    })();
    return handle;
  }

  /**
   * Workers own submitted runs: a resume leaves the run to them (a worker takes it over when its
   * lease expires); a redrive or compensate writes `run.resumed` (and `run.compensating`) without
   * a lease, which puts the run back in the queue and wakes the workers. Either way the handle
   * follows the run from the store until it settles.
   */
  private async handBack(
    state: RunState,
    journal: readonly SagaEvent[],
    mode: 'resume' | 'redrive' | 'compensate',
    options: ContinueOptions,
    handle: RunHandle<Record<string, unknown>>,
  ): Promise<void> {
    let written: readonly SagaEvent[] = [];
    if (mode !== 'resume') {
      const explicit = options.saga;
      if (explicit !== undefined && explicit.name !== state.saga) {
        throw new SagaShapeMismatchError(state.saga, state.runId, state.version, state.shapeHash, `${explicit.version} of saga '${explicit.name}'`, explicit.shapeHash);
      }
      // Without an explicit definition the run keeps its shape: workers claim it by that shape,
      // whatever versions this process has registered.
      const change =
        explicit === undefined || (explicit.shapeHash === state.shapeHash && explicit.version === state.version)
          ? undefined
          : { version: explicit.version, shapeHash: explicit.shapeHash };
      const at = this.scheduler.now();
      written = resumeDrafts(state, mode, change).map((draft, offset) => ({ ...draft, runId: state.runId, saga: state.saga, seq: journal.length + offset, at }));
      const next = foldJournal([...journal, ...written]);
      if (this.closed) throw new OrchestratorClosedError(`${mode}() of run ${state.runId} was called after close()`);
      // Watched before the workers can pick it up, so that each of their appends is announced.
      if (supportsWorkers(this.store) && this.store.watchRun !== undefined) {
        await this.store.watchRun(state.runId, WATCH_RENEW_MS * 3).catch(() => undefined);
      }
      await this.store.append({ runId: state.runId, saga: state.saga, expectedSeq: journal.length, events: written, status: next.status });
    }
    if (this.active.get(state.runId)?.handle === handle) this.active.delete(state.runId);
    if (this.closed) throw new OrchestratorClosedError(`${mode}() of run ${state.runId} was called after close()`);
    this.follow(handle, [...journal, ...written]);
  }

  /** With a store that announces appends, polling is only the fallback for lost notifications. */
  private defaultPollIntervalMs(): number {
    return supportsWorkers(this.store) && this.store.watchRun !== undefined ? 2_000 : 250;
  }

  /** Feeds a handle from the store until the run settles. */
  private follow(handle: RunHandle<Record<string, unknown>>, journal: readonly SagaEvent[]): void {
    const runId = handle.runId;
    const state = initialRunState(journal[0] as Extract<SagaEvent, { type: 'run.started' }>);
    for (const event of journal.slice(1)) applyEvent(state, event);
    handle.replay(journal);
    const stopFollowing = (): void => {
      if (this.followed.get(runId)?.handle === handle) this.followed.delete(runId);
    };
    const subscription = this.followStore$(runId, journal.length, this.defaultPollIntervalMs()).subscribe({
      next: (event) => {
        applyEvent(state, event);
        handle.push(event);
        if (SETTLING_EVENTS.has(event.type)) {
          stopFollowing();
          handle.settle(toOutcome(state));
        }
      },
      error: (error: unknown) => {
        stopFollowing();
        handle.fail(error);
      },
    });
    if (handle.isEnded) return;
    this.followed.set(runId, { handle, subscription });
    // Cancelling the handle asks the owning worker to cancel, as orchestrator.cancel() does.
    handle.attach((reason) => {
      this.cancel(runId, reason).catch(() => undefined);
    });
  }

  /**
   * A run's events from `fromSeq` on, read from the store: on every notification about the run
   * when the store has them (workers' stores), and every `pollIntervalMs` in any case, since
   * notifications can be lost. Completes after the run's settling event.
   */
  private followStore$(runId: string, fromSeq: number, pollIntervalMs: number): Observable<SagaEvent> {
    const store = this.store;
    // Keeps appends to the run announced while we follow it (the store forgets after a while,
    // so a follower that died costs nothing for long).
    const watchRun = supportsWorkers(store) ? store.watchRun?.bind(store) : undefined;
    const announced$ =
      watchRun === undefined
        ? EMPTY
        : timer(0, WATCH_RENEW_MS, this.scheduler).pipe(
            exhaustMap(() => from(watchRun(runId, WATCH_RENEW_MS * 3)).pipe(catchError(() => EMPTY))),
            ignoreElements(),
          );
    const wakeups$ = supportsWorkers(store)
      ? new Observable<void>((subscriber) => {
          let unsubscribe: (() => Promise<void>) | undefined;
          let closed = false;
          store
            .onWork((signal) => {
              if (signal.runId === runId || signal.kind === 'reconnected') subscriber.next();
            })
            .then(
              (stop) => {
                if (closed) {
                  void stop().catch(() => undefined);
                  return;
                }
                unsubscribe = stop;
                // Whatever was appended before we listened was announced to nobody: read once more.
                subscriber.next();
              },
              // No notifications: polling alone still follows the run.
              () => undefined,
            );
          return () => {
            closed = true;
            void unsubscribe?.().catch(() => undefined);
          };
        })
      : NEVER;
    let nextSeq = fromSeq;
    let dirty = false;
    const load$ = defer(() => {
      dirty = false;
      return from(store.load(runId));
    }).pipe(
      // A store that is briefly away (a database restart) does not end the watch.
      retry({ delay: (error: unknown) => (error instanceof StoreUnavailableError ? timer(pollIntervalMs, this.scheduler) : throwError(() => error)) }),
    );
    return merge(timer(0, pollIntervalMs, this.scheduler), wakeups$, announced$).pipe(
      tap(() => {
        dirty = true;
      }),
      // One read at a time; a wake-up during a read leads to one more read after it.
      exhaustMap(() => load$.pipe(expand(() => (dirty ? load$ : EMPTY)))),
      mergeMap((journal) => {
        if (journal === undefined) throw new RunNotFoundError(runId);
        const fresh = journal.slice(nextSeq);
        nextSeq = Math.max(nextSeq, journal.length);
        return fresh;
      }),
      takeWhile((event) => !SETTLING_EVENTS.has(event.type), true),
    );
  }

  private sagaFor(state: RunState, explicit: AnySaga | undefined): AnySaga {
    if (explicit !== undefined) {
      if (explicit.name !== state.saga) {
        throw new SagaShapeMismatchError(state.saga, state.runId, state.version, state.shapeHash, `${explicit.version} of saga '${explicit.name}'`, explicit.shapeHash);
      }
      this.register(explicit);
      return explicit;
    }
    const versions = this.registry.get(state.saga);
    if (versions === undefined) throw new SagaNotRegisteredError(state.saga, state.runId, [...this.registry.keys()]);
    const match = versions.find((saga) => saga.shapeHash === state.shapeHash);
    if (match !== undefined) return match;
    const registered = versions[versions.length - 1] as AnySaga;
    throw new SagaShapeMismatchError(state.saga, state.runId, state.version, state.shapeHash, registered.version, registered.shapeHash);
  }
}

/** What the driver of a run started or picked up here reports to: the run's handle and `events$`. */
class DrivenRun implements RunDriverOptions {
  constructor(
    readonly saga: Saga,
    readonly store: SagaStore,
    readonly scheduler: SchedulerLike,
    readonly random: () => number,
    private readonly events: EventStream<SagaEvent>,
    private readonly active: Map<string, ActiveRun>,
    private readonly handle: RunHandle<unknown>,
    private readonly onEnd: (() => void) | undefined,
  ) {}

  onEvent(event: SagaEvent): void {
    this.handle.push(event);
    if (this.events.observed) this.events.next(event);
  }

  onSettled(state: MutableRunState): void {
    this.active.delete(this.handle.runId);
    this.onEnd?.();
    this.handle.settle(toOutcome(state));
  }

  onHalted(error: Error): void {
    this.active.delete(this.handle.runId);
    this.onEnd?.();
    this.handle.fail(error);
  }
}

function allowedStatuses(mode: 'resume' | 'redrive' | 'compensate'): RunStatus[] {
  switch (mode) {
    case 'resume':
      return ['queued', 'running', 'compensating'];
    case 'redrive':
      return ['paused', 'compensation_failed'];
    case 'compensate':
      return ['paused'];
  }
}

function abortReason(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  if (typeof reason === 'string' && reason !== '') return reason;
  if (reason instanceof Error && reason.message !== '') return reason.message;
  return 'the start signal was aborted';
}

