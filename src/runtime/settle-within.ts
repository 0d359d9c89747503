import { setLongTimeout } from './long-delay.js';

/**
 * The error for a `timeoutMs` of `close()` or `stop()` that is not a number >= 0 (NaN and negative
 * numbers would detach every run at once, as 0 does). Shared by `orchestrator.close` and `worker.stop`.
 *
 * @internal
 */
export function settleTimeoutError(call: string, timeoutMs: number | undefined): TypeError | undefined {
  if (timeoutMs === undefined || (typeof timeoutMs === 'number' && timeoutMs >= 0)) return undefined;
  return new TypeError(`${call}: timeoutMs must be a number of milliseconds >= 0 (Infinity, or leaving it out: wait for every run), got ${String(timeoutMs)}; nothing was stopped.`);
}

/**
 * How long `orchestrator.close({ timeoutMs })` and `worker.stop({ timeoutMs })` wait for the store
 * past their timeout (a claim in flight, the releases of leases) before resolving anyway: a store
 * that does not answer (a database host gone silent, a network partition) cannot hold them for
 * ever. As the CLI's grace for a store that does not answer.
 *
 * @internal
 */
export const STORE_GRACE_MS = 5_000;

/** The bound on waits for the store in a `close()` or `stop()` with `timeoutMs`: {@link STORE_GRACE_MS}, none without a finite timeout. */
export function storeGraceFor(timeoutMs: number | undefined): number | undefined {
  return timeoutMs === undefined || timeoutMs === Infinity ? timeoutMs : STORE_GRACE_MS;
}

/**
 * Waits for `settled`, or at most `timeoutMs` of real time; resolves to whether it settled in
 * time. Without `timeoutMs`, waits for good. Shared by `orchestrator.close` and `worker.stop`.
 *
 * @internal
 */
export async function settleWithin(settled: Promise<unknown>, timeoutMs: number | undefined): Promise<boolean> {
  if (timeoutMs === undefined) {
    await settled;
    return true;
  }
  let timer: { cancel(): void } | undefined;
  const timedOut = new Promise<false>((resolve) => {
    // Longer than one Node timer holds (Infinity included) is waited for, not cut to 1 ms.
    if (timeoutMs !== Infinity) timer = setLongTimeout(timeoutMs, () => resolve(false));
  });
  try {
    return await Promise.race([settled.then(() => true as const), timedOut]);
  } finally {
    timer?.cancel();
  }
}
