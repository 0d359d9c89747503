import { SagaError, SagaErrorCode } from '../errors/saga-error.js';
import { describeThrown } from '../errors/safe-read.js';
import { foldJournal } from '../journal/fold.js';
import type { SagaEvent } from '../journal/saga-event.js';
import { leasesRunOnWallClock, WALL_CLOCK_LEASES } from '../stores/lease-clock.js';
import type { AppendRequest, CreateRunRequest, LeaseToken, SagaStore } from '../stores/saga-store.js';
import type { CrashFault } from './faults.js';

/**
 * What a store wrapped by {@link crashingStore} rejects appends with once it has "crashed".
 *
 * @remarks
 * The orchestrator treats it like any store failure: the run stops being driven, nothing more
 * is written, and `outcome` rejects with it. The journal in the wrapped store ends exactly at
 * the event the crash fault matched.
 *
 * @example
 * ```ts
 * import { SimulatedCrashError } from 'sagaflow/testing';
 * const crashed = (error: unknown) => error instanceof SimulatedCrashError;
 * ```
 */
export class SimulatedCrashError extends SagaError {
  /** Always `'SimulatedCrashError'`. */
  override readonly name = 'SimulatedCrashError';
  /** Reuses the store-unavailable code: to the runtime, a crashed process's store is gone. */
  readonly code = SagaErrorCode.StoreUnavailable;

  /** @param event - the event the crash came right after. */
  constructor(readonly event: SagaEvent) {
    super(`Simulated crash right after event ${event.seq} (${event.type}) of run ${event.runId}: nothing more is written.`);
  }
}

/**
 * A store made by {@link crashingStore}.
 *
 * @remarks
 * A {@link SagaStore} for one orchestrator under test. Once `crashed` is set, every write
 * (create, append, acquire, heartbeat, release, cancel request, prune) rejects with that same
 * {@link SimulatedCrashError}, for every run, and the leases the crashed "process" held are
 * given up; reads go to the wrapped store. Its `close()` does nothing: close the wrapped store
 * yourself.
 *
 * @example
 * ```ts
 * import { createOrchestrator, MemoryStore, type AnySaga } from 'sagaflow';
 * import { crashAfter, crashingStore } from 'sagaflow/testing';
 * declare const saga: AnySaga;
 * const durable = new MemoryStore();
 * const store = crashingStore(durable, [crashAfter((event) => event.type === 'compensation.started')]);
 * const run = createOrchestrator({ store, sagas: [saga] }).start(saga, {});
 * await run.outcome.catch(() => undefined);
 * if (store.crashed !== undefined) await createOrchestrator({ store: durable, sagas: [saga] }).resume(run.runId).outcome;
 * ```
 */
export interface CrashingStore extends SagaStore {
  /** The crash, once it happened. */
  readonly crashed: SimulatedCrashError | undefined;
}

/**
 * A store that behaves like `inner` until an event matching one of the crash faults is
 * persisted, then refuses every further append — a process crash, as the journal sees it.
 *
 * @remarks
 * When the matching event is in the middle of an append, only the events up to and including it
 * are written. Reads keep working, so a test can inspect the journal; resume with a new
 * orchestrator on `inner`: the leases of the crashed one were released at the crash, as they
 * would have expired after a real crash, so the new orchestrator can take its runs over at once.
 *
 * @example
 * ```ts
 * import { MemoryStore } from 'sagaflow';
 * import { crashAfter, crashingStore } from 'sagaflow/testing';
 * const durable = new MemoryStore();
 * const store = crashingStore(durable, [crashAfter((event) => event.type === 'stage.completed')]);
 * ```
 */
export function crashingStore(inner: SagaStore, faults: readonly CrashFault[]): CrashingStore {
  let crashed: SimulatedCrashError | undefined;
  const journals = new Map<string, SagaEvent[]>();
  // The leases this "process" holds, so that the crash can give them up.
  const leases = new Map<string, LeaseToken>();
  const journalOf = async (runId: string): Promise<SagaEvent[]> => {
    let journal = journals.get(runId);
    if (journal === undefined) {
      journal = [...((await inner.load(runId)) ?? [])];
      journals.set(runId, journal);
    }
    return journal;
  };
  const alive = (): void => {
    if (crashed !== undefined) throw crashed;
  };
  const crash = async (event: SagaEvent): Promise<never> => {
    crashed = new SimulatedCrashError(event);
    // A real crashed process's leases expire after leaseMs; the simulation gives them up at
    // once, so that the test's next orchestrator can take the runs over without waiting.
    const held = [...leases.entries()];
    leases.clear();
    await Promise.all(held.map(([runId, lease]) => inner.release(runId, lease).catch(() => undefined)));
    throw crashed;
  };
  const matches = (event: SagaEvent, soFar: readonly SagaEvent[]): boolean =>
    faults.some((fault) => {
      try {
        return fault.predicate(event, soFar);
      } catch (error) {
        // The test's own code: say whose it is and where, rather than pass the raw error on as the store's.
        throw new TypeError(`crashAfter: its predicate threw ${describeThrown(error)} on ${event.type} (seq ${event.seq}) of run ${event.runId}; fix the predicate.`, { cause: error });
      }
    });
  const store: CrashingStore = {
    get description(): string {
      return `${inner.description} (with a simulated crash)`;
    },
    get crashed(): SimulatedCrashError | undefined {
      return crashed;
    },
    async create(request: CreateRunRequest): Promise<void> {
      alive();
      await inner.create(request);
      const { event, owner } = request;
      journals.set(event.runId, [event]);
      if (owner !== undefined) leases.set(event.runId, { owner: owner.owner, epoch: 1 });
      if (matches(event, [event])) await crash(event);
    },
    async append(request: AppendRequest): Promise<void> {
      alive();
      const journal = await journalOf(request.runId);
      let cut = request.events.length;
      let matched: SagaEvent | undefined;
      for (const [index, event] of request.events.entries()) {
        const soFar = [...journal, ...request.events.slice(0, index + 1)];
        if (matches(event, soFar)) {
          cut = index + 1;
          matched = event;
          break;
        }
      }
      const written = request.events.slice(0, cut);
      // A cut append records the status the written prefix folds to, as a real crash would leave it.
      await inner.append(
        cut === request.events.length ? request : { ...request, events: written, status: foldJournal([...journal, ...written]).status },
      );
      journal.push(...written);
      if (request.lease !== undefined) leases.set(request.runId, request.lease);
      if (matched !== undefined) await crash(matched);
    },
    async acquire(request) {
      alive();
      const result = await inner.acquire(request);
      if (result.acquired) {
        leases.set(request.runId, result.lease);
        // Only the journal's end when the caller said what it had read: loaded again on the next append.
        if (result.events[0]?.seq === 0) journals.set(request.runId, [...result.events]);
        else journals.delete(request.runId);
      }
      return result;
    },
    async heartbeat(owner, runs, leaseMs) {
      alive();
      return inner.heartbeat(owner, runs, leaseMs);
    },
    async release(runId, lease) {
      alive();
      await inner.release(runId, lease);
      if (leases.get(runId)?.epoch === lease.epoch) leases.delete(runId);
    },
    async requestCancel(runId, reason) {
      alive();
      return inner.requestCancel(runId, reason);
    },
    async prune(options) {
      alive();
      return inner.prune(options);
    },
    load: (runId) => inner.load(runId),
    listRuns: (query) => inner.listRuns(query),
    countRuns: (query) => inner.countRuns(query),
    leaseOf: (runId) => inner.leaseOf(runId),
    close: () => Promise.resolve(),
  };
  // The leases are the wrapped store's: heartbeated on the clock they expire on.
  return Object.assign(store, { [WALL_CLOCK_LEASES]: leasesRunOnWallClock(inner) });
}
