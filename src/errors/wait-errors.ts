import { SagaError, SagaErrorCode } from './saga-error.js';
import type { SerializedError } from './serialize-error.js';
import { NonRetryableError } from './stage-errors.js';

/**
 * A `.waitForSignal` stage's `timeoutMs` passed before its signal came, and it has no `onTimeout`
 * fallback: the stage fails with this error, and the saga's failure path runs (the rollback, or a
 * pause under `onFailure: 'pause'`).
 *
 * @remarks
 * The run journals it as the stage's `stage.failed` error, so it reaches you as a
 * {@link SerializedError} on `outcome.failure.error` (and on `SagaFailedError.outcome`), not as
 * an instance: compare its `code` with `SagaErrorCode.WaitTimeout` (`'WAIT_TIMEOUT'`), as for
 * every other error read back from a journal. Its `data` holds this class's fields (`saga`,
 * `runId`, `stage`, `signal`, `timeoutMs`). Journals written before the class existed hold the
 * same `name` and `code` with a shorter message and no `data`. Not retryable: the wait is over.
 *
 * @example
 * ```ts
 * import { SagaErrorCode, type SagaOutcome } from 'sagaflow';
 * const timedOut = (outcome: SagaOutcome) => outcome.failure?.error.code === SagaErrorCode.WaitTimeout;
 * ```
 */
export class WaitTimeoutError extends SagaError {
  /** Always `'WaitTimeoutError'`. */
  override readonly name = 'WaitTimeoutError';
  readonly code = SagaErrorCode.WaitTimeout;

  /**
   * @param saga - the saga's name.
   * @param runId - the run.
   * @param stage - the wait stage that timed out.
   * @param signal - the signal it waited for.
   * @param timeoutMs - the wait's limit.
   */
  constructor(
    readonly saga: string,
    readonly runId: string,
    readonly stage: string,
    readonly signal: string,
    readonly timeoutMs: number,
  ) {
    super(waitTimeoutMessage(saga, runId, stage, signal, timeoutMs));
  }
}

/**
 * The journaled form of a {@link WaitTimeoutError}: what `serializeError` makes of one, without a
 * stack (the decider is pure, and a stack of its own frames would say nothing). Internal.
 *
 * @internal
 */
export function journaledWaitTimeout(saga: string, runId: string, stage: string, signal: string, timeoutMs: number): SerializedError {
  return {
    name: 'WaitTimeoutError',
    message: waitTimeoutMessage(saga, runId, stage, signal, timeoutMs),
    code: SagaErrorCode.WaitTimeout,
    data: { saga, runId, stage, signal, timeoutMs },
  };
}

function waitTimeoutMessage(saga: string, runId: string, stage: string, signal: string, timeoutMs: number): string {
  return `Stage '${stage}' of saga '${saga}' run ${runId} waited ${timeoutMs} ms for signal '${signal}', which did not come.`;
}

/**
 * A `.sleep` stage's `until()` returned something that is not an instant: not a valid `Date` nor
 * a finite number of epoch ms (`NaN`, an invalid `Date`, a string, a Proxy, a revoked Proxy…).
 *
 * @remarks
 * The stage fails at once, without retries, since `until()` would compute the same thing again;
 * the saga's failure path runs. `problem` says what was returned. An error thrown by `until()`
 * itself is the stage's error as usual, not this one.
 *
 * @example
 * ```ts
 * import { SagaErrorCode, type SagaOutcome } from 'sagaflow';
 * const badInstant = (outcome: SagaOutcome) => outcome.failure?.error.code === SagaErrorCode.WaitUntilInvalid;
 * ```
 */
export class WaitUntilError extends NonRetryableError {
  /** Always `'WaitUntilError'`. */
  override readonly name = 'WaitUntilError';
  override readonly code = SagaErrorCode.WaitUntilInvalid;

  /**
   * @param saga - the saga's name.
   * @param runId - the run.
   * @param stage - the sleep stage whose `until()` returned it.
   * @param problem - what was returned, and why it is not an instant.
   */
  constructor(
    readonly saga: string,
    readonly runId: string,
    readonly stage: string,
    readonly problem: string,
  ) {
    super(`until() of wait stage '${stage}' of saga '${saga}' run ${runId} returned ${problem}, not a valid Date or a finite number of epoch ms.`);
  }
}
