import { setLongTimeout } from './long-delay.js';

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
