import {
  asyncScheduler,
  defer,
  EMPTY,
  exhaustMap,
  filter,
  firstValueFrom,
  lastValueFrom,
  from,
  ignoreElements,
  map,
  merge,
  retry,
  Subject,
  takeUntil,
  takeWhile,
  Observable,
  throwError,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import { identifierProblem, runIdProblem } from '../definition/identifier.js';
import { continuationProblems, diffShapes } from '../definition/shape-diff.js';
import type { AnySaga, Saga, SagaOutputs } from '../definition/saga.js';
import type { ReadonlyResults } from '../definition/stage-definition.js';
import { SagaInputError, type Issue } from '../errors/definition-errors.js';
import {
  OrchestratorClosedError,
  RunAlreadyExistsError,
  RunNotFoundError,
  RunStateError,
  SagaNotRegisteredError,
  SagaShapeMismatchError,
} from '../errors/run-errors.js';
import { SagaCancelledError, SagaCompensationError, SagaFailedError, type SagaRunError } from '../errors/saga-run-error.js';
import { describePrimitive, describeThrown, isErrorLike, printableText, readProperty, readString, reportableError } from '../errors/safe-read.js';
import { SignalTimeoutError } from '../errors/signal-errors.js';
import { LeaseLostError, RunLeasedError, StoreConflictError, StoreUnavailableError, StoreUnsupportedError } from '../errors/store-errors.js';
import { applyEvent, foldJournal, initialRunState, type MutableRunState, type RunState } from '../journal/fold.js';
import { freezeJson } from '../journal/freeze-json.js';
import { isSettledStatus, toOutcome, UNFINISHED_RUN_STATUSES, type RunStatus, type SagaOutcome } from '../journal/outcome.js';
import { RUN_ACTION_STATUSES } from '../journal/run-actions.js';
import { isSettlingEvent, type ResumeMode, type SagaEvent } from '../journal/saga-event.js';
import { topologyOf } from '../journal/topology.js';
import { leasesRunOnWallClock } from '../stores/lease-clock.js';
import { LENT_JOURNAL, MemoryStore } from '../stores/memory-store.js';
import type { LeaseToken, RunSummary, SagaStore, SignalRequest } from '../stores/saga-store.js';
import { supportsWorkers } from '../stores/work-queue.js';
import { cancelUnstartedEvents, resumeEvents } from './decider.js';
import { backoffNotifier, type BackoffPolicy } from './backoff.js';
import { EventStream } from './event-stream.js';
import { defaultOwnerId } from './owner-id.js';
import { propagationCarrier, type Instrumentation } from './instrumentation.js';
import { foldForDrive, RunInterpreter, type InterpreterEnvironment, type RunHost } from './interpreter.js';
import { copyJson, sameJson } from './json-value.js';
import type { KeptRun, LeaseKeeper } from './lease-keeper.js';
import { leaseLapses$ } from './lease-lapse.js';
import { scheduleAfter } from './long-delay.js';
import { RunOwner } from './run-owner.js';
import { defaultPollIntervalMs, followRun$, WATCH_RENEW_MS } from './run-follower.js';
import { reportSubscriberError, SafeObservable, type SubscriberErrorHandler } from './safe-observable.js';
import { cancelReasonProblem, RunHandle, type RunHandleOptions, type SagaRun } from './saga-run.js';
import { Landings } from './landings.js';
import { settleTimeoutError, settleWithin, storeGraceFor } from './settle-within.js';
import { journalAfterTakeover } from './takeover-journal.js';
import { timeOrderedId } from './time-ordered-id.js';
import { prepareSignal, type SignalOptions, type SignalResult } from './signal-delivery.js';
import { sagaArgumentProblem } from '../definition/saga-argument.js';
import { ORCHESTRATOR_OPTION_FIELDS, readOptions, SETTLE_OPTION_FIELDS, SIGNAL_OPTION_FIELDS } from '../definition/read-definition.js';

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
  readonly store?: SagaStore | undefined;
  /**
   * The sagas this orchestrator may resume, redrive, compensate and inspect by run id. Sagas
   * passed to `start` are registered automatically. Several versions of one saga may be
   * registered: a stored run continues with the one whose shape it was started with.
   */
  readonly sagas?: readonly AnySaga[] | undefined;
  /**
   * The clock and timers of retries and timeouts, and of event timestamps. Default: RxJS's
   * `asyncScheduler` (real time). Tests pass a virtual-time scheduler from `sagaflow/testing`.
   */
  readonly scheduler?: SchedulerLike | undefined;
  /** Source of retry jitter, numbers in [0, 1). Default `Math.random`. */
  readonly random?: (() => number) | undefined;
  /**
   * How long this process's ownership of a run lasts without a heartbeat, in ms. Default 30 000.
   * Every run this orchestrator drives holds a lease in the store, renewed every `leaseMs / 3`;
   * if this process dies, another one may take the run over (`recover()`) once it has expired.
   * Shorter means faster takeover after a crash, and more heartbeat writes.
   */
  readonly leaseMs?: number | undefined;
  /** This process's id as the owner of its leases. Default: host name, process id and a random suffix. */
  readonly ownerId?: string | undefined;
  /** Hooks around runs and attempts, for tracing and metrics (see {@link Instrumentation}). */
  readonly instrumentation?: Instrumentation | undefined;
  /**
   * Called with problems that do not stop a run: an `events$` subscriber or an instrumentation
   * hook that threw, a heartbeat that failed and is retried. Default: `console.warn`.
   */
  readonly onError?: ((error: Error, context: OrchestratorErrorContext) => void) | undefined;
}

/**
 * What an orchestrator was doing when a problem reported to `onError` happened.
 *
 * @remarks
 * None of these stop a run: a subscriber that throws is isolated, a failing heartbeat is retried
 * (its lease lasts `leaseMs`), a throwing instrumentation hook is ignored, a signal request
 * recorded by another process that this orchestrator's definition refuses (`signal`: unknown
 * signal, payload not of its schema, run no longer going forward) is not journaled. `cancel`: a
 * cancel asked of a run that this orchestrator gave back undriven (`close()` while `recover()`
 * held it) could not be recorded in the store for the next owner, so the run goes on without it:
 * cancel it again (`orchestrator.cancel(runId)` records it for whoever drives the run).
 *
 * @example
 * ```ts
 * import type { OrchestratorErrorContext } from 'sagaflow';
 * const label = (context: OrchestratorErrorContext) => `${context.operation}${context.runId === undefined ? '' : ` of run ${context.runId}`}`;
 * ```
 */
export interface OrchestratorErrorContext {
  /** What failed. */
  readonly operation: 'subscriber' | 'instrumentation' | 'heartbeat' | 'listen' | 'release' | 'cancel' | 'signal';
  /** The run concerned, when there is one. */
  readonly runId?: string;
  /** For a call that is retried: which retry comes next (1 for the first). */
  readonly retryCount?: number;
}

/**
 * A run that {@link Orchestrator.recover} passed over, and why.
 *
 * @remarks
 * - `owned`: a live process holds its lease (it is being driven right now; `detail` names the owner).
 * - `submitted`: workers own it (a worker takes it over once its lease expires).
 * - `saga_not_registered`: this orchestrator was not given its saga (it may belong to another service).
 * - `shape_mismatch`: its saga is registered, but not with the shape the run was started with.
 * - `unreadable`: its journal could not be read (`detail` says why).
 *
 * @example
 * ```ts
 * import type { SkippedRun } from 'sagaflow';
 * const line = (skipped: SkippedRun) => `${skipped.runId} (${skipped.saga}): ${skipped.reason} — ${skipped.detail}`;
 * ```
 */
export interface SkippedRun {
  /** The run. */
  readonly runId: string;
  /** Its saga's name. */
  readonly saga: string;
  /** Why it was not resumed. */
  readonly reason: 'owned' | 'submitted' | 'saga_not_registered' | 'shape_mismatch' | 'unreadable';
  /** One sentence saying so. */
  readonly detail: string;
}

/**
 * What {@link Orchestrator.recover} returns: the handles of the runs it resumed, and the runs it
 * passed over with the reason.
 *
 * @remarks
 * An array of handles (iterate it, `await Promise.all(handles.map((run) => run.outcome))`) that
 * also carries `skipped`. Log `skipped` at start-up: a run passed over because its saga is not
 * registered, or registered with another shape, stays unfinished until a process that has the
 * right definition recovers it.
 *
 * @example
 * ```ts
 * import type { Orchestrator } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * const recovered = await orchestrator.recover();
 * for (const skipped of recovered.skipped) console.warn(`not resumed: ${skipped.runId}: ${skipped.detail}`);
 * ```
 */
export type RecoverResult = SagaRun[] & {
  /** Unfinished runs this call did not resume, with the reason. */
  readonly skipped: readonly SkippedRun[];
};

/**
 * Options of {@link Orchestrator.recover}.
 *
 * @remarks
 * Validated when `recover()` is called: an unknown option or a value of the wrong type is a
 * `TypeError` naming it, and nothing is taken over.
 *
 * @example
 * ```ts
 * import type { Orchestrator } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * // At start-up after a crash: also take over the runs the dead process left, once their leases lapse.
 * const recovered = await orchestrator.recover({ waitForLeases: true });
 * for (const skipped of recovered.skipped) console.warn(`not resumed: ${skipped.detail}`);
 * ```
 */
export interface RecoverOptions {
  /**
   * Look again at the runs another process held (`'owned'`) once the leases they were held under
   * have run out, and take over those whose lease was not renewed: their process died. Default
   * `false`: such runs are passed over at once, and a later `recover()` takes them over.
   *
   * @remarks
   * Meant for start-up after a crash: a process restarted within `leaseMs` of the one that died
   * (a systemd or container restart, a developer's kill and run again) has a new owner id, so the
   * dead process's runs look owned until their leases lapse. With this option the call resolves
   * once the longest of those leases has run out (at most one lease term of the process that held
   * it, plus 250 ms for a heartbeat in flight; the time left is the store's, as
   * `LeaseInfo.remainingMs` says, so a store whose clock is off this process's by seconds does not
   * make it look too early or too late; waited in real time when the
   * store's leases run out in real time — `SqliteStore`, `PostgresStore`, a `MemoryStore` without
   * `now` — even under a virtual-time `scheduler`), with every run it could
   * take over; a run whose owner is alive (its lease renewed meanwhile) is still listed as
   * `'owned'`, and one that finished meanwhile (its owner was alive) is in neither list. A store
   * unavailable when it looks again (a database restarting) does not undo the first look: the
   * call resolves with the runs taken over then, and lists the others as `'owned'`, saying so. The wait
   * is for the longest lease seen, so a live owner with a lease of minutes holds the call as long.
   * A `close()` meanwhile ends the wait: the call resolves with what it had.
   */
  readonly waitForLeases?: boolean;
}

/**
 * How long after the latest lease it saw expire `recover({ waitForLeases: true })` looks again:
 * a margin for a heartbeat in flight and for a store whose clock is a little ahead of this
 * process's.
 */
const LEASE_RECHECK_MARGIN_MS = 250;

/**
 * Options of {@link Orchestrator.start}.
 *
 * @remarks
 * Also taken by {@link Orchestrator.run}. A `runId` of your own (1 to 200 characters) makes
 * `start` idempotent per business key: a second `start` with an id that already exists in the
 * store writes nothing and rejects its `outcome` with `RunAlreadyExistsError` (naming the existing
 * run's status; `RunStateError` if the run is active in this orchestrator). Ids must be
 * well-formed Unicode without control characters (NUL, a newline, a tab, an escape…: ids are
 * printed in messages and logs). Aborting
 * `signal` cancels like `run.cancel(reason)`, using the signal's reason as the cancellation
 * reason (a NUL or a lone surrogate in it replaced by U+FFFD, as no store keeps them); with a
 * signal already aborted, the run is cancelled before any `execute` is invoked.
 *
 * @example
 * ```ts
 * import type { StartOptions } from 'sagaflow';
 * const options: StartOptions = { runId: 'order-1234', signal: AbortSignal.timeout(60_000) };
 * ```
 */
export interface StartOptions {
  /** The run's id. Default: a new uuid v7 (sortable by time). Must be unique in the store. */
  readonly runId?: string | undefined;
  /**
   * Aborting it cancels the run, like `run.cancel(reason)`. Anything but an AbortSignal (of any
   * realm, or a polyfill's with `aborted` and the listener methods) is refused with `SagaInputError`
   * before anything is stored.
   */
  readonly signal?: AbortSignal | undefined;
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
 * `saga` also types what the call returns, as `start` does: the handle's `outcome` (and the test
 * kit's result) is typed with that saga's stages. Passing the run's own registered definition
 * changes nothing at run time, and a stored run of another saga is refused (`SagaShapeMismatchError`).
 *
 * @typeParam TSaga - the saga passed as `saga`.
 *
 * @example
 * ```ts
 * import type { ContinueOptions, Saga } from 'sagaflow';
 * declare const transferV2: Saga;
 * const options: ContinueOptions = { saga: transferV2 };
 * ```
 */
export interface ContinueOptions<TSaga extends AnySaga = Saga> {
  /**
   * Continue with this definition even if its shape differs from the one the run was started
   * with. Without it, a run continues only with a registered definition of the same shape. A
   * definition that lacks (or no longer compensates) a stage the run completed is refused with
   * `SagaShapeMismatchError` naming the stages: continuing would leave them un-undone.
   */
  readonly saga?: TSaga | undefined;
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
   * journals stay in the store and their leases are released, so another process's `recover()`
   * takes them over at once) and their `outcome` rejects with an `OrchestratorClosedError`. A run
   * with a stage still executing or compensating here is given back only once that call settles
   * (its signal is aborted; `close()` gives it one turn of the event loop to honour it): taken over
   * before, the stage would run again beside it, or be compensated before its effect landed. One
   * that ignores its signal past `close()` keeps the run's lease until the lease expires. A run
   * whose write was in flight is not taken back: that write may still land (or be refused once
   * the lease is given back), and the rejection says so, to `inspect` the run.
   * A number >= 0 (`Infinity` waits as long as leaving it out); anything else, or options whose
   * reads throw, rejects `close()` with a `TypeError` and stops nothing. Default: wait for every run.
   *
   * @remarks
   * With a finite timeout, `close()` also waits for the store's answers to the releases of leases
   * (and to cancels recorded for another owner to carry out) at most 5 s more: a store that does
   * not answer (a database host gone silent, a network partition) cannot hold it for ever. A lease
   * whose release got no answer by then expires, and the run is resumed from its journal after
   * that; the write goes on in the background, its failure reported to `onError`.
   */
  readonly timeoutMs?: number | undefined;
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
  readonly pollIntervalMs?: number | undefined;
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
  /**
   * The id this orchestrator holds its runs' leases under (`OrchestratorOptions.ownerId`, or the
   * default: host name, process id and a random suffix): what `store.leaseOf(runId).owner` says of
   * a run it drives, and what `sagaflow show` and `sagaflow runs` print as its owner.
   */
  readonly ownerId: string;
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
   * is durable, and this process owns the run (a lease in the store, heartbeated) until it
   * settles. Returning a handle, it throws synchronously for what is wrong with the call itself
   * (bad input, a bad `runId` or `signal`, a closed orchestrator); other refusals arrive on the handle's
   * `outcome`: `RunAlreadyExistsError` for a `runId` that already exists in the store,
   * `RunStateError` for one active here, and store errors if the journal cannot be written.
   *
   * @throws {@link SagaInputError} when the input does not match the saga's schema or is not
   * plain JSON, the `runId` is invalid, `signal` is not an AbortSignal (path `options.signal`), or
   * the options cannot be read (a revoked Proxy, a throwing getter: `options.runId: could not be
   * read: …`); nothing is stored then.
   * @throws {@link OrchestratorClosedError} after `close()`.
   * @throws `TypeError` when `saga` is not a built saga — typically a `defineSaga(…).stage(…)` chain
   * without its `.build()` (the message says so); nothing is stored then.
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
   * (a store error, `RunAlreadyExistsError` for an existing `runId`). Always a rejection, never a
   * synchronous throw.
   */
  run<TInput, TOutputs, TRawInput>(saga: Saga<TInput, TOutputs, TRawInput>, input: NoInfer<TRawInput>, options?: StartOptions): Promise<ReadonlyResults<TOutputs>>;
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
   * Returns the existing handle if this orchestrator already drives the run (refused with
   * `SagaShapeMismatchError` when `{ saga }` is of another saga, as for a stored run; so a stage that awaits
   * `resume(ownRunId).outcome` of its own run waits for itself: the run cannot settle while that
   * stage is in flight).
   *
   * @remarks
   * A run is taken over only when nobody holds a live lease on it: a run another process is
   * driving right now (its heartbeats keep its lease alive) is refused with `RunStateError` naming
   * that owner, and nothing is written. A stage that was in flight when its last owner stopped is
   * executed again, unless the run was already stopping: then its outcome is unknown, and it is
   * compensated with `output: undefined`. On a store shared with workers, a submitted run is never
   * driven here: workers own it, so the handle only follows it from the store until it settles.
   *
   * Never throws: a refusal rejects the handle's `outcome` with `RunNotFoundError`,
   * `RunStateError` (the run is settled or paused), `SagaNotRegisteredError`,
   * `SagaShapeMismatchError` or `OrchestratorClosedError`, and nothing is written.
   */
  resume<TSaga extends AnySaga = Saga>(runId: string, options?: ContinueOptions<TSaga>): SagaRun<SagaOutputs<TSaga>>;
  /**
   * Resumes every unfinished run in the store that nobody drives and this orchestrator has the
   * saga for; returns their handles, and says which runs it passed over and why.
   *
   * @remarks
   * Call it at start-up, after registering every saga that may have unfinished runs, and again
   * whenever you like: it takes over only runs whose lease has expired (their process died), so it
   * is safe next to other live processes and workers on the same store. It passes over, and lists
   * in `skipped`: runs a live process owns, submitted runs (workers own them), runs of sagas not
   * registered here, and runs whose saga is registered with another shape. `paused` and
   * `compensation_failed` runs wait for an operator and are not looked at.
   *
   * It reads, checks and takes over the runs a page of 1,000 at a time (one store transaction per
   * page on SQLite), and holds the runs it took over until it has taken over the rest, then
   * drives them all: recovered runs go on together, and the last run is owned again as soon as
   * possible, instead of the first pages' next stages competing with the takeover of the later
   * ones. A run is held for at most a third of `leaseMs` (its lease is heartbeated only once it
   * is driven); a longer recovery drives what it holds at that point and goes on. A `close()`
   * during the recovery gives the held runs' leases back at once, unresumed (their handles fail
   * with `OrchestratorClosedError`; a `cancel()` asked of one meanwhile is recorded in the store).
   * A page whose takeovers fail (`StoreUnavailableError`) rejects once every takeover of it has
   * finished; the runs it did take over are driven.
   *
   * Runs another live process holds are passed over as `'owned'`; so are, until their leases
   * lapse, the runs of a process that just died: pass `{ waitForLeases: true }` (see
   * {@link RecoverOptions.waitForLeases}) at start-up to take those over in the same call.
   *
   * @throws `StoreUnavailableError` (rejects) when the store cannot list runs. `TypeError`
   * (rejects) when `options` is given and is not an object of known options.
   */
  recover(options?: RecoverOptions): Promise<RecoverResult>;
  /**
   * Goes on from where a `paused` or `compensation_failed` run stopped: re-executes the stages
   * that did not complete (same idempotency keys, a fresh retry budget), or retries only the
   * failed compensations.
   *
   * @remarks
   * A submitted run is not driven here: `run.resumed` is written and the run goes back to the
   * workers' queue; the handle follows it from the store and its `outcome` resolves when a
   * worker settles it. It may be called the moment `run.paused` or `run.compensation_failed` is
   * announced (an `events$` subscriber acting on it at once): the run is durable in that status.
   *
   * Never throws: a refusal rejects the handle's `outcome` with `RunNotFoundError`,
   * `RunStateError` (the run is neither `paused` nor `compensation_failed`),
   * `SagaNotRegisteredError`, `SagaShapeMismatchError` or `OrchestratorClosedError`, and nothing is
   * written.
   */
  redrive<TSaga extends AnySaga = Saga>(runId: string, options?: ContinueOptions<TSaga>): SagaRun<SagaOutputs<TSaga>>;
  /**
   * Rolls back a `paused` run.
   *
   * @remarks
   * Completed stages are compensated per the saga's `compensation` policy, with the run's failure
   * as `ctx.cause`; the run ends `compensated` (or `compensation_failed`). A submitted run goes
   * back to the workers' queue, as with {@link Orchestrator.redrive}, and may be called the moment
   * `run.paused` is announced. Never throws: a refusal
   * rejects the handle's `outcome` as for `redrive` (`RunStateError` when the run is not `paused`).
   */
  compensate<TSaga extends AnySaga = Saga>(runId: string, options?: ContinueOptions<TSaga>): SagaRun<SagaOutputs<TSaga>>;
  /**
   * Cancels a run by id, wherever it is driven: here, by another live process (an orchestrator or
   * a worker: it carries the cancel out within one heartbeat), or nowhere (a run whose process died
   * is taken over here and cancelled).
   *
   * @remarks
   * A run another process owns is never touched from here: a cancel request is recorded in the
   * store, and its owner settles its in-flight stages and rolls back (or keeps, per `onCancel`)
   * itself, so no stage is ever compensated while it is still executing somewhere. Resolves once
   * the cancel is accepted or requested, not when the run has settled: follow it with
   * `watch(runId)` or the run's handle. For a run this orchestrator drives, it is
   * `handle.cancel(reason)`: it resolves and does nothing if that run is already stopping or
   * rolling back. If another process took that run over meanwhile (this one froze past its lease),
   * the cancel is recorded in the store for the new owner to carry out. `reason` defaults to
   * `'cancelled'`.
   *
   * A run submitted to workers that none has started (`queued`, no stage started) has nothing to
   * undo: it is cancelled here at once (`run.cancelling`, `run.cancelled`), with no saga definition
   * and no worker needed, so a run of a saga no worker registers (retired, say) can be ended too.
   * If a worker claims it meanwhile, the store refuses that write and the cancel is recorded for
   * the worker instead.
   *
   * @throws {@link RunNotFoundError}, or {@link RunStateError} when a run not driven here is not
   * going forward (not `queued` or `running`); both as rejections. `TypeError` (rejects) when
   * `reason` is given and is not a string, or holds a NUL or a lone surrogate: nothing is cancelled.
   */
  cancel(runId: string, reason?: string): Promise<void>;
  /**
   * Sends a signal to a run: the payload is validated against the schema of the wait stage that
   * waits for `name`, journaled (`signal.received`), and completes that stage if it is waiting,
   * or is buffered until it is reached.
   *
   * @remarks
   * Idempotent per `options.signalId`: a signal id the run journaled before is a no-op, reported
   * as `{ accepted: false, duplicate: true }`. Resolves once the signal is journaled. A run driven
   * here gets it at once; a run another live process owns gets it through the store
   * (`SagaStore.requestSignal`: its owner delivers it with its next heartbeat, and this resolves
   * once it is journaled; a store without `requestSignal` refuses with `RunLeasedError`), and so does
   * a run submitted to workers; a run nobody drives (its process stopped) is taken over here and
   * continues in this process; a run this process believed it drove, but which another process
   * took over (this one froze past its lease), gets it through the store from its new owner. If the
   * owner dies before it journals the signal, this takes the run
   * over (as `recover()` would) once the owner's lease lapses, and delivers the recorded request
   * here: the call never hangs on a dead owner. A submitted run is left to workers (a worker that
   * claims it delivers the request). `options.timeoutMs` bounds the wait for another process: then
   * it rejects with {@link SignalTimeoutError}, and the request stays recorded; so does `close()`
   * of this orchestrator, with {@link OrchestratorClosedError}. See {@link SignalResult} and
   * `docs/waits.md`.
   *
   * @throws {@link RunNotFoundError}; {@link UnknownSignalError} when no stage of the run's saga
   * waits for `name`; {@link SignalPayloadError} for a payload its schema refuses;
   * {@link RunStateError} for a run that is not going forward (settled, stopping, rolling back);
   * {@link RunLeasedError}; {@link SignalTimeoutError} after `options.timeoutMs`;
   * {@link OrchestratorClosedError} after `close()`, or when `close()` ends its wait; for a run
   * driven here that halts before the signal is journaled, what halted it (a
   * `StoreUnavailableError`, say: the run stays resumable, send the signal again); all as
   * rejections. `TypeError` (rejects) for a `signalId` that is empty, over 200 characters or
   * holds a NUL, a lone surrogate or a control character (a delivery id from outside, journaled
   * and printed), a `timeoutMs` that is not a finite number > 0, or options whose reads throw
   * (a revoked Proxy, a throwing getter), naming the field.
   */
  signal(runId: string, name: string, payload?: unknown, options?: SignalOptions): Promise<SignalResult>;
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
   * `RunAlreadyExistsError` when the `runId` exists already (all as rejections).
   */
  submit<TInput, TOutputs, TRawInput>(saga: Saga<TInput, TOutputs, TRawInput>, input: NoInfer<TRawInput>, options?: { readonly runId?: string | undefined }): Promise<string>;
  /**
   * Streams a run's journal from the store — from its first event, then live — wherever it
   * runs; completes when the run settles (or pauses).
   *
   * @remarks
   * For a run this orchestrator drives, this is its handle's `events$`. Otherwise the journal
   * is read from the store whenever the store announces an append to the run (`PostgresStore`
   * does, with `LISTEN`/`NOTIFY`, for runs someone watches), and every `pollIntervalMs` in any
   * case, since notifications can be lost; a store that is briefly unavailable is read again at
   * the next poll. Each event is emitted once, in `seq` order. As on `events$`, a subscriber
   * that throws is reported to `onError` and never reaches the process or the run.
   *
   * Such a watch belongs to this orchestrator: `close()` ends it with an
   * {@link OrchestratorClosedError} error notification (the run goes on where it is driven), and
   * `watch()` after `close()` errors at once. A run this orchestrator drives is waited for by
   * `close()`, so its watch completes as the run settles.
   *
   * @throws {@link RunNotFoundError} (as an error notification) for an unknown run id;
   * {@link OrchestratorClosedError} (as an error notification) once `close()` was called;
   * `TypeError` (as an error notification) for a `pollIntervalMs` that is not a finite number > 0.
   */
  watch(runId: string, options?: WatchOptions): Observable<SagaEvent>;
  /**
   * Stops taking runs and waits for active runs to settle (see {@link CloseOptions}).
   *
   * @remarks
   * `events$` completes once it resolves. It neither cancels runs nor closes the store: close the
   * store yourself afterwards. Handles that only follow submitted runs from the store reject with
   * `OrchestratorClosedError` at once, and `watch()` streams of runs driven elsewhere error with
   * it; workers keep driving those runs.
   */
  close(options?: CloseOptions): Promise<void>;
}


/** A run this orchestrator drives: its handle and interpreter (absent while it is being picked up). */
interface ActiveRun {
  readonly handle: RunHandle<unknown>;
  interpreter?: RunInterpreter | undefined;
}

/**
 * The handle of a run this orchestrator picks up or starts, and, once the run is driven here
 * ({@link DrivenRun.drive}), its interpreter's host and its lease keeper's entry: reports durable
 * events to itself and `events$`, keeps the lease while the run is owned here, and forgets the
 * run when it ends.
 *
 * @remarks
 * One object per run where there were two (the handle, and a host that reached it): 40 bytes and
 * an object less held by every run in flight, and one object less for each event to pass through.
 * Once the run ends it lets its interpreter go (a caller may keep a handle for as long as it likes).
 */
class DrivenRun<TOutputs = Record<string, unknown>> extends RunHandle<TOutputs> implements ActiveRun, RunHost, KeptRun {
  interpreter: RunInterpreter | undefined = undefined;
  /** The lease the run is driven with; {@link NO_LEASE} until it is. */
  lease: LeaseToken = NO_LEASE;
  /** Whether the lease keeper holds the run's lease. */
  private leaseHeld = false;
  private onEnd: (() => void) | undefined = undefined;
  /** The first cancel asked of the run while driven here, passed on if the run is lost before it settles. */
  private cancelledWith: string | undefined = undefined;

  constructor(
    private readonly orchestrator: SagaOrchestrator,
    runId: string,
    options: RunHandleOptions,
  ) {
    super(runId, options);
  }

  /** Itself: the handle of the run (see {@link ActiveRun}). */
  get handle(): RunHandle<unknown> {
    return this;
  }

  /** Whether the lease keeper holds the run's lease (see {@link SagaOrchestrator.ended}). */
  get holdsLease(): boolean {
    return this.leaseHeld;
  }

  /** Becomes the host of `interpreter`, driving the run with `lease`; `onEnd` is called once it ends. */
  drive(interpreter: RunInterpreter, lease: LeaseToken, onEnd: (() => void) | undefined): void {
    this.interpreter = interpreter;
    this.lease = lease;
    this.onEnd = onEnd;
    this.attach(this);
  }

  event(event: SagaEvent): void {
    // The lease exists once the run does: keep it from its first durable event on.
    if (!this.leaseHeld) {
      this.leaseHeld = true;
      this.orchestrator.owned(this);
    }
    this.orchestrator.announce(this, event);
  }

  settled(state: RunState): void {
    this.forget();
    // Typed with unknown outputs, as the runtime keeps them (see RunHandle's resolveOutcome).
    (this as DrivenRun<unknown>).settle(toOutcome(state));
  }

  halted(error: Error, landed: Promise<void> | undefined): void {
    this.forget();
    // Taken over by another process (this one froze past its lease) after a cancel was accepted
    // here, whose run.cancelling may have been fenced: the new owner carries it out, as one
    // requested through the store (a cancel it already has is a no-op there).
    if (error instanceof LeaseLostError && this.cancelledWith !== undefined) this.orchestrator.passOnCancel(this.runId, this.cancelledWith);
    // Give the run back, unless it already belongs to someone else: at once, or once the calls of
    // user code still in flight here have landed (see RunHost.halted).
    if (this.leaseHeld && !(error instanceof LeaseLostError) && !(error instanceof RunAlreadyExistsError)) {
      if (landed === undefined) this.orchestrator.giveBack(this.runId, this.lease);
      else this.orchestrator.giveBackOnceLanded(this.runId, this.lease, landed);
    }
    this.fail(error);
  }

  lost(error: LeaseLostError): void {
    this.interpreter?.detach(error);
  }

  cancelRequested(reason: string): void {
    this.cancelledWith ??= reason;
    this.interpreter?.cancel(reason);
  }

  signalRequested(request: SignalRequest): void {
    const interpreter = this.interpreter;
    if (interpreter !== undefined) this.orchestrator.deliverRequested(interpreter, request);
  }

  private forget(): void {
    this.orchestrator.ended(this);
    const onEnd = this.onEnd;
    this.onEnd = undefined;
    // A handle may be kept long after its run: it keeps nothing of the run's state.
    this.interpreter = undefined;
    onEnd?.();
  }
}

/** The lease of a {@link DrivenRun} not driven (yet): never a store's. */
const NO_LEASE: LeaseToken = Object.freeze({ owner: '', epoch: 0 });

/** What picking a stored run up found. */
type PickUp =
  | { readonly kind: 'driven'; readonly handle: RunHandle<Record<string, unknown>> }
  | {
      readonly kind: 'skipped';
      readonly skipped: SkippedRun;
      /**
       * For `'owned'`: when the lease it is held under runs out, on the clock `recover()` waits on
       * (see `leaseTimers`): the time left by the store's clock, from now, as a skewed clock would
       * otherwise misjudge it.
       */
      readonly leaseRunsOutAt?: number;
    };

/** What one pass of `recover()` over the store found. */
interface RecoverPass {
  readonly handles: SagaRun[];
  readonly skipped: SkippedRun[];
  /** The runs passed over as `'owned'`, with when the lease each is held under expires. */
  readonly owned: Map<string, number>;
}

/** A stored run as read before a takeover. */
interface LoadedRun {
  readonly journal: readonly SagaEvent[];
  /** Its fold (`foldForDrive`), with the shape of {@link LoadedRun.foldedFor}; nobody else holds it. */
  readonly state: MutableRunState;
  /** The registered definition the run started on (same name and shape hash), if any. */
  readonly foldedFor: AnySaga | undefined;
}

/**
 * Creates an {@link Orchestrator}.
 *
 * @remarks
 * Cheap and synchronous: it opens nothing (a store connects on first use) and starts no run;
 * call `recover()` to resume what a previous process left unfinished. Create one per process and
 * store, and `close()` it on shutdown. Several orchestrators (and workers) may share a store:
 * each run is owned by the process driving it, through a lease in the store, and nobody else
 * acts on it until that lease expires.
 *
 * @example
 * ```ts
 * import { createOrchestrator, type AnySaga } from 'sagaflow';
 * import { SqliteStore } from 'sagaflow/sqlite';
 * declare const transfer: AnySaga;
 * const store = new SqliteStore({ path: '.sagaflow/sagas.db' });
 * const orchestrator = createOrchestrator({ store, sagas: [transfer] });
 * const recovered = await orchestrator.recover(); // pick up what a dead process left running
 * for (const skipped of recovered.skipped) console.warn(skipped.detail);
 * process.once('SIGTERM', () => {
 *   void orchestrator.close({ timeoutMs: 10_000 }).then(() => store.close());
 * });
 * ```
 *
 * @throws `TypeError` for a `leaseMs` that is not a positive integer, an invalid `ownerId`, an
 * entry of `sagas` that is not a built saga, and options whose reads throw (a revoked Proxy, a
 * throwing getter: `createOrchestrator: options.leaseMs could not be read: …`).
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

const DEFAULT_LEASE_MS = 30_000;
/** Runs `recover()` lists, and picks up together, at a time. */
const RECOVER_PAGE = 1_000;

class SagaOrchestrator implements Orchestrator {
  readonly store: SagaStore;
  readonly events$: Observable<SagaEvent>;
  private readonly events: EventStream<SagaEvent>;
  /** Where a throwing `events$` subscriber is reported: this orchestrator's `onError`. */
  private readonly onSubscriberError: SubscriberErrorHandler;
  /** What every handle of this orchestrator is given (one object, kept by each): see {@link RunHandleOptions}. */
  private readonly handleOptions: RunHandleOptions;
  private readonly scheduler: SchedulerLike;
  private readonly random: () => number;
  private readonly owner: string;

  get ownerId(): string {
    return this.owner;
  }
  /** The lease of every run started here (epoch 1 of this owner): one frozen token shared by all, not one per run in flight. */
  private readonly firstLease: LeaseToken;
  private readonly leaseMs: number;
  private readonly instrumentation: Instrumentation | undefined;
  private readonly onError: (error: Error, context: OrchestratorErrorContext) => void;
  private readonly keeper: LeaseKeeper;
  /** What every run driven here shares. */
  private readonly environment: InterpreterEnvironment;
  /** Leases being given back; `close()` waits for them, so that another process can take those runs at once. */
  private readonly releases = new Set<Promise<void>>();
  /** Runs halted with user calls still in flight, given back once those land (see {@link giveBackOnceLanded}). */
  private readonly landings: Landings;
  /**
   * Leases of runs this orchestrator stopped driving and has not given back yet (a store failure
   * refused the release), by run id: their epochs. The only leases held under this owner id that it
   * may take back before they expire — another process may have been given the same `ownerId`.
   */
  private readonly unreturned = new Map<string, number>();
  private readonly registry = new Map<string, AnySaga[]>();
  private readonly active = new Map<string, ActiveRun>();
  /** Submitted runs that a handle here follows from the store while workers drive them. */
  private readonly followed = new Map<string, { readonly handle: RunHandle<unknown>; readonly subscription: Subscription }>();
  /** The runs each `recover()` under way holds (see `recover()`): `close()` gives them back at once. */
  private readonly holding = new Set<Array<() => void>>();
  private closed = false;
  /** Emits once, when `close()` is called: what `watch()` streams of runs driven elsewhere end on. */
  private readonly closing$ = new Subject<void>();

  constructor(given: OrchestratorOptions) {
    const options = readOptions('createOrchestrator', given, ORCHESTRATOR_OPTION_FIELDS) as OrchestratorOptions;
    this.store = options.store ?? new MemoryStore();
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.random = options.random ?? Math.random;
    this.leaseMs = positiveInteger('leaseMs', options.leaseMs ?? DEFAULT_LEASE_MS);
    this.owner = options.ownerId ?? defaultOwnerId();
    if (identifierProblem(this.owner) !== undefined) throw new TypeError(`createOrchestrator: ownerId ${identifierProblem(this.owner) ?? ''}.`);
    this.firstLease = Object.freeze({ owner: this.owner, epoch: 1 });
    this.instrumentation = options.instrumentation;
    this.onError = options.onError ?? defaultOnError;
    this.onSubscriberError = (error, context) => this.report(error, context.runId === undefined ? { operation: 'subscriber' } : { operation: 'subscriber', runId: context.runId });
    this.events = new EventStream<SagaEvent>({ onError: this.onSubscriberError, runIdOf: (event) => event.runId });
    const store = this.store;
    this.handleOptions = { onError: this.onSubscriberError, journals: store instanceof MemoryStore ? { heldJournal: (runId) => store[LENT_JOURNAL](runId) } : undefined };
    const owner = new RunOwner({
      store: this.store,
      owner: this.owner,
      leaseMs: this.leaseMs,
      scheduler: this.scheduler,
      random: this.random,
      backoff: RELEASE_BACKOFF,
      instrumentation: this.instrumentation,
      report: (error, context) => this.report(error, context),
    });
    this.environment = owner.environment;
    this.keeper = owner.keeper;
    this.landings = new Landings(owner.keeper);
    this.events$ = this.events.observable$;
    (options.sagas ?? []).forEach((saga, index) => {
      const problem = sagaArgumentProblem(saga);
      if (problem !== undefined) throw new TypeError(`createOrchestrator: sagas[${index}]: ${problem}.`);
      this.register(saga);
    });
  }

  start<TInput, TOutputs, TRawInput>(saga: Saga<TInput, TOutputs, TRawInput>, input: TRawInput, options: StartOptions = {}): SagaRun<TOutputs> {
    if (this.closed) throw new OrchestratorClosedError(`start() of saga '${saga.name}' was called after close()`);
    const { started, signal: givenSignal } = this.prepareStart(saga, input, options, false);
    // Checked before anything is stored: a run that started although start() threw would go on unseen.
    const signalProblem = givenSignal === undefined ? undefined : abortSignalProblem(givenSignal);
    if (signalProblem !== undefined) throw new SagaInputError(saga.name, [{ path: 'options.signal', message: signalProblem }]);
    const handle = new DrivenRun<TOutputs>(this, started.runId, this.handleOptions);
    if (this.active.has(started.runId)) {
      handle.fail(new RunStateError(saga.name, started.runId, 'start', 'running', [], `a run with id ${started.runId} is already active here`));
      return handle;
    }
    const signal = givenSignal as AbortSignal | undefined;
    if (signal === undefined) {
      this.drive(saga as Saga, [started], this.firstLease, handle).create(this.leaseMs);
      return handle;
    }
    const onAbort = (): void => handle.cancel(abortReason(signal));
    this.drive(saga as Saga, [started], this.firstLease, handle, undefined, () => signal.removeEventListener('abort', onAbort)).create(this.leaseMs);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    return handle;
  }

  async run<TInput, TOutputs, TRawInput>(saga: Saga<TInput, TOutputs, TRawInput>, input: TRawInput, options?: StartOptions): Promise<ReadonlyResults<TOutputs>> {
    const outcome = await this.start(saga, input, options).outcome;
    if (outcome.status === 'completed') return outcome.outputs;
    throw runErrorFor(outcome);
  }

  async inspect(runId: string): Promise<SagaOutcome> {
    assertRunIdArgument('inspect()', runId);
    return toOutcome((await this.load(runId)).state);
  }

  resume<TSaga extends AnySaga = Saga>(runId: string, options: ContinueOptions<TSaga> = {}): SagaRun<SagaOutputs<TSaga>> {
    const existing = this.active.get(runId) ?? this.followed.get(runId);
    if (existing !== undefined) {
      // A saga of another name is refused as for a stored run: the handle would be typed with it.
      const driven = 'interpreter' in existing ? existing.interpreter?.state : undefined;
      if (options.saga !== undefined && driven !== undefined && options.saga.name !== driven.saga) {
        const refused = new DrivenRun(this, runId, this.handleOptions);
        refused.fail(otherSagaError(driven, options.saga));
        return refused as SagaRun<SagaOutputs<TSaga>>;
      }
      // The outputs are typed, not converted: the handle's outcome is the run's journal folded.
      return existing.handle as SagaRun<SagaOutputs<TSaga>>;
    }
    return this.continueRun(runId, 'resume', options) as SagaRun<SagaOutputs<TSaga>>;
  }

  async recover(options: RecoverOptions = {}): Promise<RecoverResult> {
    const problem = recoverOptionsProblem(options);
    if (problem !== undefined) throw new TypeError(`recover(): ${problem}.`);
    const first = await this.recoverPass(undefined);
    let { handles, skipped } = first;
    if (options.waitForLeases === true && first.owned.size > 0 && !this.closed) {
      // Wait until the latest of those leases has run out, then look at those runs once more: on the
      // clock the store's leases run out on (real time on a durable store, whatever the scheduler),
      // as the keeper beats them. A loop, not Math.max(...values): a spread of some 125,000 owned
      // runs overflows the stack.
      let until = -Infinity;
      for (const runsOutAt of first.owned.values()) if (runsOutAt > until) until = runsOutAt;
      const timers = this.leaseTimers();
      await this.waitOrClose(timers, until - timers.now() + LEASE_RECHECK_MARGIN_MS);
      if (!this.closed) {
        try {
          const again = await this.recoverPass(new Set(first.owned.keys()));
          handles = [...handles, ...again.handles];
          skipped = [...skipped.filter((run) => !first.owned.has(run.runId)), ...again.skipped];
        } catch (error) {
          // The store went away while we waited (a database restarting): what the first pass took
          // over is driven here already, and its handles are the caller's; the runs looked at again
          // stay passed over, saying why. Anything else rejects, as a first pass's failure does.
          if (!(error instanceof StoreUnavailableError)) throw error;
          const why = ` Looked at again once its lease had run out, the store was unavailable (${error.message}): call recover() again.`;
          skipped = skipped.map((run) => (first.owned.has(run.runId) ? { ...run, detail: `${run.detail}${why}` } : run));
        }
      }
    }
    // Not enumerable: the result stays an array of handles to anything that compares or prints it.
    return Object.defineProperty(handles, 'skipped', { value: Object.freeze(skipped), enumerable: false }) as RecoverResult;
  }

  /** The clock the store's leases run out on: real time on a durable store, whatever the scheduler. */
  private leaseTimers(): SchedulerLike {
    return leasesRunOnWallClock(this.store) ? asyncScheduler : this.scheduler;
  }

  /** Resolves after `delayMs` on `timers` (the clock the store's leases run out on), or at once when this orchestrator closes. */
  private waitOrClose(timers: SchedulerLike, delayMs: number): Promise<void> {
    if (this.closed || delayMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const closing = this.closing$.subscribe({ next: () => done(), complete: () => done() });
      const timer = scheduleAfter(timers, delayMs, () => done());
      function done(): void {
        timer.unsubscribe();
        closing.unsubscribe();
        resolve();
      }
    });
  }

  /** One pass of `recover()` over the store's unfinished runs (`only`: just these). */
  private async recoverPass(only: ReadonlySet<string> | undefined): Promise<RecoverPass> {
    const handles: SagaRun[] = [];
    const skipped: SkippedRun[] = [];
    const owned = new Map<string, number>();
    // Runs taken over but not driven yet: every page is taken over before the runs go on, for at
    // most a third of a lease (a run's lease is heartbeated only once it is driven).
    const held: Array<() => void> = [];
    this.holding.add(held);
    let holdingSince = performance.now();
    const startHeld = (): void => {
      for (const start of held.splice(0)) start();
    };
    let afterRunId: string | undefined;
    try {
      for (;;) {
        const page = await this.store.listRuns({ status: UNFINISHED_RUN_STATUSES, limit: RECOVER_PAGE, ...(afterRunId === undefined ? {} : { afterRunId }) });
        // A page is picked up at once: the store can batch its takeovers (one commit on SQLite).
        // Every run of the page settled before a failure is thrown: a takeover that finished after
        // it would otherwise be held where nobody drives it (its lease kept by nobody, its handle never settled).
        const picked = await Promise.allSettled(page.map((run) => (only === undefined || only.has(run.runId) ? this.recoverOne(run, held) : Promise.resolve(undefined))));
        for (const pick of picked) {
          if (pick.status === 'rejected') throw pick.reason;
          if (pick.value?.kind === 'driven') handles.push(pick.value.handle);
          else if (pick.value?.kind === 'skipped') {
            skipped.push(pick.value.skipped);
            if (pick.value.leaseRunsOutAt !== undefined) owned.set(pick.value.skipped.runId, pick.value.leaseRunsOutAt);
          }
        }
        if (page.length < RECOVER_PAGE || this.closed) break;
        afterRunId = page[page.length - 1]?.runId;
        if (performance.now() - holdingSince >= this.leaseMs / 3) {
          startHeld();
          holdingSince = performance.now();
        }
      }
    } finally {
      // Also when a page could not be listed: what was taken over goes on (or gives its lease back).
      this.holding.delete(held);
      startHeld();
    }
    return { handles, skipped, owned };
  }

  /** One run of a `recover()` page: picked up, passed over with the reason, or left (this process has it, or closed). */
  private async recoverOne(run: RunSummary, held: Array<() => void>): Promise<PickUp | undefined> {
    if (this.closed || this.active.has(run.runId) || this.followed.has(run.runId)) return undefined;
    if (!this.registry.has(run.saga)) {
      return { kind: 'skipped', skipped: { runId: run.runId, saga: run.saga, reason: 'saga_not_registered', detail: `run ${run.runId} of saga '${run.saga}' was passed over: this orchestrator was not given saga '${run.saga}'` } };
    }
    if (run.submitted && supportsWorkers(this.store)) {
      return { kind: 'skipped', skipped: { runId: run.runId, saga: run.saga, reason: 'submitted', detail: `run ${run.runId} of saga '${run.saga}' was passed over: it was submitted, so workers own it` } };
    }
    const handle = new DrivenRun(this, run.runId, this.handleOptions);
    this.active.set(run.runId, { handle });
    let pick: PickUp;
    try {
      pick = await this.pickUp(run.runId, 'resume', {}, handle, { recovering: true, held });
    } catch (error) {
      if (this.active.get(run.runId)?.handle === handle) this.active.delete(run.runId);
      // resume() may have handed the handle out meanwhile, and close() may wait for it.
      handle.fail(error);
      if (error instanceof StoreUnavailableError) throw error;
      return { kind: 'skipped', skipped: { runId: run.runId, saga: run.saga, reason: 'unreadable', detail: `run ${run.runId} of saga '${run.saga}' was passed over: ${errorMessage(error)}` } };
    }
    if (pick.kind === 'skipped') handle.fail(new RunStateError(run.saga, run.runId, 'resume', run.status, RUN_ACTION_STATUSES.resume, pick.skipped.detail));
    return pick;
  }

  redrive<TSaga extends AnySaga = Saga>(runId: string, options: ContinueOptions<TSaga> = {}): SagaRun<SagaOutputs<TSaga>> {
    return this.continueRun(runId, 'redrive', options) as SagaRun<SagaOutputs<TSaga>>;
  }

  compensate<TSaga extends AnySaga = Saga>(runId: string, options: ContinueOptions<TSaga> = {}): SagaRun<SagaOutputs<TSaga>> {
    return this.continueRun(runId, 'compensate', options) as SagaRun<SagaOutputs<TSaga>>;
  }

  async cancel(runId: string, reason = 'cancelled'): Promise<void> {
    assertRunIdArgument('cancel()', runId);
    const problem = cancelReasonProblem(reason);
    if (problem !== undefined) throw new TypeError(`cancel() of run ${runId}: ${problem}.`);
    const existing = this.active.get(runId);
    if (existing !== undefined) {
      existing.handle.cancel(reason);
      return;
    }
    const { state, journal } = await this.load(runId);
    // Already on its way to an ending (stopping after a failure or a cancel, or rolling back):
    // a cancel has nothing left to do, as for a run driven here.
    if (state.status === 'compensating' || ((state.status === 'running' || state.status === 'queued') && state.stopping)) return;
    if (state.status !== 'running' && state.status !== 'queued') {
      throw new RunStateError(state.saga, runId, 'cancel', state.status, RUN_ACTION_STATUSES.cancel);
    }
    const lease = await this.store.leaseOf(runId);
    if (lease?.live !== true && state.submitted && supportsWorkers(this.store) && isUnstarted(state, journal)) {
      // Queued, no stage started: nothing to undo, and perhaps no worker with its saga to claim it.
      // Cancelled here, by an append the store refuses once a worker holds the run (it claimed it
      // meanwhile: then that worker carries the cancel out).
      const events = cancelUnstartedEvents(state, reason, this.scheduler.now());
      const settled = foldJournal([...journal, ...events]);
      try {
        await this.store.append({ runId, saga: state.saga, expectedSeq: journal.length, events, status: settled.status });
        return;
      } catch (error) {
        if (!(error instanceof RunLeasedError || error instanceof StoreConflictError)) throw error;
      }
      // Cancelled by another process meanwhile: done. Claimed by a worker: it carries the cancel out.
      if ((await this.load(runId)).state.status === 'cancelled') return;
      await this.store.requestCancel(runId, reason);
      return;
    }
    if (lease?.live === true || (state.submitted && supportsWorkers(this.store))) {
      // Its owner carries it out (contract: nobody acts on a run under a live lease).
      await this.store.requestCancel(runId, reason);
      return;
    }
    // Nobody drives it: its process stopped. Take it over here and cancel it as it is picked up.
    if (this.active.has(runId)) return this.cancel(runId, reason);
    const handle = new DrivenRun(this, runId, this.handleOptions);
    this.active.set(runId, { handle });
    try {
      await this.pickUp(runId, 'resume', {}, handle, { cancel: reason });
    } catch (error) {
      if (this.active.get(runId)?.handle === handle) this.active.delete(runId);
      handle.fail(error);
      // Taken over meanwhile by another live process: ask it instead.
      if (error instanceof RunLeasedError) return this.store.requestCancel(runId, reason);
      throw error;
    }
  }

  async signal(runId: string, name: string, payload?: unknown, given: SignalOptions = {}): Promise<SignalResult> {
    assertRunIdArgument('signal()', runId);
    if (this.closed) throw new OrchestratorClosedError(`signal() of run ${runId} was called after close()`);
    const options = readOptions(`signal() of run ${runId}`, given, SIGNAL_OPTION_FIELDS) as SignalOptions;
    const signalId = options.signalId ?? timeOrderedId();
    // A signal id often comes from outside (a webhook's delivery id): journaled, stored as text and printed.
    const signalIdProblem = runIdProblem(signalId);
    if (signalIdProblem !== undefined) throw new TypeError(`signal() of run ${runId}: signalId ${signalIdProblem}.`);
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) && timeoutMs > 0)) {
      throw new TypeError(`signal() of run ${runId}: timeoutMs must be a finite number of milliseconds > 0.`);
    }
    let local = this.active.get(runId);
    if (local !== undefined && local.interpreter === undefined) {
      // Being picked up here: the run is driven once its journal is replayed to its handle.
      await firstValueFrom(local.handle.events$, { defaultValue: undefined });
      local = this.active.get(runId);
    }
    if (local !== undefined) {
      const interpreter = local.interpreter;
      if (interpreter === undefined || !interpreter.active) {
        throw new RunStateError(interpreter?.saga.name ?? '?', runId, 'signal', interpreter?.state.status ?? 'running', ['running'], 'it is being picked up by this orchestrator right now; send the signal again');
      }
      const prepared = prepareSignal(interpreter.saga, interpreter.state, name, payload, signalId);
      if (prepared.kind === 'duplicate') return { accepted: false, signalId, duplicate: true };
      const { handle } = local;
      const durable = this.signalJournaled(handle.events$, runId, prepared);
      interpreter.signal(prepared.signal, signalId, prepared.payload);
      try {
        return await durable;
      } catch (error) {
        if (!(error instanceof RunStateError)) throw error;
        // The run ended here without the signal. Another process took it over (this one froze past
        // its lease): the run goes on there, and so does the signal, as to any other owner. Or it
        // halted (the store refused an append): what halted it is the answer, not "stopped going
        // forward"; the run is resumable, and the signal can be sent again.
        const halted = await handle.outcome.then(() => undefined, (ended: unknown) => ended);
        if (halted instanceof LeaseLostError && this.active.get(runId)?.handle !== handle) return this.signal(runId, name, payload, { ...options, signalId });
        throw halted === undefined ? error : reportableError(halted);
      }
    }
    const { state } = await this.load(runId);
    const saga = this.sagaFor(state, undefined) as Saga;
    const prepared = prepareSignal(saga, state, name, payload, signalId);
    if (prepared.kind === 'duplicate') return { accepted: false, signalId, duplicate: true };
    const request: SignalRequest = { runId, signal: prepared.signal, signalId, ...(prepared.payload === undefined ? {} : { payload: prepared.payload }), requestedAt: this.scheduler.now() };
    const toWorkers = state.submitted && supportsWorkers(this.store);
    const lease = toWorkers ? undefined : await this.store.leaseOf(runId);
    if (toWorkers || lease?.live === true) {
      // Its owner delivers it (contract: nobody acts on a run under a live lease; workers own submitted runs).
      if (this.store.requestSignal === undefined) {
        if (lease === undefined) throw new StoreUnsupportedError(this.store.description, 'signal() of a run submitted to workers', 'the store cannot record signal requests');
        throw new RunLeasedError(runId, lease.owner, lease.epoch, 'signal()');
      }
      await this.store.requestSignal(request);
      return await this.requestedSignalJournaled(state, request, lease?.owner, timeoutMs);
    }
    if (this.active.has(runId)) return this.signal(runId, name, payload, { ...options, signalId });
    // Nobody drives it: take it over here, and deliver the signal as it is picked up.
    let handle: DrivenRun;
    try {
      handle = await this.takeOverForSignal(request);
    } catch (error) {
      // Another process took it over first (its own signal(), a recover()): that owner delivers it.
      if (error instanceof RunLeasedError) return this.signal(runId, name, payload, { ...options, signalId });
      throw error;
    }
    return await this.signalJournaled(handle.events$, runId, prepared);
  }

  /**
   * Resolves once a signal requested through the store is journaled by whoever drives the run.
   * Waiting on another process must not outlive it: a run another process owns (`owner`) is taken
   * over here once that lease lapses (the owner died, so nobody else would deliver it soon), as
   * `recover()` would, and the recorded request is delivered as it is picked up. A run submitted
   * to workers (`owner` undefined) is left to them. Rejects with {@link SignalTimeoutError} after
   * `timeoutMs`; the request stays recorded either way.
   */
  private requestedSignalJournaled(state: RunState, request: SignalRequest, owner: string | undefined, timeoutMs: number | undefined): Promise<SignalResult> {
    const { runId, signalId } = request;
    const pollIntervalMs = defaultPollIntervalMs(this.store);
    // Followed from the end of the journal already read: the owner's appends only, not the whole journal again.
    const journaled$ = defer(() => this.signalJournaled(followRun$(this.store, runId, state.lastSeq + 1, pollIntervalMs, this.scheduler), runId, request));
    const takeOver = async (): Promise<'driven' | 'leased' | 'settled'> => {
      // Picked up by this process meanwhile (a recover(), say): it delivers the recorded request.
      if (this.active.has(runId)) return 'driven';
      try {
        await this.takeOverForSignal(request);
        return 'driven';
      } catch (error) {
        // Someone faster took it over: that owner delivers the request; watch its lease instead.
        if (error instanceof RunLeasedError) return 'leased';
        // It settled meanwhile: the journal says whether the signal made it in.
        if (error instanceof RunStateError) return 'settled';
        throw error;
      }
    };
    const takenOver$ =
      owner === undefined
        ? EMPTY
        : leaseLapses$(this.store, runId, pollIntervalMs, this.scheduler).pipe(
            exhaustMap(() => from(takeOver())),
            takeWhile((result) => result === 'leased'),
            ignoreElements(),
          );
    // It polls the store on timers: it ends with the orchestrator, as watch() does, or it would keep
    // the process alive (and, once the store is closed too, retry its reads for ever).
    const closed$ = defer(() => {
      const closed = new OrchestratorClosedError(
        `signal() of run ${runId} was still waiting for ${owner ?? 'a worker'} to journal signal ${signalId} when close() was called; the request stays recorded for whoever drives the run`,
      );
      return this.closed
        ? throwError(() => closed)
        : this.closing$.pipe(
            map(() => {
              throw closed;
            }),
          );
    });
    const delivered$ = merge(journaled$, takenOver$, closed$);
    if (timeoutMs === undefined) return firstValueFrom(delivered$);
    // Not RxJS's `timeout`: a bound of weeks is longer than one Node timer holds (see scheduleAfter).
    const timedOut$ = new Observable<never>((subscriber) =>
      scheduleAfter(this.scheduler, timeoutMs, () => subscriber.error(new SignalTimeoutError(state.saga, runId, request.signal, signalId, timeoutMs, owner ?? 'a worker'))),
    );
    return firstValueFrom(merge(delivered$, timedOut$));
  }

  /** Takes a run nobody drives over here (its lease, an epoch bump, `run.resumed`), delivering the signal as it is picked up. */
  private async takeOverForSignal(request: SignalRequest): Promise<DrivenRun> {
    const { runId } = request;
    const handle = new DrivenRun(this, runId, this.handleOptions);
    this.active.set(runId, { handle });
    try {
      await this.pickUp(runId, 'resume', {}, handle, { signal: request });
    } catch (error) {
      if (this.active.get(runId)?.handle === handle) this.active.delete(runId);
      handle.fail(error);
      throw error;
    }
    return handle;
  }

  /**
   * Resolves once the run's `signal.received` with this id is durable, saying what the journal
   * did with it (a waiting stage took it, or it is buffered); rejects if the run ends without it.
   * A signal of that id but another name or payload is another sender's, journaled first (two
   * processes sent one `signalId` at once): this one is a duplicate, as it would be had it come
   * second.
   */
  private async signalJournaled(
    events$: Observable<SagaEvent>,
    runId: string,
    sent: { readonly signal: string; readonly signalId: string; readonly payload?: unknown },
  ): Promise<SignalResult> {
    const { signalId } = sent;
    const journaled = await firstValueFrom(events$.pipe(filter((event) => event.type === 'signal.received' && event.signalId === signalId)), { defaultValue: undefined });
    const received = journaled?.type === 'signal.received' ? journaled : (await this.load(runId)).state.signals?.get(signalId);
    if (received !== undefined && (received.signal !== sent.signal || !sameJson(received.payload, sent.payload))) return { accepted: false, signalId, duplicate: true };
    if (received !== undefined) return { accepted: true, signalId, delivered: received.stage === undefined ? 'buffered' : 'waiting' };
    const state = (await this.load(runId)).state;
    throw new RunStateError(state.saga, runId, 'signal', state.status, ['running'], `the run stopped going forward before signal ${signalId} could be journaled`);
  }

  async submit<TInput, TOutputs, TRawInput>(
    saga: Saga<TInput, TOutputs, TRawInput>,
    input: TRawInput,
    options: { readonly runId?: string | undefined } = {},
  ): Promise<string> {
    if (this.closed) throw new OrchestratorClosedError(`submit() of saga '${saga.name}' was called after close()`);
    const { started } = this.prepareStart(saga, input, options, true);
    const store = this.store;
    if (!supportsWorkers(store)) {
      throw new StoreUnsupportedError(store.description, 'submit()', 'workers need a store they can share, such as PostgresStore; use start() to run in this process');
    }
    await store.submit({ event: started });
    return started.runId;
  }

  watch(runId: string, options: WatchOptions = {}): Observable<SagaEvent> {
    const runIdError = runIdArgumentError('watch()', runId);
    if (runIdError !== undefined) return throwError(() => runIdError);
    const pollIntervalMs = options.pollIntervalMs ?? defaultPollIntervalMs(this.store);
    // A negative or NaN interval polls once and then never again (the watch would never end); 0 polls in a busy loop.
    if (!(typeof pollIntervalMs === 'number' && Number.isFinite(pollIntervalMs) && pollIntervalMs > 0)) {
      return throwError(() => new TypeError(`watch() of run ${runId}: pollIntervalMs must be a finite number of milliseconds > 0, got ${String(pollIntervalMs)}.`));
    }
    const journal$ = defer(() => {
      const local = this.active.get(runId);
      if (local !== undefined) return local.handle.events$;
      const closed = (when: string): OrchestratorClosedError =>
        new OrchestratorClosedError(`watch() of run ${runId} ${when}; the run goes on where it is driven (watch it from another orchestrator)`);
      if (this.closed) return throwError(() => closed('was called after close()'));
      // A follower reads the store on timers: it ends with the orchestrator, or it would keep the
      // process alive (and, once the store is closed too, retry its reads for ever).
      const stopped$ = this.closing$.pipe(
        map(() => {
          throw closed('was still following it when close() was called');
        }),
      );
      return followRun$(this.store, runId, 0, pollIntervalMs, this.scheduler).pipe(takeUntil(stopped$));
    });
    return SafeObservable.from(journal$, { onError: this.onSubscriberError, runId });
  }

  async close(given: CloseOptions = {}): Promise<void> {
    const options = readOptions('orchestrator.close()', given, SETTLE_OPTION_FIELDS) as CloseOptions;
    const refused = settleTimeoutError('orchestrator.close()', options.timeoutMs);
    if (refused !== undefined) throw refused;
    this.closed = true;
    this.closing$.next();
    this.closing$.complete();
    // Workers drive these: there is nothing here to wait for, only a view to stop.
    for (const [runId, follower] of [...this.followed]) {
      follower.subscription.unsubscribe();
      follower.handle.fail(new OrchestratorClosedError(`this orchestrator stopped following run ${runId}; workers go on driving it (watch it from another orchestrator)`));
    }
    this.followed.clear();
    // Runs a recovery holds give their leases back now (closed: none is driven), not once it next hears from the store.
    for (const held of this.holding) for (const start of held.splice(0)) start();
    const settled = Promise.allSettled([...this.active.values()].map((run) => run.handle.outcome));
    const inTime = await settleWithin(settled, options.timeoutMs);
    if (!inTime) {
      for (const [runId, run] of [...this.active]) {
        // A write in flight may still land (it is not taken back): the run may then have moved on,
        // or settled, so "left in place" would be wrong.
        const where =
          run.interpreter?.writeInFlight === true
            ? `a write of its events was in flight and may still land, moving it on or settling it: inspect('${runId}') says where it ended; resume it if it is unfinished`
            : 'it was left in place and can be resumed';
        const error = new OrchestratorClosedError(`run ${runId} was still active when close() timed out after ${options.timeoutMs ?? 0} ms; ${where}`);
        if (run.interpreter === undefined) run.handle.fail(error);
        else run.interpreter.detach(error);
      }
    }
    await this.landings.close();
    // With a timeout, a store that does not answer (a server gone silent) cannot hold close() for
    // ever: a release not answered in time goes on in the background; if it never lands, the lease expires.
    await settleWithin(Promise.all([...this.releases]), storeGraceFor(options.timeoutMs));
    await this.keeper.stop();
    this.events.complete();
  }

  // ---------------------------------------------------------------------------------------------

  private register(saga: AnySaga): void {
    const versions = this.registry.get(saga.name);
    if (versions === undefined) this.registry.set(saga.name, [saga]);
    else if (!versions.includes(saga)) versions.push(saga);
  }

  private report(error: unknown, context: OrchestratorErrorContext): void {
    try {
      this.onError(reportableError(error), context);
    } catch {
      // An onError that throws has nowhere left to report to.
    }
  }

  private prepareStart<TInput, TOutputs, TRawInput>(
    saga: Saga<TInput, TOutputs, TRawInput>,
    input: TRawInput,
    options: unknown,
    submitted: boolean,
  ): { readonly started: Extract<SagaEvent, { type: 'run.started' }>; readonly signal: unknown } {
    // One load on the hot path; a builder without its .build() (no shapeHash) is told apart here,
    // before the input check blames the input for the schema it does not have.
    let shapeHash: unknown;
    try {
      shapeHash = (saga as { readonly shapeHash?: unknown } | null | undefined)?.shapeHash;
    } catch (error) {
      // A revoked Proxy, or a getter that throws: not a saga, and nothing to read its name from.
      throw new TypeError(`${submitted ? 'submit()' : 'start() / run()'}: the saga argument could not be read (${describeThrown(error)}): pass what defineSaga(…).stage(…).build() returns.`);
    }
    if (typeof shapeHash !== 'string') {
      throw new TypeError(`${submitted ? 'submit()' : 'start() / run()'}: ${sagaArgumentProblem(saga) ?? 'the saga has no shape hash'}.`);
    }
    // Read once, guarded: a throwing getter or a revoked Proxy is a problem of its field, like any
    // other. Field by field rather than through readDefinition: this is every run's hot path, and
    // two guarded reads allocate nothing.
    const runId = startOption(saga.name, options, 'runId') as string | undefined;
    const signal = startOption(saga.name, options, 'signal');
    const idProblem = runId === undefined ? undefined : runIdProblem(runId);
    if (idProblem !== undefined) throw new SagaInputError(saga.name, [{ path: 'options.runId', message: idProblem }]);
    let parsed: ReturnType<typeof saga.input.safeParse>;
    try {
      parsed = saga.input.safeParse(input);
    } catch (error) {
      // A hostile value (a throwing getter, a revoked proxy) that the schema could not read.
      throw new SagaInputError(saga.name, [{ path: 'input', message: `could not be read: ${describeThrown(error)}` }], { cause: error });
    }
    if (!parsed.success) {
      const issues: Issue[] = parsed.error.issues.map((issue) => ({
        path: ['input', ...issue.path.map(String)].join('.'),
        message: issue.message,
      }));
      throw new SagaInputError(saga.name, issues, { cause: parsed.error });
    }
    const copy = copyJson(parsed.data, 'input');
    if (!copy.ok) throw new SagaInputError(saga.name, [{ path: copy.problem.path, message: copy.problem.problem + inputSchemaAdvice(copy.instance) }]);
    // Frozen once here: every stage reads it, and the fold finds it frozen already.
    freezeJson(copy.value);
    this.register(saga);
    const started: Extract<SagaEvent, { type: 'run.started' }> = {
      type: 'run.started',
      runId: runId ?? timeOrderedId(),
      saga: saga.name,
      seq: 0,
      at: this.scheduler.now(),
      version: saga.version,
      shapeHash: saga.shapeHash,
      input: copy.value,
      // The names every run of the definition shares (frozen, made once per shape), not a copy per run.
      stages: topologyOf(saga.shape).names,
      shape: saga.shape,
    };
    const event = submitted ? { ...started, submitted: true } : started;
    const context = this.carrierFor(event);
    return { started: context === undefined ? event : { ...event, context }, signal };
  }

  /** The propagation carrier the instrumentation journals with a new run (its trace context), if any. */
  private carrierFor(started: Extract<SagaEvent, { type: 'run.started' }>): Readonly<Record<string, string>> | undefined {
    const instrumentation = this.instrumentation;
    if (instrumentation?.carrier === undefined) return undefined;
    try {
      return propagationCarrier(instrumentation.carrier(started));
    } catch (error) {
      this.report(error, { operation: 'instrumentation', runId: started.runId });
      return undefined;
    }
  }

  /** Creates the interpreter of a run owned here and wires it to its handle, `events$` and the lease keeper. */
  private drive(saga: Saga, journal: readonly SagaEvent[], lease: LeaseToken, run: DrivenRun<unknown>, folded?: MutableRunState, onEnd?: () => void): RunInterpreter {
    this.active.set(run.runId, run);
    const interpreter = new RunInterpreter(this.environment, saga, lease, run, journal, folded);
    run.drive(interpreter, lease, onEnd);
    return interpreter;
  }

  /** Delivers a signal request another process recorded; one this definition refuses is reported, not journaled. */
  deliverRequested(interpreter: RunInterpreter, request: SignalRequest): void {
    const refused = interpreter.signalRequested(request);
    if (refused !== undefined) this.report(refused, { operation: 'signal', runId: request.runId });
  }

  /** A run driven here has ended (settled or halted): forget it, and its lease. */
  ended(run: DrivenRun<unknown>): void {
    const runId = run.runId;
    if (this.active.get(runId) === run) this.active.delete(runId);
    if (run.holdsLease) this.keeper.drop(runId, run);
  }

  /** A run driven here has its first durable event: keep its lease from now on. */
  owned(run: DrivenRun<unknown>): void {
    this.keeper.hold(run);
  }

  /** A durable event of a run driven here: to its handle, and to `events$`. */
  announce(run: DrivenRun<unknown>, event: SagaEvent): void {
    run.push(event);
    if (this.events.observed) this.events.next(event);
  }

  /** Gives a halted run's lease back, so that another process can take it over without waiting for it to expire. */
  giveBack(runId: string, lease: LeaseToken, cancel?: string): void {
    // A cancel asked of the run and not carried out here is recorded first, so that it is not lost with the lease.
    const recorded = cancel === undefined ? Promise.resolve() : this.recordCancel(runId, cancel);
    this.unreturned.set(runId, lease.epoch);
    const released = recorded
      .then(() => this.releaseRetried(runId, lease))
      .then(
        () => {
          if (this.unreturned.get(runId) === lease.epoch) this.unreturned.delete(runId);
        },
        (error: unknown) => this.report(error, { operation: 'release', runId }),
      );
    this.releases.add(released);
    void released.then(() => this.releases.delete(released));
  }

  /**
   * Records a cancel accepted here for a run another process took over, for that owner to carry
   * out; `close()` waits for the write.
   */
  passOnCancel(runId: string, reason: string): void {
    const recorded = this.recordCancel(runId, reason);
    this.releases.add(recorded);
    void recorded.then(() => this.releases.delete(recorded));
  }

  /** Records a cancel request in the store; a failure is reported, never thrown. */
  private recordCancel(runId: string, reason: string): Promise<void> {
    return this.store.requestCancel(runId, reason).catch((error: unknown) => this.report(error, { operation: 'cancel', runId }));
  }

  /**
   * Releases a lease, retried with backoff while the store is unavailable (a database restarting,
   * a lost connection: a run halted by an outage gives its lease back once the store is back, as a
   * worker does), at most {@link RELEASE_RETRIES} times; each retried failure is reported. Rejects
   * with any other error at once, and with the last one once the retries are spent: the lease then
   * expires (or this process takes the run back: see `unreturned`).
   */
  private releaseRetried(runId: string, lease: LeaseToken): Promise<void> {
    // The clock the store's leases expire on, as the keeper's beats: real time on a durable store.
    const timers = leasesRunOnWallClock(this.store) ? asyncScheduler : this.scheduler;
    const wait = backoffNotifier(RELEASE_BACKOFF, this.random, timers, (error, retryCount) => this.report(error, { operation: 'release', runId, retryCount }));
    return lastValueFrom(
      defer(() => this.store.release(runId, lease)).pipe(
        retry({ count: RELEASE_RETRIES, delay: (error: unknown, retryCount) => (error instanceof StoreUnavailableError && !error.closed ? wait(error, retryCount) : throwError(() => error)) }),
      ),
      { defaultValue: undefined },
    );
  }

  /**
   * Gives a halted run's lease back once the calls of user code still in flight here have landed:
   * before, another process would run that stage again beside this one, or compensate it before
   * its effect landed. The lease is heartbeated meanwhile (a call may outlast it); calls that land
   * after `close()` leave it to expire.
   */
  giveBackOnceLanded(runId: string, lease: LeaseToken, landed: Promise<void>): void {
    this.landings.add(runId, lease, landed, () => this.giveBack(runId, lease));
  }

  /** Reads and folds a stored run, with the shape of the registered definition it started on (if any): see {@link LoadedRun}. */
  private async load(runId: string): Promise<LoadedRun> {
    const journal = await this.store.load(runId);
    if (journal === undefined || journal.length === 0) throw new RunNotFoundError(runId);
    const first = journal[0] as SagaEvent;
    const registered = first.type === 'run.started' ? this.registry.get(first.saga)?.find((saga) => saga.shapeHash === first.shapeHash) : undefined;
    return { journal, state: foldForDrive(journal, registered), foldedFor: registered };
  }

  /** Resume, redrive or compensate a stored run: a handle at once, the checks and the takeover in the background. */
  private continueRun(runId: string, mode: ResumeMode, options: ContinueOptions): DrivenRun {
    const handle = new DrivenRun(this, runId, this.handleOptions);
    const runIdError = runIdArgumentError(`${mode}()`, runId);
    if (runIdError !== undefined) {
      handle.fail(runIdError);
      return handle;
    }
    if (this.closed) {
      handle.fail(new OrchestratorClosedError(`${mode}() of run ${runId} was called after close()`));
      return handle;
    }
    const existing = this.active.get(runId);
    // A run whose ending is being announced (an events$ subscriber acting on run.paused at once) is
    // durable in that status, its lease ended with the write: it is no longer driven here. It
    // forgets itself by identity, so the new handle may take its place now.
    const ending = existing?.interpreter !== undefined && isSettledStatus(existing.interpreter.state.status);
    if (existing !== undefined && !ending) {
      const status: RunStatus = existing.interpreter?.state.status ?? 'running';
      const saga = existing.interpreter?.state.saga ?? '?';
      handle.fail(new RunStateError(saga, runId, mode, status, RUN_ACTION_STATUSES[mode], `it is being driven by this orchestrator right now`));
      return handle;
    }
    // Claim the id at once so that concurrent calls for the same run do not both pick it up.
    this.active.set(runId, { handle });
    this.pickUp(runId, mode, options, handle, {}).catch((error: unknown) => {
      if (this.active.get(runId)?.handle === handle) this.active.delete(runId);
      handle.fail(error);
    });
    return handle;
  }

  /**
   * Checks a stored run, takes it over (its lease, bumping the epoch) and drives it. The run's
   * id is reserved in `active` by the caller. Nothing is written before the takeover succeeds,
   * and the takeover succeeds only when nobody holds a live lease on the run.
   */
  private async pickUp(
    runId: string,
    mode: ResumeMode,
    options: ContinueOptions,
    handle: DrivenRun,
    how: {
      readonly recovering?: boolean;
      /** Where a recovery collects the runs it took over, to drive them once it has taken over the rest (see `recover()`). */
      readonly held?: Array<() => void>;
      readonly cancel?: string;
      readonly signal?: SignalRequest;
    },
  ): Promise<PickUp> {
    const loaded = await this.load(runId);
    const allowed = RUN_ACTION_STATUSES[mode];
    const check = (state: RunState): void => {
      if (!allowed.includes(state.status)) throw new RunStateError(state.saga, runId, mode, state.status, allowed);
    };
    check(loaded.state);
    if (loaded.state.submitted && supportsWorkers(this.store)) {
      if (how.recovering === true) {
        this.active.delete(runId);
        return { kind: 'skipped', skipped: { runId, saga: loaded.state.saga, reason: 'submitted', detail: `run ${runId} of saga '${loaded.state.saga}' was passed over: it was submitted, so workers own it` } };
      }
      await this.handBack(loaded.state, loaded.journal, mode, options, handle);
      return { kind: 'driven', handle };
    }
    let saga: AnySaga;
    try {
      saga = this.sagaFor(loaded.state, options.saga);
    } catch (error) {
      if (how.recovering !== true || !(error instanceof SagaShapeMismatchError || error instanceof SagaNotRegisteredError)) throw error;
      this.active.delete(runId);
      const reason = error instanceof SagaShapeMismatchError ? 'shape_mismatch' : 'saga_not_registered';
      return { kind: 'skipped', skipped: { runId, saga: loaded.state.saga, reason, detail: `run ${runId} of saga '${loaded.state.saga}' was passed over: ${error.message}` } };
    }
    if (this.closed) throw new OrchestratorClosedError(`${mode}() of run ${runId} was called after close()`);
    // Only what the read above did not see comes back: the journal is read and validated once.
    const takeover = { runId, owner: this.owner, leaseMs: this.leaseMs, knownEvents: loaded.journal.length };
    let acquired = await this.store.acquire(takeover);
    if (
      !acquired.acquired &&
      acquired.heldBy.owner === this.owner &&
      this.unreturned.get(runId) === acquired.heldBy.epoch &&
      this.active.get(runId)?.handle === handle
    ) {
      // This orchestrator owns the run but no longer drives it (it halted it, say on a store
      // failure, and could not give the lease back): take it back. Only a lease it knows it left
      // behind: the same owner id in another process (a shared `ownerId`) is a live owner.
      await this.store.release(runId, { owner: this.owner, epoch: acquired.heldBy.epoch });
      if (this.unreturned.get(runId) === acquired.heldBy.epoch) this.unreturned.delete(runId);
      acquired = await this.store.acquire(takeover);
    }
    if (!acquired.acquired) {
      const { owner, epoch, expiresAt, remainingMs } = acquired.heldBy;
      // recover() did not call resume(): say what it was refused as.
      const error = new RunLeasedError(runId, owner, epoch, how.recovering === true ? 'taking it over in recover()' : `${mode}()`, expiresAt);
      if (how.recovering !== true) throw error;
      this.active.delete(runId);
      // Timed from now by the store's clock where it says: its clock and this process's may disagree by seconds.
      const timers = this.leaseTimers();
      const leaseRunsOutAt = remainingMs === undefined ? expiresAt : timers.now() + remainingMs;
      return { kind: 'skipped', skipped: { runId, saga: loaded.state.saga, reason: 'owned', detail: error.message }, leaseRunsOutAt };
    }
    const lease = acquired.lease;
    try {
      // The journal may have grown between the first read and the takeover: decide on the new one.
      const { journal, state, folded } = this.continueFold(runId, loaded, acquired.events, saga);
      check(state);
      const change = saga.shapeHash === state.shapeHash && saga.version === state.version ? undefined : { version: saga.version, shapeHash: saga.shapeHash, shape: saga.shape };
      if (change !== undefined && saga.shapeHash !== state.shapeHash) refuseUnsafeChange(state, saga);
      if (this.closed) throw new OrchestratorClosedError(`${mode}() of run ${runId} was called after close()`);
      const start = (): void => {
        if (this.closed) {
          // Closed while the recovery held it: not driven, so its lease is given back at once.
          if (this.active.get(runId)?.handle === handle) this.active.delete(runId);
          // A cancel() accepted meanwhile goes to the store with the run, for whoever picks it up next.
          this.giveBack(runId, lease, handle.cancelAsked);
          handle.fail(new OrchestratorClosedError(`run ${runId} was taken over by recover() but not resumed: close() was called first; it can be resumed`));
          return;
        }
        this.active.delete(runId);
        handle.replay(journal);
        // A cancel() of the handle while the run was being picked up (or held): a resume takes it with
        // run.resumed, as one asked through the store; a redrive or compensate (whose resume decision
        // ignores a cancel: the run was not going forward) is cancelled once it goes on again.
        const asked = handle.takeCancelAsked();
        const cancel = how.cancel ?? (mode === 'resume' ? asked : undefined) ?? acquired.cancelRequest?.reason;
        const interpreter = this.drive(saga as Saga, journal, lease, handle, folded);
        interpreter.resume(mode, change, cancel === undefined ? undefined : { reason: cancel, by: 'external' });
        if (asked !== undefined && mode !== 'resume') interpreter.cancel(asked);
        for (const request of acquired.signalRequests ?? []) this.deliverRequested(interpreter, request);
        if (how.signal !== undefined) interpreter.signal(how.signal.signal, how.signal.signalId, how.signal.payload, how.signal.requestedAt);
      };
      if (how.held === undefined) start();
      else how.held.push(start);
      return { kind: 'driven', handle };
    } catch (error) {
      await this.store.release(runId, lease).catch(() => undefined);
      throw error;
    }
  }

  /**
   * The journal and state of a run just taken over, from its read before the takeover and what
   * the takeover returned (see {@link journalAfterTakeover}). The fold of the read goes on with
   * the events added since, and is handed to the interpreter (`folded`), when it was folded as
   * the interpreter would and as the checks need: with the shape of `saga`, which is the run's
   * definition. Otherwise (a definition change, a store that returned the whole journal) the
   * journal is folded again, with the shape of `saga` only if the run is of that shape.
   */
  private continueFold(
    runId: string,
    loaded: LoadedRun,
    returned: readonly SagaEvent[],
    saga: AnySaga,
  ): { readonly journal: readonly SagaEvent[]; readonly state: RunState; readonly folded: MutableRunState | undefined } {
    const { journal, added } = journalAfterTakeover(runId, loaded.journal, returned);
    if (added !== undefined && loaded.foldedFor === saga && saga.shapeHash === loaded.state.shapeHash) {
      const state = loaded.state;
      for (const event of added) applyEvent(state, event);
      return { journal, state, folded: state };
    }
    return { journal, state: foldJournal(journal, saga.shapeHash === loaded.state.shapeHash ? { shape: saga.shape } : {}), folded: undefined };
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
    mode: ResumeMode,
    options: ContinueOptions,
    handle: RunHandle<Record<string, unknown>>,
  ): Promise<void> {
    let written: readonly SagaEvent[] = [];
    if (mode !== 'resume') {
      const explicit = options.saga;
      if (explicit !== undefined && explicit.name !== state.saga) {
        throw otherSagaError(state, explicit);
      }
      // Without an explicit definition the run keeps its shape: workers claim it by that shape,
      // whatever versions this process has registered.
      const change =
        explicit === undefined || (explicit.shapeHash === state.shapeHash && explicit.version === state.version)
          ? undefined
          : { version: explicit.version, shapeHash: explicit.shapeHash, shape: explicit.shape };
      if (explicit !== undefined && explicit.shapeHash !== state.shapeHash) refuseUnsafeChange(state, explicit);
      written = resumeEvents(state, { type: 'resume', mode, ...(change === undefined ? {} : { change }) }, this.scheduler.now());
      const next = foldJournal([...journal, ...written], explicit === undefined ? {} : { shape: explicit.shape });
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

  /** Feeds a handle from the store until the run settles. */
  private follow(handle: RunHandle<Record<string, unknown>>, journal: readonly SagaEvent[]): void {
    const runId = handle.runId;
    const state = initialRunState(journal[0] as Extract<SagaEvent, { type: 'run.started' }>);
    for (const event of journal.slice(1)) applyEvent(state, event);
    handle.replay(journal);
    const stopFollowing = (): void => {
      if (this.followed.get(runId)?.handle === handle) this.followed.delete(runId);
    };
    const subscription = followRun$(this.store, runId, journal.length, defaultPollIntervalMs(this.store), this.scheduler).subscribe({
      next: (event) => {
        applyEvent(state, event);
        handle.push(event);
        if (isSettlingEvent(event)) {
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
    handle.attach({
      cancelRequested: (reason) => {
        this.cancel(runId, reason).catch(() => undefined);
      },
    });
  }

  private sagaFor(state: RunState, explicit: AnySaga | undefined): AnySaga {
    if (explicit !== undefined) {
      if (explicit.name !== state.saga) {
        throw otherSagaError(state, explicit);
      }
      this.register(explicit);
      return explicit;
    }
    const versions = this.registry.get(state.saga);
    if (versions === undefined) throw new SagaNotRegisteredError(state.saga, state.runId, [...this.registry.keys()]);
    const match = versions.find((saga) => saga.shapeHash === state.shapeHash);
    if (match !== undefined) return match;
    const registered = versions[versions.length - 1] as AnySaga;
    throw new SagaShapeMismatchError(state.saga, state.runId, state.version, state.shapeHash, registered.version, registered.shapeHash, {
      changes: diffShapes(state.shape, registered.shape),
    });
  }
}

/** Whether a run is queued with no stage started: its journal holds `run.started` and `run.resumed` events only. */
function isUnstarted(state: RunState, journal: readonly SagaEvent[]): boolean {
  if (state.status !== 'queued') return false;
  for (const event of journal) if (event.type !== 'run.started' && event.type !== 'run.resumed') return false;
  return true;
}

/**
 * Refuses to continue a run on a definition that could not undo what the run did: a completed (or
 * outcome-unknown) stage that the new definition lacks, or no longer compensates, would never be
 * compensated. Says what changed either way.
 */
function refuseUnsafeChange(state: RunState, saga: AnySaga): void {
  const problems = continuationProblems(state.shape, state.stages, saga, state.waits);
  if (problems.length === 0) return;
  throw new SagaShapeMismatchError(state.saga, state.runId, state.version, state.shapeHash, saga.version, saga.shapeHash, {
    changes: diffShapes(state.shape, saga.shape),
    uncompensatable: problems,
  });
}

/** Retries of a release that found the store unavailable: about 6 s in all, a database restart's worth. */
const RELEASE_RETRIES = 6;
/** The backoff of those retries: the keeper's. */
const RELEASE_BACKOFF: BackoffPolicy = { initialDelayMs: 100, maxDelayMs: 5_000 };

/**
 * Why a start option `signal` is not an AbortSignal (of this realm or another, or a polyfill's: an
 * object with a boolean `aborted` and the listener methods), read without letting a throwing getter
 * or Proxy trap escape; `undefined` when it is one.
 */
function abortSignalProblem(signal: unknown): string | undefined {
  if (typeof signal !== 'object' || signal === null) return `must be an AbortSignal (got ${describePrimitive(signal)})`;
  for (const [key, type] of [['aborted', 'boolean'], ['addEventListener', 'function'], ['removeEventListener', 'function']] as const) {
    const read = readProperty(signal, key);
    if (read.failed) return `must be an AbortSignal (got ${describePrimitive(signal)} whose ${key} could not be read: ${read.reason})`;
    if (typeof read.value !== type) return `must be an AbortSignal (got an object ${read.value === undefined ? 'without' : `whose ${key} is not a ${type}:`} ${read.value === undefined ? key : describePrimitive(read.value)})`;
  }
  return undefined;
}

/**
 * The cancel reason of an aborted start signal: its reason when a string, an error's message, or
 * a default. Read without running anything that may throw (a message getter, a revoked Proxy):
 * this runs in the signal's abort listener, where a throw is an uncaught exception.
 */
function abortReason(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  const text = typeof reason === 'string' ? reason : isErrorLike(reason) ? readString(reason, 'message') : undefined;
  // A cancel reason is journaled and stored as text, which keeps no NUL and no lone surrogate:
  // `cancel` refuses them, so the caller's abort reason is made storable rather than refused.
  return text === undefined || text === '' ? 'the start signal was aborted' : text.replaceAll('\u0000', '\ufffd').toWellFormed();
}

/**
 * The default `onError`: a subscriber's error with its stack on stderr, anything else as one line,
 * its message printable (see {@link printableText}: it may quote user code's or a remote API's
 * text, whose newline would forge a log line). Internal; the test kit's default uses it too.
 */
export function defaultOnError(error: Error, context: OrchestratorErrorContext): void {
  if (context.operation === 'subscriber') {
    reportSubscriberError(error, context.runId === undefined ? { operation: 'subscriber' } : { operation: 'subscriber', runId: context.runId });
    return;
  }
  const retry = context.retryCount === undefined ? '' : ` (retry ${context.retryCount} follows)`;
  console.warn(printableText(`sagaflow: ${context.operation}${context.runId === undefined ? '' : ` of run ${context.runId}`} failed${retry}: ${error.message}`));
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new TypeError(`createOrchestrator: ${name} must be a positive integer, got ${String(value)}.`);
  return value;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What is wrong with `recover()`'s options, if anything. */
function recoverOptionsProblem(options: unknown): string | undefined {
  if (typeof options !== 'object' || options === null) return `options must be an object (got ${options === null ? 'null' : typeof options})`;
  for (const key of Object.keys(options)) if (key !== 'waitForLeases') return `unknown option '${key}' (known: waitForLeases)`;
  const wait = (options as RecoverOptions).waitForLeases;
  if (wait !== undefined && typeof wait !== 'boolean') return `options.waitForLeases must be a boolean (got ${typeof wait})`;
  return undefined;
}

/** A field of the options of `start()`, `run()` or `submit()`, read once; a read that throws is a {@link SagaInputError} naming it. */
function startOption(saga: string, options: unknown, field: 'runId' | 'signal'): unknown {
  if (options === undefined || options === null) return undefined;
  try {
    return (options as Record<string, unknown>)[field];
  } catch (error) {
    throw new SagaInputError(saga, [{ path: `options.${field}`, message: `could not be read: ${describeThrown(error)}` }], { cause: error });
  }
}

/** The refusal of a run continued with the definition of another saga (`{ saga }` of another name). */
function otherSagaError(state: Pick<RunState, 'saga' | 'runId' | 'version' | 'shapeHash'>, explicit: AnySaga): SagaShapeMismatchError {
  return new SagaShapeMismatchError(state.saga, state.runId, state.version, state.shapeHash, explicit.version, explicit.shapeHash, { givenSaga: explicit.name });
}

/**
 * What to add to a problem of an input that passed its schema but is not JSON: the value is what
 * the schema returned (a `z.coerce.date()`, a transform to a class), so the fix is in the schema,
 * which the JSON copier's advice ("return plain objects", written for stage outputs) does not say.
 */
function inputSchemaAdvice(instance: string | undefined): string {
  const advice = "; the input is journaled as the saga's input schema returns it, so the schema must return plain JSON";
  return instance === 'Date'
    ? `${advice}: for a date, validate an ISO string (z.iso.datetime()) rather than z.date() or z.coerce.date(), and convert it in the stage`
    : advice;
}

/**
 * The `TypeError` for a run id argument that is not a string, naming the call; `undefined` for a
 * string (whose own problems, such as one no store can hold, are found where it is used). Checked
 * before anything prints the id: a revoked Proxy throws as it is turned into text.
 */
function runIdArgumentError(call: string, runId: unknown): TypeError | undefined {
  if (typeof runId === 'string') return undefined;
  return new TypeError(`${call}: the run id must be a string (a run's runId), got ${typeof runId === 'object' && runId !== null ? 'an object' : describePrimitive(runId)}.`);
}

/** Throws {@link runIdArgumentError}'s error, if any. */
function assertRunIdArgument(call: string, runId: unknown): asserts runId is string {
  const error = runIdArgumentError(call, runId);
  if (error !== undefined) throw error;
}
