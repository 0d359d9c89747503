import type { SerializedError } from '../errors/serialize-error.js';
import type { DeepReadonly } from '../definition/deep-readonly.js';
import type { ReadonlyResults } from '../definition/stage-definition.js';
import { assertNever, type CompensationState, type RunState, type StageState } from './fold.js';
import type { Cancellation, StageFailure } from './saga-event.js';

/**
 * Where a run stands: one of five settled statuses, or `queued`, `running` or `compensating`
 * while it is live.
 *
 * @remarks
 * The live statuses are only seen from `inspect` of a run that is being driven, or that a stopped
 * process left behind; an outcome from `run.outcome` always has a settled status, one of:
 *
 * - `completed`: every stage completed.
 * - `compensated`: a stage failed and the rollback succeeded.
 * - `cancelled`: the run was cancelled (and rolled back, unless `onCancel: 'keep'`).
 * - `compensation_failed`: at least one compensation exhausted its retries; `redrive` retries them.
 * - `paused`: a stage failed under `onFailure: 'pause'`; `redrive` or `compensate` continues it.
 *
 * @example
 * ```ts
 * import type { RunStatus } from 'sagaflow';
 * const needsOperator = (status: RunStatus) => status === 'paused' || status === 'compensation_failed';
 * ```
 */
export type RunStatus =
  | 'completed'
  | 'compensated'
  | 'cancelled'
  | 'compensation_failed'
  | 'paused'
  | 'queued'
  | 'running'
  | 'compensating';

/**
 * The statuses a run settles in: `completed`, `compensated`, `cancelled`,
 * `compensation_failed` and `paused`.
 *
 * @remarks
 * A run in one of them is driven by nobody: its handle's `outcome` has resolved and `events$` has
 * completed. The first three are final. `paused` and `compensation_failed` stay put until an
 * operator calls `redrive` (or `compensate` for a paused run); `recover()` leaves them alone.
 *
 * @example
 * ```ts
 * import { SETTLED_RUN_STATUSES } from 'sagaflow';
 * SETTLED_RUN_STATUSES.includes('paused'); // true
 * ```
 */
export const SETTLED_RUN_STATUSES: readonly RunStatus[] = Object.freeze([
  'completed',
  'compensated',
  'cancelled',
  'compensation_failed',
  'paused',
] as const);

/**
 * The statuses of a run that is still moving and should be resumed after a crash.
 *
 * @remarks
 * `running` and `compensating`: what `orchestrator.recover()` looks for. A run that a process
 * left in one of them (it crashed, or `close` timed out) continues from its journal with
 * `orchestrator.resume(runId)`. `queued` is not among them: a queued run belongs to the workers.
 *
 * @example
 * ```ts
 * import { UNFINISHED_RUN_STATUSES } from 'sagaflow';
 * UNFINISHED_RUN_STATUSES; // ['running', 'compensating']
 * ```
 */
export const UNFINISHED_RUN_STATUSES: readonly RunStatus[] = Object.freeze(['running', 'compensating'] as const);

/**
 * The statuses of a run that someone drives or will drive: `queued`, `running` and `compensating`.
 *
 * @remarks
 * The complement of {@link SETTLED_RUN_STATUSES}. Stores keep a lease and a cancel request only
 * while a run is in one of these; an append that moves a run out of them ends its lease. Unlike
 * {@link UNFINISHED_RUN_STATUSES} it includes `queued`: a submitted run waiting for a worker.
 *
 * @example
 * ```ts
 * import { ACTIVE_RUN_STATUSES } from 'sagaflow';
 * ACTIVE_RUN_STATUSES.includes('queued'); // true
 * ```
 */
export const ACTIVE_RUN_STATUSES: readonly RunStatus[] = Object.freeze(['queued', 'running', 'compensating'] as const);

/**
 * Tells whether a status is one a run settles in (see {@link SETTLED_RUN_STATUSES}).
 *
 * @remarks
 * `true` for `paused` and `compensation_failed` too: settled means nobody drives the run now, not
 * that it is finished for good. Use it to stop polling `inspect`.
 *
 * @example
 * ```ts
 * import { isSettledStatus } from 'sagaflow';
 * isSettledStatus('running'); // false
 * ```
 */
export function isSettledStatus(status: RunStatus): boolean {
  return SETTLED_RUN_STATUSES.includes(status);
}

/**
 * Where one stage of a run stands.
 *
 * @remarks
 * A stage that completed and was then rolled back is `compensated`; its output is still on
 * the outcome. A stage that rejected while the run was already stopping is `cancelled` (its
 * error kept on its record).
 *
 * @example
 * ```ts
 * import type { StageStatus } from 'sagaflow';
 * const undone = (status: StageStatus) => status === 'compensated';
 * ```
 */
export type StageStatus =
  | 'not_started'
  | 'running'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'compensating'
  | 'compensated'
  | 'compensation_failed';

/**
 * What the journal says about one compensation.
 *
 * @remarks
 * `StageRecord.compensation`, present once a compensation has started. Whether it succeeded is
 * in the stage's status (`compensating`, `compensated`, `compensation_failed`), not here. `error`
 * is the latest error of `compensate` while it is retried or once it has failed; it is dropped
 * when the compensation completes (the journal's `compensation.retrying` events keep every one).
 *
 * @example
 * ```ts
 * import type { CompensationRecord } from 'sagaflow';
 * const tries = (record: CompensationRecord) => record.attempts;
 * ```
 */
export interface CompensationRecord {
  /** Attempts of `compensate` so far, across resumes and redrives. */
  readonly attempts: number;
  /** The last error of `compensate` while it is retried or once it failed; dropped when it completes. */
  readonly error?: SerializedError;
  /** When the first attempt started (epoch ms). */
  readonly startedAt?: number;
  /** When the compensation completed or finally failed (epoch ms). */
  readonly endedAt?: number;
}

/**
 * What the journal says about one stage of a run.
 *
 * @remarks
 * One entry of `SagaOutcome.stages`, for every stage of the saga whether or not it ran. A
 * stage that never started is `not_started` with `attempts: 0`. `output` stays after the stage
 * is compensated. `error` of a `cancelled` stage is what it rejected with while the run was
 * stopping, if anything. Times come from the journal's `at` (the scheduler's clock).
 *
 * On the outcome of a typed saga's run, each record's `output` is typed with its stage's
 * output, frozen ({@link DeepReadonly}), as `outcome.outputs` is; `StageRecord` alone
 * (`TOutput` = `unknown`) is the record of any stage.
 *
 * @typeParam TOutput - the stage's output type; `unknown` for a stage of any saga.
 *
 * @example
 * ```ts
 * import type { StageRecord } from 'sagaflow';
 * const summary = (name: string, record: StageRecord) => `${name}: ${record.status} after ${record.attempts} attempt(s)`;
 * const pnr = (record: StageRecord<{ readonly pnr: string }>) => record.output?.pnr;
 * ```
 */
export interface StageRecord<TOutput = unknown> {
  /** The stage's status (see {@link StageStatus}). */
  readonly status: StageStatus;
  /** Attempts of `execute` so far, across retries, resumes and redrives. */
  readonly attempts: number;
  /** The stage's output, when it completed with one. Kept after it is compensated. */
  readonly output?: TOutput;
  /** The last error of `execute` (its final failure, or the error it rejected with while the run stopped). */
  readonly error?: SerializedError;
  /** When the stage's first attempt started (epoch ms). */
  readonly startedAt?: number;
  /** When the stage completed, failed or was cancelled (epoch ms). */
  readonly endedAt?: number;
  /** Why the stage was cancelled, when it was. */
  readonly cancelReason?: string;
  /** The compensation, once one started. */
  readonly compensation?: CompensationRecord;
}

/**
 * The names of a saga's stages, from its outputs type: `keyof TOutputs`, or `string` when the
 * saga is not known (`SagaOutcome`, `SagaOutcome<unknown>`).
 *
 * @remarks
 * How an outcome types `completionOrder`, `compensationOrder`, `failure.stage` and
 * `cancellation.by`: for a typed saga they hold only its stage names, so a misspelt name in a
 * comparison does not compile and a name read from them looks up `outcome.stages` directly.
 *
 * @typeParam TOutputs - the saga's stage outputs, keyed by stage name.
 *
 * @example
 * ```ts
 * import type { StageNameOf } from 'sagaflow';
 * type TripStage = StageNameOf<{ flight: { pnr: string }; car: { rentalId: string } }>; // 'flight' | 'car'
 * ```
 */
export type StageNameOf<TOutputs> = unknown extends TOutputs
  ? string
  : string extends keyof TOutputs
    ? string
    : [keyof TOutputs] extends [never]
      ? string
      : keyof TOutputs & string;

/**
 * The fields every {@link SagaOutcome} has, whatever the run's status.
 *
 * @remarks
 * `SagaOutcome` is this with `status` and `outputs` tied together: {@link CompletedSagaOutcome}
 * (every output present) or {@link UnfinishedSagaOutcome} (some). Use it to type code that reads
 * only the common fields of an outcome of any saga.
 *
 * @typeParam TOutputs - the saga's stage outputs, keyed by stage name.
 *
 * @example
 * ```ts
 * import type { SagaOutcomeBase } from 'sagaflow';
 * const label = (outcome: SagaOutcomeBase) => `${outcome.saga} v${outcome.version} ${outcome.runId}: ${outcome.status}`;
 * ```
 */
export interface SagaOutcomeBase<TOutputs = Record<string, unknown>> {
  /** The run's id. */
  readonly runId: string;
  /** The saga's name. */
  readonly saga: string;
  /** The saga version the run ran with. */
  readonly version: string;
  /** Where the run stands. */
  readonly status: RunStatus;
  /** The run's validated input. */
  readonly input: unknown;
  /**
   * Every stage that completed, compensated or not. Each output is the run's own value, deeply
   * frozen, so typed read-only at every depth ({@link DeepReadonly}): copy it to change it.
   */
  readonly outputs: { readonly [K in keyof TOutputs]?: DeepReadonly<TOutputs[K]> } & {};
  /**
   * Every stage of the saga, in declaration order, whether or not it ran (`not_started` if not).
   * For a typed saga it is keyed by the saga's stage names, each a {@link StageRecord} whose
   * `output` is typed with that stage's output: a misspelt name (`outcome.stages.cra`) does not
   * compile. A name from `completionOrder`, `compensationOrder` or `failure.stage` looks a record
   * up directly (`outcome.stages[outcome.failure.stage]`). To look one up by a name held in a
   * `string`, read it through the untyped outcome, which every typed one is:
   * `const any: SagaOutcome = outcome; any.stages[name]` (a `StageRecord | undefined` under
   * `noUncheckedIndexedAccess`).
   */
  readonly stages: string extends StageNameOf<TOutputs>
    ? Readonly<Record<string, StageRecord>>
    : { readonly [K in keyof TOutputs]: StageRecord<DeepReadonly<TOutputs[K]>> };
  /** Stages in the order they completed (for a typed saga, typed with its stage names). */
  readonly completionOrder: readonly StageNameOf<TOutputs>[];
  /** Stages in the order their compensation completed (for a typed saga, typed with its stage names). */
  readonly compensationOrder: readonly StageNameOf<TOutputs>[];
  /** The first final failure of a stage, when the run failed (`stage` typed with the saga's stage names). */
  readonly failure?: StageFailure<StageNameOf<TOutputs>>;
  /** Why and by whom the run was cancelled, when it was (`by` typed with the saga's stage names). */
  readonly cancellation?: Cancellation<StageNameOf<TOutputs>>;
}

/**
 * The outcome of a run that completed: every stage's output is present.
 *
 * @remarks
 * What `outcome.status === 'completed'` narrows a {@link SagaOutcome} to: `outputs` is then the
 * saga's full outputs type, as `orchestrator.run()` resolves with, not a `Partial` of it.
 *
 * @typeParam TOutputs - the saga's stage outputs, keyed by stage name.
 *
 * @example
 * ```ts
 * import type { CompletedSagaOutcome } from 'sagaflow';
 * const receipt = (outcome: CompletedSagaOutcome<{ charge: { chargeId: string } }>) => outcome.outputs.charge.chargeId;
 * ```
 */
export interface CompletedSagaOutcome<TOutputs = Record<string, unknown>> extends SagaOutcomeBase<TOutputs> {
  /** Every stage completed. */
  readonly status: 'completed';
  /**
   * The output of every stage. (`any` only for `CompletedSagaOutcome<unknown>`, so that an
   * outcome of any saga can be handled as `SagaOutcome<unknown>` and back.)
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above; never `any` for a typed saga
  readonly outputs: unknown extends TOutputs ? any : ReadonlyResults<TOutputs>;
}

/**
 * The outcome of a run that did not complete (or not yet): only the stages that completed have
 * an output.
 *
 * @remarks
 * What a {@link SagaOutcome} is when `status` is not `'completed'`: `compensated`, `cancelled`,
 * `compensation_failed`, `paused`, or, from `inspect` of a live run, `queued`, `running`,
 * `compensating`. `outputs` keeps every stage that completed, compensated or not.
 *
 * @typeParam TOutputs - the saga's stage outputs, keyed by stage name.
 *
 * @example
 * ```ts
 * import type { UnfinishedSagaOutcome } from 'sagaflow';
 * const kept = (outcome: UnfinishedSagaOutcome) => Object.keys(outcome.outputs);
 * ```
 */
export interface UnfinishedSagaOutcome<TOutputs = Record<string, unknown>> extends SagaOutcomeBase<TOutputs> {
  /** Any status but `completed`. */
  readonly status: Exclude<RunStatus, 'completed'>;
}

/**
 * Everything known about a run, in the same shape for every ending.
 *
 * @remarks
 * `outputs` holds the output of every stage that completed (parallel branches included),
 * whether it was compensated or not, so no completed work is ever lost. A failed and a
 * cancelled run have the same fields; `failure` or `cancellation` tells which it was.
 *
 * It is a union on `status`: checking `outcome.status === 'completed'` narrows `outputs` from a
 * `Partial` of the saga's outputs to all of them ({@link CompletedSagaOutcome}).
 *
 * `run.outcome` (from `start`) **resolves** with it for every ending, failed, cancelled and paused
 * ones included: check `status` before treating the run as done. `orchestrator.run()` resolves
 * only for `completed` and rejects with a `SagaRunError` that carries this outcome otherwise.
 *
 * @typeParam TOutputs - the saga's stage outputs, keyed by stage name.
 *
 * @example
 * ```ts
 * import type { SagaOutcome } from 'sagaflow';
 * function report(outcome: SagaOutcome<{ charge: { chargeId: string } }>) {
 *   if (outcome.status === 'completed') return `charged ${outcome.outputs.charge.chargeId}`;
 *   return `${outcome.saga} ${outcome.status}; rolled back: ${outcome.compensationOrder.join(', ') || 'nothing'}`;
 * }
 * ```
 */
export type SagaOutcome<TOutputs = Record<string, unknown>> = CompletedSagaOutcome<TOutputs> | UnfinishedSagaOutcome<TOutputs>;

/**
 * Turns a folded run state into the run's {@link SagaOutcome}.
 *
 * @remarks
 * The outcome is a snapshot: later events do not change it.
 *
 * @example
 * ```ts
 * import { foldJournal, toOutcome, type SagaEvent } from 'sagaflow';
 * declare const journal: SagaEvent[];
 * toOutcome(foldJournal(journal)).status;
 * ```
 */
export function toOutcome<TOutputs = Record<string, unknown>>(state: RunState): SagaOutcome<TOutputs> {
  const outcome = new PlainOutcome(state, {}, {});
  // The outcome is the callback's `this`: a closure over the two records would be a closure and a
  // context per outcome.
  state.stages.forEach(addStage, outcome);
  if (state.failure !== undefined) outcome.failure = state.failure;
  if (state.cancellation !== undefined) outcome.cancellation = state.cancellation;
  return outcome as unknown as SagaOutcome<TOutputs>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Adds a stage's output (when it completed) and record to the outcome {@link toOutcome} is making (`this`). */
function addStage(this: Mutable<SagaOutcomeBase>, stage: StageState, name: string): void {
  if (stage.status === 'completed') (this.outputs as Record<string, unknown>)[name] = stage.output;
  (this.stages as Record<string, StageRecord>)[name] = toStageRecord(stage);
}

/**
 * Makes the object {@link toOutcome} returns: a plain object (its prototype is `Object.prototype`,
 * as a literal's), made by a constructor on purpose. An object literal is an allocation site V8
 * may pretenure (allocate straight in the old generation) once most of its objects outlive a young
 * collection; a pretenured outcome, once dropped, keeps every young object it points to (outputs,
 * stage records) alive through young collections until the next full one. A constructor is never
 * pretenured. On the in-memory benchmark, 91–93 % of outcomes were allocated in the old generation
 * before, none now.
 */
const PlainOutcome = function PlainOutcome(this: Mutable<SagaOutcomeBase>, state: RunState, outputs: Record<string, unknown>, stages: Record<string, StageRecord>): void {
  this.runId = state.runId;
  this.saga = state.saga;
  this.version = state.version;
  this.status = state.status;
  this.input = state.input;
  this.outputs = outputs;
  this.stages = stages;
  this.completionOrder = state.completionOrder.slice();
  this.compensationOrder = state.compensationOrder.slice();
} as unknown as new (state: RunState, outputs: Record<string, unknown>, stages: Record<string, StageRecord>) => Mutable<SagaOutcomeBase>;
PlainOutcome.prototype = Object.prototype;

/**
 * The public view of a stage: optional fields are set only when present, in a fixed order.
 *
 * @remarks
 * Made by constructors (plain objects, as {@link PlainOutcome}): a literal gets room for the
 * properties it names and no more, so each optional field added after it went into a separate
 * property array, grown again by the fourth (about two more objects per record); a constructor's
 * objects keep room for the fields its first objects were given.
 */
function toStageRecord(stage: StageState): StageRecord {
  return new PlainStageRecord(stage);
}

const PlainStageRecord = function PlainStageRecord(this: Mutable<StageRecord>, stage: StageState): void {
  this.status = stageStatusOf(stage);
  this.attempts = stage.attempts;
  if (stage.status === 'completed' && stage.output !== undefined) this.output = stage.output;
  if (stage.error !== undefined) this.error = stage.error;
  if (stage.startedAt !== undefined) this.startedAt = stage.startedAt;
  if (stage.endedAt !== undefined) this.endedAt = stage.endedAt;
  if (stage.cancelReason !== undefined) this.cancelReason = stage.cancelReason;
  const compensation = stage.compensation;
  if (compensation !== undefined) this.compensation = new PlainCompensationRecord(compensation);
} as unknown as new (stage: StageState) => StageRecord;
PlainStageRecord.prototype = Object.prototype;

const PlainCompensationRecord = function PlainCompensationRecord(this: Mutable<CompensationRecord>, compensation: CompensationState): void {
  this.attempts = compensation.attempts;
  if (compensation.error !== undefined) this.error = compensation.error;
  if (compensation.startedAt !== undefined) this.startedAt = compensation.startedAt;
  if (compensation.endedAt !== undefined) this.endedAt = compensation.endedAt;
} as unknown as new (compensation: CompensationState) => CompensationRecord;
PlainCompensationRecord.prototype = Object.prototype;

/**
 * Where a folded stage stands, as one {@link StageStatus}: its execute status, with its
 * compensation's on top (`compensating`, `compensated`, `compensation_failed`).
 *
 * @remarks
 * What `StageRecord.status` of an outcome says, for a {@link StageState} read from the fold (a
 * {@link JournalFold} following a live run, say). A compensation that a redrive put back in line
 * (`pending`) shows the stage's execute status again until it runs.
 *
 * @example
 * ```ts
 * import { JournalFold, stageStatusOf, type SagaEvent } from 'sagaflow';
 * declare const events: SagaEvent[];
 * const fold = new JournalFold();
 * for (const event of events) fold.push(event);
 * for (const [name, stage] of fold.state?.stages ?? []) console.log(name, stageStatusOf(stage));
 * ```
 */
export function stageStatusOf(stage: StageState): StageStatus {
  const status = stage.compensation?.status;
  switch (status) {
    case 'running':
      return 'compensating';
    case 'completed':
      return 'compensated';
    case 'failed':
      return 'compensation_failed';
    case 'pending':
    case undefined:
      return stage.status;
    default:
      return assertNever(status);
  }
}
