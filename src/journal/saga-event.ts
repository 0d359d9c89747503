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
export type RollbackCause =
  | { readonly kind: 'failed'; readonly stage: string; readonly error: SerializedError }
  | { readonly kind: 'cancelled'; readonly reason: string; readonly by: string };

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

/** A run was created. The first event of every journal. */
export interface RunStartedEvent extends SagaEventBase {
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
export interface StageStartedEvent extends SagaEventBase {
  readonly type: 'stage.started';
  readonly stage: string;
  /** 1 for the first attempt; attempts keep counting across redrives. */
  readonly attempt: number;
}

/** An attempt failed with a retryable error; the next attempt starts after `delayMs`. */
export interface StageRetryingEvent extends SagaEventBase {
  readonly type: 'stage.retrying';
  readonly stage: string;
  readonly attempt: number;
  readonly error: SerializedError;
  readonly delayMs: number;
}

/** A stage's `execute` returned. `output` is absent when it returned `undefined`. */
export interface StageCompletedEvent extends SagaEventBase {
  readonly type: 'stage.completed';
  readonly stage: string;
  readonly attempt: number;
  readonly output?: unknown;
  readonly durationMs: number;
}

/** A stage failed finally (retries exhausted or a non-retryable error). */
export interface StageFailedEvent extends SagaEventBase {
  readonly type: 'stage.failed';
  readonly stage: string;
  readonly attempt: number;
  readonly error: SerializedError;
}

/**
 * A started stage ended without completing because the run was stopping, or the stage
 * cancelled the run itself with `ctx.cancel`.
 */
export interface StageCancelledEvent extends SagaEventBase {
  readonly type: 'stage.cancelled';
  readonly stage: string;
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
  readonly type: 'run.cancelling';
  readonly reason: string;
  /** `'external'`, or the name of the stage that called `ctx.cancel`. */
  readonly by: string;
}

/** The run started rolling back. */
export interface RunCompensatingEvent extends SagaEventBase {
  readonly type: 'run.compensating';
  readonly cause: RollbackCause;
}

/** An attempt of a stage's `compensate` is about to be invoked. */
export interface CompensationStartedEvent extends SagaEventBase {
  readonly type: 'compensation.started';
  readonly stage: string;
  readonly attempt: number;
}

/** A compensation attempt failed with a retryable error; it is retried after `delayMs`. */
export interface CompensationRetryingEvent extends SagaEventBase {
  readonly type: 'compensation.retrying';
  readonly stage: string;
  readonly attempt: number;
  readonly error: SerializedError;
  readonly delayMs: number;
}

/** A stage's `compensate` returned. */
export interface CompensationCompletedEvent extends SagaEventBase {
  readonly type: 'compensation.completed';
  readonly stage: string;
  readonly attempt: number;
  readonly durationMs: number;
}

/** A compensation failed finally; the other compensations still run. */
export interface CompensationFailedEvent extends SagaEventBase {
  readonly type: 'compensation.failed';
  readonly stage: string;
  readonly attempt: number;
  readonly error: SerializedError;
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
  readonly type: 'run.resumed';
  readonly mode: ResumeMode;
  /** Set when the run continues with another saga definition, passed explicitly (contract rule 8). */
  readonly version?: string;
  /** Set together with `version`. */
  readonly shapeHash?: string;
}

/** The run stopped after a failure with `onFailure: 'pause'`; it waits for `redrive` or `compensate`. */
export interface RunPausedEvent extends SagaEventBase {
  readonly type: 'run.paused';
  readonly failure: { readonly stage: string; readonly error: SerializedError };
}

/** Every stage completed. */
export interface RunCompletedEvent extends SagaEventBase {
  readonly type: 'run.completed';
}

/** The rollback after a failure finished; every compensation succeeded. */
export interface RunCompensatedEvent extends SagaEventBase {
  readonly type: 'run.compensated';
}

/** The cancelled run finished stopping (and rolling back, unless `onCancel: 'keep'`). */
export interface RunCancelledEvent extends SagaEventBase {
  readonly type: 'run.cancelled';
}

/** The rollback finished with at least one failed compensation. */
export interface RunCompensationFailedEvent extends SagaEventBase {
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
export const sagaEventSchemas = {
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
 * zod schema of any {@link SagaEvent} (a discriminated union on `type`).
 *
 * @example
 * ```ts
 * import { sagaEventSchema } from 'sagaflow';
 * const result = sagaEventSchema.safeParse(JSON.parse('{"type":"run.completed","runId":"r","saga":"s","seq":1,"at":0}'));
 * ```
 */
export const sagaEventSchema = z.discriminatedUnion('type', [
  sagaEventSchemas['run.started'],
  sagaEventSchemas['stage.started'],
  sagaEventSchemas['stage.retrying'],
  sagaEventSchemas['stage.completed'],
  sagaEventSchemas['stage.failed'],
  sagaEventSchemas['stage.cancelled'],
  sagaEventSchemas['run.cancelling'],
  sagaEventSchemas['run.compensating'],
  sagaEventSchemas['compensation.started'],
  sagaEventSchemas['compensation.retrying'],
  sagaEventSchemas['compensation.completed'],
  sagaEventSchemas['compensation.failed'],
  sagaEventSchemas['run.resumed'],
  sagaEventSchemas['run.paused'],
  sagaEventSchemas['run.completed'],
  sagaEventSchemas['run.compensated'],
  sagaEventSchemas['run.cancelled'],
  sagaEventSchemas['run.compensation_failed'],
]);

// Compile-time proof that the schemas and the hand-written types describe the same events.
type SchemaEvent = z.infer<typeof sagaEventSchema>;
type Assert<T extends true> = T;
// eslint-disable-next-line @typescript-eslint/no-unused-vars
type SchemasMatchTypes = Assert<
  SchemaEvent['type'] extends SagaEventType ? (SagaEventType extends SchemaEvent['type'] ? true : false) : false
>;
