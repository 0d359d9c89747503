import {
  EMPTY,
  NEVER,
  Observable,
  catchError,
  defer,
  exhaustMap,
  expand,
  from,
  ignoreElements,
  map,
  merge,
  mergeMap,
  retry,
  takeWhile,
  tap,
  throwError,
  timer,
  type SchedulerLike,
} from 'rxjs';
import { RunNotFoundError } from '../errors/run-errors.js';
import { isTransientStoreError } from '../errors/store-errors.js';
import { isSettlingEvent, type SagaEvent } from '../journal/saga-event.js';
import type { SagaStore } from '../stores/saga-store.js';
import { supportsWorkers } from '../stores/work-queue.js';

/** How often a follower renews its watch on a run (stores that announce appends to watched runs). */
export const WATCH_RENEW_MS = 10_000;

/** With a store that announces appends, polling is only the fallback for lost notifications. */
export function defaultPollIntervalMs(store: SagaStore): number {
  return supportsWorkers(store) && store.watchRun !== undefined ? 2_000 : 250;
}

/**
 * A run's events from `fromSeq` on, read from the store, for a run driven by another process: on
 * every notification about the run when the store has them (workers' stores), and every
 * `pollIntervalMs` in any case, since notifications can be lost. Completes after the run's
 * settling event; a store briefly unavailable is read again at the next poll.
 */
export function followRun$(store: SagaStore, runId: string, fromSeq: number, pollIntervalMs: number, scheduler: SchedulerLike): Observable<SagaEvent> {
  // Keeps appends to the run announced while we follow it (the store forgets after a while, so a
  // follower that died costs nothing for long).
  const watchRun = supportsWorkers(store) ? store.watchRun?.bind(store) : undefined;
  const announced$ =
    watchRun === undefined
      ? EMPTY
      : timer(0, WATCH_RENEW_MS, scheduler).pipe(
          exhaustMap(() => from(watchRun(runId, WATCH_RENEW_MS * 3)).pipe(catchError(() => EMPTY))),
          ignoreElements(),
        );
  const wakeups$ = supportsWorkers(store)
    ? new Observable<void>((subscriber) => {
        let unsubscribe: (() => Promise<void>) | undefined;
        let closed = false;
        store
          .onWork((signal) => {
            if (signal.runId === runId || signal.kind === 'reconnected') subscriber.next();
          })
          .then(
            (stop) => {
              if (closed) {
                void stop().catch(() => undefined);
                return;
              }
              unsubscribe = stop;
              // Whatever was appended before we listened was announced to nobody: read once more.
              subscriber.next();
            },
            // No notifications: polling alone still follows the run.
            () => undefined,
          );
        return () => {
          closed = true;
          void unsubscribe?.().catch(() => undefined);
        };
      })
    : NEVER;
  let nextSeq = fromSeq;
  let dirty = false;
  const load$ = defer(() => {
    dirty = false;
    return from(store.load(runId));
  }).pipe(retry({ delay: (error: unknown) => (isTransientStoreError(error) ? timer(pollIntervalMs, scheduler) : throwError(() => error)) }));
  return merge(timer(0, pollIntervalMs, scheduler), wakeups$, announced$).pipe(
    tap(() => {
      dirty = true;
    }),
    // One read at a time; a wake-up during a read leads to one more read after it.
    exhaustMap(() => load$.pipe(expand(() => (dirty ? load$ : EMPTY)))),
    mergeMap((journal) => {
      if (journal === undefined) throw new RunNotFoundError(runId);
      const fresh = journal.slice(nextSeq);
      nextSeq = Math.max(nextSeq, journal.length);
      return fresh.map((event) => ({ event, last: event.seq === journal.length - 1 }));
    }),
    // Only a settling event that ends the journal ends the run: a pause (or a failed rollback) that
    // a redrive went on from is history, and the events after it still come.
    takeWhile(({ event, last }) => !(last && isSettlingEvent(event)), true),
    map(({ event }) => event),
  );
}
