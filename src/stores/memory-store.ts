import { RunAlreadyExistsError, RunNotFoundError } from '../errors/run-errors.js';
import { StoreUnsupportedError } from '../errors/store-errors.js';
import type { RunStatus } from '../journal/outcome.js';
import type { SagaEvent } from '../journal/saga-event.js';
import { WALL_CLOCK_LEASES } from './lease-clock.js';
import { assertStorableRunId } from './run-id.js';
import type {
  AcquireRequest,
  AcquireResult,
  AppendRequest,
  CreateRunRequest,
  HeartbeatResult,
  SignalRequest,
  LeaseInfo,
  LeaseToken,
  ListRunsQuery,
  PruneOptions,
  RunSummary,
  SagaStore,
} from './saga-store.js';
import {
  appendRefusal,
  checkAppend,
  checkCreate,
  checkKnownEvents,
  checkLeaseMs,
  checkListQuery,
  checkOwner,
  checkReason,
  compareRunIds,
  isActiveStatus,
  misplacedEvent,
  pruneCriteria,
  takeoverReadsFrom,
} from './store-requests.js';

/**
 * Whether `store` is a {@link MemoryStore} whose `append` is its own, which copies the events of a
 * request into the journal and keeps nothing of the request once it returns: a writer may then
 * reuse the request and its `events` array for its next append (the interpreter does). Any other
 * store may keep what it is given, so it always gets a new request and array.
 */
export function copiesAppends(store: SagaStore): boolean {
  return store.append === MemoryStore.prototype.append;
}

/** The key of {@link MemoryStore}'s internal method that lends a run's journal (see `RunHandleOptions.journals`). @internal */
export const LENT_JOURNAL: unique symbol = Symbol('sagaflow.lentJournal');

/** Every append settles at once: one shared promise instead of one per call. */
const SETTLED: Promise<void> = Promise.resolve();

/** How many settled runs a {@link MemoryStore} keeps by default. */
const DEFAULT_MAX_SETTLED_RUNS = 10_000;

/**
 * Options of {@link MemoryStore}.
 *
 * @remarks
 * Both are optional. `maxSettledRuns` bounds memory: a long-lived process that runs sagas on the
 * default store would otherwise keep every journal it ever wrote. `now` is the store's one clock
 * for leases; pass a fake one to test lease expiry without waiting.
 *
 * @example
 * ```ts
 * import { MemoryStore } from 'sagaflow';
 * let clock = 0;
 * const store = new MemoryStore({ maxSettledRuns: 1_000, now: () => clock });
 * clock += 60_000; // every lease taken before has now expired
 * ```
 */
export interface MemoryStoreOptions {
  /**
   * How many settled runs (completed, compensated, cancelled, compensation_failed, paused) to
   * keep; when one more settles, the one that settled longest ago is forgotten. Default 10,000;
   * `Infinity` keeps every run.
   */
  readonly maxSettledRuns?: number | undefined;
  /** The clock leases are measured with, in epoch ms. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

interface MemoryRun {
  readonly runId: string;
  readonly saga: string;
  readonly submitted: boolean;
  status: RunStatus;
  /** Whether `status` is one someone drives (kept with it, so appends need no lookup). */
  active: boolean;
  readonly events: SagaEvent[];
  /** The lease holder; `undefined` when nobody holds the run. */
  leaseOwner: string | undefined;
  /** Bumped by every acquire; kept when the lease ends, so an old token never matches again. */
  leaseEpoch: number;
  leaseExpiresAt: number;
  cancelReason: string | undefined;
  /** Signals sent through the store while the run is active, for its owner to deliver. */
  signalRequests: SignalRequest[] | undefined;
  /** While settled: its position in the retention queue (see `settledQueue`; 0 when not settled). */
  settledAs: number;
}

/**
 * Keeps journals in this process's memory: the default store, for tests and for sagas that
 * need no durability.
 *
 * @remarks
 * Everything is lost when the process exits. Events are kept as given, by reference (they are
 * plain JSON copies made by the runtime): treat events from `load` and `events$` as read-only,
 * since changing one changes the journal. Each instance has its own runs; pass one instance to
 * two orchestrators to test a resume, or a takeover, in one process: leases and fencing work as
 * in the durable stores, on the clock given as `now`. It does not share runs with workers:
 * `orchestrator.submit` and `createWorker` refuse it with `StoreUnsupportedError`. Use
 * `SqliteStore` (`sagaflow/sqlite`) to survive a crash.
 *
 * Retention: the store keeps at most `maxSettledRuns` settled runs (default 10,000) and forgets
 * the one that settled longest ago when another settles, so a long-lived process does not grow
 * without bound. A forgotten run is gone: `inspect` reports `RunNotFoundError` for it. A run
 * paused for an operator counts too: raise the bound, pass `Infinity`, or use a durable store if
 * such runs must wait indefinitely. Runs that are still moving are never forgotten. `prune` deletes
 * settled runs by age on demand.
 *
 * @example
 * ```ts
 * import { createOrchestrator, MemoryStore } from 'sagaflow';
 * const orchestrator = createOrchestrator({ store: new MemoryStore({ maxSettledRuns: 1_000 }), sagas: [] });
 * ```
 */
export class MemoryStore implements SagaStore {
  readonly description = 'memory:';
  private readonly runs = new Map<string, MemoryRun>();
  /**
   * Settled runs, in the order they settled: a queue whose slot of a run that is no longer
   * settled (it moved again, or was pruned or forgotten) is emptied at once, so the queue never
   * keeps a forgotten run's journal reachable. A run's `settledAs` is its position,
   * `settledBase + index`. The front is cut off as it empties; holes left behind a run that stays
   * are squeezed out once they outnumber the settled runs.
   */
  private settledQueue: Array<MemoryRun | undefined> = [];
  private settledBase = 1;
  private settledHead = 0;
  private settledCount = 0;
  private readonly maxSettledRuns: number;
  private readonly now: () => number;
  /** Whether leases expire on `Date.now` (no `now` given), so that they are heartbeated in real time. @internal */
  readonly [WALL_CLOCK_LEASES]: boolean;

  /**
   * @param options - retention and the lease clock; see {@link MemoryStoreOptions}.
   * @throws `TypeError` when `maxSettledRuns` is not an integer >= 0 (or `Infinity`), or `now` is not a function.
   */
  constructor(options: MemoryStoreOptions = {}) {
    const maxSettledRuns = options.maxSettledRuns ?? DEFAULT_MAX_SETTLED_RUNS;
    if (maxSettledRuns !== Infinity && (!Number.isInteger(maxSettledRuns) || maxSettledRuns < 0)) {
      throw new TypeError(`MemoryStore \`maxSettledRuns\` must be an integer >= 0 or Infinity, not ${String(maxSettledRuns)}.`);
    }
    if (options.now !== undefined && typeof options.now !== 'function') {
      throw new TypeError('MemoryStore `now` must be a function returning epoch milliseconds.');
    }
    this.maxSettledRuns = maxSettledRuns;
    this.now = options.now ?? Date.now;
    this[WALL_CLOCK_LEASES] = options.now === undefined;
  }

  /**
   * Creates a run owned by `request.owner`; resolves at once.
   *
   * @throws `RunAlreadyExistsError` (rejects) when a run with this id exists; nothing is changed.
   * @throws `StoreUnsupportedError` (rejects) for a run without owner: this store has no workers.
   * @throws `TypeError` (rejects) when the event is not a `run.started` at seq 0, or its run id
   * cannot be stored (empty, over 200 characters, NUL, ill-formed Unicode).
   */
  create(request: CreateRunRequest): Promise<void> {
    // Once per run: checked and stored without a closure or a promise of its own.
    try {
      const status = checkCreate(request);
      const { event, owner } = request;
      if (owner === undefined) {
        throw new StoreUnsupportedError('MemoryStore', 'submitted runs', 'workers need a PostgresStore; start the run in this process instead');
      }
      const existing = this.runs.get(event.runId);
      if (existing !== undefined) throw new RunAlreadyExistsError(event.runId, existing.status, existing.saga);
      this.runs.set(event.runId, {
        runId: event.runId,
        saga: event.saga,
        submitted: event.submitted === true,
        status,
        active: true,
        events: [event],
        leaseOwner: owner.owner,
        leaseEpoch: 1,
        leaseExpiresAt: this.now() + owner.leaseMs,
        cancelReason: undefined,
        signalRequests: undefined,
        settledAs: 0,
      });
      return SETTLED;
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }


  /**
   * Appends events to a run's journal, all or nothing; resolves at once (memory is as durable as
   * it gets here).
   *
   * @throws `RunNotFoundError` (rejects) when the run does not exist.
   * @throws `LeaseLostError` (rejects) when `lease` no longer holds the run.
   * @throws `StoreConflictError` (rejects) when `expectedSeq` is not the journal's length.
   * @throws `RunLeasedError` (rejects) when `lease` is absent and someone holds a live lease.
   * @throws `TypeError` (rejects) when there are no events, they are not contiguous from
   * `expectedSeq`, or they belong to another run.
   */
  append(request: AppendRequest): Promise<void> {
    // The in-memory hot path: checks in the order of the durable stores, without allocating.
    const run = this.runs.get(request.runId);
    if (run === undefined) return Promise.reject(this.unknownRun(request));
    const lease = request.lease;
    const length = run.events.length;
    // The usual case (the holder appending at the journal's end) is decided inline; anything else
    // goes through the rules every store shares. The clock is read only for a lease-less append to
    // a leased run, the one rule that needs it.
    if (lease === undefined || run.leaseOwner !== lease.owner || run.leaseEpoch !== lease.epoch || request.expectedSeq !== length) {
      const live = lease === undefined && run.leaseOwner !== undefined && this.now() < run.leaseExpiresAt;
      const refused = appendRefusal(request, length, run.leaseOwner, run.leaseEpoch, live);
      if (refused !== undefined) return Promise.reject(refused);
    }
    const events = request.events;
    if (events.length === 0) return Promise.reject(new TypeError(`Append to run ${request.runId}: there are no events to append.`));
    for (let offset = 0; offset < events.length; offset++) {
      const event = events[offset] as SagaEvent;
      if (event.seq !== length + offset || event.runId !== request.runId) return Promise.reject(misplacedEvent(request, offset));
    }
    for (let index = 0; index < events.length; index++) run.events.push(events[index] as SagaEvent);
    // A request is done with once its signal.received is journaled: heartbeats stop carrying it.
    if (run.signalRequests !== undefined) dropJournaledSignals(run, events);
    // Accepted without a lease once the lease ran out: the former holder is fenced out.
    if (lease === undefined) run.leaseOwner = undefined;
    if (request.status !== run.status) this.moveTo(run, request.status);
    else if (!run.active && run.leaseOwner !== undefined) this.endLease(run);
    return SETTLED;
  }

  /**
   * Loads a run's journal in `seq` order; `undefined` for an unknown run.
   *
   * @remarks
   * Events are returned as they were appended, without validation: they never left this process.
   *
   * @throws `TypeError` (rejects) when the run id cannot be stored (so no run can have it).
   */
  load(runId: string): Promise<readonly SagaEvent[] | undefined> {
    const run = this.runs.get(runId);
    if (run === undefined) {
      return settle(() => {
        assertStorableRunId(runId, 'Load');
        return undefined;
      });
    }
    return Promise.resolve([...run.events]);
  }

  /**
   * The journal of run `runId` as this store holds it, live: the store's own array, not a copy.
   * Internal (a symbol, so not among the store's methods): a run handle replays from it instead of
   * keeping a second copy of the journal (see `RunHandleOptions.journals`). Never change it; it
   * only grows, and is never replaced.
   *
   * @internal
   */
  [LENT_JOURNAL](runId: string): readonly SagaEvent[] | undefined {
    return this.runs.get(runId)?.events;
  }

  /**
   * Lists runs, filtered, in run-id order (`order: 'desc'` for newest first).
   *
   * @throws `TypeError` (rejects) when `limit` is not an integer >= 0, or `order` is unknown.
   */
  listRuns(query: ListRunsQuery = {}): Promise<readonly RunSummary[]> {
    return settle(() => {
      const { statuses, descending } = checkListQuery(query);
      const wanted = statuses === undefined ? undefined : new Set<RunStatus>(statuses);
      const { saga, afterRunId, runIdPrefix } = query;
      const rows: RunSummary[] = [];
      for (const run of this.runs.values()) {
        if (wanted !== undefined && !wanted.has(run.status)) continue;
        if (saga !== undefined && run.saga !== saga) continue;
        if (runIdPrefix !== undefined && !run.runId.startsWith(runIdPrefix)) continue;
        if (afterRunId !== undefined) {
          const order = compareRunIds(run.runId, afterRunId);
          if (descending ? order >= 0 : order <= 0) continue;
        }
        rows.push(summaryOf(run));
      }
      rows.sort(descending ? (left, right) => compareRunIds(right.runId, left.runId) : (left, right) => compareRunIds(left.runId, right.runId));
      return query.limit === undefined ? rows : rows.slice(0, query.limit);
    });
  }

  /** Counts runs per status, optionally of one saga. */
  countRuns(query: { readonly saga?: string | undefined } = {}): Promise<Readonly<Partial<Record<RunStatus, number>>>> {
    const counts: Partial<Record<RunStatus, number>> = {};
    for (const run of this.runs.values()) {
      if (query.saga !== undefined && run.saga !== query.saga) continue;
      counts[run.status] = (counts[run.status] ?? 0) + 1;
    }
    return Promise.resolve(counts);
  }

  /**
   * Takes a run over when nobody holds a live lease on it (by this store's clock).
   *
   * @throws `RunNotFoundError` (rejects) when the run does not exist.
   * @throws `TypeError` (rejects) when the owner, lease length or run id is invalid.
   */
  acquire(request: AcquireRequest): Promise<AcquireResult> {
    return settle((): AcquireResult => {
      const operation = `Acquire run ${request.runId}`;
      checkOwner(request.owner, operation);
      checkLeaseMs(request.leaseMs, operation);
      checkKnownEvents(request, operation);
      const run = this.runOrThrow(request.runId, 'Acquire');
      const now = this.now();
      if (run.leaseOwner !== undefined && now < run.leaseExpiresAt) {
        return { acquired: false, heldBy: leaseInfo(run, now) };
      }
      run.leaseOwner = request.owner;
      run.leaseEpoch++;
      run.leaseExpiresAt = now + request.leaseMs;
      const lease: LeaseToken = { owner: request.owner, epoch: run.leaseEpoch };
      return {
        acquired: true,
        lease,
        events: run.events.slice(takeoverReadsFrom(request, run.events.length)),
        ...(run.cancelReason === undefined ? {} : { cancelRequest: { runId: run.runId, reason: run.cancelReason } }),
        ...(run.signalRequests === undefined ? {} : { signalRequests: [...run.signalRequests] }),
      };
    });
  }

  /** Extends the leases `owner` still holds; reports the lost ones and pending cancel requests. */
  heartbeat(owner: string, runs: ReadonlyArray<{ readonly runId: string; readonly lease: LeaseToken }>, leaseMs: number): Promise<HeartbeatResult> {
    return settle((): HeartbeatResult => {
      checkLeaseMs(leaseMs, `Heartbeat of ${owner}`);
      const lost: string[] = [];
      const cancelRequests: Array<{ runId: string; reason: string }> = [];
      let signalRequests: SignalRequest[] | undefined;
      const expiresAt = this.now() + leaseMs;
      for (const { runId, lease } of runs) {
        const run = this.runs.get(runId);
        if (run === undefined || run.leaseOwner !== owner || run.leaseEpoch !== lease.epoch) {
          lost.push(runId);
          continue;
        }
        run.leaseExpiresAt = expiresAt;
        if (run.cancelReason !== undefined) cancelRequests.push({ runId, reason: run.cancelReason });
        if (run.signalRequests !== undefined) (signalRequests ??= []).push(...run.signalRequests);
      }
      return signalRequests === undefined ? { lost, cancelRequests } : { lost, cancelRequests, signalRequests };
    });
  }

  /** Gives a lease up if this owner and epoch still hold it; otherwise does nothing. */
  release(runId: string, lease: LeaseToken): Promise<void> {
    const run = this.runs.get(runId);
    if (run !== undefined && run.leaseOwner === lease.owner && run.leaseEpoch === lease.epoch) run.leaseOwner = undefined;
    return SETTLED;
  }

  /**
   * Records a cancellation for the run's owner; the first reason is kept, a settled run ignores it.
   *
   * @throws `RunNotFoundError` (rejects) when the run does not exist.
   */
  requestCancel(runId: string, reason: string): Promise<void> {
    return settle(() => {
      checkReason(runId, reason);
      const run = this.runOrThrow(runId, 'Cancel request');
      if (isActiveStatus(run.status)) run.cancelReason ??= reason;
    });
  }

  /**
   * Records a signal for the run's owner to deliver with its next heartbeat; a settled run ignores
   * it.
   *
   * @throws `RunNotFoundError` (rejects) when the run does not exist.
   */
  requestSignal(request: SignalRequest): Promise<void> {
    return settle(() => {
      const run = this.runOrThrow(request.runId, 'Signal request');
      // One pending request per signalId: a second with the same id is a no-op.
      if (isActiveStatus(run.status) && run.signalRequests?.some((pending) => pending.signalId === request.signalId) !== true) (run.signalRequests ??= []).push(request);
    });
  }

  /**
   * The run's lease, if anybody holds it (live or expired by this store's clock).
   *
   * @throws `TypeError` (rejects) when the run id cannot be stored (so no run can have it).
   */
  leaseOf(runId: string): Promise<LeaseInfo | undefined> {
    return settle(() => {
      const run = this.runs.get(runId);
      if (run === undefined) assertStorableRunId(runId, 'Lease lookup');
      return run?.leaseOwner === undefined ? undefined : leaseInfo(run, this.now());
    });
  }

  /**
   * Deletes settled runs last written before `olderThan` (by their events' `at`), oldest first;
   * never one under a live lease (taken over to be redriven or compensated).
   *
   * @throws `TypeError` (rejects) when `statuses` names an unfinished status or `limit` is not an integer >= 0.
   */
  prune(options: PruneOptions): Promise<number> {
    return settle(() => {
      const { olderThan, statuses, limit } = pruneCriteria(options);
      const wanted = new Set(statuses);
      const doomed: MemoryRun[] = [];
      const now = this.now();
      for (const run of this.runs.values()) {
        // Under a live lease, a settled run is being redriven or compensated: not deleted under its owner.
        const leased = run.leaseOwner !== undefined && now < run.leaseExpiresAt;
        if (wanted.has(run.status) && updatedAt(run) < olderThan && !leased) doomed.push(run);
      }
      doomed.sort((left, right) => updatedAt(left) - updatedAt(right) || compareRunIds(left.runId, right.runId));
      const deleted = limit === undefined ? doomed : doomed.slice(0, limit);
      for (const run of deleted) this.forget(run);
      return deleted.length;
    });
  }

  /** Releases the store's resources. Idempotent. */
  close(): Promise<void> {
    return SETTLED;
  }

  /** A run moves to another status: a settled one ends its lease and cancel request, and counts for retention. */
  private moveTo(run: MemoryRun, status: RunStatus): void {
    run.status = status;
    run.active = isActiveStatus(status);
    if (run.active) {
      this.unsettle(run);
      return;
    }
    this.endLease(run);
    // Re-queued: a run that settles again (a redrive) is the newest settled one.
    if (run.settledAs === 0) this.settledCount++;
    else this.settledQueue[run.settledAs - this.settledBase] = undefined;
    run.settledAs = this.settledBase + this.settledQueue.length;
    this.settledQueue.push(run);
    while (this.settledCount > this.maxSettledRuns && this.settledHead < this.settledQueue.length) {
      const oldest = this.settledQueue[this.settledHead];
      if (oldest === undefined) this.settledHead++;
      else this.forget(oldest);
    }
    this.trimSettledQueue();
  }

  /** Cuts the queue's empty front off, and squeezes out holes once they outnumber the settled runs. */
  private trimSettledQueue(): void {
    const queue = this.settledQueue;
    while (this.settledHead < queue.length && queue[this.settledHead] === undefined) this.settledHead++;
    const length = queue.length - this.settledHead;
    if (length === 0) {
      this.settledBase += queue.length;
      this.settledQueue = [];
      this.settledHead = 0;
    } else if (this.settledHead > 1_024 && this.settledHead * 2 > queue.length) {
      this.settledQueue = queue.slice(this.settledHead);
      this.settledBase += this.settledHead;
      this.settledHead = 0;
    } else if (length > 1_024 && length > 2 * this.settledCount) {
      const kept: MemoryRun[] = [];
      for (let index = this.settledHead; index < queue.length; index++) {
        const run = queue[index];
        if (run !== undefined) kept.push(run);
      }
      this.settledBase += queue.length;
      for (let index = 0; index < kept.length; index++) (kept[index] as MemoryRun).settledAs = this.settledBase + index;
      this.settledQueue = kept;
      this.settledHead = 0;
    }
  }

  /** A run no longer counts as settled (it moves again, or is forgotten): its queue slot is emptied. */
  private unsettle(run: MemoryRun): void {
    if (run.settledAs === 0) return;
    this.settledQueue[run.settledAs - this.settledBase] = undefined;
    run.settledAs = 0;
    this.settledCount--;
    this.trimSettledQueue();
  }


  private endLease(run: MemoryRun): void {
    run.leaseOwner = undefined;
    run.cancelReason = undefined;
    run.signalRequests = undefined;
  }

  private forget(run: MemoryRun): void {
    this.runs.delete(run.runId);
    this.unsettle(run);
  }


  private runOrThrow(runId: string, operation: string): MemoryRun {
    const run = this.runs.get(runId);
    if (run !== undefined) return run;
    assertStorableRunId(runId, operation);
    throw new RunNotFoundError(runId);
  }

  /** Why an append found no run: a malformed request, or a run that was never created. */
  private unknownRun(request: AppendRequest): Error {
    try {
      checkAppend(request);
    } catch (error) {
      return error as Error;
    }
    return new RunNotFoundError(request.runId);
  }
}

function summaryOf(run: MemoryRun): RunSummary {
  return {
    runId: run.runId,
    saga: run.saga,
    status: run.status,
    events: run.events.length,
    createdAt: run.events[0]?.at ?? 0,
    updatedAt: updatedAt(run),
    submitted: run.submitted,
  };
}

function updatedAt(run: MemoryRun): number {
  return run.events[run.events.length - 1]?.at ?? 0;
}

function leaseInfo(run: MemoryRun, now: number): LeaseInfo {
  return { owner: run.leaseOwner ?? '', epoch: run.leaseEpoch, live: now < run.leaseExpiresAt, expiresAt: run.leaseExpiresAt, remainingMs: Math.max(0, run.leaseExpiresAt - now) };
}

/** Runs `work` now and wraps its result or its throw in a promise, so no method throws synchronously. */
function settle<T>(work: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(work());
  });
}

/** Drops the pending signal requests whose `signal.received` these events journal. */
function dropJournaledSignals(run: { signalRequests: SignalRequest[] | undefined }, events: readonly SagaEvent[]): void {
  const journaled = new Set<string>();
  for (const event of events) if (event.type === 'signal.received') journaled.add(event.signalId);
  if (journaled.size === 0) return;
  const pending = (run.signalRequests ?? []).filter((request) => !journaled.has(request.signalId));
  run.signalRequests = pending.length === 0 ? undefined : pending;
}
