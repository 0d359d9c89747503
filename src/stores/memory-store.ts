import { StoreConflictError } from '../errors/store-errors.js';
import type { RunStatus } from '../journal/outcome.js';
import type { SagaEvent } from '../journal/saga-event.js';
import type { AppendRequest, ListRunsQuery, RunSummary, SagaStore } from './saga-store.js';

/** Every append settles at once: one shared promise instead of one per call. */
const SETTLED: Promise<void> = Promise.resolve();

interface MemoryRun {
  readonly runId: string;
  readonly saga: string;
  status: RunStatus;
  readonly events: SagaEvent[];
}

/**
 * Keeps journals in this process's memory: the default store, for tests and for sagas that
 * need no durability.
 *
 * @remarks
 * Everything is lost when the process exits. Events are kept as given, by reference (they are
 * plain JSON copies made by the runtime): treat events from `load` and `events$` as read-only,
 * since changing one changes the journal. Each instance has its own runs; pass one instance to
 * two orchestrators to test a resume in one process. It does not share runs with workers:
 * `orchestrator.submit` and `createWorker` refuse it with `StoreUnsupportedError`. Use
 * `SqliteStore` (`sagaflow/sqlite`) to survive a crash.
 *
 * @example
 * ```ts
 * import { createOrchestrator, MemoryStore } from 'sagaflow';
 * const orchestrator = createOrchestrator({ store: new MemoryStore(), sagas: [] });
 * ```
 */
export class MemoryStore implements SagaStore {
  readonly description = 'memory:';
  private readonly runs = new Map<string, MemoryRun>();

  /**
   * Appends events to a run's journal, all or nothing; resolves at once (memory is as durable as
   * it gets here).
   *
   * @throws `StoreConflictError` (rejects) when `expectedSeq` is not the journal's length.
   * @throws `TypeError` (rejects) when the events are not contiguous from `expectedSeq` or belong
   * to another run.
   */
  append(request: AppendRequest): Promise<void> {
    const run = this.runs.get(request.runId);
    const length = run?.events.length ?? 0;
    if (request.expectedSeq !== length) {
      return Promise.reject(new StoreConflictError(request.runId, request.expectedSeq, length));
    }
    const events = request.events;
    for (let offset = 0; offset < events.length; offset++) {
      const event = events[offset] as SagaEvent;
      if (event.seq !== request.expectedSeq + offset || event.runId !== request.runId) {
        return Promise.reject(
          new TypeError(`Append to run ${request.runId}: event ${offset} has runId ${event.runId} and seq ${event.seq}, expected seq ${request.expectedSeq + offset}.`),
        );
      }
    }
    if (run === undefined) {
      this.runs.set(request.runId, { runId: request.runId, saga: request.saga, status: request.status, events: [...events] });
    } else {
      for (let index = 0; index < events.length; index++) run.events.push(events[index] as SagaEvent);
      run.status = request.status;
    }
    return SETTLED;
  }

  /**
   * Loads a run's journal in `seq` order; `undefined` for an unknown run.
   *
   * @remarks
   * Events are returned as they were appended, without validation: they never left this process.
   */
  load(runId: string): Promise<readonly SagaEvent[] | undefined> {
    const run = this.runs.get(runId);
    return Promise.resolve(run === undefined ? undefined : [...run.events]);
  }

  /** Lists runs, filtered by status and saga, in run-id order. */
  listRuns(query: ListRunsQuery = {}): Promise<readonly RunSummary[]> {
    const statuses = query.status === undefined ? undefined : new Set<RunStatus>(typeof query.status === 'string' ? [query.status] : query.status);
    const rows: RunSummary[] = [];
    for (const run of this.runs.values()) {
      if (statuses !== undefined && !statuses.has(run.status)) continue;
      if (query.saga !== undefined && run.saga !== query.saga) continue;
      if (query.afterRunId !== undefined && run.runId <= query.afterRunId) continue;
      rows.push({
        runId: run.runId,
        saga: run.saga,
        status: run.status,
        events: run.events.length,
        createdAt: run.events[0]?.at ?? 0,
        updatedAt: run.events[run.events.length - 1]?.at ?? 0,
      });
    }
    rows.sort((left, right) => (left.runId < right.runId ? -1 : left.runId > right.runId ? 1 : 0));
    return Promise.resolve(query.limit === undefined ? rows : rows.slice(0, query.limit));
  }

  /** Releases the store's resources. Idempotent. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
