import type { SagaStore } from './saga-store.js';

/**
 * The key of the internal flag by which a store says that its leases expire on the wall clock
 * (`SqliteStore`: SQLite's clock; `PostgresStore`: the database's; `MemoryStore` without `now`:
 * `Date.now`), whatever scheduler the orchestrator driving its runs was given.
 *
 * @internal
 */
export const WALL_CLOCK_LEASES: unique symbol = Symbol('sagaflow.wallClockLeases');

/**
 * Whether `store`'s leases run out in real time, so that they must be heartbeated in real time:
 * under a virtual clock, a heartbeat every third of a virtual lease renews nothing that is about
 * to run out, and a long virtual wait would beat the store thousands of times. A store that does
 * not say so (a `MemoryStore` given `now`, a store of the user's own) is beaten on the
 * orchestrator's scheduler, as its clock may be that scheduler's.
 *
 * @internal
 */
export function leasesRunOnWallClock(store: SagaStore): boolean {
  return (store as { readonly [WALL_CLOCK_LEASES]?: unknown })[WALL_CLOCK_LEASES] === true;
}
