import type { SagaOutcome, SagaOutcomeBase } from '../journal/outcome.js';
import { SagaError, SagaErrorCode } from './saga-error.js';

/**
 * A run did not complete: `orchestrator.run()` rejects with one of its three subclasses.
 *
 * @remarks
 * Every subclass carries the full {@link SagaOutcome} and, as `.outputs`, the output of every
 * stage that completed (parallel branches included), so no completed work is lost. Failure
 * and cancellation have the same shape. `instanceof` cannot know which saga failed, so its
 * `outputs` are untyped there: narrow with `isRunError(saga, error)` to type them with the saga's
 * stages.
 *
 * @typeParam TOutputs - the saga's stage outputs, keyed by stage name.
 *
 * @example
 * ```ts
 * import { isRunError, type Orchestrator, type Saga } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * declare const saga: Saga<{ id: string }, { reserve: { holdId: string } }>;
 * try {
 *   await orchestrator.run(saga, { id: 'o-1' });
 * } catch (error) {
 *   if (isRunError(saga, error)) console.log(error.outcome.status, error.outputs.reserve?.holdId);
 * }
 * ```
 */
export abstract class SagaRunError<TOutputs = Record<string, unknown>> extends SagaError {
  /** The run's id. */
  readonly runId: string;
  /** The saga's name. */
  readonly saga: string;
  /** Every stage that completed, compensated or not (= `outcome.outputs`). */
  readonly outputs: SagaOutcomeBase<TOutputs>['outputs'];

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
 * @remarks
 * `orchestrator.run()` rejects with it; `outcome.failure` names the stage and its final error, and
 * `outputs` keeps what completed. Tell the two endings apart by `outcome.status`: a `compensated`
 * run is over, while a `paused` run (`onFailure: 'pause'`) still holds its outputs and waits for
 * `orchestrator.redrive(runId)` or `orchestrator.compensate(runId)`. A failed run whose rollback
 * also failed rejects with {@link SagaCompensationError} instead.
 *
 * @example
 * ```ts
 * import { SagaFailedError, type Orchestrator, type Saga } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * declare const order: Saga<{ sku: string }, { reserve: { holdId: string }; charge: { chargeId: string } }>;
 * try {
 *   await orchestrator.run(order, { sku: 'A1' });
 * } catch (error) {
 *   if (!(error instanceof SagaFailedError)) throw error;
 *   console.error(`stage ${error.outcome.failure?.stage} failed: ${error.outcome.failure?.error.message}`);
 *   if (error.outcome.status === 'paused') console.log('kept for a redrive:', error.outputs);
 * }
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
 * @remarks
 * `orchestrator.run()` rejects with it. `outcome.cancellation` says why and by whom (`'external'`,
 * or the stage that called `ctx.cancel`). The run ends `cancelled` whether it was rolled back or,
 * with `onCancel: 'keep'`, kept its completed stages: `outcome.compensationOrder` tells which. A
 * cancelled run whose rollback failed rejects with {@link SagaCompensationError} instead.
 *
 * @example
 * ```ts
 * import { SagaCancelledError, type Orchestrator, type Saga } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * declare const order: Saga<{ sku: string }, { reserve: { holdId: string } }>;
 * try {
 *   await orchestrator.run(order, { sku: 'A1' }, { signal: AbortSignal.timeout(30_000) });
 * } catch (error) {
 *   if (!(error instanceof SagaCancelledError)) throw error;
 *   const { reason, by } = error.outcome.cancellation ?? { reason: '?', by: '?' };
 *   console.log(`cancelled by ${by} (${reason}); undone: ${error.outcome.compensationOrder.join(', ') || 'nothing'}`);
 * }
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
 * Every other compensation still ran. The rollback may have followed a failure or a
 * cancellation: `outcome.failure` or `outcome.cancellation` says which. Fix what the compensation
 * needs, then `orchestrator.redrive(runId)`: it retries only the failed compensations, each with a
 * fresh retry budget, and the run ends as it would have (`compensated`, or `cancelled` for a
 * cancelled run).
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

/**
 * One of the three errors `orchestrator.run()` rejects with for a run that did not complete,
 * typed with the saga's outputs: what {@link isRunError} narrows to.
 *
 * @remarks
 * A union, so that `instanceof SagaFailedError` (or a check of `error.code` or `error.name`) after
 * `isRunError` keeps the saga's output types, where `instanceof` on an unknown value alone gives
 * untyped outputs.
 *
 * @typeParam TOutputs - the saga's stage outputs, keyed by stage name.
 *
 * @example
 * ```ts
 * import { SagaCancelledError, type AnyRunError } from 'sagaflow';
 * const reason = (error: AnyRunError<{ reserve: { holdId: string } }>) =>
 *   error instanceof SagaCancelledError ? error.outcome.cancellation?.reason : error.outcome.failure?.stage;
 * ```
 */
export type AnyRunError<TOutputs = Record<string, unknown>> =
  | SagaFailedError<TOutputs>
  | SagaCancelledError<TOutputs>
  | SagaCompensationError<TOutputs>;

const quoted = (names: readonly string[]): string => names.map((name) => `'${name}'`).join(', ');
/**
 * An error message quoted inside a sentence: without its own final full stops. Only from the first
 * stop of a run: tried from each, a long run not at the end took quadratic time.
 */
const inner = (message: string): string => message.replace(/(?<!\.)\.+$/, '');

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
    .map(([name, stage]) => {
      const attempts = stage.compensation?.attempts ?? 0;
      const error = stage.compensation?.error;
      return `'${name}' failed after ${attempts} attempt${attempts === 1 ? '' : 's'}${error === undefined ? '' : ` (${error.name}: ${inner(error.message)})`}`;
    });
  const kept = outcome.completionOrder.filter((name) => !rolledBack.includes(name));
  const status = outcome.status;
  switch (status) {
    case 'completed':
      return `${subject} completed ${outcome.completionOrder.length} stage(s).`;
    case 'paused':
      return `${subject} ${cause} and is paused with ${kept.length === 0 ? 'no completed stages' : `completed stage(s) ${quoted(kept)} kept`}: redrive it to continue or compensate it to roll back.`;
    case 'compensated':
    case 'cancelled':
      // Cancelled before any stage completed: say so, rather than that a rollback found nothing.
      if (status === 'cancelled' && outcome.completionOrder.length === 0 && rolledBack.length === 0) {
        return `${subject} ${cause} before any stage completed, so nothing needed undoing.`;
      }
      return `${subject} ${cause}; ${
        rolledBack.length > 0
          ? `rolled back ${quoted(rolledBack)}`
          : kept.length > 0 && outcome.status === 'cancelled'
            ? `kept completed stage(s) ${quoted(kept)} without rolling back`
            : 'nothing needed rolling back'
      }.`;
    case 'compensation_failed':
      return `${subject} ${cause}, and its rollback failed: compensation of ${failedCompensations.join(', ')}${
        rolledBack.length > 0 ? `; rolled back ${quoted(rolledBack)}` : ''
      }; fix the cause and redrive it.`;
    case 'queued':
    case 'running':
    case 'compensating':
      return `${subject} is ${status}${cause === '' ? '' : ` and ${cause}`}.`;
    default: {
      const unreachable: never = status;
      return `${subject} is ${String(unreachable)}.`;
    }
  }
}
