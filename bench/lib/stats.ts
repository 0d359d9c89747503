/** Medians, the statistic every benchmark here reports (robust to the odd slow round on shared cores). */

/** The median of `values` (NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/**
 * The median over rounds of `numerator[round] ÷ denominator[round]`: comparisons are measured
 * interleaved, so each round's ratio cancels that round's machine load. Null when either series
 * is missing or empty (the side could not run).
 */
export function medianOfRatios(numerator: readonly number[] | undefined, denominator: readonly number[] | undefined): number | null {
  if (numerator === undefined || denominator === undefined || numerator.length === 0 || denominator.length === 0) return null;
  return median(numerator.map((value, round) => value / (denominator[round] ?? Number.NaN)));
}

/**
 * A stopwatch of this process's CPU time (user + system, every thread: V8's GC helper threads
 * count), in µs. The in-memory benchmarks time with it rather than with the wall clock: on a
 * shared 2-core machine another engineer's test run takes the cores away for whole time slices,
 * which the wall clock counts and CPU time does not (at load average 8, wall-clock samples of the
 * same batch varied 2–5×, CPU time about ±15 %). The work measured is one thread's, so on an idle machine
 * both agree.
 */
export function cpuStopwatch(): () => number {
  const start = process.cpuUsage();
  return () => {
    const spent = process.cpuUsage(start);
    return spent.user + spent.system;
  };
}

/**
 * Runs `measure` with Node's source-mapped stack traces off, as `node app.js` runs by default.
 * The benchmarks run under tsx, which turns them on for the whole process; then every read of an
 * error's `stack` (sagaflow journals the failing stage's; the hand-written baselines read it too)
 * maps each frame through dist/'s source maps, a cost no user running the built package pays.
 */
export async function withoutSourceMaps<T>(measure: () => Promise<T>): Promise<T> {
  const enabled = process.sourceMapsEnabled;
  process.setSourceMapsEnabled(false);
  try {
    return await measure();
  } finally {
    process.setSourceMapsEnabled(enabled);
  }
}
