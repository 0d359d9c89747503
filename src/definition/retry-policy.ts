/**
 * How often, and how patiently, an `execute` or a `compensate` is retried.
 *
 * @remarks
 * Delay before retry *n* (n = 1, 2, …) is `min(maxDelayMs, initialDelayMs × backoffFactor^(n-1))`;
 * with `jitter` it is drawn uniformly from the upper half of that value, so retries of many
 * runs spread out but never come back sooner than half the backoff. A `NonRetryableError`
 * is never retried, nor is anything `retryable` returns `false` for. A timed-out attempt
 * (`StageTimeoutError`) is retryable.
 *
 * @example
 * ```ts
 * import type { RetryPolicy } from 'sagaflow';
 * const patient: RetryPolicy = { maxAttempts: 5, initialDelayMs: 100, backoffFactor: 2, maxDelayMs: 5_000 };
 * ```
 */
export interface RetryPolicy {
  /** Attempts in all, the first included. Default 1 for `execute`, 5 for `compensate`. */
  readonly maxAttempts?: number;
  /** Delay before the first retry, in ms. Default 100. */
  readonly initialDelayMs?: number;
  /** Multiplier of the delay after each retry. Default 2. */
  readonly backoffFactor?: number;
  /** Upper bound of any delay, in ms. Default 30 000. */
  readonly maxDelayMs?: number;
  /** Spread delays randomly over the upper half of the backoff. Default true. */
  readonly jitter?: boolean;
  /** Decides whether an error is worth another attempt. Default: every error but `NonRetryableError`. */
  readonly retryable?: (error: unknown) => boolean;
}

/**
 * A {@link RetryPolicy} with every default filled in.
 *
 * @example
 * ```ts
 * import type { ResolvedRetryPolicy } from 'sagaflow';
 * const attempts = (policy: ResolvedRetryPolicy) => policy.maxAttempts;
 * ```
 */
export interface ResolvedRetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** Delay before the first retry, in ms. */
  readonly initialDelayMs: number;
  /** Multiplier of the delay after each retry. */
  readonly backoffFactor: number;
  /** Upper bound of any delay, in ms. */
  readonly maxDelayMs: number;
  /** Whether delays are spread over the upper half of the backoff. */
  readonly jitter: boolean;
  /** Decides whether an error is worth another attempt. */
  readonly retryable?: (error: unknown) => boolean;
}

/** Defaults of `stage.retry` (for `execute`). */
export const EXECUTE_RETRY_DEFAULTS: ResolvedRetryPolicy = Object.freeze({
  maxAttempts: 1,
  initialDelayMs: 100,
  backoffFactor: 2,
  maxDelayMs: 30_000,
  jitter: true,
});

/** Defaults of `stage.compensation.retry`. */
export const COMPENSATE_RETRY_DEFAULTS: ResolvedRetryPolicy = Object.freeze({ ...EXECUTE_RETRY_DEFAULTS, maxAttempts: 5 });

/** Fills a retry policy's gaps from the given defaults. */
export function resolveRetryPolicy(policy: RetryPolicy | undefined, defaults: ResolvedRetryPolicy): ResolvedRetryPolicy {
  if (policy === undefined) return defaults;
  return {
    maxAttempts: policy.maxAttempts ?? defaults.maxAttempts,
    initialDelayMs: policy.initialDelayMs ?? defaults.initialDelayMs,
    backoffFactor: policy.backoffFactor ?? defaults.backoffFactor,
    maxDelayMs: policy.maxDelayMs ?? defaults.maxDelayMs,
    jitter: policy.jitter ?? defaults.jitter,
    ...(policy.retryable === undefined ? {} : { retryable: policy.retryable }),
  };
}

/**
 * The delay before retry number `retry` (1 for the first retry).
 *
 * @param random - a source of numbers in [0, 1), `Math.random` by default.
 */
export function retryDelayMs(policy: ResolvedRetryPolicy, retry: number, random: () => number = Math.random): number {
  const backoff = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.backoffFactor ** (retry - 1));
  if (!policy.jitter) return backoff;
  return Math.round(backoff / 2 + random() * (backoff / 2));
}
