/** Medians, the statistic every benchmark here reports (robust to the odd slow round on shared cores). */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { setImmediate as immediate } from 'node:timers/promises';

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

/** The collector's pauses seen so far (start on the performance timeline, duration, in ms); see {@link gcPauseStopwatch}. */
let pauses: Array<{ readonly start: number; readonly duration: number }> | undefined;

/**
 * A stopwatch of the garbage collector's pauses of this thread (µs): the summed `duration` of the
 * `gc` performance entries that started while it ran. Node reports them on a timer after the
 * collection, so reading it waits for them. It counts the pauses as the main thread sees
 * them (wall time), not the collector's helper threads, whose CPU time {@link cpuStopwatch}
 * counts as well: CPU time less these pauses still includes some of the collector's work. One
 * stopwatch at a time (reading it forgets the pauses before its end).
 *
 * Node hands a pause to observers two immediates after the collection (the native callback's,
 * then the observers' batch), so reading waits three.
 */
export function gcPauseStopwatch(): () => Promise<number> {
  if (pauses === undefined) {
    const seen: Array<{ readonly start: number; readonly duration: number }> = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) seen.push({ start: entry.startTime, duration: entry.duration });
    }).observe({ entryTypes: ['gc'] });
    pauses = seen;
  }
  const seen = pauses;
  const from = performance.now();
  return async () => {
    const to = performance.now();
    for (let wait = 0; wait < 3; wait++) await immediate();
    let ms = 0;
    for (const pause of seen) if (pause.start >= from && pause.start < to) ms += pause.duration;
    seen.splice(0, seen.length, ...seen.filter((pause) => pause.start >= to));
    return ms * 1_000;
  };
}
