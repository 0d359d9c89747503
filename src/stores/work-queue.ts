import type { SagaEvent } from '../journal/saga-event.js';
import type { AppendRequest, LeaseToken, SagaStore } from './saga-store.js';

/**
 * Which sagas a worker can run: a run is claimed only by a worker that registered its saga's
 * name with the same shape hash.
 *
 * @remarks
 * A worker builds these from its `sagas`; runs of other names or shapes stay queued, never
 * failed, until a worker with a matching definition claims them. That is what makes rolling
 * deploys safe: old workers keep finishing old-shape runs while new workers take new ones.
 *
 * @example
 * ```ts
 * import type { AnySaga, SagaRegistration } from 'sagaflow';
 * declare const sagas: readonly AnySaga[];
 * const registrations: SagaRegistration[] = sagas.map((saga) => ({ name: saga.name, shapeHash: saga.shapeHash }));
 * ```
 */
export interface SagaRegistration {
  /** The saga's name. */
  readonly name: string;
  /** The shape hash of the definition the worker has. */
  readonly shapeHash: string;
}

/**
 * A request to claim runs from the queue.
 *
 * @remarks
 * What a worker passes to {@link WorkQueueStore.claim}: `limit` is its free capacity
 * (`concurrency` minus the runs it holds) and `leaseMs` its lease length. You build one only to
 * implement or test a store.
 *
 * @example
 * ```ts
 * import type { ClaimRequest } from 'sagaflow';
 * const request: ClaimRequest = { owner: 'worker-1', sagas: [], limit: 10, leaseMs: 30_000 };
 * ```
 */
export interface ClaimRequest {
  /** The worker's id. */
  readonly owner: string;
  /** The sagas the worker can run. */
  readonly sagas: readonly SagaRegistration[];
  /** At most this many runs. */
  readonly limit: number;
  /** Lease length, counted on the database clock. */
  readonly leaseMs: number;
}

/**
 * A cancellation requested with `orchestrator.cancel(runId)` for the run's owner to act on.
 *
 * @remarks
 * Stored on the run until it settles; the first reason wins. The owning worker receives it with
 * its next heartbeat (or claim) and cancels the run as `run.cancel(reason)` would.
 *
 * @example
 * ```ts
 * import type { CancelRequest } from 'sagaflow';
 * const request: CancelRequest = { runId: 'r-1', reason: 'customer request' };
 * ```
 */
export interface CancelRequest {
  /** The run to cancel. */
  readonly runId: string;
  /** Why. */
  readonly reason: string;
}

/**
 * A run a worker has claimed, with its journal.
 *
 * @remarks
 * Returned by {@link WorkQueueStore.claim}, with the lease every later append for the run must
 * carry. `lease.epoch` is 1 on the first claim of a submitted run; a higher epoch means the run
 * was claimed before (a takeover after a lease expired, or a run handed back to the queue by a
 * redrive, a compensate or a stopping worker), and the worker resumes it per contract rule 7.
 *
 * @example
 * ```ts
 * import type { ClaimedRun } from 'sagaflow';
 * const isTakeover = (run: ClaimedRun) => run.lease.epoch > 1;
 * ```
 */
export interface ClaimedRun {
  /** The claimed run. */
  readonly runId: string;
  /** The new lease: every append for this run must carry it. */
  readonly lease: LeaseToken;
  /** The run's journal. */
  readonly events: readonly SagaEvent[];
  /** A cancellation requested by `orchestrator.cancel` that the worker must act on. */
  readonly cancelRequest?: CancelRequest;
}

/**
 * What a heartbeat learned.
 *
 * @remarks
 * Returned by {@link WorkQueueStore.heartbeat}. A worker stops driving each `lost` run at once (it
 * aborts the run's signals and writes nothing more) and cancels each run named in
 * `cancelRequests`.
 *
 * @example
 * ```ts
 * import type { HeartbeatResult } from 'sagaflow';
 * const lostAny = (result: HeartbeatResult) => result.lost.length > 0;
 * ```
 */
export interface HeartbeatResult {
  /** Runs whose lease this worker no longer holds. */
  readonly lost: readonly string[];
  /** Cancellations requested for runs this worker holds. */
  readonly cancelRequests: readonly CancelRequest[];
}

/**
 * The lease on a run, as the store sees it now.
 *
 * @remarks
 * Returned by {@link WorkQueueStore.leaseOf}; `undefined` there means no worker holds the run.
 * `live` is judged by the database clock at the time of the call, so it can be stale by the time
 * you read it: use it for decisions that tolerate that (the orchestrator uses it to leave a
 * worker's runs alone), never as a lock.
 *
 * @example
 * ```ts
 * import type { LeaseInfo } from 'sagaflow';
 * const busy = (lease: LeaseInfo | undefined) => lease?.live === true;
 * ```
 */
export interface LeaseInfo {
  /** The worker holding the lease. */
  readonly owner: string;
  /** The lease's epoch. */
  readonly epoch: number;
  /** The lease has not expired (by the database clock). */
  readonly live: boolean;
}

/**
 * Why a store woke its workers.
 *
 * @remarks
 * - `submitted`: a run was submitted.
 * - `requeued`: a submitted run became claimable again (a redrive or compensate of a settled run,
 *   or a worker released an unfinished run).
 * - `cancel_requested`: `requestCancel` was called for `runId`; its owner should heartbeat now
 *   rather than wait for the next beat.
 * - `reconnected`: the store's notification connection came back after a drop; notifications
 *   sent meanwhile are lost, so look for work.
 * - `appended`: events were appended to `runId`, which someone watches (see
 *   {@link WorkQueueStore.watchRun}); workers ignore it.
 *
 * @example
 * ```ts
 * import type { WorkSignalKind } from 'sagaflow';
 * const urgent = (kind: WorkSignalKind) => kind === 'cancel_requested';
 * ```
 */
export type WorkSignalKind = 'submitted' | 'requeued' | 'cancel_requested' | 'reconnected' | 'appended';

/**
 * A hint that work may be waiting, passed to {@link WorkQueueStore.onWork} listeners.
 *
 * @remarks
 * A signal is a wake-up, never a promise: claim or heartbeat to find out what there is. Signals
 * can be lost (a dropped connection) or arrive for work another worker already took, so workers
 * also poll.
 *
 * @example
 * ```ts
 * import type { WorkSignal } from 'sagaflow';
 * const onSignal = (signal: WorkSignal) => console.log(signal.kind, signal.runId ?? '');
 * ```
 */
export interface WorkSignal {
  /** What happened. */
  readonly kind: WorkSignalKind;
  /** The run concerned; absent for `reconnected`. */
  readonly runId?: string;
}

/**
 * A store that can share runs between worker processes (a queue, leases with fencing epochs,
 * cancel requests, wake-ups), such as `PostgresStore`.
 *
 * @remarks
 * What `createWorker` and `orchestrator.submit` need; test a store with {@link supportsWorkers}.
 * Its methods are for workers and the orchestrator, not for application code. An implementation
 * must claim atomically (no run handed to two workers at once), bump the run's epoch on each
 * claim, refuse appends with a stale lease (`LeaseLostError`), and refuse lease-less appends to an
 * unfinished run under a live lease (`RunLeasedError`).
 *
 * @example
 * ```ts
 * import { supportsWorkers, type SagaStore } from 'sagaflow';
 * declare const store: SagaStore;
 * if (supportsWorkers(store)) console.log('workers can share this store');
 * ```
 */
export interface WorkQueueStore extends SagaStore {
  /** Marks the store as worker-capable. */
  readonly workQueue: true;
  /**
   * Appends a run's `run.started` (with `submitted: true`) and queues it, atomically; wakes workers.
   *
   * @throws `StoreConflictError` (rejects) when the run already exists.
   */
  submit(request: AppendRequest): Promise<void>;
  /**
   * Claims up to `limit` runs that are queued, or unfinished with an expired lease, of the
   * given sagas; bumps each run's epoch. Uses `FOR UPDATE SKIP LOCKED` so workers never
   * block each other.
   */
  claim(request: ClaimRequest): Promise<readonly ClaimedRun[]>;
  /** Extends the leases this worker holds; reports the ones it lost and pending cancel requests. */
  heartbeat(owner: string, runs: ReadonlyArray<{ readonly runId: string; readonly lease: LeaseToken }>, leaseMs: number): Promise<HeartbeatResult>;
  /** Gives a lease up (the run settled, or the worker is stopping). */
  release(runId: string, lease: LeaseToken): Promise<void>;
  /**
   * Records a cancellation for the run's owner to act on (within one heartbeat).
   *
   * @throws `RunNotFoundError` (rejects) when no such run exists.
   */
  requestCancel(runId: string, reason: string): Promise<void>;
  /** The run's lease, if it has one. */
  leaseOf(runId: string): Promise<LeaseInfo | undefined>;
  /**
   * Calls `listener` when new work may be claimable or a held run was asked to cancel
   * (LISTEN/NOTIFY); resolves, once listening, to an unsubscribe function.
   *
   * @remarks
   * A listener that ignores its argument (`() => void`) is fine: the signal only says why.
   */
  onWork(listener: (signal: WorkSignal) => void): Promise<() => Promise<void>>;
  /**
   * Optional: asks for an `appended` signal on every append to the run during the next `forMs`
   * milliseconds, so that `orchestrator.watch` follows it live rather than at its polling pace.
   */
  watchRun?(runId: string, forMs: number): Promise<void>;
}

/**
 * Tells whether a store can share runs between workers (see {@link WorkQueueStore}).
 *
 * @remarks
 * A type guard on the store's `workQueue` marker: `true` for `PostgresStore`, `false` for
 * `MemoryStore` and `SqliteStore`. Check it before `orchestrator.submit` or `createWorker` to fall
 * back to in-process runs instead of handling a `StoreUnsupportedError`.
 *
 * @example
 * ```ts
 * import { MemoryStore, supportsWorkers } from 'sagaflow';
 * supportsWorkers(new MemoryStore()); // false
 * ```
 */
export function supportsWorkers(store: SagaStore): store is WorkQueueStore {
  return (store as Partial<WorkQueueStore>).workQueue === true;
}
