import type { Saga, SagaStage } from '../definition/saga.js';
import type { RollbackCause } from '../journal/saga-event.js';
import type { MutableRunState } from '../journal/fold.js';
import { compensateKey, executeKey } from './idempotency-key.js';
import type { LazyAbort } from './lazy-abort.js';
import { resultsView } from './results-view.js';

/**
 * Thrown by `ctx.cancel(reason)`: a stage-initiated, graceful stop. Internal; never retried and
 * never recorded as a failure.
 */
export class StageCancelSignal extends Error {
  override readonly name = 'StageCancelSignal';
  constructor(readonly reason: string) {
    super(`The stage cancelled the run: ${reason}`);
  }
}

/** The fields shared by both contexts; getters are lazy so unused ones cost nothing. */
abstract class BaseContext {
  private resultsCache: Readonly<Record<string, unknown>> | undefined;
  readonly runId: string;
  readonly saga: string;
  readonly stage: string;

  constructor(
    private readonly definition: Saga,
    private readonly stageDefinition: SagaStage,
    protected readonly state: MutableRunState,
    readonly attempt: number,
    private readonly abort: LazyAbort,
  ) {
    this.runId = state.runId;
    this.saga = definition.name;
    this.stage = stageDefinition.name;
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get input(): unknown {
    return this.state.input;
  }

  get results(): Readonly<Record<string, unknown>> {
    this.resultsCache ??= resultsView(this.definition, this.stageDefinition, this.state);
    return this.resultsCache;
  }
}

/** The `execute` context (see the public `ExecuteContext`). */
export class ExecuteContextImpl extends BaseContext {
  /** The reason of the first `cancel` call, if the stage called it. */
  cancelReason: string | undefined;
  private cancelFunction: ((reason: string) => never) | undefined;

  /** Made on first read and bound to this context, so `({ cancel }) => cancel('…')` works. */
  get cancel(): (reason: string) => never {
    this.cancelFunction ??= (reason: string): never => {
      const text = typeof reason === 'string' && reason !== '' ? reason : `cancelled by stage '${this.stage}'`;
      this.cancelReason ??= text;
      throw new StageCancelSignal(text);
    };
    return this.cancelFunction;
  }

  get idempotencyKey(): string {
    return executeKey(this.runId, this.stage);
  }
}

/** The `compensate` context (see the public `CompensateContext`). */
export class CompensateContextImpl extends BaseContext {
  constructor(
    saga: Saga,
    stage: SagaStage,
    state: MutableRunState,
    attempt: number,
    abort: LazyAbort,
    readonly cause: RollbackCause,
  ) {
    super(saga, stage, state, attempt, abort);
  }

  get output(): unknown {
    const record = this.state.stages.get(this.stage);
    return record?.status === 'completed' ? record.output : undefined;
  }

  /** `'completed'` when the journal says `execute` completed; otherwise its effect is unknown. */
  get outcome(): 'completed' | 'unknown' {
    return this.state.stages.get(this.stage)?.status === 'completed' ? 'completed' : 'unknown';
  }

  get idempotencyKey(): string {
    return compensateKey(this.runId, this.stage);
  }

  get executeIdempotencyKey(): string {
    return executeKey(this.runId, this.stage);
  }
}
