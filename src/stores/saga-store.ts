import type { RunStatus } from '../journal/outcome.js';
import type { SagaEvent } from '../journal/saga-event.js';

/**
 * A process's ownership of a run, carried by every append it makes (fencing).
 *
 * @remarks
 * Every process that drives a run holds its lease: taken with the run by {@link SagaStore.create},
 * or later by {@link SagaStore.acquire} (resume, redrive, compensate, recover) and a worker's
 * claim. The epoch, not the clock, is the fence: once another process has taken the run over
 * (bumping the epoch), appends with the old token are refused with `LeaseLostError`, even if the
 * old holder's clock says its lease has not run out. You need it only to implement a store.
 *
 * @example
 * ```ts
 * import type { LeaseToken } from 'sagaflow';
 * const token: LeaseToken = { owner: 'worker-1', epoch: 3 };
 * ```
 */
export interface LeaseToken {
  /** The owner's id (an orchestrator's or a worker's). */
  readonly owner: string;
  /** Bumped by every takeover of the run; an append with an older epoch is refused. */
  readonly epoch: number;
}

/**
 * One atomic append to an existing run's journal.
 *
 * @remarks
 * What the runtime passes to {@link SagaStore.append}; you build one only to implement or test a
 * store. A store must write all the events or none, refuse the request when `expectedSeq` is not
 * the journal's current length (`StoreConflictError`), check the lease (see
 * {@link SagaStore.append}), and keep `status` for {@link SagaStore.listRuns}. Runs are made by
 * {@link SagaStore.create}, never by an append.
 *
 * @example
 * ```ts
 * import type { AppendRequest } from 'sagaflow';
 * const request: AppendRequest = {
 *   runId: 'r-1', saga: 'demo', expectedSeq: 1, status: 'running', lease: { owner: 'app-1', epoch: 1 },
 *   events: [{ type: 'stage.started', runId: 'r-1', saga: 'demo', seq: 1, at: Date.now(), stage: 'a', attempt: 1 }],
 * };
 * ```
 */
export interface AppendRequest {
  /** The run to append to. */
  readonly runId: string;
  /** The saga's name, for listing and filtering. */
  readonly saga: string;
  /** The `seq` of the first event, which must equal the journal's current length. */
  readonly expectedSeq: number;
  /** Events with contiguous `seq`s from `expectedSeq`. Appended all or nothing. */
  readonly events: readonly SagaEvent[];
  /**
   * The run's status after these events, as the journal fold computed it; kept for listing. A
   * status other than `queued`, `running` or `compensating` ends the run's lease and clears its
   * cancel request in the same write.
   */
  readonly status: RunStatus;
  /**
   * The writer's lease. Absent only for an operator's hand-back of a submitted run to the
   * workers' queue, which a store accepts only while nobody holds a live lease on the run.
   */
  readonly lease?: LeaseToken;
}

/**
 * A new run for {@link SagaStore.create}: its `run.started` event, and who owns it.
 *
 * @remarks
 * With `owner`, the run is created with its lease held by that owner at epoch 1 for `leaseMs` (an
 * orchestrator's `start`). Without `owner`, the event must say `submitted: true` and the run is
 * queued for workers (`orchestrator.submit`), which only a {@link WorkQueueStore} accepts.
 *
 * @example
 * ```ts
 * import type { CreateRunRequest } from 'sagaflow';
 * const request: CreateRunRequest = {
 *   owner: { owner: 'app-1', leaseMs: 30_000 },
 *   event: { type: 'run.started', runId: 'r-1', saga: 'demo', seq: 0, at: Date.now(), version: '1', shapeHash: 'h', input: {}, stages: ['a'] },
 * };
 * ```
 */
export interface CreateRunRequest {
  /** The run's first event (`seq` 0). */
  readonly event: Extract<SagaEvent, { type: 'run.started' }>;
  /** Who drives the run, and for how long its first lease lasts. Absent: a submitted run. */
  readonly owner?: {
    /** The owner's id (an orchestrator's). */
    readonly owner: string;
    /** How long the first lease lasts, counted on the store's clock. */
    readonly leaseMs: number;
  };
}

/**
 * A request to take a run over, for {@link SagaStore.acquire}.
 *
 * @remarks
 * What `resume`, `redrive`, `compensate`, `recover` and `cancel` of a run that nobody drives ask
 * for before they write anything. You build one only to implement or test a store.
 *
 * @example
 * ```ts
 * import type { AcquireRequest } from 'sagaflow';
 * const request: AcquireRequest = { runId: 'r-1', owner: 'app-2', leaseMs: 30_000 };
 * ```
 */
export interface AcquireRequest {
  /** The run to take over. */
  readonly runId: string;
  /** The new owner's id. */
  readonly owner: string;
  /** Lease length, counted on the store's clock. */
  readonly leaseMs: number;
  /**
   * How many of the journal's first events the caller has already read and validated (with
   * {@link SagaStore.load}, just before): the store then returns only the events from that `seq`
   * on, so that a takeover does not read and validate the journal a second time. Absent or 0:
   * the whole journal. Journals only grow, so what the caller read is still their beginning; a
   * journal now shorter than that is returned whole.
   */
  readonly knownEvents?: number | undefined;
}

/**
 * What {@link SagaStore.acquire} found: the run is now yours, or a live owner holds it.
 *
 * @remarks
 * `acquired: true` carries the new lease (its epoch one above the last), the journal as it was at
 * that moment (or what it gained since the caller's read, see {@link AcquireRequest.knownEvents}),
 * and any cancel request pending for the run. `acquired: false` names the live
 * owner; nothing was changed.
 *
 * @example
 * ```ts
 * import type { AcquireResult } from 'sagaflow';
 * const describe = (result: AcquireResult) =>
 *   result.acquired ? `took over at epoch ${result.lease.epoch}` : `owned by ${result.heldBy.owner}`;
 * ```
 */
export type AcquireResult =
  | {
      /** The run is now owned by the caller. */
      readonly acquired: true;
      /** The new lease: every append for the run must carry it. */
      readonly lease: LeaseToken;
      /**
       * The run's journal; with {@link AcquireRequest.knownEvents}, only its events from that `seq`
       * on (none if it has not grown). A store may return the whole journal anyway: tell the two
       * apart by the first event's `seq` (0 for the whole journal).
       */
      readonly events: readonly SagaEvent[];
      /** A cancellation requested before the takeover, for the new owner to carry out. */
      readonly cancelRequest?: CancelRequest;
      /** Signals sent to the run through the store (see {@link SagaStore.requestSignal}), for the new owner to deliver. */
      readonly signalRequests?: readonly SignalRequest[];
    }
  | {
      /** A live lease holds the run; nothing was changed. */
      readonly acquired: false;
      /** Who holds it. */
      readonly heldBy: LeaseInfo;
    };

/**
 * A cancellation requested with `orchestrator.cancel(runId)` for the run's owner to act on.
 *
 * @remarks
 * Stored on the run until it settles; the first reason wins. The owner receives it with its next
 * heartbeat (or its takeover of the run) and cancels the run as `run.cancel(reason)` would.
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
 * A signal sent with `orchestrator.signal(runId, …)` from a process that does not own the run, for
 * its owner to deliver.
 *
 * @remarks
 * The sender has validated the payload against the saga's wait stage. The store keeps the request
 * on the run until the run settles; the owner receives it with every heartbeat (and its takeover of
 * the run) and journals it once: the run's journal dedups by `signalId`.
 *
 * @example
 * ```ts
 * import type { SignalRequest } from 'sagaflow';
 * const request: SignalRequest = { runId: 'r-1', signal: 'approval', signalId: 'ticket-9', payload: { approved: true } };
 * ```
 */
export interface SignalRequest {
  /** The run to signal. */
  readonly runId: string;
  /** The signal's name. */
  readonly signal: string;
  /** The signal's id: the run journals it once. */
  readonly signalId: string;
  /** The validated payload (plain JSON); absent for none. */
  readonly payload?: unknown;
  /**
   * When the signal was sent (ms since the epoch, by the sending process's clock, as `at` of the
   * events it journals). A wait whose deadline is later than this takes the signal even when the
   * run's owner journals it after the deadline: it was sent in time (its owner froze or died first,
   * or no worker was up). Absent in requests recorded before sagaflow stamped them: those count as
   * sent when they are journaled.
   */
  readonly requestedAt?: number;
}

/**
 * What a heartbeat learned.
 *
 * @remarks
 * Returned by {@link SagaStore.heartbeat}. An owner stops driving each `lost` run at once (it
 * aborts the run's signals and writes nothing more) and cancels each run named in
 * `cancelRequests`. A run that is neither lost nor renewed (its row was locked by another client
 * for longer than the store waits) is simply tried again at the next beat.
 *
 * @example
 * ```ts
 * import type { HeartbeatResult } from 'sagaflow';
 * const lostAny = (result: HeartbeatResult) => result.lost.length > 0;
 * ```
 */
export interface HeartbeatResult {
  /** Runs whose lease this owner no longer holds. */
  readonly lost: readonly string[];
  /** Cancellations requested for runs this owner holds. */
  readonly cancelRequests: readonly CancelRequest[];
  /** Signals sent through the store to runs this owner holds (absent from stores that do not take them). */
  readonly signalRequests?: readonly SignalRequest[];
}

/**
 * The lease on a run, as the store sees it now.
 *
 * @remarks
 * Returned by {@link SagaStore.leaseOf}; `undefined` there means nobody holds the run. `live` is
 * judged by the store's clock at the time of the call, so it can be stale by the time you read it:
 * use it for messages and decisions that tolerate that, never as a lock ({@link SagaStore.acquire}
 * is the lock).
 *
 * @example
 * ```ts
 * import type { LeaseInfo } from 'sagaflow';
 * const busy = (lease: LeaseInfo | undefined) => lease?.live === true;
 * ```
 */
export interface LeaseInfo {
  /** The process holding the lease (an orchestrator's or a worker's id). */
  readonly owner: string;
  /** The lease's epoch. */
  readonly epoch: number;
  /** The lease has not expired (by the store's clock). */
  readonly live: boolean;
  /** When it expires, in epoch ms by the store's clock. */
  readonly expiresAt: number;
  /**
   * How long it has left, in ms by the store's clock at the time of the call (0 once it has run
   * out). Wait this long for it to run out, not `expiresAt - Date.now()`: that is off by however far
   * this machine's clock is from the store's (a database server's). Absent from a store that does
   * not say.
   */
  readonly remainingMs?: number;
}

/**
 * Which finished runs {@link SagaStore.prune} deletes.
 *
 * @remarks
 * Runs last written before `olderThan` whose status is one of `statuses` are deleted with their
 * journals. Unfinished runs (`queued`, `running`, `compensating`) are never pruned: naming one of
 * those statuses is refused with a `TypeError`. `paused` and `compensation_failed` runs wait for
 * an operator, so they are pruned only when you name them. Nor is a run under a live lease: a
 * process took it over to redrive or compensate it and is about to write to it.
 *
 * @example
 * ```ts
 * import type { PruneOptions } from 'sagaflow';
 * const monthOld: PruneOptions = { olderThan: Date.now() - 30 * 24 * 3_600_000 };
 * ```
 */
export interface PruneOptions {
  /** Only runs whose last event is older than this (epoch ms, or a `Date`). */
  readonly olderThan: number | Date;
  /** Only runs in these statuses. Default: `completed`, `compensated` and `cancelled`. */
  readonly statuses?: readonly RunStatus[] | undefined;
  /** At most this many runs in one call (oldest first). Default: all that match. */
  readonly limit?: number | undefined;
}

/**
 * One row of {@link SagaStore.listRuns}.
 *
 * @remarks
 * A summary kept by the store on every append, so listing never reads journals: use it to find
 * runs (`sagaflow runs` prints these), then `orchestrator.inspect(runId)` for the full outcome.
 * `status` is the status the runtime computed when it last appended; it is `queued` for a
 * submitted run no worker has claimed yet.
 *
 * @example
 * ```ts
 * import type { RunSummary } from 'sagaflow';
 * const line = (run: RunSummary) => `${run.runId} ${run.saga} ${run.status} (${run.events} events)`;
 * ```
 */
export interface RunSummary {
  /** The run's id. */
  readonly runId: string;
  /** The saga's name. */
  readonly saga: string;
  /** The run's status after its last event. */
  readonly status: RunStatus;
  /** Number of events in the journal. */
  readonly events: number;
  /** `at` of the first event (epoch ms). */
  readonly createdAt: number;
  /** `at` of the last event (epoch ms). */
  readonly updatedAt: number;
  /** Whether the run was submitted to workers (`orchestrator.submit`). */
  readonly submitted: boolean;
}

/**
 * A filter for {@link SagaStore.listRuns}, whose runs come back in id order (uuid v7: creation order).
 *
 * @remarks
 * Filters combine with AND. Page through many runs with `limit` and `afterRunId` set to the last
 * id of the previous page; with `order: 'desc'` (newest first) the next page holds the ids that
 * sort before it. Runs started with your own `runId`s sort by that id, not by creation
 * time. `limit` must be an integer ≥ 0 (`SqliteStore` and `PostgresStore` reject anything else
 * with a `TypeError`).
 *
 * @example
 * ```ts
 * import type { ListRunsQuery } from 'sagaflow';
 * const stuck: ListRunsQuery = { status: ['paused', 'compensation_failed'], limit: 50 };
 * ```
 */
export interface ListRunsQuery {
  /** Only runs in this status, or in any of these. */
  readonly status?: RunStatus | readonly RunStatus[] | undefined;
  /** Only runs of this saga. */
  readonly saga?: string | undefined;
  /** At most this many runs. Default: all. */
  readonly limit?: number | undefined;
  /** Only runs whose id comes after this one in `order` (for paging). */
  readonly afterRunId?: string | undefined;
  /** Only runs whose id starts with this text (case-sensitive). */
  readonly runIdPrefix?: string | undefined;
  /** `asc` (default): oldest id first; `desc`: newest first. */
  readonly order?: 'asc' | 'desc' | undefined;
}

/**
 * Where journals live: the contract every store (memory, SQLite, PostgreSQL) fulfils.
 *
 * @remarks
 * Stores know nothing about sagas: they keep JSON events with optimistic concurrency, and the
 * ownership of each unfinished run: a lease (owner, epoch, expiry on the store's one clock) that
 * fences every append. Implement it to put journals somewhere else; the store conformance suite
 * in the repository's `test/stores` folder checks an implementation.
 *
 * @example
 * ```ts
 * import { MemoryStore, type SagaStore } from 'sagaflow';
 * const store: SagaStore = new MemoryStore();
 * ```
 */
export interface SagaStore {
  /** How to refer to this store in messages and on the CLI: `memory:`, `sqlite:PATH`, `postgres://…` (never with a password). */
  readonly description: string;
  /**
   * Creates a run with its `run.started` event, owned by `request.owner` (lease epoch 1), or
   * queued for workers when it has no owner; resolves once it is durable.
   *
   * @throws `RunAlreadyExistsError` (rejects) when a run with this id exists; nothing is changed.
   * @throws `StoreUnsupportedError` (rejects) for a run without owner on a store without workers.
   * @throws `TypeError` (rejects) when the event is not a `run.started` at seq 0, or its run id
   * holds NUL or ill-formed Unicode.
   */
  create(request: CreateRunRequest): Promise<void>;
  /**
   * Appends events to a run's journal, all or nothing, and resolves once they are durable.
   *
   * @remarks
   * With `lease`, the append is accepted only while that owner and epoch hold the run (even past
   * its expiry, as long as nobody took it over). Without `lease`, only while nobody holds a live
   * lease. A settled `status` ends the lease and clears the cancel request in the same write.
   *
   * @throws `RunNotFoundError` when the run does not exist.
   * @throws `StoreConflictError` when `expectedSeq` is not the journal's length.
   * @throws `LeaseLostError` when `lease` no longer holds the run.
   * @throws `RunLeasedError` when `lease` is absent and someone holds a live lease on the run.
   */
  append(request: AppendRequest): Promise<void>;
  /**
   * Loads a run's journal in `seq` order, validating every event.
   *
   * @returns `undefined` when the run does not exist.
   * @throws `StoreCorruptionError` naming the run and seq of a row that is not a valid event.
   */
  load(runId: string): Promise<readonly SagaEvent[] | undefined>;
  /** Lists runs, filtered; one corrupt row never fails the listing of the others. */
  listRuns(query?: ListRunsQuery): Promise<readonly RunSummary[]>;
  /** Counts runs per status, optionally of one saga (for dashboards and the inspector). */
  countRuns(query?: { readonly saga?: string | undefined }): Promise<Readonly<Partial<Record<RunStatus, number>>>>;
  /**
   * Takes a run over when nobody holds a live lease on it: bumps its epoch and makes the caller
   * its owner, atomically; or reports the live owner and changes nothing.
   *
   * @throws `RunNotFoundError` (rejects) when the run does not exist.
   */
  acquire(request: AcquireRequest): Promise<AcquireResult>;
  /**
   * Extends the leases this owner holds; reports the ones it lost and pending cancel requests.
   *
   * @remarks
   * A lease is extended while `owner` and its epoch still hold it, even if it ran out and nobody
   * took the run over meanwhile; otherwise the run is reported `lost`. A run that settled is
   * reported `lost` too (it has no lease any more).
   */
  heartbeat(owner: string, runs: ReadonlyArray<{ readonly runId: string; readonly lease: LeaseToken }>, leaseMs: number): Promise<HeartbeatResult>;
  /** Gives a lease up if this owner and epoch still hold it (a run detached, or a worker stopping); otherwise does nothing. */
  release(runId: string, lease: LeaseToken): Promise<void>;
  /**
   * Records a cancellation for the run's owner to act on (within one heartbeat). The first reason
   * is kept; a request for a settled run is ignored.
   *
   * @throws `RunNotFoundError` (rejects) when no such run exists.
   */
  requestCancel(runId: string, reason: string): Promise<void>;
  /**
   * Records a signal for the run's owner to deliver (within one heartbeat). Optional: a store
   * without it cannot carry signals to runs another process owns (`signal()` then refuses with
   * `RunLeasedError`). A request for a settled run is ignored; one whose `signalId` is already
   * pending is a no-op; a request is dropped once an append journals its `signal.received`.
   *
   * @throws `RunNotFoundError` (rejects) when no such run exists.
   */
  requestSignal?(request: SignalRequest): Promise<void>;
  /** The run's lease, if anybody holds it (live or expired). */
  leaseOf(runId: string): Promise<LeaseInfo | undefined>;
  /**
   * Deletes finished runs and their journals (retention); resolves to how many were deleted. A
   * run under a live lease (being redriven or compensated) is never deleted.
   *
   * @throws `TypeError` (rejects) when `statuses` names an unfinished status or `limit` is not an integer ≥ 0.
   */
  prune(options: PruneOptions): Promise<number>;
  /** Releases the store's resources (connections, file handles). Idempotent. */
  close(): Promise<void>;
}
