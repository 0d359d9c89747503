import type { SagaOutcome } from '../journal/outcome.js';
import { SagaError, SagaErrorCode } from './saga-error.js';

/**
 * A run did not complete: `orchestrator.run()` rejects with one of its three subclasses.
 *
 * @remarks
 * Every subclass carries the full {@link SagaOutcome} and, as `.outputs`, the output of every
 * stage that completed (parallel branches included), so no completed work is lost. Failure
 * and cancellation have the same shape.
 *
 * @typeParam TOutputs - the saga's stage outputs, keyed by stage name.
 *
 * @example
 * ```ts
 * import { SagaRunError, type Orchestrator, type Saga } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * declare const saga: Saga<{ id: string }, { reserve: { holdId: string } }>;
 * try {
 *   await orchestrator.run(saga, { id: 'o-1' });
 * } catch (error) {
 *   if (error instanceof SagaRunError) console.log(error.outcome.status, error.outputs);
 * }
 * ```
 */
export abstract class SagaRunError<TOutputs = Record<string, unknown>> extends SagaError {
  /** The run's id. */
  readonly runId: string;
  /** The saga's name. */
  readonly saga: string;
  /** Every stage that completed, compensated or not (= `outcome.outputs`). */
  readonly outputs: Partial<TOutputs>;

  /** @param outcome - the run's outcome. */
  protected constructor(readonly outcome: SagaOutcome<TOutputs>) {
    super(describeOutcome(outcome));
    this.runId = outcome.runId;
    this.saga = outcome.saga;
    this.outputs = outcome.outputs;
  }
}

/**
 * A stage failed finally; the run ended `compensated` (rolled back) or `paused`.
 *
 * @example
 * ```ts
 * import { SagaFailedError } from 'sagaflow';
 * const failingStage = (error: SagaFailedError) => error.outcome.failure?.stage;
 * ```
 */
export class SagaFailedError<TOutputs = Record<string, unknown>> extends SagaRunError<TOutputs> {
  /** Always `'SagaFailedError'`. */
  override readonly name = 'SagaFailedError';
  readonly code = SagaErrorCode.Failed;

  /** @param outcome - the run's outcome (status `compensated` or `paused`). */
  constructor(outcome: SagaOutcome<TOutputs>) {
    super(outcome);
  }
}

/**
 * The run was cancelled (by `run.cancel`, its `signal`, or a stage's `ctx.cancel`) and ended
 * `cancelled`.
 *
 * @example
 * ```ts
 * import { SagaCancelledError } from 'sagaflow';
 * const who = (error: SagaCancelledError) => error.outcome.cancellation?.by;
 * ```
 */
export class SagaCancelledError<TOutputs = Record<string, unknown>> extends SagaRunError<TOutputs> {
  /** Always `'SagaCancelledError'`. */
  override readonly name = 'SagaCancelledError';
  readonly code = SagaErrorCode.Cancelled;

  /** @param outcome - the run's outcome (status `cancelled`). */
  constructor(outcome: SagaOutcome<TOutputs>) {
    super(outcome);
  }
}

/**
 * At least one compensation exhausted its retries: the run ended `compensation_failed`.
 *
 * @remarks
 * Every other compensation still ran. `orchestrator.redrive(runId)` retries only the failed
 * ones.
 *
 * @example
 * ```ts
 * import { SagaCompensationError } from 'sagaflow';
 * const stuck = (error: SagaCompensationError) =>
 *   Object.entries(error.outcome.stages).filter(([, stage]) => stage.status === 'compensation_failed').map(([name]) => name);
 * ```
 */
export class SagaCompensationError<TOutputs = Record<string, unknown>> extends SagaRunError<TOutputs> {
  /** Always `'SagaCompensationError'`. */
  override readonly name = 'SagaCompensationError';
  readonly code = SagaErrorCode.CompensationFailed;

  /** @param outcome - the run's outcome (status `compensation_failed`). */
  constructor(outcome: SagaOutcome<TOutputs>) {
    super(outcome);
  }
}

const quoted = (names: readonly string[]): string => names.map((name) => `'${name}'`).join(', ');
/** An error message quoted inside a sentence: without its own final full stop. */
const inner = (message: string): string => message.replace(/\.+$/, '');

/**
 * One sentence naming the saga, the run, what stopped it and what was rolled back.
 * Used for error messages and by the CLI.
 */
export function describeOutcome(outcome: SagaOutcome<unknown>): string {
  const subject = `Saga '${outcome.saga}' run ${outcome.runId}`;
  const cause = outcome.failure
    ? `failed at stage '${outcome.failure.stage}' (${outcome.failure.error.name}: ${inner(outcome.failure.error.message)})`
    : outcome.cancellation
      ? `was cancelled${outcome.cancellation.by === 'external' ? '' : ` by stage '${outcome.cancellation.by}'`} ("${outcome.cancellation.reason}")`
      : '';
  const rolledBack = outcome.compensationOrder;
  const failedCompensations = Object.entries(outcome.stages)
    .filter(([, stage]) => stage.status === 'compensation_failed')
    .map(([name]) => name);
  const kept = outcome.completionOrder.filter((name) => !rolledBack.includes(name));
  switch (outcome.status) {
    case 'completed':
      return `${subject} completed ${outcome.completionOrder.length} stage(s).`;
    case 'paused':
      return `${subject} ${cause} and is paused with ${kept.length === 0 ? 'no completed stages' : `completed stage(s) ${quoted(kept)} kept`}: redrive it to continue or compensate it to roll back.`;
    case 'compensated':
    case 'cancelled':
      return `${subject} ${cause}; ${
        rolledBack.length > 0
          ? `rolled back ${quoted(rolledBack)}`
          : kept.length > 0 && outcome.status === 'cancelled'
            ? `kept completed stage(s) ${quoted(kept)} without rolling back`
            : 'nothing needed rolling back'
      }.`;
    case 'compensation_failed':
      return `${subject} ${cause}, and its rollback failed: compensation of ${quoted(failedCompensations)} failed${
        rolledBack.length > 0 ? ` (rolled back ${quoted(rolledBack)})` : ''
      }; fix the cause and redrive it.`;
    case 'queued':
    case 'running':
    case 'compensating':
      return `${subject} is ${outcome.status}${cause === '' ? '' : ` and ${cause}`}.`;
    default: {
      const unreachable: never = outcome.status;
      return `${subject} is ${String(unreachable)}.`;
    }
  }
}
