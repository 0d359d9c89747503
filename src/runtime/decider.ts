import type { ResolvedRetryPolicy } from '../definition/retry-policy.js';
import { retryDelayMs } from '../definition/retry-policy.js';
import type { Saga } from '../definition/saga.js';
import type { WaitPlan, WaitSpec } from '../definition/wait-stage.js';
import type { SerializedError } from '../errors/serialize-error.js';
import { journaledWaitTimeout } from '../errors/wait-errors.js';
import { assertNever, type RunState, type StageState, type WaitState } from '../journal/fold.js';
import type { RecordedStageShape, ResumeMode, RollbackCause, SagaEvent, SagaEventDraft } from '../journal/saga-event.js';
import { ancestorsOf } from './results-view.js';
import { youngArray } from './young-array.js';

/**
 * Which of a stage's functions an attempt calls: `execute` or `compensate`.
 *
 * @remarks
 * Attempts are numbered per phase, each from 1, across retries, resumes and redrives.
 *
 * @example
 * ```ts
 * import type { AttemptPhase } from 'sagaflow';
 * const verb = (phase: AttemptPhase) => (phase === 'execute' ? 'doing' : 'undoing');
 * ```
 */
export type AttemptPhase = 'execute' | 'compensate';

/**
 * How one attempt of user code ended, as plain data.
 *
 * @remarks
 * The runtime calls the user's function, checks and copies its output, serialises (and redacts)
 * its error and asks the retry policy whether it may run again; what comes out is this, which is
 * what the decider reads (it never touches a user value) and what an {@link AttemptScope} is told.
 * `invoked: false` is an attempt aborted before its function was called (the run started
 * stopping while its `stage.started` was being written).
 *
 * @example
 * ```ts
 * import type { AttemptResult } from 'sagaflow';
 * const label = (result: AttemptResult) => (result.ok ? 'ok' : result.cancel !== undefined ? `cancelled: ${result.cancel}` : (result.error?.message ?? 'not invoked'));
 * ```
 */
export type AttemptResult =
  | {
      /** The attempt succeeded. */
      readonly ok: true;
      /** The checked JSON copy of what `execute` returned (`undefined` for none, and for `compensate`). */
      readonly output: unknown;
      /** How long the attempt took, on the interpreter's clock. */
      readonly durationMs: number;
    }
  | {
      /** The attempt failed (or was cancelled, or never invoked). */
      readonly ok: false;
      /** The error, serialised and redacted; absent when the attempt was never invoked. */
      readonly error?: SerializedError;
      /** Whether the retry policy allows another attempt after this error. */
      readonly retryable: boolean;
      /** Set when `execute` called `ctx.cancel(reason)`. */
      readonly cancel?: string;
      /** False when the attempt was aborted before its function was called. */
      readonly invoked: boolean;
    };

/** A definition change that a continuation (resume, redrive, compensate) records. */
export interface DefinitionChange {
  readonly version: string;
  readonly shapeHash: string;
  readonly shape: readonly RecordedStageShape[];
}

/** Something that happened to a run: what {@link decide} reacts to. */
export type Trigger =
  /** A new run was created, or a submitted run was claimed for the first time. */
  | { readonly type: 'start' }
  /** A stored run was picked up: after a crash (`resume`), or by an operator. */
  | {
      readonly type: 'resume';
      readonly mode: ResumeMode;
      readonly change?: DefinitionChange;
      /** A cancellation requested while nobody drove the run: it stops as it is picked up. */
      readonly cancel?: { readonly reason: string; readonly by: string };
    }
  /** An attempt settled; `jitter` is a random number in [0, 1) for a retry delay (drawn only for a failed attempt, 0 otherwise). */
  | {
      readonly type: 'settled';
      readonly phase: AttemptPhase;
      readonly stage: string;
      readonly attempt: number;
      readonly result: AttemptResult;
      readonly jitter: number;
    }
  /** A retry delay elapsed. */
  | { readonly type: 'timer'; readonly phase: AttemptPhase; readonly stage: string }
  /**
   * A signal for the run, its payload already validated (see `orchestrator.signal`). `sentAt`: when
   * a request recorded through the store was sent (its `requestedAt`); absent, the signal is sent now.
   */
  | { readonly type: 'signal'; readonly signal: string; readonly signalId: string; readonly payload: unknown; readonly sentAt?: number }
  /** A cancellation: `by` is `'external'` or the stage that called `ctx.cancel`. */
  | { readonly type: 'cancel'; readonly reason: string; readonly by: string }
  /** Re-evaluates the state after the last decision's events were folded. */
  | { readonly type: 'step' };

/**
 * What the interpreter must do, as plain data, in order: an event to append (fold it into the
 * state and write it to the journal), or an {@link Effect}.
 */
export type Command = SagaEvent | Effect;

/** A command other than an append; it waits until every event appended before it is durable. */
export type Effect =
  /** Call the stage's `execute` or `compensate`. */
  | { readonly type: 'attempt'; readonly phase: AttemptPhase; readonly stage: string; readonly attempt: number }
  /** Abort the signal of every `execute` attempt in flight, and never invoke one not called yet. */
  | { readonly type: 'abort'; readonly reason: string }
  /** Fire a `timer` trigger for the stage after `delayMs`. */
  | { readonly type: 'timer'; readonly phase: AttemptPhase; readonly stage: string; readonly delayMs: number }
  /** Forget the stage's pending timer. */
  | { readonly type: 'clear-timer'; readonly phase: AttemptPhase; readonly stage: string }
  /** The run has settled (its last event is durable): report the outcome. */
  | { readonly type: 'finish' };

/** The step trigger, shared: it carries nothing. */
export const STEP: Trigger = Object.freeze({ type: 'step' });

/**
 * Decides what a run does next: a pure function of the saga definition, the run's folded state and
 * what just happened.
 *
 * @remarks
 * Every rule of a saga run lives here and nowhere else: which stages start, retries and their
 * delays, what a failure or a cancellation stops, when the rollback starts and in what order
 * compensations run, how a run picked up after a crash goes on, and how it ends. It reads the
 * state and never changes it; the events it returns are numbered after the state's last one.
 * The interpreter folds them, carries out the commands, and calls `decide` again with
 * {@link STEP} until a decision appends nothing: a trigger's own decision handles the edge (an
 * attempt settled), the step the level (what the state now allows).
 *
 * @param now - the time to stamp the events with (epoch ms).
 */
export function decide(saga: Saga, state: RunState, trigger: Trigger, now: number): readonly Command[] {
  // A run makes about thirty decisions: one scratch Decision serves them all, taken while in use
  // so that a decision made meanwhile (re-entered through a user's retry hook) gets its own.
  const decision = spareDecision ?? new Decision();
  spareDecision = undefined;
  decision.begin(state, now);
  switch (trigger.type) {
    case 'start':
    case 'step':
      step(saga, state, decision);
      break;
    case 'resume':
      resume(saga, state, trigger, decision);
      break;
    case 'settled':
      if (trigger.phase === 'execute') executeSettled(saga, state, trigger, decision);
      else compensateSettled(saga, state, trigger, decision);
      break;
    case 'timer':
      timerFired(saga, state, trigger, decision);
      break;
    case 'signal':
      signalReceived(saga, state, trigger, decision);
      break;
    case 'cancel':
      cancel(state, trigger.reason, trigger.by, decision);
      break;
    default:
      return assertNever(trigger);
  }
  const commands = decision.take();
  spareDecision = decision;
  return commands;
}

/** The Decision {@link decide} reuses; `undefined` while a decision is being made. */
let spareDecision: Decision | undefined;

/** No commands: shared, so that a decision with nothing to do allocates nothing. */
const NONE: readonly Command[] = Object.freeze([]);

/**
 * A command list handed back by {@link recycleCommands}, emptied, for the next decision to fill;
 * `undefined` while a decision holds it (a decision made meanwhile gets a list of its own).
 */
let spareList: Command[] | undefined;

/**
 * Hands a list {@link decide} returned back to it, once the caller is done reading it: the next
 * decision fills it again instead of making a new array (a run makes about thirty decisions).
 *
 * @remarks
 * For a caller that reads a decision's commands at once and keeps none of the list (the
 * interpreter); the commands themselves are not touched. A caller that keeps the list, or never
 * calls this, loses nothing: `decide` then makes a new list. Emptied with `pop()`, which keeps the
 * array's capacity (setting `length = 0` would drop it).
 */
export function recycleCommands(commands: readonly Command[]): void {
  if (commands === NONE || spareList !== undefined) return;
  const list = commands as Command[];
  while (list.length > 0) list.pop();
  spareList = list;
}

/**
 * The commands of one decision, with the events numbered after the state's last one. Events on
 * the hot path are built as whole literals (one allocation, one hidden class per type); the rest
 * from drafts.
 */
class Decision {
  private list: Command[] | undefined = undefined;
  private nextSeq = 0;
  private runId = '';
  private saga = '';
  now = 0;

  /** Starts a decision about `state`, its events stamped `now`. */
  begin(state: RunState, now: number): this {
    this.list = undefined;
    this.nextSeq = state.lastSeq + 1;
    this.runId = state.runId;
    this.saga = state.saga;
    this.now = now;
    return this;
  }

  /** The decision's commands; the Decision is ready for another {@link Decision.begin}. */
  take(): readonly Command[] {
    const commands = this.list ?? NONE;
    this.list = undefined;
    return commands;
  }

  push(command: Command): void {
    let list = this.list;
    if (list === undefined) {
      list = spareList ?? youngArray<Command>();
      spareList = undefined;
      this.list = list;
    }
    list.push(command);
  }

  append(draft: SagaEventDraft): void {
    this.event({ ...draft, runId: this.runId, saga: this.saga, seq: this.nextSeq, at: this.now });
  }

  startStage(name: string, record: StageState): void {
    const attempt = record.attempts + 1;
    this.event({ type: 'stage.started', runId: this.runId, saga: this.saga, seq: this.nextSeq, at: this.now, stage: name, attempt });
    this.push({ type: 'attempt', phase: 'execute', stage: name, attempt });
  }

  startCompensation(name: string, record: StageState): void {
    const attempt = (record.compensation?.attempts ?? 0) + 1;
    this.event({ type: 'compensation.started', runId: this.runId, saga: this.saga, seq: this.nextSeq, at: this.now, stage: name, attempt });
    this.push({ type: 'attempt', phase: 'compensate', stage: name, attempt });
  }

  stageCompleted(stage: string, attempt: number, output: unknown, durationMs: number): void {
    const { runId, saga, nextSeq: seq, now: at } = this;
    this.event(
      output === undefined
        ? { type: 'stage.completed', runId, saga, seq, at, stage, attempt, durationMs }
        : { type: 'stage.completed', runId, saga, seq, at, stage, attempt, output, durationMs },
    );
  }

  stageFailed(stage: string, attempt: number, error: SerializedError): void {
    this.event({ type: 'stage.failed', runId: this.runId, saga: this.saga, seq: this.nextSeq, at: this.now, stage, attempt, error });
  }

  compensationCompleted(stage: string, attempt: number, durationMs: number): void {
    this.event({ type: 'compensation.completed', runId: this.runId, saga: this.saga, seq: this.nextSeq, at: this.now, stage, attempt, durationMs });
  }

  compensating(cause: RollbackCause): void {
    this.event({ type: 'run.compensating', runId: this.runId, saga: this.saga, seq: this.nextSeq, at: this.now, cause });
  }

  /** A settling event that carries nothing else, then `finish`. */
  settle(type: 'run.completed' | 'run.compensated' | 'run.cancelled' | 'run.compensation_failed'): void {
    this.event({ type, runId: this.runId, saga: this.saga, seq: this.nextSeq, at: this.now });
    this.push(FINISH);
  }

  private event(event: SagaEvent): void {
    this.nextSeq++;
    this.push(event);
  }
}

const FINISH: Effect = Object.freeze({ type: 'finish' });

/** Whether a command is an event to append (anything but the five effects). */
export function isAppend(command: Command): command is SagaEvent {
  // By tag: a property load, where `'seq' in command` over twenty shapes takes V8's slow path.
  const type = command.type;
  return type !== 'attempt' && type !== 'abort' && type !== 'timer' && type !== 'clear-timer' && type !== 'finish';
}

/**
 * Whether the run has nothing to do but wait, and until when: the earliest `dueAt` of its waits
 * (epoch ms), `null` when only a signal (or a cancel) can wake it, `undefined` when it is busy.
 *
 * @remarks
 * A run rests when it goes forward, is not stopping, has no stage ready to start, and every stage
 * in flight is a wait (no attempt running, no retry pending). A worker parks such a run: it gives
 * its lease back and forgets it until the store hands it out again (the due time, a signal, a
 * cancel request). Pure: a function of the fold's state only.
 */
export function restingUntil(state: RunState): number | null | undefined {
  const waits = state.waits;
  if (waits === undefined || waits.size === 0 || state.stopping || state.status !== 'running') return undefined;
  if (state.readyStages.length > 0 || state.inFlight !== waits.size) return undefined;
  let until: number | null = null;
  for (const wait of waits.values()) if (wait.dueAt !== undefined && (until === null || wait.dueAt < until)) until = wait.dueAt;
  return until;
}

// ---------------------------------------------------------------------------------------------
// The level: what the state allows now.

function step(saga: Saga, state: RunState, decision: Decision): void {
  switch (state.status) {
    case 'queued':
    case 'running':
      if (!state.stopping) return goForward(saga, state, decision);
      if (state.inFlight > 0) return;
      // The forward phase has settled: pause, keep, or roll back.
      if (state.failure !== undefined && saga.policies.onFailure === 'pause') {
        decision.append({ type: 'run.paused', failure: state.failure });
        decision.push(FINISH);
      } else if (state.failure === undefined && saga.policies.onCancel === 'keep') {
        decision.settle('run.cancelled');
      } else {
        decision.compensating(rollbackCause(state));
      }
      return;
    case 'compensating':
      return rollBack(saga, state, decision);
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

function goForward(saga: Saga, state: RunState, decision: Decision): void {
  if (state.remaining === 0) {
    if (state.inFlight === 0) decision.settle('run.completed');
    return;
  }
  let slots = saga.policies.concurrency - state.inFlight;
  const ready = state.readyStages;
  for (let index = 0; index < ready.length; index++) {
    if (slots <= 0) return;
    const name = ready[index] as string;
    const record = state.stages.get(name);
    if (record === undefined || saga.stage(name) === undefined) continue;
    decision.startStage(name, record);
    slots--;
  }
}

function rollBack(saga: Saga, state: RunState, decision: Decision): void {
  const rollback = state.rollback;
  if (rollback === undefined) throw new TypeError(`Run ${state.runId} is compensating without a rollback plan: its journal records no shape and none was given.`);
  if (rollback.unsettled === 0 && rollback.inFlight === 0) {
    let failed = false;
    for (const name of rollback.order) if (state.stages.get(name)?.compensation?.status === 'failed') failed = true;
    decision.settle(failed ? 'run.compensation_failed' : state.failure === undefined ? 'run.cancelled' : 'run.compensated');
    return;
  }
  if (saga.policies.compensation === 'parallel') {
    for (const name of rollback.ready) {
      const record = state.stages.get(name);
      if (record !== undefined) decision.startCompensation(name, record);
    }
    return;
  }
  if (rollback.inFlight > 0) return;
  const name = rollback.order[rollback.next];
  const record = name === undefined ? undefined : state.stages.get(name);
  if (name !== undefined && record !== undefined) decision.startCompensation(name, record);
}

// ---------------------------------------------------------------------------------------------
// The edges: what one trigger changes.

/**
 * The events that pick a stored run up, as {@link decide} writes them for a `resume` trigger. For
 * an operator's hand-back of a submitted run to the workers' queue, which needs no definition.
 */
export function resumeEvents(state: RunState, trigger: Extract<Trigger, { type: 'resume' }>, now: number): SagaEvent[] {
  const decision = new Decision().begin(state, now);
  resume(undefined, state, trigger, decision);
  return decision.take().filter(isAppend);
}

/**
 * The events that cancel a submitted run no stage of which has started (it is `queued`, its
 * journal only `run.started` and perhaps `run.resumed`): the run stops with nothing to undo, so
 * whatever its definition's policies say, it is cancelled at once. For an operator's cancel of
 * such a run, which needs no definition (no worker may have it: its saga retired).
 */
export function cancelUnstartedEvents(state: RunState, reason: string, now: number): SagaEvent[] {
  const decision = new Decision().begin(state, now);
  decision.append({ type: 'run.cancelling', reason, by: 'external' });
  decision.settle('run.cancelled');
  return decision.take().filter(isAppend);
}

/** `saga` is the definition the run goes on with; `undefined` for a hand-back, which picks nothing up. */
function resume(saga: Saga | undefined, state: RunState, trigger: Extract<Trigger, { type: 'resume' }>, decision: Decision): void {
  const change = trigger.change;
  decision.append(
    change === undefined
      ? { type: 'run.resumed', mode: trigger.mode }
      : { type: 'run.resumed', mode: trigger.mode, version: change.version, shapeHash: change.shapeHash, shape: change.shape },
  );
  switch (trigger.mode) {
    case 'resume':
      return pickUpInterrupted(saga, state, trigger.cancel, trigger.change, decision);
    case 'redrive':
      return;
    case 'compensate':
      decision.compensating(rollbackCause(state));
      return;
    default:
      return assertNever(trigger.mode);
  }
}

/**
 * After a crash: what was in flight in the process that stopped is in flight nowhere. An attempt
 * that had started runs again (same idempotency key), unless the run was already stopping: then
 * nobody knows whether it took effect, and it is settled as outcome-unknown, to be compensated
 * with no output. A wait before a retry goes on for what is left of it (never more than its whole
 * delay: see `retryWaitLeft`); one already over starts its attempt in this decision, so that it
 * is under way before anything else can settle the run.
 * A stage that waits on a dependency that has not completed (only after a change of definition)
 * runs again once it is ready, as any other.
 */
function pickUpInterrupted(
  saga: Saga | undefined,
  state: RunState,
  cancelRequest: { readonly reason: string; readonly by: string } | undefined,
  change: DefinitionChange | undefined,
  decision: Decision,
): void {
  if (state.status === 'queued' || state.status === 'running') {
    let stopping = state.stopping;
    if (!stopping && cancelRequest !== undefined) {
      decision.append({ type: 'run.cancelling', reason: cancelRequest.reason, by: cancelRequest.by });
      stopping = true;
    }
    const reason = stopping ? stopReason(state, cancelRequest?.reason) : '';
    for (const [name, record] of state.stages) {
      if (record.status !== 'running') continue;
      const wait = state.waits?.get(name);
      if (wait !== undefined) {
        // A wait goes on for what is left of it; it holds no attempt to re-run.
        if (stopping) decision.append({ type: 'stage.cancelled', stage: name, reason });
        else if (wait.dueAt !== undefined) decision.push({ type: 'timer', phase: 'execute', stage: name, delayMs: Math.max(0, wait.dueAt - decision.now) });
      } else if (!stopping && (change === undefined || saga === undefined ? record.waitingOn > 0 : hasPendingAncestor(saga, state, name))) {
        // The new definition puts a stage that has not completed before this one: it runs again
        // once that stage completes (the fold makes it ready then), not before.
        continue;
      } else if (record.retryAt !== undefined && (stopping || record.retryAt > decision.now)) {
        if (stopping) decision.append({ type: 'stage.cancelled', stage: name, reason });
        else decision.push({ type: 'timer', phase: 'execute', stage: name, delayMs: retryWaitLeft(record, decision.now) });
      } else if (stopping) {
        decision.append({
          type: 'stage.cancelled',
          stage: name,
          reason: 'the process stopped while this stage was in flight and the run was stopping; its outcome is unknown',
          outcomeUnknown: true,
        });
      } else {
        decision.startStage(name, record);
      }
    }
    return;
  }
  if (state.status === 'compensating') {
    for (const [name, record] of state.stages) {
      const compensation = record.compensation;
      if (compensation?.status !== 'running') continue;
      if (compensation.retryAt !== undefined && compensation.retryAt > decision.now) {
        decision.push({ type: 'timer', phase: 'compensate', stage: name, delayMs: retryWaitLeft(compensation, decision.now) });
      } else {
        decision.startCompensation(name, record);
      }
    }
  }
}

/**
 * What is left of a wait before a retry that was journaled due at `retryAt` (after the attempt
 * that ended at `attemptEndedAt`): until then on this process's clock, but never longer than the
 * whole delay. Another process wrote `retryAt` on its own clock; one whose clock is behind would
 * otherwise wait the skew on top of the delay (an hour behind, a 1 s backoff took an hour).
 */
function retryWaitLeft(record: { readonly retryAt?: number | undefined; readonly attemptEndedAt?: number | undefined }, now: number): number {
  const retryAt = record.retryAt ?? now;
  const left = retryAt - now;
  const whole = record.attemptEndedAt === undefined ? left : retryAt - record.attemptEndedAt;
  return Math.max(0, Math.min(left, whole));
}

function executeSettled(saga: Saga, state: RunState, trigger: Extract<Trigger, { type: 'settled' }>, decision: Decision): void {
  const { stage: name, attempt, result } = trigger;
  const record = state.stages.get(name);
  // A result for an attempt the journal does not have in flight (a late one) changes nothing.
  if (record === undefined || record.status !== 'running' || record.attempts !== attempt || record.retryAt !== undefined) return;
  if (result.ok) {
    const wait = saga.stage(name)?.wait;
    if (wait === undefined) decision.stageCompleted(name, attempt, result.output, result.durationMs);
    else if (state.stopping) decision.append({ type: 'stage.cancelled', stage: name, reason: stopReason(state) });
    else beginWait(state, name, attempt, wait, result.output as WaitPlan | undefined, decision);
    return;
  }
  if (result.cancel !== undefined && !state.stopping) {
    decision.append({ type: 'run.cancelling', reason: result.cancel, by: name });
    decision.append({ type: 'stage.cancelled', stage: name, reason: result.cancel });
    stopOthers(state, name, result.cancel, decision);
    return;
  }
  if (state.stopping) {
    const reason = result.cancel ?? stopReason(state);
    decision.append(
      result.invoked && result.error !== undefined && result.cancel === undefined
        ? { type: 'stage.cancelled', stage: name, reason, error: result.error }
        : { type: 'stage.cancelled', stage: name, reason },
    );
    return;
  }
  const error = result.error ?? { name: 'Error', message: `stage '${name}' was not invoked` };
  const policy = saga.stage(name)?.retry;
  if (policy !== undefined && mayRetry(policy, result.retryable, attempt - record.retryBase)) {
    const delayMs = retryDelayMs(policy, attempt - record.retryBase, () => trigger.jitter);
    decision.append({ type: 'stage.retrying', stage: name, attempt, error, delayMs });
    decision.push({ type: 'timer', phase: 'execute', stage: name, delayMs });
    return;
  }
  decision.stageFailed(name, attempt, error);
  stopOthers(state, name, `stage '${name}' failed`, decision);
}

function compensateSettled(saga: Saga, state: RunState, trigger: Extract<Trigger, { type: 'settled' }>, decision: Decision): void {
  const { stage: name, attempt, result } = trigger;
  const compensation = state.stages.get(name)?.compensation;
  if (compensation === undefined || compensation.status !== 'running' || compensation.attempts !== attempt || compensation.retryAt !== undefined) return;
  if (result.ok) {
    decision.compensationCompleted(name, attempt, result.durationMs);
    return;
  }
  const error = result.error ?? { name: 'Error', message: `the compensation of stage '${name}' was not invoked` };
  const policy = saga.stage(name)?.compensation.retry;
  if (policy !== undefined && mayRetry(policy, result.retryable, attempt - compensation.retryBase)) {
    const delayMs = retryDelayMs(policy, attempt - compensation.retryBase, () => trigger.jitter);
    decision.append({ type: 'compensation.retrying', stage: name, attempt, error, delayMs });
    decision.push({ type: 'timer', phase: 'compensate', stage: name, delayMs });
    return;
  }
  decision.append({ type: 'compensation.failed', stage: name, attempt, error });
}

function timerFired(saga: Saga, state: RunState, trigger: Extract<Trigger, { type: 'timer' }>, decision: Decision): void {
  const record = state.stages.get(trigger.stage);
  if (record === undefined) return;
  const wait = trigger.phase === 'execute' ? state.waits?.get(trigger.stage) : undefined;
  if (wait !== undefined) return waitDue(saga, state, trigger.stage, record, wait, decision);
  if (trigger.phase === 'compensate') {
    if (record.compensation?.status === 'running' && record.compensation.retryAt !== undefined) decision.startCompensation(trigger.stage, record);
    return;
  }
  if (record.status !== 'running' || record.retryAt === undefined) return;
  if (state.stopping) decision.append({ type: 'stage.cancelled', stage: trigger.stage, reason: stopReason(state) });
  else decision.startStage(trigger.stage, record);
}

function cancel(state: RunState, reason: string, by: string, decision: Decision): void {
  if (state.stopping || (state.status !== 'running' && state.status !== 'queued')) return;
  decision.append({ type: 'run.cancelling', reason, by });
  stopOthers(state, undefined, `the run was cancelled: ${reason}`, decision);
}

/**
 * The run starts stopping: abort every `execute` in flight, whose results are
 * then awaited, and give up every wait before a retry at once.
 */
function stopOthers(state: RunState, except: string | undefined, reason: string, decision: Decision): void {
  decision.push({ type: 'abort', reason });
  // Only stages in flight can be waiting to retry: most stops find none without looking further.
  // A held stage (only in a run resumed on another definition) is not in flight: look for it too.
  if (state.inFlight <= (except === undefined ? 0 : 1) && state.lastResumeMode === undefined) return;
  const waits = state.waits;
  for (const [name, record] of state.stages) {
    if (name === except || record.status !== 'running') continue;
    if (record.retryAt === undefined && waits?.has(name) !== true) {
      if (record.waitingOn === 0) continue;
      // Held since the takeover: its attempt in the process that stopped may have taken effect.
      decision.append({ type: 'stage.cancelled', stage: name, reason, outcomeUnknown: true });
      continue;
    }
    decision.push({ type: 'clear-timer', phase: 'execute', stage: name });
    decision.append({ type: 'stage.cancelled', stage: name, reason });
  }
}

// ---------------------------------------------------------------------------------------------
// Waits: a wait stage's attempt only computes when its wait ends; the wait itself is journaled.

/** The first signal of that name received before any stage waited for it. */
function bufferedSignal(state: RunState, signal: string): { readonly signalId: string; readonly payload?: unknown } | undefined {
  const signals = state.signals;
  if (signals === undefined) return undefined;
  for (const received of signals.values()) if (received.stage === undefined && received.signal === signal) return received;
  return undefined;
}

/**
 * A wait stage's attempt said when its wait ends: journal the wait, and arm its timer; a signal
 * already buffered, or a time already past, ends it at once.
 */
function beginWait(state: RunState, name: string, attempt: number, wait: WaitSpec, plan: WaitPlan | undefined, decision: Decision): void {
  const dueAt = plan?.dueAt ?? (plan?.delayMs === undefined ? undefined : decision.now + plan.delayMs);
  if (wait.kind === 'timer') {
    const at = dueAt ?? decision.now;
    decision.append({ type: 'wait.started', stage: name, kind: 'timer', dueAt: at });
    if (at <= decision.now) decision.stageCompleted(name, attempt, undefined, 0);
    else decision.push({ type: 'timer', phase: 'execute', stage: name, delayMs: at - decision.now });
    return;
  }
  const buffered = bufferedSignal(state, wait.signal);
  if (buffered !== undefined) {
    decision.append({ type: 'wait.started', stage: name, kind: 'signal', signal: wait.signal, signalId: buffered.signalId });
    decision.stageCompleted(name, attempt, buffered.payload, 0);
    return;
  }
  decision.append(dueAt === undefined ? { type: 'wait.started', stage: name, kind: 'signal', signal: wait.signal } : { type: 'wait.started', stage: name, kind: 'signal', signal: wait.signal, dueAt });
  if (dueAt !== undefined) decision.push({ type: 'timer', phase: 'execute', stage: name, delayMs: Math.max(0, dueAt - decision.now) });
}

/**
 * Whether stage `name` of `saga` has an ancestor that has not completed in `state`: after a change
 * of definition, a stage in flight at the takeover may now come after a stage that never ran.
 * The state is the one before the change is folded, so the definition's ancestry is read, not the
 * fold's counts; `ancestorsOf` caches it per definition.
 */
function hasPendingAncestor(saga: Saga, state: RunState, name: string): boolean {
  const stage = saga.stage(name);
  if (stage === undefined) return false;
  for (const ancestor of ancestorsOf(saga, stage)) if (state.stages.get(ancestor)?.status !== 'completed') return true;
  return false;
}

/** A wait's time came: a timer completes its stage; a signal wait times out (its fallback, or a failure). */
function waitDue(saga: Saga, state: RunState, name: string, record: StageState, wait: WaitState, decision: Decision): void {
  if (record.status !== 'running') return;
  if (state.stopping) {
    decision.append({ type: 'stage.cancelled', stage: name, reason: stopReason(state) });
    return;
  }
  const durationMs = waitedFor(wait, decision.now);
  if (wait.kind === 'timer') {
    decision.stageCompleted(name, record.attempts, undefined, durationMs);
    return;
  }
  const spec = saga.stage(name)?.wait;
  if (spec?.kind === 'signal' && spec.onTimeout !== undefined) {
    decision.stageCompleted(name, record.attempts, spec.onTimeout.output, durationMs);
    return;
  }
  const timeoutMs = (spec?.kind === 'signal' ? spec.timeoutMs : undefined) ?? (wait.dueAt ?? decision.now) - wait.since;
  decision.stageFailed(name, record.attempts, journaledWaitTimeout(saga.name, state.runId, name, wait.signal ?? '?', timeoutMs));
  stopOthers(state, name, `stage '${name}' failed`, decision);
}

/**
 * How long a wait that ends `now` lasted: never negative, which the event schema refuses (the
 * journal could no longer be read back). The process ending the wait may not be the one that
 * started it, and its clock may be behind that one's.
 */
function waitedFor(wait: WaitState, now: number): number {
  return Math.max(0, now - wait.since);
}

/**
 * A signal: journaled once per `signalId` while the run goes forward, and delivered to the first
 * stage waiting for its name, or buffered until one does.
 *
 * @remarks
 * A signal sent at or after the wait's `dueAt` is late, whether or not its timer has fired: the
 * wait times out first, as it would in a process that drove the run throughout. That is what
 * happens when nobody drove the run past its deadline (its process stopped) and a signal takes it
 * over, or is delivered as a worker claims it: the signal then goes where any signal after the
 * timeout goes (buffered if the run goes on with `onTimeout`, not journaled if it rolls back).
 * A request recorded through the store was sent at its `requestedAt` (`sentAt`): one sent before
 * the deadline, for an owner that froze or died before journaling it, is on time.
 */
function signalReceived(saga: Saga, state: RunState, trigger: Extract<Trigger, { type: 'signal' }>, decision: Decision): void {
  if (state.signals?.has(trigger.signalId) === true) return;
  if (state.stopping || (state.status !== 'running' && state.status !== 'queued')) return;
  const { signal, signalId, payload } = trigger;
  let waiting: string | undefined;
  let wait: WaitState | undefined;
  if (state.waits !== undefined) {
    for (const [name, candidate] of state.waits) {
      if (candidate.kind === 'signal' && candidate.signal === signal) {
        waiting = name;
        wait = candidate;
        break;
      }
    }
  }
  const record = waiting === undefined ? undefined : state.stages.get(waiting);
  if (waiting !== undefined && wait !== undefined && record !== undefined && wait.dueAt !== undefined && wait.dueAt <= Math.min(trigger.sentAt ?? decision.now, decision.now)) {
    decision.push({ type: 'clear-timer', phase: 'execute', stage: waiting });
    waitDue(saga, state, waiting, record, wait, decision);
    // Timed out without a fallback, the wait failed and the run stops: a signal is journaled only while it goes forward.
    const spec = saga.stage(waiting)?.wait;
    if (spec?.kind !== 'signal' || spec.onTimeout === undefined) return;
    decision.append(payload === undefined ? { type: 'signal.received', signal, signalId } : { type: 'signal.received', signal, signalId, payload });
    return;
  }
  if (waiting === undefined || wait === undefined || record === undefined) {
    decision.append(payload === undefined ? { type: 'signal.received', signal, signalId } : { type: 'signal.received', signal, signalId, payload });
    return;
  }
  decision.append(payload === undefined ? { type: 'signal.received', signal, signalId, stage: waiting } : { type: 'signal.received', signal, signalId, payload, stage: waiting });
  if (wait.dueAt !== undefined) decision.push({ type: 'clear-timer', phase: 'execute', stage: waiting });
  decision.stageCompleted(waiting, record.attempts, payload, waitedFor(wait, decision.now));
}

function mayRetry(policy: ResolvedRetryPolicy, retryable: boolean, attemptsThisBudget: number): boolean {
  return retryable && attemptsThisBudget < policy.maxAttempts;
}

/** Why a run rolls back: its failure, its cancellation, or an operator's `compensate`. */
export function rollbackCause(state: RunState): RollbackCause {
  const { failure, cancellation } = state;
  if (failure !== undefined) return { kind: 'failed', stage: failure.stage, error: failure.error };
  if (cancellation !== undefined) return { kind: 'cancelled', reason: cancellation.reason, by: cancellation.by };
  return { kind: 'cancelled', reason: 'compensated by an operator', by: 'external' };
}

function stopReason(state: RunState, cancelReason?: string): string {
  if (state.failure !== undefined) return `stage '${state.failure.stage}' failed`;
  const reason = state.cancellation?.reason ?? cancelReason;
  if (reason !== undefined) return `the run was cancelled: ${reason}`;
  return 'the run is stopping';
}
