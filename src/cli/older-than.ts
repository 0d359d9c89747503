import { CliUsageError } from './exit-codes.js';

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * The cut-off time of `--older-than`: a duration back from `now` (`30d`, `12h`, `90m`, `45s`,
 * `2w`, `500ms`) or an ISO date (`2026-01-31`, midnight UTC, or `2026-01-31T12:00:00Z`).
 *
 * @returns epoch ms: runs last written before it are old enough.
 * @throws {@link CliUsageError} for anything else.
 */
export function parseOlderThan(value: string, now: number): number {
  const duration = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(value.trim());
  if (duration !== null) return now - Number(duration[1]) * (UNIT_MS[duration[2] ?? ''] ?? Number.NaN);
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const at = Date.parse(value.trim());
    if (Number.isFinite(at)) return at;
  }
  throw new CliUsageError(
    `--older-than takes a duration such as 30d, 12h, 90m or 45s, or an ISO date such as 2026-01-31 or 2026-01-31T12:00:00Z, not '${value}'.`,
  );
}
