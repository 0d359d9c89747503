import type { StoreCorruptionError } from '../errors/store-errors.js';
import type { SagaEvent } from '../journal/saga-event.js';
import type { CancelRequest, CreateRunRequest, LeaseToken, SagaStore, SignalRequest } from './saga-store.js';

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
  /**
   * Runs the caller drives now: never returned, even when their lease has lapsed. A worker whose
   * event loop was blocked past its lease still drives those runs, and renews their leases with
   * its next heartbeat unless another process took them over first; claiming one of them again
   * would start a second driver of the same run in the same process. Default: none.
   */
  readonly holding?: readonly string[] | undefined;
}

/**
 * A run a worker has claimed, with its journal.
 *
 * @remarks
 * Returned by {@link WorkQueueStore.claim}, with the lease every later append for the run must
 * carry. `lease.epoch` is 1 on the first claim of a submitted run; a higher epoch means the run
 * was claimed before (a takeover after a lease expired, or a run handed back to the queue by a
 * redrive, a compensate or a stopping worker), and the worker resumes it as after a crash: what had started and not completed runs again, unless the run was already stopping (then its outcome is unknown and it is compensated).
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
  /** Signals sent with `orchestrator.signal` before the claim, for the worker to deliver. */
  readonly signalRequests?: readonly SignalRequest[];
  /**
   * Set when the run's journal could not be read (a row that is not a valid event): `events` is
   * then empty. The run is claimed all the same, so that its lease keeps it from being claimed
   * again until the lease expires; the worker reports this error (`onError`, operation `'run'`)
   * and does not drive the run.
   */
  readonly corruption?: StoreCorruptionError;
}

/**
 * A run a worker gives back to the store while it waits, passed to {@link WorkQueueStore.park}.
 *
 * @remarks
 * The worker holds the run's lease and has journaled everything it decided; the run has nothing
 * to do but wait (for a timer, a signal, or both). `wakeInMs` counts on the store's clock from
 * when the store records the park, so a clock skew between processes cannot wake it early or
 * late. `handledSignals` are the signal ids the run's journal already holds: pending requests with
 * those ids are done with; any other pending request (or a cancel request) leaves the run
 * claimable at once instead.
 *
 * @example
 * ```ts
 * import type { ParkRequest } from 'sagaflow';
 * const park: ParkRequest = { runId: 'order-42', lease: { owner: 'worker-1', epoch: 3 }, wakeInMs: 86_400_000, handledSignals: [] };
 * ```
 */
export interface ParkRequest {
  /** The run. */
  readonly runId: string;
  /** The lease the worker holds; a park under a lost lease changes nothing. */
  readonly lease: LeaseToken;
  /** In how many ms the run is due again; `null`: only when a signal or a cancel arrives. */
  readonly wakeInMs: number | null;
  /** Signal ids already journaled for the run. */
  readonly handledSignals: readonly string[];
}

/**
 * What became of a {@link ParkRequest}.
 *
 * @remarks
 * - `parked`: the lease is given back; the run is claimable again once due, or when a signal or a
 *   cancel is requested for it.
 * - `requeued`: the lease is given back, but a signal or cancel request the worker had not seen
 *   was pending: the run is claimable at once (the workers are woken).
 * - `lost`: the lease no longer held the run; nothing changed.
 *
 * @example
 * ```ts
 * import type { ParkResult } from 'sagaflow';
 * const holdsNothing = (result: ParkResult) => result !== 'lost';
 * ```
 */
export type ParkResult = 'parked' | 'requeued' | 'lost';

/**
 * Why a store woke its workers.
 *
 * @remarks
 * - `submitted`: a run was submitted.
 * - `requeued`: a submitted run became claimable again (a redrive or compensate of a settled run,
 *   a worker released an unfinished run, or a parked run got a signal or a cancel request).
 * - `cancel_requested`: `requestCancel` or `requestSignal` was called for `runId`; its owner should heartbeat now
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
 * A store that can share runs between worker processes (a queue, claims, wake-ups), such as
 * `PostgresStore`.
 *
 * @remarks
 * What `createWorker` and `orchestrator.submit` need; test a store with {@link supportsWorkers}.
 * Leases, fencing and cancel requests are every store's ({@link SagaStore}); this adds the queue.
 * Its methods are for workers and the orchestrator, not for application code. An implementation
 * must claim atomically (no run handed to two workers at once) and bump the run's epoch on each
 * claim.
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
   * Creates a submitted run (no owner) and queues it, atomically; wakes workers. The same as
   * {@link SagaStore.create} without `owner`.
   *
   * @throws `RunAlreadyExistsError` (rejects) when the run already exists.
   */
  submit(request: CreateRunRequest): Promise<void>;
  /**
   * Claims up to `limit` runs that are queued, or unfinished with an expired lease, of the
   * given sagas; bumps each run's epoch. Uses `FOR UPDATE SKIP LOCKED` so workers never
   * block each other.
   */
  claim(request: ClaimRequest): Promise<readonly ClaimedRun[]>;
  /**
   * Calls `listener` when new work may be claimable or a held run was asked to cancel
   * (LISTEN/NOTIFY); resolves, once listening, to an unsubscribe function.
   *
   * @remarks
   * A listener that ignores its argument (`() => void`) is fine: the signal only says why.
   */
  onWork(listener: (signal: WorkSignal) => void): Promise<() => Promise<void>>;
  /**
   * Optional: gives a waiting run's lease back until it is due again ({@link ParkRequest}), so
   * that a run waiting for days holds no worker, no memory and no timer anywhere. Without it,
   * workers keep waiting runs (and their leases) until the wait ends.
   *
   * @remarks
   * `claim` hands a parked run out once `wakeInMs` has passed (at the next claim after it); a
   * signal or cancel request makes it claimable at once and wakes the workers.
   */
  park?(request: ParkRequest): Promise<ParkResult>;
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
