import { catchError, EMPTY, exhaustMap, filter, from, map, throwError, timer, type Observable, type SchedulerLike } from 'rxjs';
import { isTransientStoreError } from '../errors/store-errors.js';
import type { SagaStore } from '../stores/saga-store.js';

/**
 * Emits each time a look at the store, every `pollIntervalMs`, finds nobody holding a live lease
 * on the run: its owner let it go, or its process died and the lease ran out. A store briefly
 * unavailable is asked again at the next look.
 *
 * @remarks
 * `live` is judged by the store's clock, so this never acts on a lease before the store would let
 * it be taken over; the takeover itself (`SagaStore.acquire`) is the lock, and may still find the
 * run taken by someone faster.
 */
export function leaseLapses$(store: SagaStore, runId: string, pollIntervalMs: number, scheduler: SchedulerLike): Observable<void> {
  return timer(pollIntervalMs, pollIntervalMs, scheduler).pipe(
    exhaustMap(() => from(store.leaseOf(runId)).pipe(catchError((error: unknown) => (isTransientStoreError(error) ? EMPTY : throwError(() => error))))),
    filter((lease) => lease?.live !== true),
    map(() => undefined),
  );
}
