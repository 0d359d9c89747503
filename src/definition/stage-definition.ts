import type { ZodType } from 'zod';
import type { RollbackCause } from '../journal/saga-event.js';
import type { RetryPolicy } from './retry-policy.js';

/**
 * What `execute` receives.
 *
 * @remarks
 * The functions on it do not depend on `this`: destructuring `({ cancel, signal })` works.
 * `results` and `input` are the run's own values, shared with its journal, and deeply frozen:
 * changing them in place throws a `TypeError` (such a change would not be durable, and a resumed
 * run would not see it). Copy what you need to modify.
 *
 * @typeParam TInput - the saga's input.
 * @typeParam TResults - the outputs of the stage's ancestors, keyed by stage name.
 *
 * @example
 * ```ts
 * import type { ExecuteContext } from 'sagaflow';
 * async function reserve({ input, idempotencyKey, signal }: ExecuteContext<{ sku: string }, {}>) {
 *   return { holdId: `${input.sku}-${idempotencyKey}`, aborted: signal.aborted };
 * }
 * ```
 */
export interface ExecuteContext<TInput, TResults> {
  /** The run's id. */
  readonly runId: string;
  /** The saga's name. */
  readonly saga: string;
  /** This stage's name. */
  readonly stage: string;
  /** 1 for the first attempt; counts on across retries, resumes and redrives. */
  readonly attempt: number;
  /** The run's validated input. */
  readonly input: TInput;
  /**
   * The outputs of this stage's ancestors (its `after` stages and theirs), all completed
   * before it started. Reading any other stage throws a `StageResultAccessError`.
   */
  readonly results: Readonly<TResults>;
  /**
   * The same for every attempt of this stage in this run, across retries, crashes, resumes
   * and redrives; different per stage and per run. Pass it to the outside system.
   */
  readonly idempotencyKey: string;
  /**
   * Aborted on this attempt's timeout, when the run is cancelled or another branch failed, and
   * when this process stops driving the run (a store failure, a lost lease, a `close` or `stop`
   * timeout).
   */
  readonly signal: AbortSignal;
  /**
   * Stops the run gracefully (not an error): the run is cancelled and rolled back per its
   * `onCancel` policy. It throws, so nothing after it runs; catching what it throws does not undo
   * the cancellation.
   */
  readonly cancel: (reason: string) => never;
}

/**
 * What `compensate` receives.
 *
 * @remarks
 * `output` is `undefined` for a `compensateOnFailure` stage that failed, and for a stage whose
 * outcome is unknown because the process stopped while the run was already stopping (contract
 * rule 7): compensations must tolerate having nothing to undo; `executeIdempotencyKey` finds
 * what `execute` may have done. A run's cancellation never aborts `signal`: only the
 * compensation's own timeout does, or this process stopping driving the run (the compensation
 * then runs again where the run is resumed).
 *
 * @typeParam TInput - the saga's input.
 * @typeParam TResults - the outputs of the stage's ancestors.
 * @typeParam TOutput - this stage's output.
 *
 * @example
 * ```ts
 * import type { CompensateContext } from 'sagaflow';
 * async function release({ output, cause }: CompensateContext<{ sku: string }, {}, { holdId: string }>) {
 *   console.log(`releasing ${output.holdId} because ${cause.kind}`);
 * }
 * ```
 */
export interface CompensateContext<TInput, TResults, TOutput> {
  /** The run's id. */
  readonly runId: string;
  /** The saga's name. */
  readonly saga: string;
  /** This stage's name. */
  readonly stage: string;
  /** 1 for the first attempt of this compensation; counts on across resumes and redrives. */
  readonly attempt: number;
  /** The run's validated input. */
  readonly input: TInput;
  /** What this stage's `execute` returned (see remarks for when it is `undefined`). */
  readonly output: TOutput;
  /** The outputs of this stage's ancestors. */
  readonly results: Readonly<TResults>;
  /** Stable for this compensation, and different from the stage's execute key. */
  readonly idempotencyKey: string;
  /**
   * The key the stage's `execute` used: find what it did by it when `output` is `undefined`
   * (a `compensateOnFailure` stage, or an unknown outcome after a crash).
   */
  readonly executeIdempotencyKey: string;
  /**
   * Aborted on the compensation attempt's timeout, and when this process stops driving the run
   * (a store failure, a lost lease, a `close` or `stop` timeout); never by a cancellation.
   */
  readonly signal: AbortSignal;
  /** Why the run is rolling back. */
  readonly cause: RollbackCause;
}

/**
 * Retry and timeout of a stage's `compensate`.
 *
 * @remarks
 * Set as `compensation` on a stage definition. Unset fields of `retry` take the
 * {@link RetryPolicy} defaults, except `maxAttempts`, which defaults to 5 (not 1) for
 * compensations. A compensation that exhausts its attempts, or throws a `NonRetryableError`,
 * fails: the other compensations still run and the run ends `compensation_failed`.
 *
 * @example
 * ```ts
 * import type { CompensationPolicy } from 'sagaflow';
 * const policy: CompensationPolicy = { retry: { maxAttempts: 10 }, timeoutMs: 5_000 };
 * ```
 */
export interface CompensationPolicy {
  /** Default `{ maxAttempts: 5 }` with the usual backoff. */
  readonly retry?: RetryPolicy;
  /** Per attempt; no limit by default. */
  readonly timeoutMs?: number;
}

/**
 * A stage: a paired `execute` / `compensate` and its policies.
 *
 * @remarks
 * Passed inline to `.stage(name, definition)` (types inferred) or built with
 * {@link defineStage}. `execute` must return plain JSON or `undefined`: anything else fails the
 * stage with a non-retryable `StageOutputError`. `compensate` should be idempotent (use
 * `ctx.idempotencyKey`): after a crash mid-rollback it runs again. A stage without `compensate` is
 * passed over by the rollback. Declare `execute` before `compensate` in the object literal, so
 * that `compensate`'s `ctx.output` is typed from what `execute` returns. Unknown fields are
 * reported by `.build()`.
 *
 * @typeParam TInput - the saga's input.
 * @typeParam TResults - the outputs of the stage's ancestors.
 * @typeParam TOutput - what `execute` returns.
 * @typeParam TCompensateOnFailure - whether `compensateOnFailure` is set to `true`.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import type { StageDefinition } from 'sagaflow';
 * const debit: StageDefinition<{ cents: number }, {}, { entryId: string }> = {
 *   execute: async ({ input }) => ({ entryId: `debit-${input.cents}` }),
 *   compensate: async ({ output }) => console.log('refund', output.entryId),
 *   output: z.object({ entryId: z.string() }),
 *   retry: { maxAttempts: 3 },
 * };
 * ```
 */
export interface StageDefinition<TInput = unknown, TResults = {}, TOutput = unknown, TCompensateOnFailure extends boolean = false> {
  /**
   * The stages this one depends on. Omitted: the previously declared stage (a chain).
   * `[]`: a root. Fan-in: several names.
   */
  readonly after?: readonly string[];
  /** Does the work. Its return value is the stage's output: plain JSON, or `undefined`. */
  readonly execute: (context: ExecuteContext<TInput, TResults>) => TOutput | PromiseLike<TOutput>;
  /** Undoes the work. Stages without it are passed over by the rollback. */
  readonly compensate?: (
    context: CompensateContext<TInput, TResults, TCompensateOnFailure extends true ? TOutput | undefined : TOutput>,
  ) => unknown;
  /** Validates (and may transform) what `execute` returns; a mismatch fails the stage, not retried. */
  readonly output?: ZodType<TOutput>;
  /** Retries of `execute`. Default: one attempt. */
  readonly retry?: RetryPolicy;
  /** Limit of each `execute` attempt, in ms. No limit by default. */
  readonly timeoutMs?: number;
  /** Retries and timeout of `compensate`. */
  readonly compensation?: CompensationPolicy;
  /**
   * Also run this stage's own `compensate` after its final failure (with `output: undefined`),
   * for side effects whose outcome is unknown, such as a timed-out payment call. Default false.
   */
  readonly compensateOnFailure?: TCompensateOnFailure;
}
