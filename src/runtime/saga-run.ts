import { Observable, type Subscriber } from 'rxjs';
import type { SagaOutcome } from '../journal/outcome.js';
import type { SagaEvent } from '../journal/saga-event.js';

/**
 * A handle on one run, returned synchronously by `start`, `resume`, `redrive` and `compensate`.
 *
 * @remarks
 * `outcome` resolves for every saga-level ending — completed, compensated, cancelled,
 * compensation_failed, paused — and rejects only when the operation was refused
 * (`RunNotFoundError`, `RunStateError`, `SagaShapeMismatchError`, `SagaNotRegisteredError`,
 * `StoreConflictError` for a `runId` that already exists) or the infrastructure failed (store
 * unreachable, orchestrator closed, or closed with a timeout). `events$`
 * replays the run's journal from its first event, then follows it live, and completes once
 * the run has settled (or stopped being driven here: see `outcome` for why). Unsubscribing
 * from `events$` never cancels the run: call `cancel`.
 *
 * @typeParam TOutputs - the saga's stage outputs, keyed by stage name.
 *
 * @example
 * ```ts
 * import type { Orchestrator, Saga } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * declare const saga: Saga<{ id: string }, { reserve: { holdId: string } }>;
 * const run = orchestrator.start(saga, { id: 'o-1' });
 * run.events$.subscribe((event) => console.log(event.seq, event.type));
 * const outcome = await run.outcome;
 * console.log(outcome.status, outcome.outputs.reserve?.holdId);
 * ```
 */
export interface SagaRun<TOutputs = Record<string, unknown>> {
  /** The run's id (uuid v7 unless given to `start`). */
  readonly runId: string;
  /** The run's journal from its first event, then live; completes after the run settles. */
  readonly events$: Observable<SagaEvent>;
  /**
   * Resolves with the run's outcome once it settles, **for every ending**: a failed, cancelled
   * or paused run resolves too, so check `status` (unlike `orchestrator.run()`, which rejects for
   * every ending but `completed`).
   */
  readonly outcome: Promise<SagaOutcome<TOutputs>>;
  /**
   * Cancels the run: in-flight stages are aborted and settled, then completed stages are
   * compensated (unless the saga says `onCancel: 'keep'`). Does nothing once the run is
   * stopping or settled.
   */
  cancel(reason?: string): void;
}

/** The runtime's side of a {@link SagaRun}. */
export class RunHandle<TOutputs = Record<string, unknown>> implements SagaRun<TOutputs> {
  readonly outcome: Promise<SagaOutcome<TOutputs>>;
  readonly events$: Observable<SagaEvent>;
  readonly cancel: (reason?: string) => void;
  private readonly journal: SagaEvent[] = [];
  /** Made for the first live subscriber: most handles are only awaited. */
  private subscribers: Set<Subscriber<SagaEvent>> | undefined;
  private ended = false;
  private resolveOutcome!: (outcome: SagaOutcome<TOutputs>) => void;
  private rejectOutcome!: (error: unknown) => void;
  private canceller: ((reason: string) => void) | undefined;
  private pendingCancel: string | undefined;

  constructor(readonly runId: string) {
    this.outcome = new Promise<SagaOutcome<TOutputs>>((resolve, reject) => {
      this.resolveOutcome = resolve;
      this.rejectOutcome = reject;
    });
    // A caller who never looks at `outcome` must not crash the process with an unhandled
    // rejection; awaiting it still rejects.
    this.outcome.catch(() => undefined);
    this.events$ = new Observable<SagaEvent>((subscriber) => {
      for (let index = 0; index < this.journal.length && !subscriber.closed; index++) {
        subscriber.next(this.journal[index] as SagaEvent);
      }
      if (this.ended) {
        subscriber.complete();
        return undefined;
      }
      (this.subscribers ??= new Set()).add(subscriber);
      return () => {
        this.subscribers?.delete(subscriber);
      };
    });
    // An own function, so that `const { cancel } = run` works.
    this.cancel = (reason = 'cancelled'): void => {
      if (this.ended) return;
      if (this.canceller === undefined) this.pendingCancel ??= reason;
      else this.canceller(reason);
    };
  }

  /** Connects the handle to whatever drives the run; replays a cancel requested before that. */
  attach(canceller: (reason: string) => void): void {
    this.canceller = canceller;
    if (this.pendingCancel !== undefined) canceller(this.pendingCancel);
  }

  /** Adds the events that were already in the store when this handle picked the run up. */
  replay(events: readonly SagaEvent[]): void {
    for (const event of events) this.push(event);
  }

  /** A durable event of the run. */
  push(event: SagaEvent): void {
    this.journal.push(event);
    if (this.subscribers !== undefined) for (const subscriber of this.subscribers) subscriber.next(event);
  }

  settle(outcome: SagaOutcome<TOutputs>): void {
    if (this.ended) return;
    this.end();
    this.resolveOutcome(outcome);
  }

  fail(error: unknown): void {
    if (this.ended) return;
    this.end();
    this.rejectOutcome(error);
  }

  get isEnded(): boolean {
    return this.ended;
  }

  private end(): void {
    this.ended = true;
    this.canceller = undefined;
    if (this.subscribers === undefined) return;
    for (const subscriber of this.subscribers) subscriber.complete();
    this.subscribers.clear();
  }
}
