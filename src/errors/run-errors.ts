import type { RunStatus } from '../journal/outcome.js';
import { SagaError, SagaErrorCode } from './saga-error.js';

/**
 * No journal exists for the run id.
 *
 * @example
 * ```ts
 * import { RunNotFoundError } from 'sagaflow';
 * const unknownRun = (error: unknown) => error instanceof RunNotFoundError;
 * ```
 */
export class RunNotFoundError extends SagaError {
  /** Always `'RunNotFoundError'`. */
  override readonly name = 'RunNotFoundError';
  readonly code = SagaErrorCode.RunNotFound;

  /** @param runId - the id that was looked up. */
  constructor(readonly runId: string) {
    super(`No saga run with id ${runId} exists in this store.`);
  }
}

/**
 * The run's status does not allow the operation, e.g. redriving a completed run.
 *
 * @example
 * ```ts
 * import { RunStateError } from 'sagaflow';
 * const explain = (error: RunStateError) => `${error.operation} needs ${error.allowed.join(' or ')}, run is ${error.status}`;
 * ```
 */
export class RunStateError extends SagaError {
  /** Always `'RunStateError'`. */
  override readonly name = 'RunStateError';
  readonly code = SagaErrorCode.RunState;

  /**
   * @param saga - the saga's name.
   * @param runId - the run.
   * @param operation - what was asked (`redrive`, `compensate`, `resume`…).
   * @param status - the run's status.
   * @param allowed - the statuses that would allow it.
   * @param detail - replaces the standard explanation when the status alone does not say why.
   */
  constructor(
    readonly saga: string,
    readonly runId: string,
    readonly operation: string,
    readonly status: RunStatus,
    readonly allowed: readonly RunStatus[],
    detail?: string,
  ) {
    super(
      `Cannot ${operation} run ${runId} of saga '${saga}': ${detail ?? `it is ${status}, and ${operation} needs a run that is ${allowed.join(' or ')}`}.`,
    );
  }
}

/**
 * The saga definition given for a stored run has a different shape (stages, dependencies,
 * compensations) from the one the run was started with.
 *
 * @remarks
 * Resuming a run with a different graph could skip or repeat work. Pass `{ saga }` explicitly
 * to `resume`/`redrive` to continue with the new definition on purpose.
 *
 * @example
 * ```ts
 * import { SagaShapeMismatchError } from 'sagaflow';
 * const versions = (error: SagaShapeMismatchError) => `${error.runVersion} -> ${error.sagaVersion}`;
 * ```
 */
export class SagaShapeMismatchError extends SagaError {
  /** Always `'SagaShapeMismatchError'`. */
  override readonly name = 'SagaShapeMismatchError';
  readonly code = SagaErrorCode.ShapeMismatch;

  /**
   * @param saga - the saga's name.
   * @param runId - the run.
   * @param runVersion - the version the run was started with.
   * @param runShapeHash - the shape hash the run was started with.
   * @param sagaVersion - the version of the registered definition.
   * @param sagaShapeHash - the shape hash of the registered definition.
   */
  constructor(
    readonly saga: string,
    readonly runId: string,
    readonly runVersion: string,
    readonly runShapeHash: string,
    readonly sagaVersion: string,
    readonly sagaShapeHash: string,
  ) {
    super(
      `Run ${runId} of saga '${saga}' was started with version ${runVersion} (shape ${runShapeHash.slice(0, 12)}), but the registered definition is version ${sagaVersion} (shape ${sagaShapeHash.slice(0, 12)}) with different stages: register the original definition, or pass { saga } explicitly to continue with the new one.`,
    );
  }
}

/**
 * A stored run belongs to a saga this orchestrator or worker was not given.
 *
 * @example
 * ```ts
 * import { SagaNotRegisteredError } from 'sagaflow';
 * const missingDefinition = (error: SagaNotRegisteredError) => error.saga;
 * ```
 */
export class SagaNotRegisteredError extends SagaError {
  /** Always `'SagaNotRegisteredError'`. */
  override readonly name = 'SagaNotRegisteredError';
  readonly code = SagaErrorCode.SagaNotRegistered;

  /**
   * @param saga - the saga's name.
   * @param runId - the run.
   * @param registered - the saga names that are registered.
   */
  constructor(
    readonly saga: string,
    readonly runId: string,
    readonly registered: readonly string[],
  ) {
    super(
      `Run ${runId} belongs to saga '${saga}', which is not registered (registered: ${registered.length > 0 ? registered.join(', ') : 'none'}): pass it in createOrchestrator({ sagas }).`,
    );
  }
}

/**
 * The orchestrator was closed: it takes no new runs, and runs it left in place at a close
 * timeout stop here (their journals stay in the store, resumable later).
 *
 * @example
 * ```ts
 * import { OrchestratorClosedError } from 'sagaflow';
 * const closed = (error: unknown) => error instanceof OrchestratorClosedError;
 * ```
 */
export class OrchestratorClosedError extends SagaError {
  /** Always `'OrchestratorClosedError'`. */
  override readonly name = 'OrchestratorClosedError';
  readonly code = SagaErrorCode.OrchestratorClosed;

  /** @param detail - what was refused or left in place. */
  constructor(detail: string) {
    super(`The orchestrator is closed: ${detail}.`);
  }
}

/**
 * A worker stopped (its `stop({ timeoutMs })` ran out) while it still held a run.
 *
 * @remarks
 * The run is not failed: the worker wrote nothing more for it and released its lease, so
 * another worker claims it at once and resumes it from its journal (contract rule 7). It is
 * the abort reason seen by that run's in-flight stages on the stopping worker.
 *
 * @example
 * ```ts
 * import { WorkerStoppedError } from 'sagaflow';
 * const handedOver = (error: unknown) => error instanceof WorkerStoppedError;
 * ```
 */
export class WorkerStoppedError extends SagaError {
  /** Always `'WorkerStoppedError'`. */
  override readonly name = 'WorkerStoppedError';
  readonly code = SagaErrorCode.WorkerStopped;

  /**
   * @param workerId - the worker that stopped.
   * @param saga - the saga of the run it held.
   * @param runId - the run it held.
   */
  constructor(
    readonly workerId: string,
    readonly saga: string,
    readonly runId: string,
  ) {
    super(`Worker ${workerId} stopped before run ${runId} of saga '${saga}' settled; it released the run for another worker to resume.`);
  }
}
