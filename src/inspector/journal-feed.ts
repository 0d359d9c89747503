import { catchError, defer, EMPTY, exhaustMap, mergeMap, of, throwError, timer, type Observable } from 'rxjs';
import { RunNotFoundError, StoreCorruptionError, type SagaEvent, type SagaStore } from '../index.js';

/**
 * What following a run's journal brings: new events, or a change in whether the store answers.
 *
 * @remarks
 * `unavailable` comes once when reads start failing (with the store's sentence), `available` once
 * when they succeed again; events are never lost in between, since reading goes on from the last
 * event already brought.
 */
export type JournalNews =
  | { readonly kind: 'events'; readonly events: readonly SagaEvent[] }
  | { readonly kind: 'unavailable'; readonly message: string; readonly retryMs: number }
  | { readonly kind: 'available' };

/**
 * Follows a run's journal in the store from event `fromSeq` on, for as long as it is subscribed:
 * every `pollIntervalMs`, one look at the run's summary, and the journal read only when the
 * summary says it grew.
 *
 * @remarks
 * Only the public store API is used (`listRuns` by id prefix, `load`), so it works on any store and
 * sees appends by any process: a redrive from another orchestrator shows like any other event. A
 * store that fails (a restart, a lost connection) is reported as `unavailable` and read again at
 * the next poll; only an unknown run and a journal the store calls corrupt end the feed with an
 * error. It never completes by itself: the subscriber decides when the run is over.
 */
export function followJournal$(store: SagaStore, runId: string, fromSeq: number, pollIntervalMs: number): Observable<JournalNews> {
  // An id no store can hold (a NUL: a crafted address) names no run. Asked, the store refuses it,
  // which is no outage: it would be reported as one, and read again every poll, for ever.
  if (runId.includes('\u0000')) return throwError(() => new RunNotFoundError(runId));
  return defer(() => {
    let known = Math.max(0, fromSeq);
    let failing = false;
    const fresh$ = defer(async (): Promise<readonly SagaEvent[]> => {
      // The exact id sorts first among the ids it is a prefix of.
      const [summary] = await store.listRuns({ runIdPrefix: runId, limit: 1 });
      if (summary?.runId !== runId) throw new RunNotFoundError(runId);
      if (summary.events <= known) return [];
      const journal = await store.load(runId);
      if (journal === undefined) throw new RunNotFoundError(runId);
      const events = journal.slice(known);
      known = Math.max(known, journal.length);
      return events;
    });
    return timer(0, pollIntervalMs).pipe(
      // One read at a time: a slow store skips the ticks that come while it answers.
      exhaustMap(() =>
        fresh$.pipe(
          mergeMap((events): JournalNews[] => {
            const news: JournalNews[] = failing ? [{ kind: 'available' }] : [];
            failing = false;
            return events.length === 0 ? news : [...news, { kind: 'events', events }];
          }),
          catchError((error: unknown) => {
            if (error instanceof RunNotFoundError || error instanceof StoreCorruptionError) return throwError(() => error);
            if (failing) return EMPTY;
            failing = true;
            return of<JournalNews>({ kind: 'unavailable', message: error instanceof Error ? error.message : String(error), retryMs: pollIntervalMs });
          }),
        ),
      ),
    );
  });
}

/** How often a run's page looks for new events. */
export const POLL_INTERVAL_MS = 250;

