import { Subscription, type SchedulerLike } from 'rxjs';

/**
 * The longest delay a Node timer keeps (2^31 - 1 ms, about 24.8 days). A longer one is not
 * refused: Node warns and fires it after 1 ms, and RxJS's `asyncScheduler` passes delays straight
 * to Node's timers.
 *
 * @internal
 */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * Runs `work` once `delayMs` has passed on the clock `now`, arming timers of at most
 * {@link MAX_TIMER_MS} with `arm`: one for a delay that fits, else one step after another, each
 * measuring what is left, until the rest fits. The shared stepping of {@link scheduleAfter} and
 * {@link setLongTimeout}.
 */
function inSteps(delayMs: number, now: () => number, arm: (waitMs: number, then: () => void) => void, work: () => void): void {
  if (!(delayMs > MAX_TIMER_MS)) {
    arm(delayMs, work);
    return;
  }
  const dueAt = now() + delayMs;
  const step = (): void => {
    const left = dueAt - now();
    if (left > MAX_TIMER_MS) arm(MAX_TIMER_MS, step);
    else arm(Math.max(0, left), work);
  };
  step();
}

/**
 * `scheduler.schedule(work, delayMs)` for any delay: one longer than {@link MAX_TIMER_MS} (a
 * 30-day approval window, a retry a month away) waits in steps of at most that, measured on the
 * scheduler's clock, instead of firing at once.
 *
 * @internal
 */
export function scheduleAfter(scheduler: SchedulerLike, delayMs: number, work: () => void): Subscription {
  if (!(delayMs > MAX_TIMER_MS)) return scheduler.schedule(work, delayMs);
  const whole = new Subscription();
  inSteps(delayMs, () => scheduler.now(), (waitMs, then) => void whole.add(scheduler.schedule(then, waitMs)), work);
  return whole;
}

/**
 * `setTimeout(work, delayMs)` for any delay (see {@link scheduleAfter}); `cancel` stops it.
 *
 * @internal
 */
export function setLongTimeout(delayMs: number, work: () => void, options: { readonly unref?: boolean } = {}): { cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  inSteps(delayMs, Date.now, (waitMs, then) => {
    timer = setTimeout(then, waitMs);
    if (options.unref === true) timer.unref();
  }, work);
  return { cancel: () => clearTimeout(timer) };
}
