import { z } from 'zod';
import { serializedErrorSchema, type SerializedError } from '../errors/serialize-error.js';

/**
 * How a rollback was caused: a stage's final failure, or a cancellation.
 *
 * @remarks
 * Passed to every `compensate` as `ctx.cause` and recorded on `run.compensating`.
 *
 * @example
 * ```ts
 * import type { RollbackCause } from 'sagaflow';
 * const describe = (cause: RollbackCause) =>
 *   cause.kind === 'failed' ? `stage ${cause.stage} failed` : `cancelled by ${cause.by}: ${cause.reason}`;
 * ```
 */
export type RollbackCause = FailedCause | CancelledCause;

/**
 * A stage's final failure, as recorded on the run.
 *
 * @remarks
 * Found as `SagaOutcome.failure`, `RunState.failure` and `RunPausedEvent.failure`. It is the
 * first final failure of the run's forward phase only: stages that rejected while the run was
 * already stopping are `cancelled`, with their own error on their stage record. `error` is the
 * serialised last error of the stage's last attempt.
 *
 * On the outcome of a typed saga's run, `stage` is typed with the saga's stage names
 * (`TStage`), so comparing it with a misspelt name does not compile.
 *
 * @typeParam TStage - the names `stage` can take: the saga's stage names, or any `string`.
 *
 * @example
 * ```ts
 * import type { StageFailure } from 'sagaflow';
 * const where = (failure: StageFailure) => `${failure.stage}: ${failure.error.message}`;
 * const refundable = (failure: StageFailure<'debit' | 'credit'>) => failure.stage === 'credit';
 * ```
 */
export interface StageFailure<TStage extends string = string> {
  /** The stage that failed. */
  readonly stage: TStage;
  /** Its final error. */
  readonly error: SerializedError;
}

/**
 * The rollback cause of a run whose stage failed.
 *
 * @remarks
 * The `{ kind: 'failed' }` branch of {@link RollbackCause}, seen by every `compensate` of a
 * failed run as `ctx.cause`. A paused run rolled back by `orchestrator.compensate` also gets this
 * cause, with the failure it paused on.
 *
 * @example
 * ```ts
 * import type { FailedCause } from 'sagaflow';
 * const cause: FailedCause = { kind: 'failed', stage: 'credit', error: { name: 'Error', message: 'bank down' } };
 * ```
 */
export interface FailedCause extends StageFailure {
  /** Discriminant. */
  readonly kind: 'failed';
}

/**
 * Why and by whom a run was cancelled.
 *
 * @remarks
 * `SagaOutcome.cancellation` of a cancelled run: the first accepted cancel (later ones are
 * ignored). `by` is a stage name when the stage called `ctx.cancel(reason)`; otherwise
 * `'external'`, and `reason` is the string given to `cancel` (default `'cancelled'`), or the start
 * signal's abort reason (its message when it is an `Error`). On the outcome of a typed saga's run,
 * `by` is `'external'` or one of the saga's stage names (`TStage`).
 *
 * @typeParam TStage - the stage names `by` can take: the saga's stage names, or any `string`.
 *
 * @example
 * ```ts
 * import type { Cancellation } from 'sagaflow';
 * const cancellation: Cancellation = { reason: 'customer request', by: 'external' };
 * ```
 */
export interface Cancellation<TStage extends string = string> {
  /** Why the run was cancelled. */
  readonly reason: string;
  /** `'external'` (run.cancel, the start signal, orchestrator.cancel), or the stage that called `ctx.cancel`. */
  readonly by: 'external' | (TStage & {});
}

/**
 * The rollback cause of a cancelled run.
 *
 * @remarks
 * The `{ kind: 'cancelled' }` branch of {@link RollbackCause}, seen by every `compensate` of a
 * cancelled run as `ctx.cause` (with `onCancel: 'keep'` nothing is compensated, so nobody sees
 * it). Its `reason` and `by` are the run's {@link Cancellation}.
 *
 * @example
 * ```ts
 * import type { CancelledCause } from 'sagaflow';
 * const cause: CancelledCause = { kind: 'cancelled', reason: 'customer request', by: 'external' };
 * ```
 */
export interface CancelledCause extends Cancellation {
  /** Discriminant. */
  readonly kind: 'cancelled';
}

/**
 * The fields every journal event has.
 *
 * @remarks
 * `seq` is the event's position in its run's journal: stores refuse an append whose `seq` does not
 * follow the last one, so a journal never has gaps or duplicates. `at` comes from the writing
 * process's scheduler clock (virtual in tests), and runs driven by several processes may see clocks
 * disagree: order events by `seq`, never by `at`.
 *
 * @example
 * ```ts
 * import type { SagaEventBase } from 'sagaflow';
 * const label = (event: SagaEventBase) => `${event.saga}/${event.runId}#${event.seq}`;
 * ```
 */
export interface SagaEventBase {
  /** The run this event belongs to. */
  readonly runId: string;
  /** The saga's name. */
  readonly saga: string;
  /** Position in the run's journal: 0, 1, 2… without gaps. */
  readonly seq: number;
  /** When the event was written, in epoch milliseconds (from the orchestrator's scheduler clock). */
  readonly at: number;
}

/**
 * The fields of every event about one attempt of a stage's `execute` or `compensate`.
 *
 * @remarks
 * Shared by the `stage.*` events (except `stage.cancelled`) and the `compensation.*` events.
 * Execute and compensate attempts are numbered separately, each from 1.
 *
 * @example
 * ```ts
 * import type { StageAttemptFields } from 'sagaflow';
 * const label = (event: StageAttemptFields) => `${event.stage}#${event.attempt}`;
 * ```
 */
export interface StageAttemptFields {
  /** The stage's name. */
  readonly stage: string;
  /** 1 for the first attempt; attempts keep counting across retries, resumes and redrives. */
  readonly attempt: number;
}

/**
 * The fields of an event that records an error.
 *
 * @remarks
 * The error is serialised with {@link serializeError} when it is journaled, so it is plain data:
 * match on `error.name` or `error.code`, never with `instanceof`.
 *
 * @example
 * ```ts
 * import type { ErrorFields } from 'sagaflow';
 * const message = (event: ErrorFields) => event.error.message;
 * ```
 */
export interface ErrorFields {
  /** The error, serialised (see {@link SerializedError}). */
  readonly error: SerializedError;
}

/**
 * The fields of an event that schedules a retry.
 *
 * @remarks
 * On `stage.retrying` and `compensation.retrying`: `error` is why the attempt failed and `delayMs`
 * the backoff drawn from the {@link RetryPolicy}, jitter included.
 *
 * @example
 * ```ts
 * import type { RetryFields } from 'sagaflow';
 * const wait = (event: RetryFields) => event.delayMs;
 * ```
 */
export interface RetryFields extends ErrorFields {
  /** How long the runtime waits before the next attempt, in ms. */
  readonly delayMs: number;
}

/**
 * The fields of an event that ends an attempt successfully.
 *
 * @remarks
 * On `stage.completed` and `compensation.completed`: the time of the successful attempt only
 * (failed attempts and retry waits are not included), measured on the orchestrator's scheduler.
 *
 * @example
 * ```ts
 * import type { DurationFields } from 'sagaflow';
 * const slow = (event: DurationFields) => event.durationMs > 1_000;
 * ```
 */
export interface DurationFields {
  /** How long the successful attempt took, in ms. */
  readonly durationMs: number;
}

/**
 * A run was created: the first event of every journal.
 *
 * @remarks
 * Written at `seq` 0 by `orchestrator.start` (and `run`), or by `orchestrator.submit` with
 * `submitted: true`, before any stage runs; nothing else is ever written at `seq` 0. `input` is
 * the input after the schema's validation and transforms, as a JSON copy: what every stage sees
 * as `ctx.input`. `version` and `shapeHash` identify the definition the run was started with; a
 * `run.resumed` with an explicit definition may change them later (the fold tracks the current
 * ones).
 *
 * @example
 * ```ts
 * import type { RunStartedEvent, SagaStore } from 'sagaflow';
 * declare const store: SagaStore;
 * const describe = (started: RunStartedEvent) =>
 *   `${started.saga} v${started.version}${started.submitted === true ? ' (for workers)' : ''}: ${JSON.stringify(started.input)}`;
 * const [first] = (await store.load('0190c6d2-7b1e-7000-8000-000000000001')) ?? [];
 * if (first?.type === 'run.started') console.log(describe(first));
 * ```
 */
export interface RunStartedEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.started';
  /** The saga version the run was started with. */
  readonly version: string;
  /** Hash of the saga's shape (stages, dependencies, which stages compensate); a run is resumed or redriven only with a definition of the same shape, unless another one is passed explicitly. */
  readonly shapeHash: string;
  /** The validated input. */
  readonly input: unknown;
  /** The saga's stage names, in declaration order. */
  readonly stages: readonly string[];
  /**
   * The definition's shape: each stage's dependencies and whether it compensates. Absent in
   * journals written before sagaflow recorded it. Lets a continuation on a changed definition
   * say exactly what changed, and refuse one that would leave a completed stage un-undone.
   */
  readonly shape?: readonly RecordedStageShape[];
  /** True when the run was submitted to a worker queue rather than started in-process. */
  readonly submitted?: boolean;
  /**
   * A propagation carrier: the trace context of the `start` or `submit` call, as text fields
   * (with the OpenTelemetry instrumentation of `sagaflow/otel`, W3C `traceparent` and
   * `tracestate`). Written by {@link Instrumentation.carrier} and read back by every process that
   * later drives the run, so that they all continue one trace. Absent when no instrumentation
   * gave one. sagaflow itself never reads it.
   */
  readonly context?: Readonly<Record<string, string>>;
}

/**
 * One stage of a definition's shape, as journaled on `run.started` and `run.resumed`.
 *
 * @remarks
 * The parts of a stage that its saga's shape hash covers. Recorded so that a run continued on
 * another definition (`resume`/`redrive` with `{ saga }`) can be compared with the one it ran on:
 * stages added, removed or rewired, and completed stages that the new definition could not undo.
 *
 * @example
 * ```ts
 * import type { RecordedStageShape } from 'sagaflow';
 * const debit: RecordedStageShape = { name: 'debit', after: [], compensates: true, compensateOnFailure: false };
 * ```
 */
export interface RecordedStageShape {
  /** The stage's name. */
  readonly name: string;
  /** The stages it depends on. */
  readonly after: readonly string[];
  /** Whether it has a `compensate`. */
  readonly compensates: boolean;
  /** Whether its `compensate` also runs after its own final failure. */
  readonly compensateOnFailure: boolean;
  /** For a wait stage: `'timer'`, or `'signal:'` and the signal's name. */
  readonly wait?: string;
}

/**
 * An attempt of a stage's `execute` is about to be invoked.
 *
 * @remarks
 * Durable before `execute` is called, so a journal that has a `stage.started` and nothing settling
 * that stage means the attempt may have run: a resume executes it again with the same idempotency
 * key (a stage that started is executed at least once). `attempt` keeps counting across retries, resumes and redrives. If the run
 * starts stopping between this write and the call, `execute` is not invoked and a
 * `stage.cancelled` follows.
 *
 * @example
 * ```ts
 * import { filter, scan } from 'rxjs';
 * import type { Orchestrator, SagaEvent, StageStartedEvent } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * const isStart = (event: SagaEvent): event is StageStartedEvent => event.type === 'stage.started';
 * orchestrator.events$
 *   .pipe(filter(isStart), scan((count, event) => (event.attempt > 1 ? count + 1 : count), 0))
 *   .subscribe((reattempts) => console.log(`re-attempts so far: ${reattempts}`));
 * ```
 */
export interface StageStartedEvent extends SagaEventBase, StageAttemptFields {
  /** Discriminant. */
  readonly type: 'stage.started';
}

/**
 * An attempt failed with a retryable error; the next attempt starts after `delayMs`.
 *
 * @remarks
 * Written after the failed attempt and before the wait: `attempt` is the attempt that failed,
 * `error` its error, and `delayMs` the backoff (jitter applied) before attempt `attempt + 1`. It
 * is not written for the last allowed attempt, nor for a `NonRetryableError` (a `stage.failed`
 * follows instead). If the run starts stopping during the wait, no further attempt is made and a
 * `stage.cancelled` follows.
 *
 * @example
 * ```ts
 * import { filter } from 'rxjs';
 * import type { Orchestrator, SagaEvent, StageRetryingEvent } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * const isRetry = (event: SagaEvent): event is StageRetryingEvent => event.type === 'stage.retrying';
 * orchestrator.events$.pipe(filter(isRetry)).subscribe((event) => {
 *   console.warn(`${event.saga}/${event.stage} attempt ${event.attempt} failed (${event.error.message}); retrying in ${event.delayMs} ms`);
 * });
 * ```
 */
export interface StageRetryingEvent extends SagaEventBase, StageAttemptFields, RetryFields {
  /** Discriminant. */
  readonly type: 'stage.retrying';
}

/**
 * A stage's `execute` returned; `output` is absent when it returned `undefined`.
 *
 * @remarks
 * Written once the result passed the stage's `output` schema (if any) and the JSON check, so
 * `output` is exactly what dependents read from `ctx.results` and what `SagaOutcome.outputs`
 * holds; a redrive or resume never executes the stage again. `durationMs` is the successful
 * attempt's time on the orchestrator's scheduler clock. A stage that completes after the run
 * started stopping is still recorded here, counts as completed and is compensated like any
 * other.
 *
 * @example
 * ```ts
 * import { filter } from 'rxjs';
 * import type { SagaEvent, SagaRun, StageCompletedEvent } from 'sagaflow';
 * declare const run: SagaRun;
 * const isCompleted = (event: SagaEvent): event is StageCompletedEvent => event.type === 'stage.completed';
 * run.events$.pipe(filter(isCompleted)).subscribe((event) => console.log(`${event.stage} took ${event.durationMs} ms`, event.output));
 * ```
 */
export interface StageCompletedEvent extends SagaEventBase, StageAttemptFields, DurationFields {
  /** Discriminant. */
  readonly type: 'stage.completed';
  /** What `execute` returned, as plain JSON. */
  readonly output?: unknown;
}

/**
 * A stage failed finally (retries exhausted or a non-retryable error).
 *
 * @remarks
 * Written only while the run is going forward; the first one becomes the run's `failure` and
 * starts the stop: no stage is scheduled any more and in-flight stages are aborted and awaited.
 * A stage that rejects once the run is stopping is recorded `stage.cancelled` instead, so each
 * forward phase has at most one `stage.failed` (a redrive starts a new phase). `error` is the
 * last attempt's error; a `compensateOnFailure` stage is then compensated with `outcome:
 * 'unknown'` and `output: undefined`.
 *
 * @example
 * ```ts
 * import { filter } from 'rxjs';
 * import type { Orchestrator, SagaEvent, StageFailedEvent } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * const isFailure = (event: SagaEvent): event is StageFailedEvent => event.type === 'stage.failed';
 * orchestrator.events$.pipe(filter(isFailure)).subscribe((event) => {
 *   console.error(`run ${event.runId}: ${event.stage} failed after ${event.attempt} attempt(s): ${event.error.name}: ${event.error.message}`);
 * });
 * ```
 */
export interface StageFailedEvent extends SagaEventBase, StageAttemptFields, ErrorFields {
  /** Discriminant. */
  readonly type: 'stage.failed';
}

/**
 * A started stage ended without completing because the run was stopping, or the stage
 * cancelled the run itself with `ctx.cancel`.
 *
 * @remarks
 * Written only for a stage that had a `stage.started`: when it rejected, or was not invoked, or
 * gave up a retry, because the run was stopping (`error` holds what it rejected with, if it
 * did); when it called `ctx.cancel` (after the `run.cancelling` it caused); and, on a resume of a
 * run that was already stopping, for each stage that was in flight (`outcomeUnknown: true`). A
 * cancelled stage is not compensated, except when its outcome is unknown, or when it sets
 * `compensateOnFailure` and rejected. Its status in the outcome is `cancelled`.
 *
 * @example
 * ```ts
 * import type { SagaEvent, StageCancelledEvent } from 'sagaflow';
 * declare const journal: readonly SagaEvent[];
 * const unknown = journal
 *   .filter((event): event is StageCancelledEvent => event.type === 'stage.cancelled')
 *   .filter((event) => event.outcomeUnknown === true)
 *   .map((event) => event.stage); // check these with the outside system: they may have taken effect
 * ```
 */
export interface StageCancelledEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'stage.cancelled';
  /** The stage's name. */
  readonly stage: string;
  /** Why it was cancelled. */
  readonly reason: string;
  /** The error the stage rejected with while the run was stopping, if it rejected. */
  readonly error?: SerializedError;
  /**
   * True when the process stopped while this stage was in flight and the run was already
   * stopping: nobody knows whether it took effect, so it is compensated with `outcome: 'unknown'`
   * and `output: undefined`.
   */
  readonly outcomeUnknown?: boolean;
}

/**
 * A wait stage started waiting: for a signal, for a time, or for a signal until a time.
 *
 * @remarks
 * Written once a wait stage's `stage.started` is durable and its wake-up time is computed. The
 * run then holds no attempt: it is woken by a `signal.received` naming `signal`, or when
 * `dueAt` (epoch ms, journaled so that a recovered run waits only for what is left) has passed.
 * A signal wait with a `signalId` here was satisfied at once by a signal buffered before the
 * wait was reached; a `stage.completed` follows in the same decision. See `docs/waits.md`.
 *
 * @example
 * ```ts
 * import type { SagaEvent, WaitStartedEvent } from 'sagaflow';
 * declare const journal: readonly SagaEvent[];
 * const waits = journal.filter((event): event is WaitStartedEvent => event.type === 'wait.started');
 * for (const wait of waits) console.log(`${wait.stage} waits for ${wait.signal ?? 'time'} until ${wait.dueAt ?? 'forever'}`);
 * ```
 */
export interface WaitStartedEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'wait.started';
  /** The wait stage. */
  readonly stage: string;
  /** `'signal'`: waits for a named signal (until `dueAt`, when it has a timeout). `'timer'`: waits until `dueAt`. */
  readonly kind: 'signal' | 'timer';
  /** The signal's name, for a signal wait. */
  readonly signal?: string;
  /** When the wait ends (a timer) or times out (a signal wait with `timeoutMs`), epoch ms. */
  readonly dueAt?: number;
  /** The buffered signal that satisfied the wait at once, if one had arrived before it. */
  readonly signalId?: string;
}

/**
 * A signal was accepted for the run: journaled before anything acts on it.
 *
 * @remarks
 * `orchestrator.signal(runId, name, payload)` validates the payload against the schema of the
 * wait stage that waits for `signal` and appends this event; `signalId` makes it idempotent
 * (a second signal with the same id is a no-op). When a stage is waiting for it, `stage` names
 * it and a `stage.completed` with the payload as output follows; otherwise the signal is
 * buffered until a stage waiting for that name is reached (see `wait.started`'s `signalId`).
 *
 * @example
 * ```ts
 * import type { SagaEvent, SignalReceivedEvent } from 'sagaflow';
 * declare const journal: readonly SagaEvent[];
 * const signals = journal.filter((event): event is SignalReceivedEvent => event.type === 'signal.received');
 * const buffered = signals.filter((event) => event.stage === undefined).map((event) => event.signal);
 * ```
 */
export interface SignalReceivedEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'signal.received';
  /** The signal's name. */
  readonly signal: string;
  /** The signal's id: a second signal with the same id is ignored. */
  readonly signalId: string;
  /** The validated payload (what the schema returned), plain JSON. */
  readonly payload?: unknown;
  /** The wait stage it was delivered to; absent while it is buffered. */
  readonly stage?: string;
}

/**
 * A cancellation was accepted; in-flight stages are being aborted and settled.
 *
 * @remarks
 * Written at most once per run, when a cancel arrives while the run is going forward (`queued` or
 * `running`, no failure yet): from `run.cancel`, the start `signal`, `orchestrator.cancel`, or a
 * stage's `ctx.cancel` (then `by` is that stage). Cancels that arrive later, or once a stage has
 * failed, are ignored. Its `reason` and `by` become the outcome's `cancellation`; what follows
 * depends on `onCancel` (`run.compensating`, or straight to `run.cancelled` with `'keep'`).
 *
 * @example
 * ```ts
 * import { filter } from 'rxjs';
 * import type { RunCancellingEvent, SagaEvent, SagaRun } from 'sagaflow';
 * declare const run: SagaRun;
 * const isCancelling = (event: SagaEvent): event is RunCancellingEvent => event.type === 'run.cancelling';
 * run.events$.pipe(filter(isCancelling)).subscribe((event) => console.log(`stopping: ${event.reason} (by ${event.by})`));
 * run.cancel('customer changed their mind');
 * ```
 */
export interface RunCancellingEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.cancelling';
  /** Why the run is cancelled. */
  readonly reason: string;
  /** `'external'`, or the name of the stage that called `ctx.cancel`. */
  readonly by: string;
}

/**
 * The run started rolling back.
 *
 * @remarks
 * Written once the forward phase has settled (no stage in flight) and a rollback begins: after a
 * failure with `onFailure: 'compensate'`, after a cancellation with `onCancel: 'compensate'`, or by
 * an operator's `orchestrator.compensate` of a paused run. It is written even when no stage needs
 * compensating. `cause` is what every `compensate` receives as `ctx.cause`. A redrive of a
 * `compensation_failed` run does not write it again: its `run.resumed` puts the run back to
 * `compensating`.
 *
 * @example
 * ```ts
 * import { filter } from 'rxjs';
 * import type { Orchestrator, RunCompensatingEvent, SagaEvent } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * const isRollback = (event: SagaEvent): event is RunCompensatingEvent => event.type === 'run.compensating';
 * orchestrator.events$.pipe(filter(isRollback)).subscribe(({ runId, cause }) => {
 *   console.warn(`rolling back ${runId}:`, cause.kind === 'failed' ? `stage ${cause.stage} failed` : `cancelled (${cause.reason})`);
 * });
 * ```
 */
export interface RunCompensatingEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.compensating';
  /** Why the run rolls back. */
  readonly cause: RollbackCause;
}

/**
 * An attempt of a stage's `compensate` is about to be invoked.
 *
 * @remarks
 * Durable before `compensate` is called, so a `compensation.started` without a settling
 * `compensation.completed` or `compensation.failed` means the attempt may have run: a resume runs
 * the compensation again (with the same idempotency key). `attempt` keeps counting across
 * retries, resumes and redrives.
 *
 * @example
 * ```ts
 * import type { CompensationStartedEvent, SagaEvent } from 'sagaflow';
 * declare const journal: readonly SagaEvent[];
 * const starts = journal.filter((event): event is CompensationStartedEvent => event.type === 'compensation.started');
 * const interrupted = starts.filter(
 *   (start) => !journal.some((event) => event.seq > start.seq && (event.type === 'compensation.completed' || event.type === 'compensation.failed') && event.stage === start.stage),
 * );
 * console.log('may have run, will run again:', interrupted.map((start) => start.stage));
 * ```
 */
export interface CompensationStartedEvent extends SagaEventBase, StageAttemptFields {
  /** Discriminant. */
  readonly type: 'compensation.started';
}

/**
 * A compensation attempt failed with a retryable error; it is retried after `delayMs`.
 *
 * @remarks
 * Like `stage.retrying`, for `compensate`: `attempt` is the attempt that failed and `delayMs` the
 * backoff before the next. A cancellation never cuts the wait short; only this process stopping
 * driving the run does (the compensation then resumes where the run is resumed).
 *
 * @example
 * ```ts
 * import { filter } from 'rxjs';
 * import type { CompensationRetryingEvent, Orchestrator, SagaEvent } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * const isRetry = (event: SagaEvent): event is CompensationRetryingEvent => event.type === 'compensation.retrying';
 * orchestrator.events$.pipe(filter(isRetry)).subscribe((event) => {
 *   console.warn(`undoing ${event.stage} of ${event.runId} failed (${event.error.message}); retry in ${event.delayMs} ms`);
 * });
 * ```
 */
export interface CompensationRetryingEvent extends SagaEventBase, StageAttemptFields, RetryFields {
  /** Discriminant. */
  readonly type: 'compensation.retrying';
}

/**
 * A stage's `compensate` returned.
 *
 * @remarks
 * The stage joins `compensationOrder` and its status becomes `compensated`; its output stays on
 * the outcome. A compensation that completed is never run again, by a resume or a redrive (each
 * compensation runs at most once to success). `durationMs` is the successful attempt's time.
 *
 * @example
 * ```ts
 * import type { CompensationCompletedEvent, SagaEvent } from 'sagaflow';
 * declare const journal: readonly SagaEvent[];
 * const undone = journal
 *   .filter((event): event is CompensationCompletedEvent => event.type === 'compensation.completed')
 *   .map((event) => `${event.stage} (${event.durationMs} ms, attempt ${event.attempt})`);
 * ```
 */
export interface CompensationCompletedEvent extends SagaEventBase, StageAttemptFields, DurationFields {
  /** Discriminant. */
  readonly type: 'compensation.completed';
}

/**
 * A compensation failed finally; the other compensations still run.
 *
 * @remarks
 * Written when the compensation's retries are exhausted or it threw a `NonRetryableError`. The
 * stage's status becomes `compensation_failed`; in `parallel` mode the stages it depends on are
 * still compensated once it has settled, whether it succeeded or failed. The run ends `compensation_failed`,
 * and `orchestrator.redrive(runId)` retries exactly the compensations that failed.
 *
 * @example
 * ```ts
 * import { filter } from 'rxjs';
 * import type { CompensationFailedEvent, Orchestrator, SagaEvent } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * const isStuck = (event: SagaEvent): event is CompensationFailedEvent => event.type === 'compensation.failed';
 * orchestrator.events$.pipe(filter(isStuck)).subscribe((event) => {
 *   console.error(`page on-call: could not undo ${event.stage} of run ${event.runId}: ${event.error.message}`);
 * });
 * ```
 */
export interface CompensationFailedEvent extends SagaEventBase, StageAttemptFields, ErrorFields {
  /** Discriminant. */
  readonly type: 'compensation.failed';
}

/**
 * How a stopped run was picked up again.
 *
 * @remarks
 * The `mode` of `run.resumed`: `'resume'` continues an unfinished run after its process stopped
 * (or on a worker's takeover); `'redrive'` goes on with a `paused` or `compensation_failed` run;
 * `'compensate'` rolls a `paused` run back. `RunState.lastResumeMode` keeps the last one.
 *
 * @example
 * ```ts
 * import type { ResumeMode } from 'sagaflow';
 * const mode: ResumeMode = 'redrive';
 * ```
 */
export type ResumeMode = 'resume' | 'redrive' | 'compensate';

/**
 * The run was picked up again: after a crash (`resume`), or by an operator (`redrive`, `compensate`).
 *
 * @remarks
 * The first event written when a stored run is picked up: by `orchestrator.resume` or `recover`
 * (`'resume'`), `redrive`, `compensate`, and by a worker taking over a run (`'resume'`). A
 * worker's first claim of a submitted run writes none, nor does `orchestrator.resume` of a
 * submitted run (the workers own it). After a `'resume'` of a run that was
 * already stopping, stages that were in flight are settled with `stage.cancelled` and
 * `outcomeUnknown: true`; a `'redrive'` of a `paused` run clears its failure and goes forward
 * again, one of a `compensation_failed` run retries the failed compensations; `'compensate'` is
 * followed by `run.compensating`. `version` and `shapeHash` are set only when the caller passed
 * a definition of another version or shape.
 *
 * @example
 * ```ts
 * import type { RunResumedEvent, SagaEvent } from 'sagaflow';
 * declare const journal: readonly SagaEvent[];
 * const pickups = journal.filter((event): event is RunResumedEvent => event.type === 'run.resumed');
 * const crashes = pickups.filter((event) => event.mode === 'resume').length;
 * const upgraded = pickups.find((event) => event.version !== undefined)?.version;
 * ```
 */
export interface RunResumedEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.resumed';
  /** How the run was picked up. */
  readonly mode: ResumeMode;
  /** Set when the run continues with another saga definition, passed explicitly as `{ saga }` (its shape may differ from the run's). */
  readonly version?: string;
  /** Set together with `version`. */
  readonly shapeHash?: string;
  /** Set together with `version`: the new definition's shape (see {@link RunStartedEvent.shape}). */
  readonly shape?: readonly RecordedStageShape[];
}

/**
 * The run stopped after a failure with `onFailure: 'pause'`; it waits for `redrive` or `compensate`.
 *
 * @remarks
 * Written once the stages in flight at the failure have settled; nothing is compensated. It
 * settles the run for now: `outcome` resolves with status `paused` and `orchestrator.run()`
 * rejects with `SagaFailedError`. `failure` repeats the run's failure. `recover()` leaves paused
 * runs alone; an operator decides.
 *
 * @example
 * ```ts
 * import type { Orchestrator, RunPausedEvent, SagaEvent } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * const isPaused = (event: SagaEvent): event is RunPausedEvent => event.type === 'run.paused';
 * orchestrator.events$.subscribe((event) => {
 *   if (isPaused(event)) console.warn(`run ${event.runId} paused at ${event.failure.stage}: redrive or compensate it`);
 * });
 * ```
 */
export interface RunPausedEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.paused';
  /** The failure the run paused on. */
  readonly failure: StageFailure;
}

/**
 * Every stage completed.
 *
 * @remarks
 * The last event of a successful run: nothing is written after it, and no operation applies to
 * the run any more. The outcome's `outputs` holds every stage's output; `events$` completes right
 * after it.
 *
 * @example
 * ```ts
 * import { filter, map } from 'rxjs';
 * import type { Orchestrator, RunCompletedEvent, SagaEvent } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * const isDone = (event: SagaEvent): event is RunCompletedEvent => event.type === 'run.completed';
 * orchestrator.events$.pipe(filter(isDone), map((event) => event.runId)).subscribe((runId) => console.log(`${runId} completed`));
 * ```
 */
export interface RunCompletedEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.completed';
}

/**
 * The rollback after a failure finished; every compensation succeeded.
 *
 * @remarks
 * The last event of a failed run that was rolled back, including one with nothing to
 * compensate, and of a paused run rolled back by `orchestrator.compensate`. The outcome has
 * status `compensated`, its `failure`, and every completed output, compensated or not.
 *
 * @example
 * ```ts
 * import type { RunCompensatedEvent, SagaEvent } from 'sagaflow';
 * declare const journal: readonly SagaEvent[];
 * const last = journal.at(-1);
 * const rolledBack = (event: SagaEvent | undefined): event is RunCompensatedEvent => event?.type === 'run.compensated';
 * if (rolledBack(last)) console.log(`run ${last.runId} failed and was rolled back`);
 * ```
 */
export interface RunCompensatedEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.compensated';
}

/**
 * The cancelled run finished stopping (and rolling back, unless `onCancel: 'keep'`).
 *
 * @remarks
 * The last event of a cancelled run: after its rollback succeeded, at once with
 * `onCancel: 'keep'`, or after a successful redrive of a cancelled run whose compensation had
 * failed. The outcome has status `cancelled` and its `cancellation`; `compensationOrder` shows
 * what was undone.
 *
 * @example
 * ```ts
 * import type { RunCancelledEvent, SagaEvent, SagaRun } from 'sagaflow';
 * declare const run: SagaRun;
 * const isCancelled = (event: SagaEvent): event is RunCancelledEvent => event.type === 'run.cancelled';
 * run.events$.subscribe((event) => {
 *   if (isCancelled(event)) console.log(`run ${event.runId} is cancelled (seq ${event.seq})`);
 * });
 * ```
 */
export interface RunCancelledEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.cancelled';
}

/**
 * The rollback finished with at least one failed compensation.
 *
 * @remarks
 * Written after every other compensation has run: a failed compensation does not stop the others. The run waits for an
 * operator: `recover()` leaves it alone, and `orchestrator.redrive(runId)` retries the failed
 * compensations, appending after this event. The outcome has status `compensation_failed` and
 * `orchestrator.run()` rejects with `SagaCompensationError`.
 *
 * @example
 * ```ts
 * import { filter } from 'rxjs';
 * import type { Orchestrator, RunCompensationFailedEvent, SagaEvent } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * const needsOperator = (event: SagaEvent): event is RunCompensationFailedEvent => event.type === 'run.compensation_failed';
 * orchestrator.events$.pipe(filter(needsOperator)).subscribe((event) => {
 *   console.error(`rollback of ${event.saga} run ${event.runId} failed: fix it, then redrive`);
 * });
 * ```
 */
export interface RunCompensationFailedEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.compensation_failed';
}

/**
 * One entry of a run's journal: a discriminated union tagged by `type`.
 *
 * @remarks
 * Events are plain JSON and are persisted before they are emitted (write-ahead). Every state
 * of a run is a fold over them (see {@link foldJournal}).
 *
 * @example
 * ```ts
 * import type { SagaEvent } from 'sagaflow';
 * function line(event: SagaEvent): string {
 *   switch (event.type) {
 *     case 'stage.completed': return `${event.stage} done in ${event.durationMs} ms`;
 *     case 'stage.failed': return `${event.stage} failed: ${event.error.message}`;
 *     default: return event.type;
 *   }
 * }
 * ```
 */
export type SagaEvent =
  | RunStartedEvent
  | StageStartedEvent
  | StageRetryingEvent
  | StageCompletedEvent
  | StageFailedEvent
  | StageCancelledEvent
  | WaitStartedEvent
  | SignalReceivedEvent
  | RunCancellingEvent
  | RunCompensatingEvent
  | CompensationStartedEvent
  | CompensationRetryingEvent
  | CompensationCompletedEvent
  | CompensationFailedEvent
  | RunResumedEvent
  | RunPausedEvent
  | RunCompletedEvent
  | RunCompensatedEvent
  | RunCancelledEvent
  | RunCompensationFailedEvent;

/**
 * The `type` of every {@link SagaEvent}.
 *
 * @remarks
 * Events are namespaced: `run.*` for the run, `stage.*` for `execute`, `compensation.*` for
 * `compensate`. A run settles with one of `run.completed`, `run.compensated`, `run.cancelled`,
 * `run.compensation_failed` or `run.paused`; only the last two can be followed by more events (a
 * `run.resumed` from a redrive or compensate).
 *
 * @example
 * ```ts
 * import type { SagaEventType } from 'sagaflow';
 * const terminal: SagaEventType[] = ['run.completed', 'run.compensated', 'run.cancelled', 'run.compensation_failed'];
 * ```
 */
export type SagaEventType = SagaEvent['type'];

/**
 * An event before the journal gives it a place: what the runtime asks to append.
 *
 * @remarks
 * A {@link SagaEvent} without `runId`, `saga`, `seq` and `at`, which the writer fills in when it
 * appends. Exported so that tooling can name what a writer decides; applications never append
 * events themselves (the orchestrator and workers do), and a store only ever sees complete
 * events.
 *
 * @example
 * ```ts
 * import type { SagaEventDraft } from 'sagaflow';
 * const draft: SagaEventDraft = { type: 'run.completed' };
 * ```
 */
export type SagaEventDraft = SagaEvent extends infer E ? (E extends SagaEvent ? Omit<E, keyof SagaEventBase> : never) : never;

const base = {
  runId: z.string().min(1),
  saga: z.string().min(1),
  seq: z.number().int().nonnegative(),
  at: z.number().finite(),
};
const stage = z.string().min(1);
const attempt = z.number().int().positive();
/**
 * A duration is never journaled negative (it is clamped where it is measured), but an earlier
 * sagaflow wrote one when a process's clock was behind the one that started the wait, or was
 * stepped back (NTP) during a call: such an event reads as 0 ms, so that its journal stays readable.
 */
const durationMs = z.number().transform((ms) => (ms < 0 ? 0 : ms));
const delayMs = z.number().nonnegative();

const stageShapeSchema = z.object({
  name: stage,
  after: z.array(stage),
  compensates: z.boolean(),
  compensateOnFailure: z.boolean(),
  wait: z.string().min(1).optional(),
});

const rollbackCauseSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('failed'), stage, error: serializedErrorSchema }),
  z.object({ kind: z.literal('cancelled'), reason: z.string(), by: z.string().min(1) }),
]);

/** The event schemas, with their inferred types (checked against the hand-written ones below). */
const schemas = {
  'run.started': z.object({
    ...base,
    type: z.literal('run.started'),
    version: z.string().min(1),
    shapeHash: z.string().min(1),
    input: z.unknown(),
    stages: z.array(stage),
    shape: z.array(stageShapeSchema).optional(),
    submitted: z.boolean().optional(),
    context: z.record(z.string(), z.string()).optional(),
  }),
  'stage.started': z.object({ ...base, type: z.literal('stage.started'), stage, attempt }),
  'stage.retrying': z.object({
    ...base,
    type: z.literal('stage.retrying'),
    stage,
    attempt,
    error: serializedErrorSchema,
    delayMs,
  }),
  'stage.completed': z.object({
    ...base,
    type: z.literal('stage.completed'),
    stage,
    attempt,
    output: z.unknown().optional(),
    durationMs,
  }),
  'stage.failed': z.object({ ...base, type: z.literal('stage.failed'), stage, attempt, error: serializedErrorSchema }),
  'stage.cancelled': z.object({
    ...base,
    type: z.literal('stage.cancelled'),
    stage,
    reason: z.string(),
    error: serializedErrorSchema.optional(),
    outcomeUnknown: z.boolean().optional(),
  }),
  'wait.started': z.object({
    ...base,
    type: z.literal('wait.started'),
    stage,
    kind: z.enum(['signal', 'timer']),
    signal: z.string().min(1).optional(),
    dueAt: z.number().finite().optional(),
    signalId: z.string().min(1).optional(),
  }),
  'signal.received': z.object({
    ...base,
    type: z.literal('signal.received'),
    signal: z.string().min(1),
    signalId: z.string().min(1),
    payload: z.unknown().optional(),
    stage: stage.optional(),
  }),
  'run.cancelling': z.object({ ...base, type: z.literal('run.cancelling'), reason: z.string(), by: z.string().min(1) }),
  'run.compensating': z.object({ ...base, type: z.literal('run.compensating'), cause: rollbackCauseSchema }),
  'compensation.started': z.object({ ...base, type: z.literal('compensation.started'), stage, attempt }),
  'compensation.retrying': z.object({
    ...base,
    type: z.literal('compensation.retrying'),
    stage,
    attempt,
    error: serializedErrorSchema,
    delayMs,
  }),
  'compensation.completed': z.object({
    ...base,
    type: z.literal('compensation.completed'),
    stage,
    attempt,
    durationMs,
  }),
  'compensation.failed': z.object({
    ...base,
    type: z.literal('compensation.failed'),
    stage,
    attempt,
    error: serializedErrorSchema,
  }),
  'run.resumed': z.object({
    ...base,
    type: z.literal('run.resumed'),
    mode: z.enum(['resume', 'redrive', 'compensate']),
    version: z.string().min(1).optional(),
    shapeHash: z.string().min(1).optional(),
    shape: z.array(stageShapeSchema).optional(),
  }),
  'run.paused': z.object({
    ...base,
    type: z.literal('run.paused'),
    failure: z.object({ stage, error: serializedErrorSchema }),
  }),
  'run.completed': z.object({ ...base, type: z.literal('run.completed') }),
  'run.compensated': z.object({ ...base, type: z.literal('run.compensated') }),
  'run.cancelled': z.object({ ...base, type: z.literal('run.cancelled') }),
  'run.compensation_failed': z.object({ ...base, type: z.literal('run.compensation_failed') }),
} as const;

/**
 * zod schemas of every {@link SagaEvent}, keyed by `type`.
 *
 * @remarks
 * `SqliteStore` and `PostgresStore` validate every row they read back with
 * {@link sagaEventSchema}; a row that does not match is reported as a `StoreCorruptionError`
 * naming the run and sequence number. Pick one schema by `type` to validate an event whose type
 * you already know.
 *
 * @example
 * ```ts
 * import { sagaEventSchemas } from 'sagaflow';
 * sagaEventSchemas['run.completed'].parse({ type: 'run.completed', runId: 'r', saga: 's', seq: 3, at: 0 });
 * ```
 */
export const sagaEventSchemas: Readonly<Record<SagaEventType, z.ZodType<SagaEvent>>> = schemas as unknown as Readonly<
  Record<SagaEventType, z.ZodType<SagaEvent>>
>;

const eventSchema = z.discriminatedUnion('type', [
  schemas['run.started'],
  schemas['stage.started'],
  schemas['stage.retrying'],
  schemas['stage.completed'],
  schemas['stage.failed'],
  schemas['stage.cancelled'],
  schemas['wait.started'],
  schemas['signal.received'],
  schemas['run.cancelling'],
  schemas['run.compensating'],
  schemas['compensation.started'],
  schemas['compensation.retrying'],
  schemas['compensation.completed'],
  schemas['compensation.failed'],
  schemas['run.resumed'],
  schemas['run.paused'],
  schemas['run.completed'],
  schemas['run.compensated'],
  schemas['run.cancelled'],
  schemas['run.compensation_failed'],
]);

/**
 * zod schema of any {@link SagaEvent} (a discriminated union on `type`).
 *
 * @remarks
 * Use it to validate events that crossed a boundary: a journal exported as JSON, events read from
 * your own store implementation (`SqliteStore` and `PostgresStore` already validate every row they
 * load), or NDJSON printed by the CLI's `--json` option. It checks shapes, not history: a valid event can
 * still be out of place in a journal.
 *
 * @example
 * ```ts
 * import { sagaEventSchema } from 'sagaflow';
 * const result = sagaEventSchema.safeParse(JSON.parse('{"type":"run.completed","runId":"r","saga":"s","seq":1,"at":0}'));
 * ```
 */
export const sagaEventSchema: z.ZodType<SagaEvent> = eventSchema as unknown as z.ZodType<SagaEvent>;

// Compile-time proof, field by field, that the schemas and the documented types describe the same
// events: the same event types, and for each, the same required and optional fields with the same
// value types (nested objects included). A field added to one and not the other fails the build.
type SchemaEvent = z.infer<typeof eventSchema>;
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
type OptionalKeys<T> = Exclude<keyof T, RequiredKeys<T>>;
/** Without `readonly`, and optional fields without `| undefined`, recursively: what both sides must agree on. */
type Normalized<T> = unknown extends T
  ? T
  : T extends string | number | boolean | null | undefined
    ? T
  : T extends readonly (infer E)[]
    ? Normalized<E>[]
    : T extends object
      ? { -readonly [K in RequiredKeys<T>]: Normalized<T[K]> } & { -readonly [K in OptionalKeys<T>]?: Normalized<Exclude<T[K], undefined>> }
      : T;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type SameFields<A, B> = Same<RequiredKeys<A>, RequiredKeys<B>> extends true
  ? Same<OptionalKeys<A>, OptionalKeys<B>> extends true
    ? Same<Normalized<A>, Normalized<B>>
    : false
  : false;
type Assert<T extends true> = T;
// eslint-disable-next-line @typescript-eslint/no-unused-vars
type SchemasMatchTypes = Assert<Same<SchemaEvent['type'], SagaEventType>>;
// eslint-disable-next-line @typescript-eslint/no-unused-vars
type FieldsMatch = Assert<
  { [T in SagaEventType]: SameFields<Extract<SchemaEvent, { type: T }>, Extract<SagaEvent, { type: T }>> }[SagaEventType]
>;

/** The events that settle a run (it is then driven by nobody until an operator continues it). */
const SETTLING_EVENT_TYPES: ReadonlySet<SagaEventType> = new Set<SagaEventType>([
  'run.completed',
  'run.compensated',
  'run.cancelled',
  'run.compensation_failed',
  'run.paused',
]);

/**
 * Whether an event settles its run: `run.completed`, `run.compensated`, `run.cancelled`,
 * `run.compensation_failed` or `run.paused`. Internal.
 *
 * @internal
 */
export function isSettlingEvent(event: SagaEvent): boolean {
  return SETTLING_EVENT_TYPES.has(event.type);
}
