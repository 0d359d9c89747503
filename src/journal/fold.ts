import type { SerializedError } from '../errors/serialize-error.js';
import { freezeJson } from './freeze-json.js';
import type { Cancellation, RollbackCause, ResumeMode, SagaEvent, StageFailure } from './saga-event.js';
import type { RunStatus } from './outcome.js';

/**
 * Where a stage's `execute` stands, as folded from the journal.
 *
 * @remarks
 * The status of {@link StageState}, before compensation is taken into account; the public
 * {@link StageStatus} of an outcome adds the compensation states on top of it. `running` means a
 * `stage.started` with nothing settling it yet: after a crash, such a stage may or may not have
 * taken effect. A completed stage stays `completed` in this status even once compensated.
 *
 * @example
 * ```ts
 * import type { ExecutionStatus } from 'sagaflow';
 * const done = (status: ExecutionStatus) => status === 'completed';
 * ```
 */
export type ExecutionStatus = 'not_started' | 'running' | 'completed' | 'failed' | 'cancelled';

/**
 * Where a stage's `compensate` stands, as folded from the journal.
 *
 * @remarks
 * `pending` is a failed compensation that a redrive put back in line; it runs again with a fresh
 * retry budget. `running` means a `compensation.started` with nothing settling it yet (after a
 * crash, it runs again on resume). `completed` is final: a completed compensation never runs
 * again.
 *
 * @example
 * ```ts
 * import type { CompensationStatus } from 'sagaflow';
 * const settled = (status: CompensationStatus) => status === 'completed' || status === 'failed';
 * ```
 */
export type CompensationStatus = 'pending' | 'running' | 'completed' | 'failed';

/**
 * The folded state of one compensation.
 *
 * @remarks
 * Present on a {@link StageState} once its first `compensation.started` is folded; absent for
 * stages that were never compensated (including those without `compensate`). `attempts` counts
 * across resumes and redrives. The public view of it is {@link CompensationRecord}.
 *
 * @example
 * ```ts
 * import type { CompensationState } from 'sagaflow';
 * const retried = (state: CompensationState) => state.attempts > 1;
 * ```
 */
export interface CompensationState {
  /** Where the compensation stands. */
  readonly status: CompensationStatus;
  /** Attempts of `compensate` so far. */
  readonly attempts: number;
  /** The last error of `compensate` while it is retried or once it failed; dropped when it completes. */
  readonly error?: SerializedError;
  /** When the first attempt started (epoch ms). */
  readonly startedAt?: number;
  /** When it completed or finally failed (epoch ms). */
  readonly endedAt?: number;
}

/**
 * The folded state of one stage.
 *
 * @remarks
 * One entry of `RunState.stages`, the runtime's view of a stage: `status` is the
 * {@link ExecutionStatus} of `execute`, and `compensation` sits beside it. {@link toOutcome}
 * turns it into the public {@link StageRecord}, merging both into one {@link StageStatus}.
 * `output` is kept after a compensation; `error` is the latest error of `execute` (a retried
 * error is replaced by the next, and cleared when the stage completes).
 *
 * @example
 * ```ts
 * import type { StageState } from 'sagaflow';
 * const failedAfter = (state: StageState) => (state.status === 'failed' ? state.attempts : 0);
 * ```
 */
export interface StageState {
  /** Where the stage's `execute` stands. */
  readonly status: ExecutionStatus;
  /** Attempts of `execute` so far. */
  readonly attempts: number;
  /** The output, when `status` is `completed` (absent when the stage returned `undefined`). */
  readonly output?: unknown;
  /** The last error of `execute`. */
  readonly error?: SerializedError;
  /** When the first attempt started (epoch ms). */
  readonly startedAt?: number;
  /** When the stage completed, failed or was cancelled (epoch ms). */
  readonly endedAt?: number;
  /** Why the stage was cancelled, when it was. */
  readonly cancelReason?: string;
  /** The stage was in flight when the process stopped during a stop: it may or may not have taken effect. */
  readonly outcomeUnknown: boolean;
  /** The compensation, once one started. */
  readonly compensation?: CompensationState;
}

/**
 * Everything the journal says about a run: the result of {@link foldJournal}.
 *
 * @remarks
 * This is the only derived state in sagaflow: the outcome, `inspect`, resume, redrive,
 * compensate and the CLI all read it.
 *
 * @example
 * ```ts
 * import { foldJournal, type SagaEvent } from 'sagaflow';
 * declare const journal: SagaEvent[];
 * const state = foldJournal(journal);
 * state.completionOrder; // e.g. ['debit', 'credit']
 * ```
 */
export interface RunState {
  /** The run's id. */
  readonly runId: string;
  /** The saga's name. */
  readonly saga: string;
  /** The saga version the run continues with (changed by a redrive with an explicit `saga`). */
  readonly version: string;
  /** The shape hash the run continues with. */
  readonly shapeHash: string;
  /** The run's validated input. */
  readonly input: unknown;
  /** The saga's stage names, in declaration order, as recorded on `run.started`. */
  readonly stageNames: readonly string[];
  /** Whether the run was submitted to workers. */
  readonly submitted: boolean;
  /** The run's status. */
  readonly status: RunStatus;
  /** Every stage, in declaration order. */
  readonly stages: ReadonlyMap<string, StageState>;
  /** Stages in the order they completed. */
  readonly completionOrder: readonly string[];
  /**
   * Started stages in the order they settled (completed, failed or cancelled): the order a
   * rollback walks backwards. A stage that is re-executed by a redrive moves to its new place.
   */
  readonly settleOrder: readonly string[];
  /** Stages in the order their compensation completed. */
  readonly compensationOrder: readonly string[];
  /** The run's failure: the first final failure of a stage. */
  readonly failure?: StageFailure;
  /** Why and by whom the run was cancelled. */
  readonly cancellation?: Cancellation;
  /** Why the run is rolling back, once it started to. */
  readonly compensationCause?: RollbackCause;
  /** A failure or cancellation is recorded and the run has not yet settled or paused. */
  readonly stopping: boolean;
  /** The last resume mode, if the run was ever resumed. */
  readonly lastResumeMode?: ResumeMode;
  /** `seq` of the last event. */
  readonly lastSeq: number;
  /** `at` of `run.started`. */
  readonly startedAt: number;
  /** `at` of the last event. */
  readonly updatedAt: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type MutableStage = Omit<Mutable<StageState>, 'compensation'> & { compensation?: Mutable<CompensationState> };

/** The fold's working copy. It never escapes {@link foldJournal} or the runtime that owns it. */
export interface MutableRunState extends Mutable<Omit<RunState, 'stages' | 'completionOrder' | 'settleOrder' | 'compensationOrder'>> {
  stages: Map<string, MutableStage>;
  completionOrder: string[];
  settleOrder: string[];
  compensationOrder: string[];
}

/**
 * Folds a journal into the state of its run.
 *
 * @remarks
 * A pure function of the events: the same journal always gives the same state, wherever it
 * was read from. It is the only place state is derived. The journal must start with
 * `run.started`.
 *
 * @throws `TypeError` when the journal is empty or does not start with `run.started`.
 *
 * @example
 * ```ts
 * import { foldJournal, toOutcome, type SagaEvent } from 'sagaflow';
 * declare const journal: SagaEvent[];
 * const outcome = toOutcome(foldJournal(journal));
 * ```
 */
export function foldJournal(events: readonly SagaEvent[]): RunState {
  const first = events[0];
  if (first?.type !== 'run.started') {
    throw new TypeError('A journal must start with a run.started event.');
  }
  const state = initialRunState(first);
  for (let index = 1; index < events.length; index++) applyEvent(state, events[index] as SagaEvent);
  return state;
}

/**
 * Creates the working state for a run from its `run.started` event.
 * Internal: the runtime keeps one per live run and feeds it events with {@link applyEvent},
 * so following a run costs O(1) per event instead of a refold.
 */
export function initialRunState(started: Extract<SagaEvent, { type: 'run.started' }>): MutableRunState {
  const stages = new Map<string, MutableStage>();
  for (const name of started.stages) stages.set(name, { status: 'not_started', attempts: 0, outcomeUnknown: false });
  return {
    runId: started.runId,
    saga: started.saga,
    version: started.version,
    shapeHash: started.shapeHash,
    input: freezeJson(started.input),
    stageNames: started.stages,
    submitted: started.submitted === true,
    status: started.submitted === true ? 'queued' : 'running',
    stages,
    completionOrder: [],
    settleOrder: [],
    compensationOrder: [],
    stopping: false,
    lastSeq: started.seq,
    startedAt: started.at,
    updatedAt: started.at,
  };
}

function stageOf(state: MutableRunState, name: string): MutableStage {
  let stage = state.stages.get(name);
  if (stage === undefined) {
    stage = { status: 'not_started', attempts: 0, outcomeUnknown: false };
    state.stages.set(name, stage);
  }
  return stage;
}

/** Appends a stage to the settle order; only a stage settled twice (never in a sound journal) pays for a search. */
function settle(state: MutableRunState, stage: MutableStage, name: string): void {
  if (stage.status === 'completed' || stage.status === 'failed' || stage.status === 'cancelled') {
    const index = state.settleOrder.lastIndexOf(name);
    if (index !== -1) state.settleOrder.splice(index, 1);
  }
  state.settleOrder.push(name);
}

/**
 * Applies one event to a working state, in place: the single step of {@link foldJournal}.
 * Internal to the fold and the runtime.
 */
export function applyEvent(state: MutableRunState, event: SagaEvent): void {
  state.lastSeq = event.seq;
  state.updatedAt = event.at;
  if (state.status === 'queued' && event.type !== 'run.started') state.status = 'running';
  switch (event.type) {
    case 'run.started':
      return;
    case 'stage.started': {
      const stage = stageOf(state, event.stage);
      if (stage.status !== 'running') {
        // A re-execution after a redrive: the stage leaves its old place in the rollback order.
        if (stage.status !== 'not_started') {
          const index = state.settleOrder.lastIndexOf(event.stage);
          if (index !== -1) state.settleOrder.splice(index, 1);
        }
        stage.status = 'running';
        delete stage.endedAt;
        delete stage.cancelReason;
        stage.outcomeUnknown = false;
      }
      stage.attempts = Math.max(stage.attempts, event.attempt);
      stage.startedAt ??= event.at;
      return;
    }
    case 'stage.retrying': {
      const stage = stageOf(state, event.stage);
      stage.error = event.error;
      return;
    }
    case 'stage.completed': {
      const stage = stageOf(state, event.stage);
      if (stage.status !== 'completed') state.completionOrder.push(event.stage);
      settle(state, stage, event.stage);
      stage.status = 'completed';
      stage.attempts = Math.max(stage.attempts, event.attempt);
      if ('output' in event) stage.output = freezeJson(event.output);
      delete stage.error;
      stage.endedAt = event.at;
      return;
    }
    case 'stage.failed': {
      const stage = stageOf(state, event.stage);
      settle(state, stage, event.stage);
      stage.status = 'failed';
      stage.attempts = Math.max(stage.attempts, event.attempt);
      stage.error = event.error;
      stage.endedAt = event.at;
      state.failure ??= { stage: event.stage, error: event.error };
      state.stopping = true;
      return;
    }
    case 'stage.cancelled': {
      const stage = stageOf(state, event.stage);
      if (stage.attempts > 0) settle(state, stage, event.stage);
      stage.status = 'cancelled';
      stage.cancelReason = event.reason;
      if (event.error !== undefined) stage.error = event.error;
      if (event.outcomeUnknown === true) stage.outcomeUnknown = true;
      stage.endedAt = event.at;
      return;
    }
    case 'run.cancelling':
      state.cancellation ??= { reason: event.reason, by: event.by };
      state.stopping = true;
      return;
    case 'run.compensating':
      state.status = 'compensating';
      state.compensationCause = event.cause;
      return;
    case 'compensation.started': {
      const stage = stageOf(state, event.stage);
      const previous = stage.compensation;
      const compensation: Mutable<CompensationState> = {
        status: 'running',
        attempts: Math.max(previous?.attempts ?? 0, event.attempt),
        startedAt: previous?.startedAt ?? event.at,
      };
      if (previous?.error !== undefined) compensation.error = previous.error;
      stage.compensation = compensation;
      return;
    }
    case 'compensation.retrying': {
      const compensation = stageOf(state, event.stage).compensation;
      if (compensation !== undefined) compensation.error = event.error;
      return;
    }
    case 'compensation.completed': {
      const stage = stageOf(state, event.stage);
      stage.compensation = settledCompensation('completed', stage.compensation, event.attempt, event.at);
      state.compensationOrder.push(event.stage);
      return;
    }
    case 'compensation.failed': {
      const stage = stageOf(state, event.stage);
      stage.compensation = settledCompensation('failed', stage.compensation, event.attempt, event.at, event.error);
      return;
    }
    case 'run.resumed':
      applyResumed(state, event.mode);
      if (event.version !== undefined) state.version = event.version;
      if (event.shapeHash !== undefined) state.shapeHash = event.shapeHash;
      return;
    case 'run.paused':
      state.status = 'paused';
      state.stopping = false;
      state.failure = event.failure;
      return;
    case 'run.completed':
      state.status = 'completed';
      state.stopping = false;
      return;
    case 'run.compensated':
      state.status = 'compensated';
      state.stopping = false;
      return;
    case 'run.cancelled':
      state.status = 'cancelled';
      state.stopping = false;
      return;
    case 'run.compensation_failed':
      state.status = 'compensation_failed';
      state.stopping = false;
      return;
    default:
      return assertNever(event);
  }
}

/** A compensation's state once it completed or finally failed: the error is kept only for a failure. */
function settledCompensation(
  status: 'completed' | 'failed',
  previous: CompensationState | undefined,
  attempt: number,
  at: number,
  error?: SerializedError,
): Mutable<CompensationState> {
  const compensation: Mutable<CompensationState> = { status, attempts: Math.max(previous?.attempts ?? 0, attempt) };
  if (error !== undefined) compensation.error = error;
  compensation.endedAt = at;
  if (previous?.startedAt !== undefined) compensation.startedAt = previous.startedAt;
  return compensation;
}

function applyResumed(state: MutableRunState, mode: ResumeMode): void {
  state.lastResumeMode = mode;
  switch (mode) {
    case 'resume':
      return;
    case 'redrive':
      if (state.status === 'paused') {
        // Forward again from the failure point: the failure no longer describes the run.
        state.status = 'running';
        delete state.failure;
        state.stopping = false;
      } else if (state.status === 'compensation_failed') {
        state.status = 'compensating';
        state.stopping = true;
        for (const stage of state.stages.values()) {
          if (stage.compensation?.status === 'failed') stage.compensation.status = 'pending';
        }
      }
      return;
    case 'compensate':
      state.stopping = true;
      return;
    default:
      return assertNever(mode);
  }
}

/** Exhaustiveness check for switches over discriminated unions. */
export function assertNever(value: never): never {
  throw new TypeError(`Unexpected value: ${JSON.stringify(value)}`);
}
