import { SagaError, SagaErrorCode } from './saga-error.js';

/**
 * An append found the journal longer than expected: another writer appended first.
 *
 * @remarks
 * Stores append with optimistic concurrency: the writer says which `seq` it expects next.
 * Leases keep two processes from driving one run (a stale owner gets {@link LeaseLostError}
 * first), so this means two writers raced under one lease, a bug outside sagaflow's guarantees.
 * The run's driver stops at once and its handle's `outcome` rejects with this error; the journal
 * holds the other writer's events, so `inspect` the run before doing anything else. A `start`
 * with a `runId` that already exists fails with `RunAlreadyExistsError` instead.
 *
 * @example
 * ```ts
 * import { StoreConflictError } from 'sagaflow';
 * const describe = (error: StoreConflictError) => `${error.runId}: expected seq ${error.expectedSeq}, found ${error.actualSeq}`;
 * ```
 */
export class StoreConflictError extends SagaError {
  /** Always `'StoreConflictError'`. */
  override readonly name = 'StoreConflictError';
  readonly code = SagaErrorCode.StoreConflict;

  /**
   * @param runId - the run appended to.
   * @param expectedSeq - the `seq` the writer expected to write next.
   * @param actualSeq - the `seq` the store holds next.
   */
  constructor(
    readonly runId: string,
    readonly expectedSeq: number,
    readonly actualSeq: number,
  ) {
    super(
      `Append to run ${runId} expected to write seq ${expectedSeq}, but the journal's next seq is ${actualSeq}: another writer appended to this run.`,
    );
  }
}

/**
 * A journal row read back from a store is not a valid event, or the journal holds an order of
 * events that no run writes (a stage completed that never started, a run left with nothing it
 * could ever do).
 *
 * @remarks
 * Only the run named is affected; other runs stay usable: `recover()` passes it over and a run
 * found so while driven stops, rather than being driven on a guess. The message names the run
 * and, where one is at fault, the sequence number of the bad event.
 *
 * @example
 * ```ts
 * import { StoreCorruptionError } from 'sagaflow';
 * const badRow = (error: StoreCorruptionError) => `${error.runId}#${error.seq}`;
 * ```
 */
export class StoreCorruptionError extends SagaError {
  /** Always `'StoreCorruptionError'`. */
  override readonly name = 'StoreCorruptionError';
  readonly code = SagaErrorCode.StoreCorruption;

  /**
   * @param runId - the run whose journal is corrupt.
   * @param seq - the sequence number of the bad row, when known.
   * @param detail - what is wrong with it.
   * @param options - `cause`: the parse or validation error.
   */
  constructor(
    readonly runId: string,
    readonly seq: number | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`The journal of run ${runId} is corrupt${seq === undefined ? '' : ` at seq ${seq}`}: ${detail}.`, options);
  }
}

/**
 * The store cannot be reached or opened (a locked or unreadable database file, a server that
 * refuses connections).
 *
 * @remarks
 * Nothing is lost: events are written before they are acted on, so the run can be resumed
 * once the store is back. A run whose append fails stops being driven (its in-flight signals
 * are aborted) and its handle's `outcome` rejects with this error; call
 * `orchestrator.resume(runId)` or `orchestrator.recover()` when the store answers again.
 *
 * @example
 * ```ts
 * import { StoreUnavailableError, type Orchestrator, type SagaRun } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * declare const run: SagaRun;
 * try {
 *   await run.outcome;
 * } catch (error) {
 *   if (!(error instanceof StoreUnavailableError)) throw error;
 *   console.warn(error.message); // names the store and what to do about it
 *   // Later, once the store answers again:
 *   await orchestrator.resume(run.runId).outcome;
 * }
 * ```
 */
export class StoreUnavailableError extends SagaError {
  /** Always `'StoreUnavailableError'`. */
  override readonly name = 'StoreUnavailableError';
  readonly code = SagaErrorCode.StoreUnavailable;

  /**
   * `true` when this process closed the store (`store.close()`): asking again will not help, so
   * nothing retries it — a `watch()` of a run driven elsewhere ends with this error at once
   * instead of polling. `false` for a store that may answer again (a server down, a locked file).
   */
  readonly closed: boolean;

  /**
   * @param store - which store, e.g. `sqlite:/var/lib/app/sagas.db`.
   * @param detail - what failed and what to do about it.
   * @param options - `cause`: the driver's error; `closed`: the store was closed (see {@link StoreUnavailableError.closed}).
   */
  constructor(
    readonly store: string,
    detail: string,
    options?: { cause?: unknown; closed?: boolean },
  ) {
    super(`The saga store ${store} is unavailable: ${detail}.`, options);
    this.closed = options?.closed === true;
  }
}

/** Whether `error` is a store failure worth asking again about later: unavailable, but not closed. */
export function isTransientStoreError(error: unknown): error is StoreUnavailableError {
  return error instanceof StoreUnavailableError && !error.closed;
}

/** Whether `error` says the store was closed by this process (it will never answer again). */
export function isClosedStoreError(error: unknown): error is StoreUnavailableError {
  return error instanceof StoreUnavailableError && error.closed;
}

/**
 * The store does not support an operation (for example worker queues on `MemoryStore`).
 *
 * @remarks
 * Raised when distributed work is asked of a store that cannot share runs between processes:
 * `orchestrator.submit` rejects with it and `createWorker` throws it for `MemoryStore` and
 * `SqliteStore`. It is a configuration error, not a transient one: use `PostgresStore` from
 * `sagaflow/postgres` for workers, or `orchestrator.start` to run in this process. Check up front
 * with {@link supportsWorkers}.
 *
 * @example
 * ```ts
 * import { StoreUnsupportedError, type AnySaga, type Orchestrator } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * declare const report: AnySaga;
 * const runId = await orchestrator.submit(report, {}).catch((error: unknown) => {
 *   if (error instanceof StoreUnsupportedError) return orchestrator.start(report, {}).runId; // no workers: run it here
 *   throw error;
 * });
 * ```
 */
export class StoreUnsupportedError extends SagaError {
  /** Always `'StoreUnsupportedError'`. */
  override readonly name = 'StoreUnsupportedError';
  readonly code = SagaErrorCode.StoreUnsupported;

  /**
   * @param store - the store's kind.
   * @param operation - what was asked of it.
   * @param hint - what to use instead.
   */
  constructor(
    readonly store: string,
    readonly operation: string,
    hint: string,
  ) {
    super(`${store} does not support ${operation}: ${hint}.`);
  }
}

/**
 * A process's lease on a run was taken over by another process; its write was refused.
 *
 * @remarks
 * Every process that drives a run (an orchestrator's `start`, `resume`, `redrive`, `compensate`,
 * `recover`, or a worker's claim) holds its lease. One that paused past the lease and was taken
 * over aborts the run's in-flight signals and writes nothing more for it. Work already in flight
 * may still finish (at-least-once execution); idempotency keys are the guard.
 *
 * @example
 * ```ts
 * import { createWorker, LeaseLostError, type AnySaga } from 'sagaflow';
 * import { PostgresStore } from 'sagaflow/postgres';
 * declare const transfer: AnySaga;
 * const worker = createWorker({
 *   store: new PostgresStore({ connectionString: 'postgres://app@db:5432/app' }),
 *   sagas: [transfer],
 *   onError: (error, context) => {
 *     if (error instanceof LeaseLostError) console.info(`run ${error.runId} moved to another worker`);
 *     else console.warn(`${context.operation} failed: ${error.message}`);
 *   },
 * });
 * ```
 */
export class LeaseLostError extends SagaError {
  /** Always `'LeaseLostError'`. */
  override readonly name = 'LeaseLostError';
  readonly code = SagaErrorCode.LeaseLost;

  /**
   * @param runId - the run.
   * @param owner - the orchestrator or worker that lost the lease.
   * @param epoch - the stale epoch it wrote with.
   */
  constructor(
    readonly runId: string,
    readonly owner: string,
    readonly epoch: number,
  ) {
    super(`Owner ${owner} lost its lease on run ${runId} (epoch ${epoch}): another process took the run over.`);
  }
}

/**
 * Another live process owns the run (it holds the run's lease), so what was asked was refused.
 *
 * @remarks
 * Every run is owned by the process driving it — an orchestrator that started or picked it up, or
 * a worker that claimed it — through a lease it heartbeats. Until that lease is released or
 * expires, nobody else writes to the run or takes it over: `resume`, `redrive` and `compensate`
 * of such a run reject with this error (and `recover()` passes it over), and a store refuses an
 * append without that lease. To stop such a run, request a cancellation
 * (`orchestrator.cancel(runId, reason)`); the owner carries it out within one heartbeat.
 *
 * @example
 * ```ts
 * import { RunLeasedError } from 'sagaflow';
 * const ownedElsewhere = (error: unknown) => error instanceof RunLeasedError ? error.owner : undefined;
 * ```
 */
export class RunLeasedError extends SagaError {
  /** Always `'RunLeasedError'`. */
  override readonly name = 'RunLeasedError';
  readonly code = SagaErrorCode.RunLeased;

  /**
   * @param runId - the run.
   * @param owner - the process holding the live lease.
   * @param epoch - the epoch of that lease.
   * @param refused - what was refused, e.g. `resume()`.
   * @param expiresAt - when that lease expires unless its owner renews it (epoch ms, on the store's clock), when known.
   */
  constructor(
    readonly runId: string,
    readonly owner: string,
    readonly epoch: number,
    refused = 'an append without that lease',
    readonly expiresAt?: number,
  ) {
    // The store cannot tell a live owner from one that died a moment ago (SIGKILL, a crash): both
    // hold a lease that has not expired yet. Say what to do in either case.
    const until = expiresAt === undefined || !Number.isFinite(expiresAt) ? '' : `, held until ${new Date(expiresAt).toISOString()}`;
    super(
      `Run ${runId} is owned by ${owner} (lease epoch ${epoch}${until}), so ${refused} was refused. ` +
        'If that process is alive, cancel the run with orchestrator.cancel(runId, reason), which its owner carries out, or wait until it releases the run. ' +
        'If it died (a crash, a SIGKILL), nothing takes the run over before its lease expires (leaseMs after its last heartbeat, 30 s by default): recover() or resume() it then, or call recover({ waitForLeases: true }) now, which waits for the lease to lapse.',
    );
  }
}
