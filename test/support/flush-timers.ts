/**
 * Resolves once every timer already scheduled with no delay (or a delay of 0 or 1 ms) has run.
 *
 * RxJS reports an error nobody handles (`config.onUnhandledError`, or a throw into the process)
 * from `setTimeout(report)` with no delay. Node runs timers of one duration in the order they were
 * scheduled, and treats no delay and 0 as 1 ms: a 0-ms timer set after such a report runs after it.
 * So a test that asserts *nothing* was reported awaits this instead of sleeping a few milliseconds.
 */
export const flushZeroDelayTimers = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
