import { firstValueFrom, from, map, race, timer } from 'rxjs';

/**
 * How long a command that was told to stop (SIGTERM, Ctrl-C) waits for its store to give leases
 * back and close, before leaving anyway. A store that does not answer (a database host gone
 * silent, a network partition) would otherwise hold the process until the supervisor's SIGKILL;
 * the leases then simply expire, and the journal, written ahead, keeps the runs resumable.
 */
export const STORE_GRACE_MS = 5_000;

/**
 * Whether `work` settles (resolves or rejects) within `ms`; never rejects.
 *
 * @remarks
 * Not the runtime's `settleWithin`, which the CLI may not import (public API only) and which differs: it rejects with what `work` threw, where here a store call that failed has finished as surely as one that succeeded.
 */
export function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = work.then(
    () => true,
    () => true,
  );
  return firstValueFrom(race(from(settled), timer(ms).pipe(map(() => false))));
}
