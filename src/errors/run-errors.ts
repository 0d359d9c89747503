import { describeContinuationProblems, describeShapeChanges, hasShapeChanges, type ContinuationProblem, type ShapeChanges } from '../definition/shape-diff.js';
import type { RunStatus } from '../journal/outcome.js';
import { SagaError, SagaErrorCode } from './saga-error.js';

/** `a`, `a or b`, `a, b or c`. */
function listOf(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? 'nothing') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1] ?? ''}`;
}

/**
 * No journal exists for the run id.
 *
 * @remarks
 * `inspect` and `cancel` reject with it, `watch` errors with it, and `resume`, `redrive` and
 * `compensate` reject their handle's `outcome` with it. Check the id and the store: a
 * `MemoryStore` (the default) forgets every run when its process exits, and each `MemoryStore`
 * object has its own runs, so a run started by one orchestrator is unknown to an orchestrator
 * given another store.
 *
 * @example
 * ```ts
 * import { RunNotFoundError, type Orchestrator, type SagaOutcome } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * async function find(runId: string): Promise<SagaOutcome | undefined> {
 *   try {
 *     return await orchestrator.inspect(runId);
 *   } catch (error) {
 *     if (error instanceof RunNotFoundError) return undefined;
 *     throw error;
 *   }
 * }
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
 * A run with this id already exists in the store: `start` or `submit` with a `runId` of your own
 * was called twice.
 *
 * @remarks
 * Nothing was written: the stored run and its journal are untouched. Ids of your own make
 * starting idempotent per business key, so this usually means the work was already started:
 * `inspect(error.runId)` tells how it went (`error.status` is its status when the store refused).
 *
 * @example
 * ```ts
 * import { RunAlreadyExistsError, type Orchestrator, type Saga } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * declare const order: Saga<{ orderId: string }>;
 * const run = orchestrator.start(order, { orderId: 'o-42' }, { runId: 'order-o-42' });
 * const outcome = await run.outcome.catch((error: unknown) => {
 *   if (error instanceof RunAlreadyExistsError) return orchestrator.inspect(error.runId);
 *   throw error;
 * });
 * ```
 */
export class RunAlreadyExistsError extends SagaError {
  /** Always `'RunAlreadyExistsError'`. */
  override readonly name = 'RunAlreadyExistsError';
  readonly code = SagaErrorCode.RunAlreadyExists;

  /**
   * @param runId - the id that is taken.
   * @param status - the existing run's status.
   * @param saga - the existing run's saga, when the store said (every built-in store does): it may
   * be another saga than the one whose start was refused.
   */
  constructor(
    readonly runId: string,
    readonly status: RunStatus,
    readonly saga?: string,
  ) {
    super(`Run ${runId} already exists (${saga === undefined ? '' : `saga '${saga}', `}${status}); nothing was written: inspect it, or start with another runId.`);
  }
}

/**
 * The run's status does not allow the operation, e.g. redriving a completed run.
 *
 * @remarks
 * Raised by `resume` (needs `queued`, `running` or `compensating`), `redrive` (`paused` or
 * `compensation_failed`), `compensate` (`paused`) and, for a run not driven by this
 * orchestrator, `cancel` (`queued` or `running`). It is also raised, whatever the status, when the
 * run is already being driven: by this orchestrator (`resume` returns the existing handle
 * instead), or by a worker holding a live lease on it; and by `start` when a run with the same
 * `runId` is active here. `status` and `allowed` say what was found and what would have worked;
 * `inspect` the run to decide what to do. Nothing was written.
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
      `Cannot ${operation} run ${runId} of saga '${saga}': ${detail ?? `it is ${status}, and ${operation} needs a run that is ${listOf(allowed)}`}.`,
    );
  }
}

/**
 * What a {@link SagaShapeMismatchError} knows beyond the two hashes.
 *
 * @remarks
 * `changes`: how the definition's shape differs from the run's (from `diffShapes`).
 * `uncompensatable`: the run's stages that continuing with the definition would leave un-undone
 * (from `continuationProblems`); when it is not empty, the error is that refusal.
 *
 * @example
 * ```ts
 * import type { SagaShapeMismatchDetails } from 'sagaflow';
 * const details: SagaShapeMismatchDetails = { uncompensatable: [{ stage: 'b', state: 'completed', reason: 'removed' }] };
 * ```
 */
export interface SagaShapeMismatchDetails {
  /** How the shapes differ. */
  readonly changes?: ShapeChanges;
  /** The name of the definition passed as `{ saga }`, when it is another saga's (then the error is that refusal). */
  readonly givenSaga?: string;
  /** Stages the definition could not compensate. */
  readonly uncompensatable?: readonly ContinuationProblem[];
}

/**
 * The saga definition given for a stored run has a different shape (stages, dependencies,
 * compensations) from the one the run was started with, or one that could not undo what the run
 * did.
 *
 * @remarks
 * Resuming a run with a different graph could skip or repeat work, so `resume`, `redrive` and
 * `compensate` reject the handle's `outcome` with it when no registered version of the saga has
 * the run's shape hash. Register the original definition next to the new one (an orchestrator
 * keeps several versions per saga name), or pass `{ saga }` explicitly to continue with the new
 * definition on purpose: the run then records the new version and shape. An explicit `{ saga }`
 * with another saga's name is refused with this error too, and so is one that lacks a stage, or
 * a stage's `compensate`, that the run still needs undone (a completed stage not compensated yet,
 * a stage whose outcome is unknown): continuing would leave its effect in place, so
 * `uncompensatable` names those stages. `changes` says what differs between the shapes, when the
 * run recorded its shape.
 *
 * @example
 * ```ts
 * import { SagaShapeMismatchError, type Orchestrator, type Saga } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * declare const transferV2: Saga;
 * await orchestrator.redrive('0190c6d2-7b1e-7000-8000-000000000001').outcome.catch((error: unknown) => {
 *   if (!(error instanceof SagaShapeMismatchError)) throw error;
 *   console.warn(`run started as v${error.runVersion}; v${error.sagaVersion} differs: ${error.message}`);
 *   if (error.uncompensatable.length > 0) throw error; // v2 could not undo what the run did
 *   return orchestrator.redrive(error.runId, { saga: transferV2 }).outcome; // continue with the new graph, on purpose
 * });
 * ```
 */
export class SagaShapeMismatchError extends SagaError {
  /** Always `'SagaShapeMismatchError'`. */
  override readonly name = 'SagaShapeMismatchError';
  readonly code = SagaErrorCode.ShapeMismatch;
  /** How the definition's shape differs from the run's, when known. */
  readonly changes: ShapeChanges | undefined;
  /** The run's stages the definition could not compensate; empty unless that is why it was refused. */
  readonly uncompensatable: readonly ContinuationProblem[];
  /** The saga of the definition passed as `{ saga }` when it is not the run's saga; `undefined` otherwise. */
  readonly givenSaga: string | undefined;

  /**
   * @param saga - the saga's name.
   * @param runId - the run.
   * @param runVersion - the version the run was started with.
   * @param runShapeHash - the shape hash the run was started with.
   * @param sagaVersion - the version of the registered (or given) definition.
   * @param sagaShapeHash - the shape hash of the registered (or given) definition.
   * @param details - what differs, and what could not be compensated.
   */
  constructor(
    readonly saga: string,
    readonly runId: string,
    readonly runVersion: string,
    readonly runShapeHash: string,
    readonly sagaVersion: string,
    readonly sagaShapeHash: string,
    details: SagaShapeMismatchDetails = {},
  ) {
    const changes = details.changes;
    const uncompensatable = details.uncompensatable ?? [];
    const differences = changes !== undefined && hasShapeChanges(changes) ? describeShapeChanges(changes) : undefined;
    const givenSaga = details.givenSaga !== undefined && details.givenSaga !== saga ? details.givenSaga : undefined;
    super(
      givenSaga !== undefined
        ? `Run ${runId} of saga '${saga}' cannot continue with the definition passed as { saga }, which is saga '${givenSaga}' (version ${sagaVersion}, shape ${sagaShapeHash.slice(0, 12)}): a run goes on with a definition of its own saga; pass a version of saga '${saga}'.`
        : uncompensatable.length > 0
        ? `Run ${runId} of saga '${saga}' cannot continue with version ${sagaVersion} (shape ${sagaShapeHash.slice(0, 12)}): ${describeContinuationProblems(uncompensatable)} could then never be compensated${differences === undefined ? '' : ` (${differences})`}; continue it with a definition that keeps ${uncompensatable.length === 1 ? 'that stage and its' : 'those stages and their'} compensate, or roll it back with the definition it ran on.`
        : `Run ${runId} of saga '${saga}' was started with version ${runVersion} (shape ${runShapeHash.slice(0, 12)}), but the registered definition is version ${sagaVersion} (shape ${sagaShapeHash.slice(0, 12)}) with different stages${differences === undefined ? '' : ` (${differences})`}: register the original definition, or pass { saga } explicitly to continue with the new one.`,
    );
    this.changes = changes;
    this.uncompensatable = uncompensatable;
    this.givenSaga = givenSaga;
  }
}

/**
 * A stored run belongs to a saga this orchestrator was not given.
 *
 * @remarks
 * Definitions are code and never stored, so picking a run up by id (`resume`, `redrive`,
 * `compensate`) needs its saga: pass it in `createOrchestrator({ sagas })`, or as `{ saga }` to the
 * call. The handle's `outcome` rejects with this error and nothing is written. `recover()` does not
 * raise it: it passes over runs of sagas it was not given, which may belong to another service
 * sharing the store.
 *
 * @example
 * ```ts
 * import { SagaNotRegisteredError, type AnySaga, type Orchestrator } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * declare const transfer: AnySaga;
 * const outcome = await orchestrator.redrive('0190c6d2-7b1e-7000-8000-000000000001').outcome.catch((error: unknown) => {
 *   if (error instanceof SagaNotRegisteredError) return orchestrator.redrive(error.runId, { saga: transfer }).outcome;
 *   throw error;
 * });
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
      `Run ${runId} belongs to saga '${saga}', which is not registered (registered: ${registered.length > 0 ? registered.join(', ') : 'none'}): pass it in the sagas option (createOrchestrator({ sagas }), createSagaTest({ sagas }), --sagas on the command line), or as { saga } to resume, redrive or compensate.`,
    );
  }
}

/**
 * The orchestrator was closed: it takes no new runs, and runs it left in place at a close
 * timeout stop here (their journals stay in the store, resumable later).
 *
 * @remarks
 * After `close()`, `start` throws it, `submit` rejects with it, and `resume`, `redrive` and
 * `compensate` reject their handle's `outcome` with it. With `close({ timeoutMs })`, the runs
 * still active at the timeout are detached: their in-flight signals are aborted, nothing more is
 * written, and their `outcome` rejects with it. Handles that only followed a submitted run from the
 * store reject with it at `close()`, while workers go on driving the run. Create a new
 * orchestrator on the same store to resume or watch such runs.
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
 * The run is not failed: the worker wrote nothing more for it and released its lease (once its
 * stage calls in flight settled; one that ignores its aborted signal keeps the lease until it
 * expires), so another worker claims it and resumes it from its journal, as after a crash (a stage that
 * started but did not complete is executed again with the same idempotency key). It is not
 * thrown to application code: it is why the stopping worker detached the run, and its message is
 * part of the `AbortError` (a `DOMException`) that the run's in-flight `execute` and `compensate`
 * signals are aborted with. `onError` is not called for it.
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
