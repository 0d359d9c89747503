/**
 * How often, and how patiently, an `execute` or a `compensate` is retried.
 *
 * @remarks
 * Delay before retry *n* (n = 1, 2, …) is `min(maxDelayMs, initialDelayMs × backoffFactor^(n-1))`;
 * with `jitter` it is drawn uniformly from the upper half of that value, so retries of many
 * runs spread out but never come back sooner than half the backoff. A `NonRetryableError`
 * is never retried (`retryable` is not even asked), nor is anything `retryable` returns `false`
 * for or throws on. A timed-out attempt (`StageTimeoutError`) is retryable. Each retry is
 * journaled (`stage.retrying` / `compensation.retrying`) before the wait, and the wait follows the
 * orchestrator's scheduler. An `execute` retry is given up as soon as the run starts stopping; a
 * compensation's retries always run to the end. Attempts are counted per call of the stage:
 * a resume or redrive starts a fresh budget of `maxAttempts`.
 *
 * @example
 * ```ts
 * import type { RetryPolicy } from 'sagaflow';
 * const patient: RetryPolicy = { maxAttempts: 5, initialDelayMs: 100, backoffFactor: 2, maxDelayMs: 5_000 };
 * ```
 */
export interface RetryPolicy {
  /** Attempts in all, the first included. Default 1 for `execute`, 5 for `compensate`. */
  readonly maxAttempts?: number | undefined;
  /** Delay before the first retry, in ms. Default 100. */
  readonly initialDelayMs?: number | undefined;
  /** Multiplier of the delay after each retry. Default 2. */
  readonly backoffFactor?: number | undefined;
  /** Upper bound of any delay, in ms. Default 30 000. */
  readonly maxDelayMs?: number | undefined;
  /** Spread delays randomly over the upper half of the backoff. Default true. */
  readonly jitter?: boolean | undefined;
  /** Decides whether an error is worth another attempt. Default: every error but `NonRetryableError`. */
  readonly retryable?: ((error: unknown) => boolean) | undefined;
}

/**
 * A {@link RetryPolicy} with every default filled in.
 *
 * @remarks
 * What `.build()` stores on each {@link SagaStage} (`stage.retry`, `stage.compensation.retry`):
 * `maxAttempts` 1 for `execute` and 5 for `compensate`, then 100 ms initial delay, factor 2,
 * 30 000 ms cap, jitter on. Read it to show or test a saga's effective policy.
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
