import { timer, type Observable, type SchedulerLike } from 'rxjs';

/**
 * How a worker waits between retries of a store call that failed (claim, heartbeat, release,
 * listen). Internal to the worker.
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
 * The delay before retry number `retryCount` (1-based): capped exponential, with jitter in
 * the upper half of the ceiling so that a fleet whose database came back does not reconnect
 * in one burst.
 *
 * @internal
 */
export function backoffDelayMs(policy: BackoffPolicy, retryCount: number, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, retryCount - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

/**
 * A `retry({ delay })` notifier: reports the error, then waits the backoff delay.
 *
 * @internal
 */
export function backoffNotifier(
  policy: BackoffPolicy,
  random: () => number,
  scheduler: SchedulerLike,
  report: (error: unknown, retryCount: number) => void,
): (error: unknown, retryCount: number) => Observable<0> {
  return (error, retryCount) => {
    report(error, retryCount);
    return timer(backoffDelayMs(policy, retryCount, random), scheduler);
  };
}
