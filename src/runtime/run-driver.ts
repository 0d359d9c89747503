import {
  EMPTY,
  Observable,
  Subject,
  Subscription,
  catchError,
  defer,
  finalize,
  from,
  identity,
  ignoreElements,
  mergeMap,
  of,
  race,
  retry,
  take,
  throwError,
  timeout,
  timer,
  type SchedulerLike,
} from 'rxjs';
import type { ResolvedRetryPolicy } from '../definition/retry-policy.js';
import { retryDelayMs } from '../definition/retry-policy.js';
import type { Saga, SagaStage } from '../definition/saga.js';
import { serializeError } from '../errors/serialize-error.js';
import { NonRetryableError, StageOutputError, StageTimeoutError } from '../errors/stage-errors.js';
import { applyEvent, assertNever, initialRunState, type MutableRunState, type RunState } from '../journal/fold.js';
import type { RollbackCause, SagaEvent, SagaEventDraft } from '../journal/saga-event.js';
import type { LeaseToken, SagaStore } from '../stores/saga-store.js';
import { createCompensationPlan, type CompensationPlan } from './compensation-plan.js';
import { copyJson } from './json-value.js';
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

/** Thrown inside pipelines to unwind quietly once the driver has halted. */
const HALTED = Symbol('halted');
/** Thrown by an attempt that must not invoke user code because the run is stopping. */
const STOPPED = Symbol('stopped');

interface PendingAppend {
  readonly events: SagaEvent[];
  readonly done: (persisted: boolean) => void;
}

type EventDraft = SagaEventDraft;

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
  private readonly writeQueue: PendingAppend[] = [];
  private writing = false;
  private halted: Error | undefined;
  private finishing = false;
  private readonly subscription = new Subscription();
  private readonly ready$ = new Subject<SagaStage>();
  private readonly compensate$ = new Subject<SagaStage>();
  private readonly stop$ = new Subject<void>();
  private readonly scheduledStages = new Set<string>();
  private readonly pendingDependencies = new Map<string, number>();
  private readonly executeControllers = new Set<AbortController>();
  private readonly compensateControllers = new Set<AbortController>();
  private compensationsInFlight = 0;
  private plan: CompensationPlan | undefined;

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
      const started: Extract<SagaEvent, { type: 'run.started' }> = { ...journal, seq: 0, at: this.now() };
      this.state = initialRunState(started);
      this.startedEvent = started;
      this.nextSeq = 1;
    }
    this.subscription.add(
      this.ready$
        .pipe(mergeMap((stage) => this.executeStage(stage), this.saga.policies.concurrency))
        .subscribe({ error: (error: unknown) => this.halt(asError(error)) }),
    );
    this.subscription.add(
      this.compensate$
        .pipe(mergeMap((stage) => this.compensateStage(stage)))
        .subscribe({ error: (error: unknown) => this.halt(asError(error)) }),
    );
  }

  /** Writes `run.started` (already folded by the constructor) and starts scheduling a new run. */
  start(): void {
    if (this.startedEvent === undefined) throw new TypeError('start() is only for a new run; use resume() for a loaded one.');
    this.enqueueWrite([this.startedEvent]);
    this.seedReadyStages();
    this.step();
  }

  /**
   * Picks up a loaded run: appends `run.resumed` (plus what the mode implies) and carries on
   * from the folded state.
   */
  resume(mode: 'resume' | 'redrive' | 'compensate', definitionChange?: { version: string; shapeHash: string }): void {
    void this.append(resumeDrafts(this.state, mode, definitionChange));
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
    void this.append([{ type: 'run.cancelling', reason, by }]).then((persisted) => {
      if (persisted) this.stopInFlight();
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
          if (this.scheduledStages.size === 0 && state.completionOrder.length >= this.saga.stages.length) {
            this.finish([{ type: 'run.completed' }]);
          }
          return;
        }
        if (this.scheduledStages.size > 0) return;
        if (state.failure !== undefined && this.saga.policies.onFailure === 'pause') {
          this.finish([{ type: 'run.paused', failure: state.failure }]);
        } else if (state.failure === undefined && this.saga.policies.onCancel === 'keep') {
          this.finish([{ type: 'run.cancelled' }]);
        } else {
          void this.append([{ type: 'run.compensating', cause: this.rollbackCause() }]);
          this.step();
        }
        return;
      case 'compensating': {
        this.plan ??= createCompensationPlan(this.saga, state);
        for (const stage of this.plan.takeReady()) {
          this.compensationsInFlight++;
          this.compensate$.next(stage);
        }
        if (this.compensationsInFlight === 0 && this.plan.exhausted) {
          let failed = false;
          for (const stage of state.stages.values()) if (stage.compensation?.status === 'failed') failed = true;
          this.finish([
            { type: failed ? 'run.compensation_failed' : state.failure === undefined ? 'run.cancelled' : 'run.compensated' },
          ]);
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
    const ready: SagaStage[] = [];
    for (const stage of this.saga.stages) {
      let waiting = 0;
      for (const parent of stage.after) if (this.state.stages.get(parent)?.status !== 'completed') waiting++;
      this.pendingDependencies.set(stage.name, waiting);
      if (waiting === 0 && this.state.stages.get(stage.name)?.status !== 'completed') ready.push(stage);
    }
    for (const stage of ready) this.schedule(stage);
  }

  private schedule(stage: SagaStage): void {
    if (this.state.stopping || this.scheduledStages.has(stage.name)) return;
    this.scheduledStages.add(stage.name);
    this.ready$.next(stage);
  }

  private onStageCompleted(stage: SagaStage): void {
    for (const name of stage.dependents) {
      const waiting = (this.pendingDependencies.get(name) ?? 1) - 1;
      this.pendingDependencies.set(name, waiting);
      if (waiting === 0 && this.state.stages.get(name)?.status !== 'completed') {
        const dependent = this.saga.stage(name);
        if (dependent !== undefined) this.schedule(dependent);
      }
    }
  }

  private finish(drafts: EventDraft[]): void {
    this.finishing = true;
    void this.append(drafts).then((persisted) => {
      if (!persisted) return;
      this.subscription.unsubscribe();
      this.options.onSettled(this.state);
    });
  }

  /** Aborts every in-flight `execute` and cuts retry waits short (compensations are never aborted). */
  private stopInFlight(): void {
    const reason = new DOMException(`Saga '${this.saga.name}' run ${this.state.runId} is stopping: ${this.stopReason()}.`, 'AbortError');
    for (const controller of this.executeControllers) controller.abort(reason);
    this.stop$.next();
  }

  // ---------------------------------------------------------------------------------------
  // Stage execution.

  private executeStage(stage: SagaStage): Observable<never> {
    return defer(() => {
      if (this.state.stopping || this.halted !== undefined) return EMPTY;
      let attempt = this.state.stages.get(stage.name)?.attempts ?? 0;
      let startedAt = 0;
      const attempt$ = defer(() => {
        if (this.state.stopping) return throwError(() => STOPPED);
        const thisAttempt = ++attempt;
        return this.persist$([{ type: 'stage.started', stage: stage.name, attempt: thisAttempt }]).pipe(
          mergeMap(() => {
            if (this.state.stopping) return throwError(() => STOPPED);
            startedAt = this.now();
            return this.invokeExecute(stage, thisAttempt);
          }),
        );
      });
      return attempt$.pipe(
        this.retryOperator(stage, stage.retry, 'execute', () => attempt),
        mergeMap((output) =>
          this.persist$([
            {
              type: 'stage.completed',
              stage: stage.name,
              attempt,
              ...(output === undefined ? {} : { output }),
              durationMs: this.now() - startedAt,
            },
          ]),
        ),
        mergeMap(() => {
          this.onStageCompleted(stage);
          return EMPTY;
        }),
        catchError((error: unknown) => this.onStageError(stage, error, attempt)),
      );
    }).pipe(
      finalize(() => {
        this.scheduledStages.delete(stage.name);
        this.step();
      }),
    );
  }

  private invokeExecute(stage: SagaStage, attempt: number): Observable<unknown> {
    return defer(() => {
      const controller = new AbortController();
      let cancelReason: string | undefined;
      const call = new Observable<unknown>((subscriber) => {
        this.executeControllers.add(controller);
        const context = new ExecuteContextImpl(this.saga, stage, this.state, attempt, controller.signal, (reason) => {
          cancelReason ??= reason;
        });
        let pending: unknown;
        try {
          pending = stage.execute(context);
        } catch (error) {
          subscriber.error(cancelReason === undefined ? error : new StageCancelSignal(cancelReason));
          return () => {
            this.executeControllers.delete(controller);
          };
        }
        Promise.resolve(pending).then(
          (value) => {
            if (cancelReason !== undefined) return subscriber.error(new StageCancelSignal(cancelReason));
            let output: unknown;
            try {
              output = this.checkOutput(stage, value);
            } catch (error) {
              return subscriber.error(error);
            }
            subscriber.next(output);
            subscriber.complete();
          },
          (error: unknown) => subscriber.error(cancelReason === undefined ? error : new StageCancelSignal(cancelReason)),
        );
        return () => {
          this.executeControllers.delete(controller);
        };
      });
      if (stage.timeoutMs === undefined) return call;
      const timeoutMs = stage.timeoutMs;
      return call.pipe(
        timeout({
          first: timeoutMs,
          scheduler: this.options.scheduler,
          with: () => {
            const error = new StageTimeoutError(this.saga.name, this.state.runId, stage.name, 'execute', attempt, timeoutMs);
            controller.abort(error);
            return throwError(() => error);
          },
        }),
      );
    });
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

  private onStageError(stage: SagaStage, error: unknown, attempt: number): Observable<never> {
    if (this.halted !== undefined || error === HALTED) return EMPTY;
    const record = this.state.stages.get(stage.name);
    if (error instanceof StageCancelSignal) {
      if (this.state.stopping) {
        return this.persist$([{ type: 'stage.cancelled', stage: stage.name, reason: error.reason }]).pipe(ignoreElements());
      }
      return this.persist$([
        { type: 'run.cancelling', reason: error.reason, by: stage.name },
        { type: 'stage.cancelled', stage: stage.name, reason: error.reason },
      ]).pipe(
        mergeMap(() => {
          this.stopInFlight();
          return EMPTY;
        }),
      );
    }
    // Nothing was journaled for this stage yet (stopped before its first start): nothing to settle.
    if (record?.status !== 'running') return EMPTY;
    if (this.state.stopping) {
      return this.persist$([
        {
          type: 'stage.cancelled',
          stage: stage.name,
          reason: this.stopReason(),
          ...(error === STOPPED ? {} : { error: serializeError(error) }),
        },
      ]).pipe(ignoreElements());
    }
    return this.persist$([{ type: 'stage.failed', stage: stage.name, attempt, error: serializeError(error) }]).pipe(
      mergeMap(() => {
        this.stopInFlight();
        return EMPTY;
      }),
    );
  }

  // ---------------------------------------------------------------------------------------
  // Compensation.

  private compensateStage(stage: SagaStage): Observable<never> {
    return defer(() => {
      let attempt = this.state.stages.get(stage.name)?.compensation?.attempts ?? 0;
      let startedAt = 0;
      const attempt$ = defer(() => {
        const thisAttempt = ++attempt;
        return this.persist$([{ type: 'compensation.started', stage: stage.name, attempt: thisAttempt }]).pipe(
          mergeMap(() => {
            startedAt = this.now();
            return this.invokeCompensate(stage, thisAttempt);
          }),
        );
      });
      return attempt$.pipe(
        this.retryOperator(stage, stage.compensation.retry, 'compensate', () => attempt),
        mergeMap(() =>
          this.persist$([{ type: 'compensation.completed', stage: stage.name, attempt, durationMs: this.now() - startedAt }]),
        ),
        ignoreElements(),
        catchError((error: unknown) => {
          if (this.halted !== undefined || error === HALTED) return EMPTY;
          return this.persist$([{ type: 'compensation.failed', stage: stage.name, attempt, error: serializeError(error) }]).pipe(
            ignoreElements(),
          );
        }),
      );
    }).pipe(
      finalize(() => {
        this.compensationsInFlight--;
        this.plan?.settled(stage.name);
        this.step();
      }),
    );
  }

  private invokeCompensate(stage: SagaStage, attempt: number): Observable<unknown> {
    return defer(() => {
      const controller = new AbortController();
      const compensate = stage.compensate;
      const call = new Observable<unknown>((subscriber) => {
        this.compensateControllers.add(controller);
        const cause = this.state.compensationCause ?? this.rollbackCause();
        const context = new CompensateContextImpl(this.saga, stage, this.state, attempt, controller.signal, cause);
        let pending: unknown;
        try {
          pending = compensate?.(context);
        } catch (error) {
          subscriber.error(error);
          return () => {
            this.compensateControllers.delete(controller);
          };
        }
        Promise.resolve(pending).then(
          () => {
            subscriber.next(undefined);
            subscriber.complete();
          },
          (error: unknown) => subscriber.error(error),
        );
        return () => {
          this.compensateControllers.delete(controller);
        };
      });
      const timeoutMs = stage.compensation.timeoutMs;
      if (timeoutMs === undefined) return call;
      return call.pipe(
        timeout({
          first: timeoutMs,
          scheduler: this.options.scheduler,
          with: () => {
            const error = new StageTimeoutError(this.saga.name, this.state.runId, stage.name, 'compensate', attempt, timeoutMs);
            controller.abort(error);
            return throwError(() => error);
          },
        }),
      );
    });
  }

  // ---------------------------------------------------------------------------------------
  // Retries.

  private retryOperator<T>(
    stage: SagaStage,
    policy: ResolvedRetryPolicy,
    phase: 'execute' | 'compensate',
    currentAttempt: () => number,
  ): (source: Observable<T>) => Observable<T> {
    if (policy.maxAttempts <= 1) return identity;
    return retry<T>({
      count: policy.maxAttempts - 1,
      delay: (error: unknown, retryCount: number) => {
        if (!this.isRetryable(policy, error) || (phase === 'execute' && this.state.stopping)) return throwError(() => error);
        const delayMs = retryDelayMs(policy, retryCount, this.options.random);
        const retrying: EventDraft = {
          type: phase === 'execute' ? 'stage.retrying' : 'compensation.retrying',
          stage: stage.name,
          attempt: currentAttempt(),
          error: serializeError(error),
          delayMs,
        };
        return this.persist$([retrying]).pipe(
          mergeMap(() => {
            if (phase === 'compensate') return timer(delayMs, this.options.scheduler);
            if (this.state.stopping) return throwError(() => error);
            // A run that starts stopping during the wait gives up the retry at once.
            return race(timer(delayMs, this.options.scheduler), this.stop$.pipe(take(1), mergeMap(() => throwError(() => error))));
          }),
        );
      },
    });
  }

  private isRetryable(policy: ResolvedRetryPolicy, error: unknown): boolean {
    if (error === STOPPED || error === HALTED || error instanceof StageCancelSignal || error instanceof NonRetryableError) {
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

  /** An observable that emits once the events are durable, or unwinds quietly if the driver halted. */
  private persist$(drafts: EventDraft[]): Observable<void> {
    return defer(() => from(this.append(drafts))).pipe(
      mergeMap((persisted) => (persisted ? of(undefined) : throwError(() => HALTED))),
    );
  }

  /** Queues events for writing and folds them into the state at once. Resolves to whether they were persisted. */
  private append(drafts: EventDraft[]): Promise<boolean> {
    if (this.halted !== undefined) return Promise.resolve(false);
    const at = this.now();
    const events = drafts.map(
      (draft) => ({ ...draft, runId: this.state.runId, saga: this.state.saga, seq: this.nextSeq++, at }),
    );
    for (const event of events) applyEvent(this.state, event);
    return new Promise<boolean>((done) => {
      this.writeQueue.push({ events, done });
      if (!this.writing) void this.flush();
    });
  }

  /** For `start`: the `run.started` event is already folded by the constructor. */
  private enqueueWrite(events: SagaEvent[]): void {
    this.writeQueue.push({ events, done: () => undefined });
    if (!this.writing) void this.flush();
  }

  private async flush(): Promise<void> {
    this.writing = true;
    try {
      while (this.writeQueue.length > 0 && this.halted === undefined) {
        const batch = this.writeQueue.splice(0);
        const events = batch.length === 1 ? (batch[0] as PendingAppend).events : batch.flatMap((pending) => pending.events);
        try {
          await this.options.store.append({
            runId: this.state.runId,
            saga: this.state.saga,
            expectedSeq: (events[0] as SagaEvent).seq,
            events,
            status: this.state.status,
            ...(this.options.lease === undefined ? {} : { lease: this.options.lease }),
          });
        } catch (error) {
          for (const pending of batch) pending.done(false);
          this.halt(asError(error));
          break;
        }
        if (this.halted !== undefined) {
          for (const pending of batch) pending.done(false);
          break;
        }
        for (const event of events) this.options.onEvent(event);
        for (const pending of batch) pending.done(true);
      }
    } finally {
      this.writing = false;
    }
    if (this.halted !== undefined) for (const pending of this.writeQueue.splice(0)) pending.done(false);
  }

  private halt(error: Error): void {
    if (this.halted !== undefined) return;
    this.halted = error;
    const reason = new DOMException(`Saga '${this.saga.name}' run ${this.state.runId} stopped here: ${error.message}`, 'AbortError');
    for (const controller of this.executeControllers) controller.abort(reason);
    for (const controller of this.compensateControllers) controller.abort(reason);
    this.subscription.unsubscribe();
    for (const pending of this.writeQueue.splice(0)) pending.done(false);
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

function isJournal(journal: readonly SagaEvent[] | RunStartedDraft): journal is readonly SagaEvent[] {
  return Array.isArray(journal);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
