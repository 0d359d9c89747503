import { timer, type Observable, type SchedulerLike } from 'rxjs';
import { retryDelayMs } from '../definition/retry-policy.js';

/**
 * How the runtime waits between retries of a store call that failed (a claim, a heartbeat, a
 * release, listening). Internal.
 *
 * @internal
 */
export interface BackoffPolicy {
  /** Delay ceiling of the first retry. */
  readonly initialDelayMs: number;
  /** Longest delay ceiling; the ceiling doubles per retry up to it. */
  readonly maxDelayMs: number;
}

/**
 * A `retry({ delay })` notifier: reports the error, then waits the backoff delay — the same
 * capped exponential with jitter as a stage's retries ({@link retryDelayMs}), doubling, so that a
 * fleet whose database came back does not reconnect in one burst.
 *
 * @internal
 */
export function backoffNotifier(
  policy: BackoffPolicy,
  random: () => number,
  scheduler: SchedulerLike,
  report: (error: unknown, retryCount: number) => void,
): (error: unknown, retryCount: number) => Observable<0> {
  const resolved = { maxAttempts: Infinity, initialDelayMs: policy.initialDelayMs, backoffFactor: 2, maxDelayMs: policy.maxDelayMs, jitter: true };
  return (error, retryCount) => {
    report(error, retryCount);
    return timer(retryDelayMs(resolved, retryCount, random), scheduler);
  };
}
