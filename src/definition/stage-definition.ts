import type { ZodType } from 'zod';
import type { RollbackCause } from '../journal/saga-event.js';
import type { DeepReadonly } from './deep-readonly.js';
import type { JsonOutput } from './json-output.js';
import type { RetryPolicy } from './retry-policy.js';

/**
 * What `execute` receives.
 *
 * @remarks
 * The functions on it do not depend on `this`: destructuring `({ cancel, signal })` works.
 * `results` and `input` are the run's own values, shared with its journal, and deeply frozen:
 * they are typed read-only at every depth ({@link DeepReadonly}), and changing them in place
 * anyway throws a `TypeError` (such a change would not be durable, and a resumed run would not see
 * it). Copy what you need to modify.
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
  /** The run's validated input, deeply frozen: read-only at every depth (see {@link DeepReadonly}). */
  readonly input: DeepReadonly<TInput>;
  /**
   * The outputs of this stage's ancestors (its `after` stages and theirs), all completed
   * before it started. Reading any other stage throws a `StageResultAccessError`.
   */
  readonly results: ReadonlyResults<TResults>;
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
 * The fields of what `compensate` receives, apart from the stage's outcome and output.
 *
 * @remarks
 * {@link CompensateContext} is this plus {@link CompensateOutput}: whether the stage's `execute`
 * is known to have completed, and its output when it did. A run's cancellation never aborts
 * `signal`: only the compensation's own timeout does, or this process stopping driving the run
 * (the compensation then runs again where the run is resumed).
 *
 * @typeParam TInput - the saga's input.
 * @typeParam TResults - the outputs of the stage's ancestors.
 *
 * @example
 * ```ts
 * import type { CompensateContextBase } from 'sagaflow';
 * const describe = ({ stage, attempt, cause }: CompensateContextBase<unknown, {}>) =>
 *   `undoing ${stage} (attempt ${attempt}) because the run ${cause.kind === 'failed' ? `failed at ${cause.stage}` : 'was cancelled'}`;
 * ```
 */
export interface CompensateContextBase<TInput, TResults> {
  /** The run's id. */
  readonly runId: string;
  /** The saga's name. */
  readonly saga: string;
  /** This stage's name. */
  readonly stage: string;
  /** 1 for the first attempt of this compensation; counts on across resumes and redrives. */
  readonly attempt: number;
  /** The run's validated input, deeply frozen: read-only at every depth (see {@link DeepReadonly}). */
  readonly input: DeepReadonly<TInput>;
  /** The outputs of this stage's ancestors. */
  readonly results: ReadonlyResults<TResults>;
  /** Stable for this compensation, and different from the stage's execute key. */
  readonly idempotencyKey: string;
  /**
   * The key the stage's `execute` used: find what it did by it when its outcome is `'unknown'`
   * (a `compensateOnFailure` stage that failed, or a stage in flight when a stopping run's process
   * stopped).
   */
  readonly executeIdempotencyKey: string;
  /**
   * Aborted on the compensation attempt's timeout, and when this process stops driving the run
   * (a store failure, a lost lease, a `close` or `stop` timeout); never by a cancellation.
   */
  readonly signal: AbortSignal;
  /**
   * Why the run is rolling back. `cause.stage` (and `cause.by`) is a `string`, not the union of the
   * saga's stage names: this context is typed where the stage is declared, before the stages
   * declared after it, any of which may be the one that failed.
   */
  readonly cause: RollbackCause;
}

/**
 * What `compensate` knows of its stage's `execute`: `{ outcome: 'completed', output }`, or
 * `{ outcome: 'unknown', output: undefined }`.
 *
 * @remarks
 * A stage's outcome is `'unknown'` in two cases:
 * - it sets `compensateOnFailure: true` and failed: its call may have taken effect anyway (a
 *   payment that timed out may have charged the card);
 * - it was in flight when its run was already stopping (a failure elsewhere or a cancel) and the
 *   process died before the stage settled: when the run is resumed the stage is not executed
 *   again, and whether it took effect is unknown.
 *
 * Check `outcome === 'completed'` before reading `output`: TypeScript then types `output` with
 * the stage's output, and otherwise as `undefined`. When the outcome is `'unknown'`, find what
 * `execute` did by its idempotency key (`ctx.executeIdempotencyKey`), or do nothing.
 *
 * The check is required for every stage, not only for `compensateOnFailure` ones, because the
 * second case can happen to any stage: a cancel can be accepted while any stage is in flight, and
 * a process can die at any moment. Typing `output` as always present for the other stages would
 * hold in every test and fail in production after the first crash during a rollback. A stage
 * whose output is `undefined` anyway (`execute` returns nothing) needs no check.
 *
 * @typeParam TOutput - the stage's output.
 *
 * @example
 * ```ts
 * import type { CompensateOutput } from 'sagaflow';
 * declare const refund: (entryId: string) => Promise<void>;
 * async function undo(context: CompensateOutput<{ entryId: string }>) {
 *   if (context.outcome === 'completed') await refund(context.output.entryId);
 * }
 * ```
 */
export type CompensateOutput<TOutput> =
  | {
      /** `execute` completed: `output` is what it returned. */
      readonly outcome: 'completed';
      /**
       * What this stage's `execute` returned, as journaled ({@link JsonOutput}: a property that held
       * `undefined` is dropped), deeply frozen: read-only at every depth (see {@link DeepReadonly}).
       */
      readonly output: DeepReadonly<JsonOutput<TOutput>>;
    }
  | {
      /** Whether `execute` took effect is unknown: see the type's remarks. */
      readonly outcome: 'unknown';
      /** Nothing: `execute` did not complete, or its process died before it was recorded. */
      readonly output: undefined;
    };

/**
 * What `compensate` receives: the run's context and what is known of the stage's `execute`.
 *
 * @remarks
 * `ctx.outcome` says whether the stage's `execute` is known to have completed. When it is
 * `'completed'`, `ctx.output` is what it returned, typed with the stage's output; when it is
 * `'unknown'` (a `compensateOnFailure` stage that failed, or a stage that was in flight when the
 * process stopped while its run was already stopping), `ctx.output` is `undefined`: see
 * {@link CompensateOutput} for why every stage must check. Compensations must tolerate having
 * nothing to undo; `executeIdempotencyKey` finds what `execute` may have done. The check narrows
 * when the context is destructured too: `({ outcome, output }) => outcome === 'completed' ? … : …`.
 *
 * @typeParam TInput - the saga's input.
 * @typeParam TResults - the outputs of the stage's ancestors.
 * @typeParam TOutput - this stage's output.
 *
 * @example
 * ```ts
 * import type { CompensateContext } from 'sagaflow';
 * async function release({ outcome, output, executeIdempotencyKey, cause }: CompensateContext<{ sku: string }, {}, { holdId: string }>) {
 *   const hold = outcome === 'completed' ? output.holdId : `the hold made with key ${executeIdempotencyKey}, if any`;
 *   console.log(`releasing ${hold} because ${cause.kind}`);
 * }
 * ```
 */
export type CompensateContext<TInput, TResults, TOutput> = CompensateContextBase<TInput, TResults> & CompensateOutput<TOutput>;

/**
 * The outputs a stage reads in `ctx.results`, read-only at every depth.
 *
 * @remarks
 * Each output as {@link DeepReadonly}, written as a plain object type so that editors show
 * `{ readonly debit: { readonly entryId: string } }` rather than the computation behind it. The
 * objects are deeply frozen at run time: copy what you need to modify.
 *
 * @typeParam TResults - the outputs of the stage's ancestors, keyed by stage name.
 *
 * @example
 * ```ts
 * import type { ReadonlyResults } from 'sagaflow';
 * type R = ReadonlyResults<{ debit: { entryId: string } }>; // { readonly debit: { readonly entryId: string } }
 * ```
 */
export type ReadonlyResults<TResults> = { readonly [K in keyof TResults]: DeepReadonly<TResults[K]> } & {};

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
  readonly retry?: RetryPolicy | undefined;
  /** Per attempt; no limit by default. */
  readonly timeoutMs?: number | undefined;
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
 * @typeParam TCompensateOnFailure - whether `compensateOnFailure` is set to `true` (kept for
 * compatibility: it no longer changes `compensate`'s context, where every stage checks `ctx.outcome`).
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import type { StageDefinition } from 'sagaflow';
 * const debit: StageDefinition<{ cents: number }, {}, { entryId: string }> = {
 *   execute: async ({ input }) => ({ entryId: `debit-${input.cents}` }),
 *   compensate: async ({ outcome, output }) => console.log('refund', outcome === 'completed' ? output.entryId : 'by key, if any'),
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
  readonly after?: readonly string[] | undefined;
  /** Does the work. Its return value is the stage's output: plain JSON, or `undefined`. */
  readonly execute: (context: ExecuteContext<TInput, TResults>) => TOutput | PromiseLike<TOutput>;
  /**
   * Undoes the work. Stages without it are passed over by the rollback. Check `ctx.outcome`
   * before reading `ctx.output` (see {@link CompensateOutput}). What it returns is ignored: it
   * fails (and is retried per `compensation`) only by throwing or rejecting.
   */
  readonly compensate?: ((context: CompensateContext<TInput, TResults, TOutput>) => unknown) | undefined;
  /**
   * Validates (and may transform) what `execute` returns; a mismatch fails the stage, not retried.
   * The journaled output is what the schema returns, but the stage's output type (in `results`,
   * `outputs` and `compensate`'s `output`) stays what `execute` returns: a `.default()` or a
   * transform that adds fields is not seen by the types, and one that changes a field's type
   * (`z.string().transform(Number)`) does not compile. (A wait's `schema`, unlike this one, does
   * type the stage's output.)
   */
  readonly output?: ZodType<TOutput> | undefined;
  /** Retries of `execute`. Default: one attempt. */
  readonly retry?: RetryPolicy | undefined;
  /** Limit of each `execute` attempt, in ms. No limit by default. */
  readonly timeoutMs?: number | undefined;
  /** Retries and timeout of `compensate`. */
  readonly compensation?: CompensationPolicy | undefined;
  /**
   * Also run this stage's own `compensate` after its final failure (with `outcome: 'unknown'` and
   * `output: undefined`), for side effects whose outcome is unknown, such as a timed-out payment
   * call. It also runs when the stage rejected in flight because the run was stopping (another
   * branch failed, or a cancel: its `signal` aborted and it was recorded `cancelled`), since an
   * aborted request may have reached the other side. Default false.
   */
  readonly compensateOnFailure?: TCompensateOnFailure | undefined;
}
