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
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([settled.then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
