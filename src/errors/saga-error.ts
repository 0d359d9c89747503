/**
 * The stable codes of every error sagaflow throws, one per error class.
 *
 * @remarks
 * Match on `error.code` rather than on `instanceof` when errors cross a process or a bundle
 * boundary (two copies of the library, or an error read back from the journal).
 *
 * @example
 * ```ts
 * import { SagaErrorCode, type SagaError } from 'sagaflow';
 * const isRetryableInfra = (error: SagaError) => error.code === SagaErrorCode.StoreConflict;
 * ```
 */
export const SagaErrorCode = {
  DefinitionInvalid: 'SAGA_DEFINITION_INVALID',
  InputInvalid: 'SAGA_INPUT_INVALID',
  Failed: 'SAGA_FAILED',
  Cancelled: 'SAGA_CANCELLED',
  CompensationFailed: 'SAGA_COMPENSATION_FAILED',
  RunNotFound: 'RUN_NOT_FOUND',
  RunState: 'RUN_STATE_INVALID',
  ShapeMismatch: 'SAGA_SHAPE_MISMATCH',
  SagaNotRegistered: 'SAGA_NOT_REGISTERED',
  StoreConflict: 'STORE_CONFLICT',
  StoreCorruption: 'STORE_CORRUPTION',
  StoreUnavailable: 'STORE_UNAVAILABLE',
  StoreUnsupported: 'STORE_UNSUPPORTED',
  LeaseLost: 'LEASE_LOST',
  RunLeased: 'RUN_LEASED',
  StageTimeout: 'STAGE_TIMEOUT',
  NonRetryable: 'NON_RETRYABLE',
  StageOutputInvalid: 'STAGE_OUTPUT_INVALID',
  StageResultUnavailable: 'STAGE_RESULT_UNAVAILABLE',
  OrchestratorClosed: 'ORCHESTRATOR_CLOSED',
} as const;

/** One of the values of {@link SagaErrorCode}. */
export type SagaErrorCode = (typeof SagaErrorCode)[keyof typeof SagaErrorCode];

/**
 * Base class of every error sagaflow throws or rejects with.
 *
 * @remarks
 * Every subclass has a stable {@link SagaErrorCode | code}, a one-sentence message naming the
 * saga, run and stage involved where they are known, and chains the underlying error as
 * `cause`.
 *
 * @example
 * ```ts
 * import { SagaError } from 'sagaflow';
 * function describe(error: unknown): string {
 *   return error instanceof SagaError ? `${error.code}: ${error.message}` : String(error);
 * }
 * ```
 */
export abstract class SagaError extends Error {
  /** The stable code of this kind of error. */
  abstract readonly code: SagaErrorCode;

  /**
   * @param message - one sentence naming the saga, run and stage at fault.
   * @param options - `cause`: the underlying error.
   */
  protected constructor(message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}
