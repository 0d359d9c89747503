import type { RunStatus } from '../journal/outcome.js';
import type { SagaEvent } from '../journal/saga-event.js';

/**
 * A worker's claim on a run, carried by every append it makes (fencing).
 *
 * @remarks
 * Returned by {@link WorkQueueStore.claim}; only worker-capable stores look at it. The epoch, not
 * the clock, is the fence: once another worker has claimed the run (bumping the epoch), appends
 * with the old token are refused with `LeaseLostError`, even if the old holder's clock says its
 * lease has not run out. You need it only to implement a store or a worker.
 *
 * @example
 * ```ts
 * import type { LeaseToken } from 'sagaflow';
 * const token: LeaseToken = { owner: 'worker-1', epoch: 3 };
 * ```
 */
export interface LeaseToken {
  /** The worker's id. */
  readonly owner: string;
  /** Bumped by every claim of the run; an append with an older epoch is refused. */
  readonly epoch: number;
}

/**
 * One atomic append to a run's journal.
 *
 * @remarks
 * What the runtime passes to {@link SagaStore.append}; you build one only to implement or test a
 * store. A store must write all the events or none, refuse the request when `expectedSeq` is not
 * the journal's current length (`StoreConflictError`), and keep `status` for
 * {@link SagaStore.listRuns}. `expectedSeq: 0` creates the run.
 *
 * @example
 * ```ts
 * import type { AppendRequest } from 'sagaflow';
 * const request: AppendRequest = {
 *   runId: 'r-1', saga: 'demo', expectedSeq: 0, status: 'running',
 *   events: [{ type: 'run.started', runId: 'r-1', saga: 'demo', seq: 0, at: Date.now(), version: '1', shapeHash: 'h', input: {}, stages: ['a'] }],
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
  /** The run's status after these events, as the journal fold computed it; kept for listing. */
  readonly status: RunStatus;
  /** The writer's lease, when it is a worker on a shared store. */
  readonly lease?: LeaseToken;
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
}

/**
 * A filter for {@link SagaStore.listRuns}, whose runs come back in id order (uuid v7: creation order).
 *
 * @remarks
 * Filters combine with AND. Page through many runs with `limit` and `afterRunId` set to the last
 * id of the previous page. Runs started with your own `runId`s sort by that id, not by creation
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
  readonly status?: RunStatus | readonly RunStatus[];
  /** Only runs of this saga. */
  readonly saga?: string;
  /** At most this many runs. Default: all. */
  readonly limit?: number;
  /** Only runs whose id sorts after this one (for paging). */
  readonly afterRunId?: string;
}

/**
 * Where journals live: the contract every store (memory, SQLite, PostgreSQL) fulfils.
 *
 * @remarks
 * Stores know nothing about sagas: they keep JSON events with optimistic concurrency.
 * Implement it to put journals somewhere else; the store conformance suite in the repository's
 * `test/stores` folder checks an implementation.
 *
 * @example
 * ```ts
 * import { MemoryStore, type SagaStore } from 'sagaflow';
 * const store: SagaStore = new MemoryStore();
 * ```
 */
export interface SagaStore {
  /** How to refer to this store in messages and on the CLI: `memory:`, `sqlite:PATH`, `postgres://…`. */
  readonly description: string;
  /**
   * Appends events to a run's journal, all or nothing, and resolves once they are durable.
   *
   * @throws `StoreConflictError` when `expectedSeq` is not the journal's length.
   * @throws `LeaseLostError` when `lease` is stale.
   * @throws `RunLeasedError` when `lease` is absent and a worker holds a live lease on the
   * unfinished run (stores shared with workers).
   */
  append(request: AppendRequest): Promise<void>;
  /**
   * Loads a run's journal in `seq` order, validating every event.
   *
   * @returns `undefined` when the run does not exist.
   * @throws `StoreCorruptionError` naming the run and seq of a row that is not a valid event.
   */
  load(runId: string): Promise<readonly SagaEvent[] | undefined>;
  /** Lists runs, filtered. */
  listRuns(query?: ListRunsQuery): Promise<readonly RunSummary[]>;
  /** Releases the store's resources (connections, file handles). Idempotent. */
  close(): Promise<void>;
}
