/**
 * The stable codes of every error sagaflow throws, one per error class.
 *
 * @remarks
 * Match on `error.code` rather than on `instanceof` when errors cross a process or a bundle
 * boundary (two copies of the library, or an error read back from the journal, where it is
 * `SerializedError.code`). The one shared code is deliberate: `SimulatedCrashError` from
 * `sagaflow/testing` reuses `StoreUnavailable`, because to the runtime a crashed process's store
 * is simply gone. Subclasses of {@link NonRetryableError} that you write keep its code unless they
 * override it.
 *
 * @example
 * ```ts
 * import { SagaErrorCode, type SagaError } from 'sagaflow';
 * const isRetryableInfra = (error: SagaError) => error.code === SagaErrorCode.StoreConflict;
 * ```
 */
export const SagaErrorCode = {
  /** {@link SagaDefinitionError}: `.build()` found problems in a definition. */
  DefinitionInvalid: 'SAGA_DEFINITION_INVALID',
  /** {@link SagaInputError}: the input does not match the saga's schema. */
  InputInvalid: 'SAGA_INPUT_INVALID',
  /** {@link SagaFailedError}: a stage failed; the run was rolled back or paused. */
  Failed: 'SAGA_FAILED',
  /** {@link SagaCancelledError}: the run was cancelled. */
  Cancelled: 'SAGA_CANCELLED',
  /** {@link SagaCompensationError}: a compensation exhausted its retries. */
  CompensationFailed: 'SAGA_COMPENSATION_FAILED',
  /** {@link RunNotFoundError}: no journal for that run id. */
  RunNotFound: 'RUN_NOT_FOUND',
  /** {@link RunAlreadyExistsError}: a run with that id is already in the store. */
  RunAlreadyExists: 'RUN_ALREADY_EXISTS',
  /** {@link RunStateError}: the run's status does not allow the operation. */
  RunState: 'RUN_STATE_INVALID',
  /** {@link SagaShapeMismatchError}: the definition's shape differs from the run's. */
  ShapeMismatch: 'SAGA_SHAPE_MISMATCH',
  /** {@link SagaNotRegisteredError}: the run's saga was not given to the orchestrator. */
  SagaNotRegistered: 'SAGA_NOT_REGISTERED',
  /** {@link StoreConflictError}: another writer appended to the run first. */
  StoreConflict: 'STORE_CONFLICT',
  /** {@link StoreCorruptionError}: a stored event is not valid. */
  StoreCorruption: 'STORE_CORRUPTION',
  /** {@link StoreUnavailableError}: the store cannot be reached or opened. */
  StoreUnavailable: 'STORE_UNAVAILABLE',
  /** {@link StoreUnsupportedError}: the store cannot do what was asked. */
  StoreUnsupported: 'STORE_UNSUPPORTED',
  /** {@link LeaseLostError}: a process lost its lease on a run. */
  LeaseLost: 'LEASE_LOST',
  /** {@link RunLeasedError}: a worker's live lease owns the run. */
  RunLeased: 'RUN_LEASED',
  /** {@link StageTimeoutError}: an attempt ran past its timeout. */
  StageTimeout: 'STAGE_TIMEOUT',
  /** {@link NonRetryableError}: user code said not to retry. */
  NonRetryable: 'NON_RETRYABLE',
  /** {@link StageOutputError}: a stage returned an invalid output. */
  StageOutputInvalid: 'STAGE_OUTPUT_INVALID',
  /** {@link StageResultAccessError}: a stage read a non-ancestor's result. */
  StageResultUnavailable: 'STAGE_RESULT_UNAVAILABLE',
  /** {@link OrchestratorClosedError}: the orchestrator was closed. */
  OrchestratorClosed: 'ORCHESTRATOR_CLOSED',
  /** {@link WorkerStoppedError}: a worker stopped before a run it held settled. */
  WorkerStopped: 'WORKER_STOPPED',
  /** {@link UnknownSignalError}: no stage of the run's saga waits for a signal of that name. */
  SignalUnknown: 'SIGNAL_UNKNOWN',
  /** {@link SignalPayloadError}: a signal's payload does not match its wait stage's schema. */
  SignalPayloadInvalid: 'SIGNAL_PAYLOAD_INVALID',
  /** {@link SignalTimeoutError}: `signal()` gave up waiting, after its `timeoutMs`, for another process to journal a signal. */
  SignalTimeout: 'SIGNAL_TIMEOUT',
  /** {@link WaitTimeoutError}: a signal wait's `timeoutMs` passed without its signal. */
  WaitTimeout: 'WAIT_TIMEOUT',
  /** {@link WaitUntilError}: a sleep's `until()` returned something that is not an instant. */
  WaitUntilInvalid: 'WAIT_UNTIL_INVALID',
} as const;

/**
 * One of the values of {@link SagaErrorCode}: the type of every {@link SagaError.code}.
 *
 * @remarks
 * A closed union of string literals, so a `switch` over `error.code` can be checked for
 * exhaustiveness. Codes are stable across versions and survive serialisation (they are stored as
 * `SerializedError.code` in the journal); class names and messages are for people.
 *
 * @example
 * ```ts
 * import type { SagaError, SagaErrorCode } from 'sagaflow';
 * function retryLater(code: SagaErrorCode): boolean {
 *   switch (code) {
 *     case 'STORE_UNAVAILABLE':
 *     case 'STORE_CONFLICT':
 *       return true;
 *     default:
 *       return false;
 *   }
 * }
 * const shouldRetry = (error: SagaError) => retryLater(error.code);
 * ```
 */
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
