import { Observable, Subject, Subscription, mergeMap, race, retry, take, throwError, timer, type SchedulerLike } from 'rxjs';
import type { ResolvedRetryPolicy } from '../definition/retry-policy.js';
import { retryDelayMs } from '../definition/retry-policy.js';
import type { Saga, SagaStage } from '../definition/saga.js';
import { serializeError } from '../errors/serialize-error.js';
import { NonRetryableError, StageOutputError, StageTimeoutError } from '../errors/stage-errors.js';
import { SagaErrorCode } from '../errors/saga-error.js';
import { applyEvent, assertNever, initialRunState, type MutableRunState, type RunState } from '../journal/fold.js';
import type { RollbackCause, SagaEvent, SagaEventDraft } from '../journal/saga-event.js';
import type { AppendRequest, LeaseToken, SagaStore } from '../stores/saga-store.js';
import { createCompensationPlan, type CompensationPlan } from './compensation-plan.js';
import { copyJson } from './json-value.js';
import { LazyAbort } from './lazy-abort.js';
import { CompensateContextImpl, ExecuteContextImpl, StageCancelSignal } from './stage-context.js';

/** What a driver needs from its orchestrator or worker. */
export interface RunDriverOptions {
  readonly saga: Saga;
  readonly store: SagaStore;
  readonly scheduler: SchedulerLike;
  readonly random: () => number;
  /** Carried by every append when a worker owns the run. */
  readonly lease?: LeaseToken;
  /** Called with each event once it is durable, in journal order. */
  readonly onEvent: (event: SagaEvent) => void;
  /** Called once, after the run's settling event is durable. */
  readonly onSettled: (state: MutableRunState) => void;
  /** Called once if the driver stops for good without settling the run (store failure, lost lease, detach). */
  readonly onHalted: (error: Error) => void;
}

/** A control-flow signal of the driver, never shown to users. Made once: no stack per use. */
class DriverSignal extends Error {
  override readonly name = 'DriverSignal';
}
/** Thrown inside an attempt to unwind quietly once the driver has halted. */
const HALTED = new DriverSignal('the run driver halted');
/** Thrown by an attempt that must not invoke user code because the run is stopping. */
const STOPPED = new DriverSignal('the run is stopping');

/** What runs once the events queued with it are durable. */
type Durable = () => void;

/** The outcome of one call of user code, or of one attempt. */
type Result = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };
type Settle = (result: Result) => void;
const success = (value: unknown): Result => ({ ok: true, value });
const failure = (error: unknown): Result => ({ ok: false, error });
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * One call of `execute` or `compensate`: its signal (it is the attempt's {@link LazyAbort}, one
 * object instead of two), listed among the in-flight calls until it settles, once, whatever
 * comes first.
 */
class UserCall extends LazyAbort {
  settled = false;
  timer$: Subscription | undefined;

  constructor(
    private readonly inFlight: Set<LazyAbort>,
    private readonly settle: Settle,
  ) {
    super();
    inFlight.add(this);
  }

  finish(result: Result): void {
    if (this.settled) return;
    this.settled = true;
    this.inFlight.delete(this);
    this.timer$?.unsubscribe();
    this.settle(result);
  }
}

/**
 * What the driver appends: a draft that `enqueue` completes in place, or, on the hot path, a whole
 * event literal whose `seq` and `at` are placeholders. A literal with all its fields is one
 * allocation with one hidden class; completing a draft adds a property backing store and map
 * transitions to an object the store keeps for good.
 */
type EventDraft = SagaEventDraft | SagaEvent;

/**
 * Drives one run: appends to its journal (write-ahead), folds each event into its state, and
 * decides what happens next from that state alone.
 *
 * @remarks
 * The state is applied as soon as an event is queued for writing, and every event is written
 * in queue order, so a decision taken on an event can only lead to writes after it; user code
 * runs only once the event that announces it (`stage.started`, `compensation.started`) is
 * durable, and subscribers see only durable events.
 */
export class RunDriver {
  readonly state: MutableRunState;
  private readonly saga: Saga;
  private nextSeq: number;
  /** Events queued for the next write, and what runs once they are durable, in queue order. */
  private queuedEvents: SagaEvent[] = [];
  private queuedThens: Durable[] = [];
  /** The write in flight (one at a time): its events and continuations. */
  private writingEvents: SagaEvent[] | undefined;
  private writingThens: Durable[] | undefined;
  /** Non-zero while one decision queues several appends, so that they go out as one write. */
  private flushHolds = 0;
  private halted: Error | undefined;
  private finishing = false;
  private readonly subscription = new Subscription();
  /**
   * Stages waiting for a slot under a bounded `concurrency` (RxJS `mergeMap` bounds them). Absent
   * when the saga's concurrency is unbounded: a stage then starts as soon as it is ready, with no
   * per-stage subscription.
   */
  private readonly ready$: Subject<SagaStage> | undefined;
  /** Made on the first retry wait that listens to it: most runs never wait to retry. */
  private stop$: Subject<void> | undefined;
  /** By stage index: the stage is scheduled and has not settled yet. */
  private readonly scheduled: boolean[] = [];
  private scheduledCount = 0;
  /** By stage index: the stage's parents that have not completed yet. */
  private readonly pendingDependencies: number[] = [];
  /** In-flight attempts' abort controllers, in the order their attempts started. */
  private readonly executeAborts = new Set<LazyAbort>();
  private readonly compensateAborts = new Set<LazyAbort>();
  private compensationsInFlight = 0;
  private plan: CompensationPlan | undefined;
  /** The write callbacks, made once per run rather than once per write. */
  private readonly onWritten: () => void;
  private readonly onWriteFailed: (error: unknown) => void;

  /** The `run.started` event of a new run, written by {@link RunDriver.start}. */
  private readonly startedEvent: SagaEvent | undefined;

  /**
   * @param journal - the stored journal of a run to pick up, or the `run.started` fields of a
   *   new run (its `seq` and `at` are filled in here).
   */
  constructor(
    private readonly options: RunDriverOptions,
    journal: readonly SagaEvent[] | RunStartedDraft,
  ) {
    this.saga = options.saga;
    if (isJournal(journal)) {
      this.state = initialRunState(journal[0] as Extract<SagaEvent, { type: 'run.started' }>);
      for (let index = 1; index < journal.length; index++) applyEvent(this.state, journal[index] as SagaEvent);
      this.nextSeq = journal.length;
    } else {
      const { runId, saga, version, shapeHash, input, stages } = journal;
      const at = this.now();
      // Whole literals (see EventDraft): a spread of the draft is slow, and the store keeps this event.
      const started: Extract<SagaEvent, { type: 'run.started' }> =
        journal.submitted === undefined
          ? { type: 'run.started', runId, saga, version, shapeHash, input, stages, seq: 0, at }
          : { type: 'run.started', runId, saga, version, shapeHash, input, stages, submitted: journal.submitted, seq: 0, at };
      this.state = initialRunState(started);
      this.startedEvent = started;
      this.nextSeq = 1;
    }
    this.onWritten = () => this.written();
    this.onWriteFailed = (error: unknown) => {
      this.writingEvents = undefined;
      this.writingThens = undefined;
      this.halt(asError(error));
    };
    const concurrency = this.saga.policies.concurrency;
    if (concurrency !== Infinity) {
      const ready$ = new Subject<SagaStage>();
      this.subscription.add(
        ready$
          .pipe(mergeMap((stage) => this.executeStage(stage), concurrency))
          .subscribe({ error: (error: unknown) => this.halt(asError(error)) }),
      );
      this.ready$ = ready$;
    }
  }

  /** Writes `run.started` (already folded by the constructor) and starts scheduling a new run. */
  start(): void {
    if (this.startedEvent === undefined) throw new TypeError('start() is only for a new run; use resume() for a loaded one.');
    this.queuedEvents.push(this.startedEvent);
    this.flush();
    this.seedReadyStages();
    this.step();
  }

  /**
   * Picks up a loaded run: appends `run.resumed` (plus what the mode implies) and carries on
   * from the folded state.
   */
  resume(mode: 'resume' | 'redrive' | 'compensate', definitionChange?: { version: string; shapeHash: string }): void {
    this.append(resumeDrafts(this.state, mode, definitionChange));
    this.seedReadyStages();
    this.step();
  }

  /**
   * Drives a loaded run from its folded state without writing `run.resumed`: for a worker's
   * first claim of a submitted run, whose journal holds only what the submitter wrote.
   */
  continue(): void {
    this.seedReadyStages();
    this.step();
  }

  /** Accepts a cancellation if the run is still going forward; otherwise does nothing. */
  cancel(reason: string, by = 'external'): void {
    if (this.halted !== undefined || this.finishing || this.state.stopping) return;
    if (this.state.status !== 'running' && this.state.status !== 'queued') return;
    this.appendOne({ type: 'run.cancelling', reason, by }, () => {
      this.stopInFlight();
      this.step();
    });
  }

  /** Stops driving the run without settling it: nothing more is written; the journal stays resumable. */
  detach(error: Error): void {
    this.halt(error);
  }

  /** Whether the driver still drives the run. */
  get active(): boolean {
    return this.halted === undefined;
  }

  // ---------------------------------------------------------------------------------------
  // Decisions: everything below reads the folded state only.

  private step(): void {
    if (this.halted !== undefined || this.finishing) return;
    const state = this.state;
    switch (state.status) {
      case 'queued':
      case 'running':
        if (!state.stopping) {
          if (this.scheduledCount === 0 && state.completionOrder.length >= this.saga.stages.length) {
            this.finish({ type: 'run.completed', runId: this.state.runId, saga: this.state.saga, seq: 0, at: 0 });
          }
          return;
        }
        if (this.scheduledCount > 0) return;
        if (state.failure !== undefined && this.saga.policies.onFailure === 'pause') {
          this.finish({ type: 'run.paused', failure: state.failure });
        } else if (state.failure === undefined && this.saga.policies.onCancel === 'keep') {
          this.finish({ type: 'run.cancelled' });
        } else {
          this.appendOne({ type: 'run.compensating', cause: this.rollbackCause(), runId: this.state.runId, saga: this.state.saga, seq: 0, at: 0 });
          this.step();
        }
        return;
      case 'compensating': {
        this.plan ??= createCompensationPlan(this.saga, state);
        for (const stage of this.plan.takeReady()) this.startCompensation(stage);
        if (this.compensationsInFlight === 0 && this.plan.exhausted) {
          let failed = false;
          for (const stage of state.stages.values()) if (stage.compensation?.status === 'failed') failed = true;
          const type = failed ? 'run.compensation_failed' : state.failure === undefined ? 'run.cancelled' : 'run.compensated';
          this.finish({ type, runId: state.runId, saga: state.saga, seq: 0, at: 0 });
        }
        return;
      }
      case 'completed':
      case 'compensated':
      case 'cancelled':
      case 'compensation_failed':
      case 'paused':
        return;
      default:
        return assertNever(state.status);
    }
  }

  private rollbackCause(): RollbackCause {
    return rollbackCauseOf(this.state);
  }

  private stopReason(): string {
    const { failure, cancellation } = this.state;
    if (failure !== undefined) return `stage '${failure.stage}' failed`;
    if (cancellation !== undefined) return `the run was cancelled: ${cancellation.reason}`;
    return 'the run is stopping';
  }

  /** Counts unfinished dependencies and schedules every stage that can run now. */
  private seedReadyStages(): void {
    if (this.state.status !== 'running' && this.state.status !== 'queued') return;
    // Index loops: the definition's arrays are frozen, and for-of over them allocates an iterator.
    const stages = this.saga.stages;
    const ready: SagaStage[] = [];
    for (let index = 0; index < stages.length; index++) {
      const stage = stages[index] as SagaStage;
      let waiting = 0;
      for (let parent = 0; parent < stage.after.length; parent++) {
        if (this.state.stages.get(stage.after[parent] as string)?.status !== 'completed') waiting++;
      }
      this.pendingDependencies[stage.index] = waiting;
      if (waiting === 0 && this.state.stages.get(stage.name)?.status !== 'completed') ready.push(stage);
    }
    for (let index = 0; index < ready.length; index++) this.schedule(ready[index] as SagaStage);
  }

  private schedule(stage: SagaStage): void {
    if (this.state.stopping || this.scheduled[stage.index] === true) return;
    this.scheduled[stage.index] = true;
    this.scheduledCount++;
    if (this.ready$ !== undefined) return this.ready$.next(stage);
    try {
      this.runStage(stage, () => {
        this.unschedule(stage);
        this.step();
      });
    } catch (error) {
      // What mergeMap would do with an error thrown while starting a stage.
      this.halt(asError(error));
    }
  }

  private unschedule(stage: SagaStage): void {
    this.scheduled[stage.index] = false;
    this.scheduledCount--;
  }

  private onStageCompleted(stage: SagaStage): void {
    for (let index = 0; index < stage.dependents.length; index++) {
      const name = stage.dependents[index] as string;
      const dependent = this.saga.stage(name);
      if (dependent === undefined) continue;
      const waiting = (this.pendingDependencies[dependent.index] ?? 1) - 1;
      this.pendingDependencies[dependent.index] = waiting;
      if (waiting === 0 && this.state.stages.get(name)?.status !== 'completed') this.schedule(dependent);
    }
  }

  private finish(draft: EventDraft): void {
    this.finishing = true;
    this.appendOne(draft, () => {
      this.subscription.unsubscribe();
      this.options.onSettled(this.state);
    });
  }

  /** Aborts every in-flight `execute` and cuts retry waits short (compensations are never aborted). */
  private stopInFlight(): void {
    const reason = once(() => new DOMException(`Saga '${this.saga.name}' run ${this.state.runId} is stopping: ${this.stopReason()}.`, 'AbortError'));
    for (const controller of [...this.executeAborts]) controller.abort(reason);
    this.stop$?.next();
  }

  // ---------------------------------------------------------------------------------------
  // Stage execution, in continuation-passing style: a plain attempt costs one event object per
  // journal entry and one promise per user call, nothing more. RxJS adds `retry` and a timeout
  // timer only where a policy asks for them, and `mergeMap` only under a bounded concurrency.

  private executeStage(stage: SagaStage): Observable<never> {
    return new Observable<never>((subscriber) => {
      this.runStage(stage, () => {
        this.unschedule(stage);
        subscriber.complete();
        this.step();
      });
    });
  }

  private runStage(stage: SagaStage, done: () => void): void {
    if (this.state.stopping || this.halted !== undefined) return done();
    let attempt = this.state.stages.get(stage.name)?.attempts ?? 0;
    let startedAt = 0;
    this.withRetries(
      stage,
      stage.retry,
      'execute',
      (settle) => {
        if (this.state.stopping) return settle(failure(STOPPED));
        const thisAttempt = ++attempt;
        this.appendOne({ type: 'stage.started', stage: stage.name, attempt: thisAttempt, runId: this.state.runId, saga: this.state.saga, seq: 0, at: 0 }, () => {
          if (this.state.stopping) return settle(failure(STOPPED));
          startedAt = this.now();
          this.invokeExecute(stage, thisAttempt, settle);
        });
      },
      (result) => {
        if (!result.ok) return this.onStageError(stage, result.error, attempt, done);
        const output = result.value;
        const at = this.now();
        const durationMs = at - startedAt;
        // Hold the write until the dependents' stage.started (and run.completed) are queued too:
        // one append instead of two or three. Their user code still runs only once it is durable.
        this.appendAndGoOn(
          output === undefined
            ? { type: 'stage.completed', stage: stage.name, attempt, durationMs, runId: this.state.runId, saga: this.state.saga, seq: 0, at }
            : { type: 'stage.completed', stage: stage.name, attempt, output, durationMs, runId: this.state.runId, saga: this.state.saga, seq: 0, at },
          () => {
            this.onStageCompleted(stage);
            done();
          },
          at,
        );
      },
    );
  }

  private invokeExecute(stage: SagaStage, attempt: number, settle: Settle): void {
    const call = new UserCall(this.executeAborts, (result) => {
      if (context.cancelReason !== undefined) return settle(failure(new StageCancelSignal(context.cancelReason)));
      if (!result.ok) return settle(result);
      try {
        const output = this.checkOutput(stage, result.value);
        settle(output === result.value ? result : success(output));
      } catch (error) {
        settle(failure(error));
      }
    });
    const context = new ExecuteContextImpl(this.saga, stage, this.state, attempt, call);
    const timeoutMs = stage.timeoutMs;
    this.callUser(
      stage.execute,
      stage,
      context,
      call,
      timeoutMs === undefined ? undefined : { timeoutMs, error: () => new StageTimeoutError(this.saga.name, this.state.runId, stage.name, 'execute', attempt, timeoutMs) },
    );
  }

  private checkOutput(stage: SagaStage, value: unknown): unknown {
    let output = value;
    if (stage.output !== undefined) {
      const parsed = stage.output.safeParse(value);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const path = ['output', ...(issue?.path ?? []).map(String)].join('.');
        throw new StageOutputError(this.saga.name, this.state.runId, stage.name, path, `does not match the stage's output schema: ${issue?.message ?? 'invalid'}`);
      }
      output = parsed.data;
    }
    const copy = copyJson(output, 'output');
    if (!copy.ok) throw new StageOutputError(this.saga.name, this.state.runId, stage.name, copy.problem.path, copy.problem.problem);
    return copy.value;
  }

  private onStageError(stage: SagaStage, error: unknown, attempt: number, done: () => void): void {
    if (this.halted !== undefined || error === HALTED) return;
    if (error instanceof StageCancelSignal) {
      if (this.state.stopping) return this.appendOne({ type: 'stage.cancelled', stage: stage.name, reason: error.reason }, done);
      return this.append(
        [
          { type: 'run.cancelling', reason: error.reason, by: stage.name },
          { type: 'stage.cancelled', stage: stage.name, reason: error.reason },
        ],
        () => {
          this.stopInFlight();
          done();
        },
      );
    }
    // Nothing was journaled for this stage yet (stopped before its first start): nothing to settle.
    if (this.state.stages.get(stage.name)?.status !== 'running') return done();
    if (this.state.stopping) {
      return this.appendOne(
        { type: 'stage.cancelled', stage: stage.name, reason: this.stopReason(), ...(error === STOPPED ? {} : { error: serializeError(error) }) },
        done,
      );
    }
    const failed = { type: 'stage.failed', stage: stage.name, attempt, error: serializeError(error), runId: this.state.runId, saga: this.state.saga, seq: 0, at: 0 } as const;
    this.appendAndGoOn(failed, () => {
      this.stopInFlight();
      done();
    });
  }

  // ---------------------------------------------------------------------------------------
  // Compensation: the plan decides how many run at once, so each starts as soon as it is handed out.

  private startCompensation(stage: SagaStage): void {
    this.compensationsInFlight++;
    try {
      this.runCompensation(stage, () => {
        this.compensationsInFlight--;
        this.plan?.settled(stage.name);
        this.step();
      });
    } catch (error) {
      this.halt(asError(error));
    }
  }

  private runCompensation(stage: SagaStage, done: () => void): void {
    let attempt = this.state.stages.get(stage.name)?.compensation?.attempts ?? 0;
    let startedAt = 0;
    this.withRetries(
      stage,
      stage.compensation.retry,
      'compensate',
      (settle) => {
        const thisAttempt = ++attempt;
        this.appendOne({ type: 'compensation.started', stage: stage.name, attempt: thisAttempt, runId: this.state.runId, saga: this.state.saga, seq: 0, at: 0 }, () => {
          startedAt = this.now();
          this.invokeCompensate(stage, thisAttempt, settle);
        });
      },
      (result) => {
        if (result.ok) {
          const at = this.now();
          const completed = { type: 'compensation.completed', stage: stage.name, attempt, durationMs: at - startedAt, runId: this.state.runId, saga: this.state.saga, seq: 0, at } as const;
          return this.appendAndGoOn(completed, done, at);
        }
        if (this.halted !== undefined || result.error === HALTED) return;
        this.appendAndGoOn({ type: 'compensation.failed', stage: stage.name, attempt, error: serializeError(result.error) }, done);
      },
    );
  }

  private invokeCompensate(stage: SagaStage, attempt: number, settle: Settle): void {
    const call = new UserCall(this.compensateAborts, settle);
    const cause = this.state.compensationCause ?? this.rollbackCause();
    const context = new CompensateContextImpl(this.saga, stage, this.state, attempt, call, cause);
    const timeoutMs = stage.compensation.timeoutMs;
    this.callUser(
      stage.compensate,
      stage,
      context,
      call,
      timeoutMs === undefined ? undefined : { timeoutMs, error: () => new StageTimeoutError(this.saga.name, this.state.runId, stage.name, 'compensate', attempt, timeoutMs) },
    );
  }

  // ---------------------------------------------------------------------------------------
  // Calling user code, timeouts and retries (RxJS timers on the orchestrator's scheduler).

  /**
   * Calls `execute` or `compensate` (as a method of its stage) and settles once: with its result,
   * or with a timeout error (aborting the attempt's signal) when `limit` passes first — a late
   * result is then ignored.
   */
  private callUser<TContext>(
    call: ((context: TContext) => unknown) | undefined,
    stage: SagaStage,
    context: TContext,
    pending: UserCall,
    limit: { timeoutMs: number; error: () => Error } | undefined,
  ): void {
    let value: unknown;
    try {
      value = call?.call(stage, context);
    } catch (error) {
      return pending.finish(failure(error));
    }
    if (!isThenable(value)) return pending.finish(success(value));
    value.then(
      (resolved) => pending.finish(success(resolved)),
      (error: unknown) => pending.finish(failure(error)),
    );
    if (limit !== undefined && !pending.settled) {
      pending.timer$ = timer(limit.timeoutMs, this.options.scheduler).subscribe(() => {
        const error = limit.error();
        pending.abort(() => error);
        pending.finish(failure(error));
      });
    }
  }

  /**
   * Runs `attemptOnce`, retried per `policy` with RxJS `retry({ count, delay })`; settles once.
   * The retry pipeline is built only after a first failure: most attempts succeed.
   */
  private withRetries(
    stage: SagaStage,
    policy: ResolvedRetryPolicy,
    phase: 'execute' | 'compensate',
    attemptOnce: (settle: Settle) => void,
    settle: Settle,
  ): void {
    attemptOnce((first) => {
      if (first.ok || policy.maxAttempts <= 1) return settle(first);
      let replayFirst = true;
      const attempt$ = new Observable<unknown>((subscriber) => {
        if (replayFirst) {
          // The first attempt already failed: hand its error to `retry`, which decides what next.
          replayFirst = false;
          return subscriber.error(first.error);
        }
        attemptOnce((result) => {
          if (!result.ok) return subscriber.error(result.error);
          subscriber.next(result.value);
          subscriber.complete();
        });
      });
      this.subscription.add(
        attempt$
          .pipe(
            retry({
              count: policy.maxAttempts - 1,
              delay: (error: unknown, retryCount: number) => this.retryDelay$(stage, policy, phase, error, retryCount),
            }),
          )
          .subscribe({ next: (value) => settle(success(value)), error: (error: unknown) => settle(failure(error)) }),
      );
    });
  }

  /** What `retry` waits for before the next attempt: the journaled `*.retrying` event, then the backoff. */
  private retryDelay$(stage: SagaStage, policy: ResolvedRetryPolicy, phase: 'execute' | 'compensate', error: unknown, retryCount: number): Observable<unknown> {
    if (!this.isRetryable(policy, error) || (phase === 'execute' && this.state.stopping)) return throwError(() => error);
    const delayMs = retryDelayMs(policy, retryCount, this.options.random);
    // The attempt that failed is the last one the fold counted.
    const record = this.state.stages.get(stage.name);
    const attempt = (phase === 'execute' ? record?.attempts : record?.compensation?.attempts) ?? 0;
    const retrying: SagaEventDraft = {
      type: phase === 'execute' ? 'stage.retrying' : 'compensation.retrying',
      stage: stage.name,
      attempt,
      error: serializeError(error),
      delayMs,
    };
    return this.persisted$(retrying).pipe(
      mergeMap(() => {
        if (phase === 'compensate') return timer(delayMs, this.options.scheduler);
        if (this.state.stopping) return throwError(() => error);
        // A run that starts stopping during the wait gives the retry up at once.
        this.stop$ ??= new Subject<void>();
        return race(timer(delayMs, this.options.scheduler), this.stop$.pipe(take(1), mergeMap(() => throwError(() => error))));
      }),
    );
  }

  private isRetryable(policy: ResolvedRetryPolicy, error: unknown): boolean {
    if (error === STOPPED || error === HALTED || error instanceof StageCancelSignal || isNonRetryable(error)) {
      return false;
    }
    if (policy.retryable === undefined) return true;
    try {
      return policy.retryable(error);
    } catch {
      return false;
    }
  }

  // ---------------------------------------------------------------------------------------
  // The journal: write-ahead appends, in order, batched while a write is in flight.

  private now(): number {
    return this.options.scheduler.now();
  }

  /** Emits once the event is durable; never emits if the driver halts first. */
  private persisted$(draft: EventDraft): Observable<void> {
    return new Observable<void>((subscriber) => {
      this.appendOne(draft, () => {
        subscriber.next();
        subscriber.complete();
      });
    });
  }

  /**
   * Queues events for writing and folds them into the state at once; calls `then` once they
   * are durable. If the driver halts first, `then` is never called: a halted driver does nothing.
   */
  private append(drafts: EventDraft[], then?: Durable): void {
    if (this.halted !== undefined) return;
    const at = this.now();
    for (const draft of drafts) this.enqueue(draft, at);
    if (then !== undefined) this.queuedThens.push(then);
    this.flush();
  }

  /** {@link RunDriver.append} of one event (most decisions write one), stamped `at` or now. */
  private appendOne(draft: EventDraft, then?: Durable, at = this.now()): void {
    if (this.halted !== undefined) return;
    this.enqueue(draft, at);
    if (then !== undefined) this.queuedThens.push(then);
    this.flush();
  }

  /** Completes a draft into the next event, folds it, and queues it for the next write. */
  private enqueue(draft: EventDraft, at: number): void {
    // Drafts are fresh literals made here in the driver: completing them in place is cheaper
    // than copying (object spread of varying shapes is a hot spot).
    const event = draft as Mutable<SagaEvent>;
    event.runId = this.state.runId;
    event.saga = this.state.saga;
    event.seq = this.nextSeq++;
    event.at = at;
    applyEvent(this.state, event);
    this.queuedEvents.push(event);
  }

  /**
   * Queues an event and goes on at once with what it decides (the next stages, the next
   * compensation, the run's end), so that everything queued meanwhile goes out in the same write:
   * one round trip instead of two or three. Safe because user code runs only once the event that
   * announces it is durable, and that event comes after this one in the journal.
   */
  private appendAndGoOn(draft: EventDraft, next: () => void, at?: number): void {
    if (this.halted !== undefined) return;
    this.flushHolds++;
    try {
      this.appendOne(draft, undefined, at);
      next();
    } finally {
      this.flushHolds--;
      this.flush();
    }
  }

  private flush(): void {
    if (this.flushHolds > 0 || this.writingEvents !== undefined || this.halted !== undefined || this.queuedEvents.length === 0) return;
    const events = this.queuedEvents;
    const thens = this.queuedThens;
    this.queuedEvents = [];
    this.writingEvents = events;
    if (thens.length > 0) {
      this.writingThens = thens;
      this.queuedThens = [];
    }
    const request: Mutable<AppendRequest> = {
      runId: this.state.runId,
      saga: this.state.saga,
      expectedSeq: (events[0] as SagaEvent).seq,
      events,
      status: this.state.status,
    };
    if (this.options.lease !== undefined) request.lease = this.options.lease;
    let written: Promise<void>;
    try {
      written = this.options.store.append(request);
    } catch (error) {
      this.writingEvents = undefined;
      this.writingThens = undefined;
      return this.halt(asError(error));
    }
    written.then(this.onWritten, this.onWriteFailed);
  }

  /** The write in flight is durable: announce its events, run what waited for them, write what queued meanwhile. */
  private written(): void {
    const events = this.writingEvents ?? [];
    const thens = this.writingThens;
    this.writingEvents = undefined;
    this.writingThens = undefined;
    if (this.halted !== undefined) return;
    for (const event of events) this.options.onEvent(event);
    if (thens !== undefined) for (const then of thens) then();
    this.flush();
  }

  private halt(error: Error): void {
    if (this.halted !== undefined) return;
    this.halted = error;
    const reason = once(() => new DOMException(`Saga '${this.saga.name}' run ${this.state.runId} stopped here: ${error.message}`, 'AbortError'));
    for (const controller of [...this.executeAborts]) controller.abort(reason);
    for (const controller of [...this.compensateAborts]) controller.abort(reason);
    this.subscription.unsubscribe();
    this.queuedEvents.length = 0;
    this.queuedThens.length = 0;
    this.options.onHalted(error);
  }
}

/**
 * What picking a stored run up writes first: `run.resumed`, plus what the mode implies. Shared by
 * the driver and by the orchestrator's hand-back of a submitted run to the workers' queue.
 */
export function resumeDrafts(
  state: RunState,
  mode: 'resume' | 'redrive' | 'compensate',
  definitionChange?: { version: string; shapeHash: string },
): SagaEventDraft[] {
  const drafts: SagaEventDraft[] = [{ type: 'run.resumed', mode, ...(definitionChange ?? {}) }];
  if (mode === 'resume' && state.stopping && state.status === 'running') {
    // The process stopped while the run was already stopping: whatever was in flight may or
    // may not have taken effect, so it is settled as unknown and compensated (rule 7).
    for (const [name, stage] of state.stages) {
      if (stage.status !== 'running') continue;
      drafts.push({
        type: 'stage.cancelled',
        stage: name,
        reason: 'the process stopped while this stage was in flight and the run was stopping; its outcome is unknown',
        outcomeUnknown: true,
      });
    }
  }
  if (mode === 'compensate') drafts.push({ type: 'run.compensating', cause: rollbackCauseOf(state) });
  return drafts;
}

/** Why a run rolls back: its failure, its cancellation, or an operator's `compensate`. */
function rollbackCauseOf(state: RunState): RollbackCause {
  const { failure, cancellation } = state;
  if (failure !== undefined) return { kind: 'failed', stage: failure.stage, error: failure.error };
  if (cancellation !== undefined) return { kind: 'cancelled', reason: cancellation.reason, by: cancellation.by };
  return { kind: 'cancelled', reason: 'compensated by an operator', by: 'external' };
}

/** The fields of `run.started` the orchestrator provides; the driver adds `runId`, `saga`, `seq` and `at`. */
export type RunStartedDraft = Omit<Extract<SagaEvent, { type: 'run.started' }>, 'seq' | 'at'>;

/** Memoises a reason factory, so every aborted signal of one stop shares the same reason. */
function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function isJournal(journal: readonly SagaEvent[] | RunStartedDraft): journal is readonly SagaEvent[] {
  return Array.isArray(journal);
}

/** Removes an item from a short list, keeping the order of the rest. */
function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * A `NonRetryableError`, or a subclass, from this copy of sagaflow or another one (a saga module
 * built against a second install): matched by class, else by its stable code.
 */
function isNonRetryable(error: unknown): boolean {
  return error instanceof NonRetryableError || (error instanceof Error && (error as { code?: unknown }).code === SagaErrorCode.NonRetryable);
}
