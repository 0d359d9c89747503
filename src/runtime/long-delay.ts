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
 * `scheduler.schedule(work, delayMs)` for any delay: one longer than {@link MAX_TIMER_MS} (a
 * 30-day approval window, a retry a month away) waits in steps of at most that, measured on the
 * scheduler's clock, instead of firing at once.
 *
 * @internal
 */
export function scheduleAfter(scheduler: SchedulerLike, delayMs: number, work: () => void): Subscription {
  if (!(delayMs > MAX_TIMER_MS)) return scheduler.schedule(work, delayMs);
  const dueAt = scheduler.now() + delayMs;
  let step: Subscription | undefined;
  const whole = new Subscription(() => step?.unsubscribe());
  const next = (): void => {
    if (whole.closed) return;
    const left = dueAt - scheduler.now();
    step = left > MAX_TIMER_MS ? scheduler.schedule(next, MAX_TIMER_MS) : scheduler.schedule(work, Math.max(0, left));
  };
  next();
  return whole;
}

/**
 * `setTimeout(work, delayMs)` for any delay (see {@link scheduleAfter}); `cancel` stops it.
 *
 * @internal
 */
export function setLongTimeout(delayMs: number, work: () => void, options: { readonly unref?: boolean } = {}): { cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const dueAt = Date.now() + delayMs;
  const arm = (wait: number, then: () => void): void => {
    timer = setTimeout(then, wait);
    if (options.unref === true) timer.unref();
  };
  const next = (): void => {
    const left = dueAt - Date.now();
    if (left > MAX_TIMER_MS) arm(MAX_TIMER_MS, next);
    else arm(Math.max(0, left), work);
  };
  if (delayMs > MAX_TIMER_MS) next();
  else arm(delayMs, work);
  return { cancel: () => clearTimeout(timer) };
}
