import { SagaError, SagaErrorCode } from './saga-error.js';

/**
 * Throw it from `execute` or `compensate` to fail at once, without retries.
 *
 * @remarks
 * Use it for errors that no retry can fix: a declined card, a validation failure at the
 * remote side. Any error whose class extends it is treated the same way.
 *
 * @example
 * ```ts
 * import { defineStage, NonRetryableError } from 'sagaflow';
 * const charge = defineStage({
 *   execute: async () => {
 *     const declined = true;
 *     if (declined) throw new NonRetryableError('card declined');
 *     return { chargeId: 'ch_1' };
 *   },
 * });
 * ```
 */
export class NonRetryableError extends SagaError {
  /** Always `'NonRetryableError'`. */
  override readonly name: string = 'NonRetryableError';
  readonly code: SagaErrorCode = SagaErrorCode.NonRetryable;

  /**
   * @param message - what went wrong.
   * @param options - `cause`: the underlying error.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * An attempt of `execute` or `compensate` ran past its `timeoutMs`.
 *
 * @remarks
 * The attempt's `signal` is aborted (with this error as its reason) and whatever it returns
 * later is ignored, so pass the signal on to the I/O the stage does. The error is retryable:
 * with `retry.maxAttempts > 1` another attempt follows. Only an asynchronous `execute` or
 * `compensate` can time out: one that returns synchronously has settled before the timer starts.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineSaga, StageTimeoutError } from 'sagaflow';
 * declare function callBank(signal: AbortSignal): Promise<{ ref: string }>;
 * const payout = defineSaga({ name: 'payout', input: z.object({}) })
 *   .stage('transfer', {
 *     execute: async ({ signal }) => callBank(signal), // aborted when the attempt times out
 *     timeoutMs: 5_000,
 *     retry: { maxAttempts: 3, retryable: (error) => error instanceof StageTimeoutError }, // retry timeouts only
 *   })
 *   .build();
 * ```
 */
export class StageTimeoutError extends SagaError {
  /** Always `'StageTimeoutError'`. */
  override readonly name = 'StageTimeoutError';
  readonly code = SagaErrorCode.StageTimeout;

  /**
   * @param saga - the saga's name.
   * @param runId - the run.
   * @param stage - the stage whose attempt timed out.
   * @param phase - `execute` or `compensate`.
   * @param attempt - the attempt number.
   * @param timeoutMs - the limit that was exceeded.
   * @param clockNote - what clock measured it, when not real time (e.g. `of virtual time`).
   */
  constructor(
    readonly saga: string,
    readonly runId: string,
    readonly stage: string,
    readonly phase: 'execute' | 'compensate',
    readonly attempt: number,
    readonly timeoutMs: number,
    clockNote?: string,
  ) {
    super(
      `${phase === 'execute' ? 'Stage' : 'Compensation of stage'} '${stage}' of saga '${saga}' run ${runId} timed out after ${timeoutMs} ms${clockNote === undefined ? '' : ` ${clockNote}`} (attempt ${attempt}).`,
    );
  }
}

/**
 * A stage returned an output that is invalid: it failed the stage's `output` schema, or it
 * does not survive a JSON round-trip (a bigint, a function, a `Date`, `NaN`, a cycle…).
 *
 * @remarks
 * Not retryable: the same code would return the same thing. `path` points at the offending value.
 *
 * @example
 * ```ts
 * import { StageOutputError } from 'sagaflow';
 * const where = (error: StageOutputError) => `${error.stage} at ${error.path}`;
 * ```
 */
export class StageOutputError extends NonRetryableError {
  /** Always `'StageOutputError'`. */
  override readonly name = 'StageOutputError';
  override readonly code = SagaErrorCode.StageOutputInvalid;

  /**
   * @param saga - the saga's name.
   * @param runId - the run.
   * @param stage - the stage whose output is invalid.
   * @param path - where in the output the problem is (`output`, `output.items[2].at`…).
   * @param problem - what is wrong there.
   * @param options - `cause`: what the output's schema threw, when it could not read the output.
   */
  constructor(
    readonly saga: string,
    readonly runId: string,
    readonly stage: string,
    readonly path: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`Stage '${stage}' of saga '${saga}' run ${runId} returned an invalid output: ${path} ${problem}.`, options);
  }
}

/**
 * A stage read `ctx.results` of a stage that is not one of its ancestors.
 *
 * @remarks
 * A stage can only read the outputs of the stages it depends on, directly or transitively:
 * nothing else is guaranteed to have completed before it starts. Add the stage to `after`.
 *
 * @example
 * ```ts
 * import { StageResultAccessError } from 'sagaflow';
 * const missing = (error: StageResultAccessError) => error.requested;
 * ```
 */
export class StageResultAccessError extends NonRetryableError {
  /** Always `'StageResultAccessError'`. */
  override readonly name = 'StageResultAccessError';
  override readonly code = SagaErrorCode.StageResultUnavailable;

  /**
   * @param saga - the saga's name.
   * @param stage - the stage that read `results`.
   * @param requested - the key it read.
   * @param known - whether `requested` is a stage of the saga at all.
   */
  constructor(
    readonly saga: string,
    readonly stage: string,
    readonly requested: string,
    known: boolean,
  ) {
    super(
      known
        ? `Stage '${stage}' of saga '${saga}' read results.${requested}, but '${requested}' is not an ancestor of '${stage}': add it to the stage's 'after' list.`
        : `Stage '${stage}' of saga '${saga}' read results.${requested}, but saga '${saga}' has no stage named '${requested}'.`,
    );
  }
}
