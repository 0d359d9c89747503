import { quoteName } from '../definition/identifier.js';
import type { Issue } from './definition-errors.js';
import { SagaError, SagaErrorCode } from './saga-error.js';

/**
 * `orchestrator.signal` named a signal that no stage of the run's saga waits for.
 *
 * @remarks
 * Nothing was journaled. `known` lists the signals the saga's wait stages do wait for, with the
 * stages that wait: check the name (signals are case-sensitive) and the run's saga.
 *
 * @example
 * ```ts
 * import { UnknownSignalError, type Orchestrator } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * await orchestrator.signal('0190c6d2-7b1e-7000-8000-000000000001', 'aproval', { approved: true }).catch((error: unknown) => {
 *   if (error instanceof UnknownSignalError) console.error(`try one of: ${error.known.map((known) => known.signal).join(', ')}`);
 *   else throw error;
 * });
 * ```
 */
export class UnknownSignalError extends SagaError {
  /** Always `'UnknownSignalError'`. */
  override readonly name = 'UnknownSignalError';
  readonly code = SagaErrorCode.SignalUnknown;

  /**
   * @param saga - the run's saga.
   * @param runId - the run.
   * @param signal - the name that was sent.
   * @param known - the signals the saga waits for, each with the stage that waits for it.
   */
  constructor(
    readonly saga: string,
    readonly runId: string,
    readonly signal: string,
    readonly known: ReadonlyArray<{
      /** A signal the saga waits for. */
      readonly signal: string;
      /** The wait stage that waits for it. */
      readonly stage: string;
    }>,
  ) {
    super(
      `Run ${runId} of saga '${saga}' has no stage waiting for signal ${quoteName(signal)}; ${
        known.length === 0 ? 'the saga has no signal waits' : `it waits for ${known.map((entry) => `'${entry.signal}' (stage '${entry.stage}')`).join(', ')}`
      }.`,
    );
  }
}

/**
 * A signal's payload does not match the schema of the wait stage that waits for it, or is not
 * plain JSON.
 *
 * @remarks
 * Nothing was journaled: fix the payload and send it again (with the same `signalId`, if you gave
 * one). `issues` lists every problem, with paths starting at `payload`; `cause` is the zod error
 * when the schema refused the payload.
 *
 * @example
 * ```ts
 * import { SignalPayloadError, type Orchestrator } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * await orchestrator.signal('0190c6d2-7b1e-7000-8000-000000000001', 'approval', { approved: 'yes' }).catch((error: unknown) => {
 *   if (error instanceof SignalPayloadError) console.error(error.issues); // [{ path: 'payload.approved', message: '…' }]
 *   else throw error;
 * });
 * ```
 */
export class SignalPayloadError extends SagaError {
  /** Always `'SignalPayloadError'`. */
  override readonly name = 'SignalPayloadError';
  readonly code = SagaErrorCode.SignalPayloadInvalid;

  /**
   * @param saga - the run's saga.
   * @param runId - the run.
   * @param signal - the signal's name.
   * @param stage - the wait stage whose schema refused it.
   * @param issues - every problem, paths starting at `payload`.
   * @param options - `cause`: the zod error, when there is one.
   */
  constructor(
    readonly saga: string,
    readonly runId: string,
    readonly signal: string,
    readonly stage: string,
    readonly issues: readonly Issue[],
    options?: { cause?: unknown },
  ) {
    super(
      `Invalid payload for signal '${signal}' to run ${runId} of saga '${saga}' (stage '${stage}'): ${issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}.`,
      options,
    );
  }
}

/**
 * `orchestrator.signal(…, { timeoutMs })` waited `timeoutMs` for another process (the run's
 * owner, or the worker that claims it) to journal the signal, and gave up.
 *
 * @remarks
 * Nothing is lost: the signal's request stays recorded in the store, and whoever drives the run
 * next (its owner at its next heartbeat, a worker's claim, a takeover by `recover()`, `resume()`
 * or another `signal()`) journals it, once. To learn what became of it, send it again with the
 * same `signalId` (this error carries it, also when it was drawn for you): a signal already
 * journaled is reported as `{ accepted: false, duplicate: true }`.
 *
 * @example
 * ```ts
 * import { SignalTimeoutError, type Orchestrator } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * await orchestrator.signal('0190c6d2-7b1e-7000-8000-000000000001', 'approval', { approved: true }, { timeoutMs: 5_000 }).catch((error: unknown) => {
 *   if (error instanceof SignalTimeoutError) console.warn(`still pending; resend with signalId ${error.signalId}`);
 *   else throw error;
 * });
 * ```
 */
export class SignalTimeoutError extends SagaError {
  /** Always `'SignalTimeoutError'`. */
  override readonly name = 'SignalTimeoutError';
  readonly code = SagaErrorCode.SignalTimeout;

  /**
   * @param saga - the run's saga.
   * @param runId - the run.
   * @param signal - the signal's name.
   * @param signalId - the signal's id (send it again with this id).
   * @param timeoutMs - how long `signal()` waited.
   * @param owner - who was expected to journal it (a lease owner, or `'a worker'`).
   */
  constructor(
    readonly saga: string,
    readonly runId: string,
    readonly signal: string,
    readonly signalId: string,
    readonly timeoutMs: number,
    readonly owner: string,
  ) {
    super(
      `Signal '${signal}' (id ${signalId}) to run ${runId} of saga '${saga}' was not journaled by ${owner} within ${timeoutMs} ms; its request stays recorded in the store and is journaled when the run is next driven (send it again with signalId ${signalId} to learn its result).`,
    );
  }
}
