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
 * @example
 * ```ts
 * import type { StageFailure } from 'sagaflow';
 * const where = (failure: StageFailure) => `${failure.stage}: ${failure.error.message}`;
 * ```
 */
export interface StageFailure {
  /** The stage that failed. */
  readonly stage: string;
  /** Its final error. */
  readonly error: SerializedError;
}

/**
 * The rollback cause of a run whose stage failed.
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
 * @example
 * ```ts
 * import type { Cancellation } from 'sagaflow';
 * const cancellation: Cancellation = { reason: 'customer request', by: 'external' };
 * ```
 */
export interface Cancellation {
  /** Why the run was cancelled. */
  readonly reason: string;
  /** `'external'` (run.cancel, the start signal, orchestrator.cancel), or the stage that called `ctx.cancel`. */
  readonly by: 'external' | (string & {});
}

/**
 * The rollback cause of a cancelled run.
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

/** A run was created. The first event of every journal. */
export interface RunStartedEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.started';
  /** The saga version the run was started with. */
  readonly version: string;
  /** Hash of the saga's shape (stages, dependencies, which stages compensate); see contract rule 8. */
  readonly shapeHash: string;
  /** The validated input. */
  readonly input: unknown;
  /** The saga's stage names, in declaration order. */
  readonly stages: readonly string[];
  /** True when the run was submitted to a worker queue rather than started in-process. */
  readonly submitted?: boolean;
}

/** An attempt of a stage's `execute` is about to be invoked. */
export interface StageStartedEvent extends SagaEventBase, StageAttemptFields {
  /** Discriminant. */
  readonly type: 'stage.started';
}

/** An attempt failed with a retryable error; the next attempt starts after `delayMs`. */
export interface StageRetryingEvent extends SagaEventBase, StageAttemptFields, RetryFields {
  /** Discriminant. */
  readonly type: 'stage.retrying';
}

/** A stage's `execute` returned. `output` is absent when it returned `undefined`. */
export interface StageCompletedEvent extends SagaEventBase, StageAttemptFields, DurationFields {
  /** Discriminant. */
  readonly type: 'stage.completed';
  /** What `execute` returned, as plain JSON. */
  readonly output?: unknown;
}

/** A stage failed finally (retries exhausted or a non-retryable error). */
export interface StageFailedEvent extends SagaEventBase, StageAttemptFields, ErrorFields {
  /** Discriminant. */
  readonly type: 'stage.failed';
}

/**
 * A started stage ended without completing because the run was stopping, or the stage
 * cancelled the run itself with `ctx.cancel`.
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
   * stopping: nobody knows whether it took effect, so it is compensated with `output: undefined`.
   */
  readonly outcomeUnknown?: boolean;
}

/** A cancellation was accepted; in-flight stages are being aborted and settled. */
export interface RunCancellingEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.cancelling';
  /** Why the run is cancelled. */
  readonly reason: string;
  /** `'external'`, or the name of the stage that called `ctx.cancel`. */
  readonly by: string;
}

/** The run started rolling back. */
export interface RunCompensatingEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.compensating';
  /** Why the run rolls back. */
  readonly cause: RollbackCause;
}

/** An attempt of a stage's `compensate` is about to be invoked. */
export interface CompensationStartedEvent extends SagaEventBase, StageAttemptFields {
  /** Discriminant. */
  readonly type: 'compensation.started';
}

/** A compensation attempt failed with a retryable error; it is retried after `delayMs`. */
export interface CompensationRetryingEvent extends SagaEventBase, StageAttemptFields, RetryFields {
  /** Discriminant. */
  readonly type: 'compensation.retrying';
}

/** A stage's `compensate` returned. */
export interface CompensationCompletedEvent extends SagaEventBase, StageAttemptFields, DurationFields {
  /** Discriminant. */
  readonly type: 'compensation.completed';
}

/** A compensation failed finally; the other compensations still run. */
export interface CompensationFailedEvent extends SagaEventBase, StageAttemptFields, ErrorFields {
  /** Discriminant. */
  readonly type: 'compensation.failed';
}

/**
 * How a stopped run was picked up again.
 *
 * @example
 * ```ts
 * import type { ResumeMode } from 'sagaflow';
 * const mode: ResumeMode = 'redrive';
 * ```
 */
export type ResumeMode = 'resume' | 'redrive' | 'compensate';

/** The run was picked up again: after a crash (`resume`), or by an operator (`redrive`, `compensate`). */
export interface RunResumedEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.resumed';
  /** How the run was picked up. */
  readonly mode: ResumeMode;
  /** Set when the run continues with another saga definition, passed explicitly (contract rule 8). */
  readonly version?: string;
  /** Set together with `version`. */
  readonly shapeHash?: string;
}

/** The run stopped after a failure with `onFailure: 'pause'`; it waits for `redrive` or `compensate`. */
export interface RunPausedEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.paused';
  /** The failure the run paused on. */
  readonly failure: StageFailure;
}

/** Every stage completed. */
export interface RunCompletedEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.completed';
}

/** The rollback after a failure finished; every compensation succeeded. */
export interface RunCompensatedEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.compensated';
}

/** The cancelled run finished stopping (and rolling back, unless `onCancel: 'keep'`). */
export interface RunCancelledEvent extends SagaEventBase {
  /** Discriminant. */
  readonly type: 'run.cancelled';
}

/** The rollback finished with at least one failed compensation. */
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
const durationMs = z.number().nonnegative();
const delayMs = z.number().nonnegative();

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
    submitted: z.boolean().optional(),
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
 * Stores validate every row they read back with {@link sagaEventSchema}; a row that does not
 * match is reported as a `StoreCorruptionError` naming the run and sequence number.
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
 * @example
 * ```ts
 * import { sagaEventSchema } from 'sagaflow';
 * const result = sagaEventSchema.safeParse(JSON.parse('{"type":"run.completed","runId":"r","saga":"s","seq":1,"at":0}'));
 * ```
 */
export const sagaEventSchema: z.ZodType<SagaEvent> = eventSchema as unknown as z.ZodType<SagaEvent>;

// Compile-time proof that the schemas and the hand-written types describe the same events.
type SchemaEvent = z.infer<typeof eventSchema>;
type Assert<T extends true> = T;
// eslint-disable-next-line @typescript-eslint/no-unused-vars
type SchemasMatchTypes = Assert<
  SchemaEvent['type'] extends SagaEventType ? (SagaEventType extends SchemaEvent['type'] ? true : false) : false
>;
