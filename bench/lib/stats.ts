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
