import type { SchedulerLike } from 'rxjs';

/**
 * A clock whose time must not move on while user code is in flight: the test kit's virtual clock.
 * Internal protocol between the runtime and `sagaflow/testing`.
 *
 * @remarks
 * Virtual time jumps to the next timer whenever the program is idle. A stage awaiting real I/O (a
 * file read, a local HTTP call) looks idle to the event loop, so without a hold its timeout would
 * fire at once in virtual time. Each attempt holds the clock while its call is pending, as
 * Temporal's test server stops skipping time while an activity runs.
 *
 * @internal
 */
export interface TimeHoldingClock extends SchedulerLike {
  /** Holds virtual time until the returned hold is released. */
  holdTime(): TimeHold;
  /** How timeout messages name this clock, e.g. `of virtual time`. */
  readonly timeoutNote?: string;
}

/**
 * One hold on a {@link TimeHoldingClock}.
 *
 * @internal
 */
export interface TimeHold {
  /** Runs the user's call; a timer it sets on the clock suspends the hold until the timer fires. */
  run<T>(call: () => T): T;
  /** Ends the hold. Idempotent. */
  release(): void;
}

/**
 * The scheduler as a {@link TimeHoldingClock}, when it is one.
 *
 * @internal
 */
export function timeHoldingClock(scheduler: SchedulerLike): TimeHoldingClock | undefined {
  return typeof (scheduler as Partial<TimeHoldingClock>).holdTime === 'function' ? (scheduler as TimeHoldingClock) : undefined;
}

/**
 * On a {@link TimeHoldingClock}, holds its time until `work` settles; on any other scheduler, does
 * nothing. For the runtime's own store writes: virtual time must not jump while the store is still
 * writing (a SQLite commit waits a `setImmediate`, a PostgreSQL one a round trip, both idle turns to
 * the event loop), or a wait's timer is set after the clock moved past the instant its
 * `wait.started` was stamped with, and `advanceBy` returns before a run got as far as it would
 * on `MemoryStore`.
 *
 * @internal
 */
export function holdTimeUntilSettled(scheduler: SchedulerLike, work: Promise<unknown>): void {
  const clock = timeHoldingClock(scheduler);
  if (clock === undefined) return;
  const hold = clock.holdTime();
  const release = (): void => hold.release();
  work.then(release, release);
}
