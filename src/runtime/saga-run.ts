import { ReplaySubject, type Observable } from 'rxjs';
import type { SagaOutcome } from '../journal/outcome.js';
import type { SagaEvent } from '../journal/saga-event.js';
import { describePrimitive, describeThrown } from '../errors/safe-read.js';
import { SafeObservable, type SubscriberErrorHandler } from './safe-observable.js';
import { youngArray } from './young-array.js';

/**
 * A handle on one run, returned synchronously by `start`, `resume`, `redrive` and `compensate`.
 *
 * @remarks
 * `outcome` resolves for every saga-level ending — completed, compensated, cancelled,
 * compensation_failed, paused — and rejects only when the operation was refused
 * (`RunNotFoundError`, `RunStateError`, `SagaShapeMismatchError`, `SagaNotRegisteredError`,
 * `RunAlreadyExistsError` for a `runId` that already exists, `RunLeasedError` for a run another
 * live process drives) or the run stopped being driven here (store unreachable, its lease lost to
 * another process — `LeaseLostError` —, orchestrator closed, or closed with a timeout). `events$`
 * replays the run's journal from its first event, then follows it live, and completes once
 * the run has settled (or stopped being driven here: see `outcome` for why). Unsubscribing
 * from `events$` never cancels the run: call `cancel`. A subscriber that throws (in `next`,
 * `complete`, or an operator of its `pipe`) never reaches the run or the process: the error is
 * reported to a {@link SubscriberErrorHandler} and every other subscriber still receives every
 * event.
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
  /** The run's journal from its first event, then live; completes after the run settles. Subscribers that throw are isolated. */
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
   *
   * @throws `TypeError` when `reason` is given and is not a string, or holds a NUL or a lone
   * surrogate (it is journaled as the run's `cancellation.reason`, and stored as text when another
   * process drives the run): nothing is cancelled.
   */
  cancel(reason?: string): void;
}

/**
 * A store that keeps journals in this process's memory and lends a run's journal as it holds it
 * (`MemoryStore`): the live array, whose first events never change.
 */
export interface HeldJournals {
  /** The journal of run `runId`, live (never changed by the caller), if the store holds it. */
  heldJournal(runId: string): readonly SagaEvent[] | undefined;
}

/**
 * Options of a {@link RunHandle}.
 *
 * @remarks
 * One object may serve every handle of an orchestrator: a handle keeps it, not a copy.
 */
export interface RunHandleOptions {
  /** Where an `events$` subscriber's error goes. Default: {@link reportSubscriberError}. */
  readonly onError?: SubscriberErrorHandler | undefined;
  /**
   * The store, when it lends journals (see {@link HeldJournals}): the handle then replays `events$`
   * from the store's journal, counting the events it was given, instead of keeping a copy of each.
   */
  readonly journals?: HeldJournals | undefined;
}

/** What drives a run, as its {@link RunHandle} reaches it to cancel the run. */
export interface RunCanceller {
  /** Cancels the run (`reason` as given to `cancel`). */
  cancelRequested(reason: string): void;
}

/**
 * The runtime's side of a {@link SagaRun}.
 *
 * @remarks
 * `events$` is a {@link SafeObservable} over a `ReplaySubject`: every subscriber gets the
 * journal from its first event, then the live events, then completion once the handle has
 * settled or failed; a subscriber that throws is reported to `onError` and never reaches the
 * runtime or the other subscribers. The `ReplaySubject` is made for the first subscriber: most
 * handles are only awaited, and until then `push` only appends to an array.
 */
export class RunHandle<TOutputs = Record<string, unknown>> implements SagaRun<TOutputs> {
  readonly outcome: Promise<SagaOutcome<TOutputs>>;
  private readonly options: RunHandleOptions;
  /**
   * The events so far, until the first subscriber (then the subject holds them), are either the
   * first `heldLength` events of the store's journal (`held`, see {@link RunHandleOptions.journals}),
   * as long as each event pushed is the store's next one, or a copy of the handle's own (`own`,
   * made for the first event that is not). A run in flight holds no second copy of its journal.
   */
  private held: readonly SagaEvent[] | undefined;
  private heldLength = 0;
  private own: SagaEvent[] | undefined;
  /**
   * What few handles use — `events$`, its subject, `cancel`, a cancel asked before the handle was
   * attached — made for the first of them: most handles are only awaited, and holding these four
   * in one field keeps 24 bytes less per run in flight.
   */
  private rare: RareParts | undefined;
  private ended = false;
  /**
   * Typed with `unknown` outputs, so that the handle stays covariant in `TOutputs` (a handle of a
   * saga is a handle of unknown outputs, as the runtime keeps them): `settle` takes the typed outcome.
   * The only resolving function kept: `fail` rejects through it (a promise's `reject` is a second
   * closure, 56 bytes per run in flight, for the few runs that fail).
   */
  private resolveOutcome!: (outcome: SagaOutcome<unknown> | PromiseLike<never>) => void;
  private canceller: RunCanceller | undefined;

  /**
   * @param runId - the run's id.
   * @param options - where `events$` subscriber errors go, and the store's journals; kept, not copied.
   */
  constructor(
    readonly runId: string,
    options: RunHandleOptions = NO_OPTIONS,
  ) {
    this.outcome = new Promise<SagaOutcome<TOutputs>>((resolve) => {
      // The outcome settle() passes is the run's, typed with TOutputs: `unknown` only keeps the
      // field covariant (a typed outcome's `stages` is keyed by its stage names, which an outcome of
      // unknown outputs is not, for a TOutputs still generic here).
      this.resolveOutcome = resolve as (outcome: SagaOutcome<unknown> | PromiseLike<never>) => void;
    });
    this.options = options;
  }

  /**
   * Cancels the run (see {@link SagaRun.cancel}). A function bound to the handle, so that
   * `const { cancel } = run` works; made when first read, not for every run (a closure and its
   * context, about 100 bytes per run in flight).
   */
  get cancel(): (reason?: string) => void {
    const rare = this.rareParts();
    return (rare.cancelFunction ??= this.bindCancel());
  }

  private bindCancel(): (reason?: string) => void {
    return (reason = 'cancelled'): void => {
      const problem = cancelReasonProblem(reason);
      if (problem !== undefined) throw new TypeError(`cancel() of run ${this.runId}: ${problem}.`);
      if (this.ended) return;
      if (this.canceller === undefined) this.rareParts().pendingCancel ??= reason;
      else this.canceller.cancelRequested(reason);
    };
  }

  /** The run's journal from its first event, then live; completes after the run settles. */
  get events$(): Observable<SagaEvent> {
    const rare = this.rareParts();
    rare.observable$ ??= SafeObservable.from<SagaEvent>(
      { subscribe: (observer) => this.replaySubject().subscribe(observer) },
      { runId: this.runId, ...(this.options.onError === undefined ? {} : { onError: this.options.onError }) },
    );
    return rare.observable$;
  }

  /** The reason of a `cancel` asked before the handle was connected to whatever drives the run (see {@link RunHandle.attach}), if any. */
  get cancelAsked(): string | undefined {
    return this.canceller === undefined ? this.rare?.pendingCancel : undefined;
  }

  /** Takes the cancel asked before the handle was connected (see {@link RunHandle.cancelAsked}): {@link RunHandle.attach} will not replay it. */
  takeCancelAsked(): string | undefined {
    const reason = this.cancelAsked;
    if (this.rare !== undefined) this.rare.pendingCancel = undefined;
    return reason;
  }

  /** Connects the handle to whatever drives the run; replays a cancel requested before that. */
  attach(canceller: RunCanceller): void {
    this.canceller = canceller;
    const pending = this.rare?.pendingCancel;
    if (pending !== undefined) canceller.cancelRequested(pending);
  }

  /** Adds the events that were already in the store when this handle picked the run up. */
  replay(events: readonly SagaEvent[]): void {
    for (const event of events) this.push(event);
  }

  /** A durable event of the run. */
  push(event: SagaEvent): void {
    const subject = this.rare?.subject;
    if (subject !== undefined) {
      subject.next(event);
      return;
    }
    if (this.own === undefined) {
      const held = this.held ?? this.heldFrom(event);
      if (held?.[this.heldLength] === event) {
        this.heldLength++;
        return;
      }
      // Not the store's next event (a store that copies, or a run someone else writes to now): a copy from here on.
      // Never pretenured (see youngArray): it holds the run's young events.
      this.own = held === undefined ? youngArray<SagaEvent>(4) : held.slice(0, this.heldLength);
      this.held = undefined;
    }
    this.own.push(event);
  }

  /** The store's journal of the run, if it lends it and it starts with the handle's first event. */
  private heldFrom(first: SagaEvent): readonly SagaEvent[] | undefined {
    if (this.heldLength !== 0) return undefined;
    const journal = this.options.journals?.heldJournal(this.runId);
    if (journal?.[0] !== first) return undefined;
    this.held = journal;
    return journal;
  }

  /** Resolves `outcome` and completes `events$`; does nothing once the handle has ended. */
  settle(outcome: SagaOutcome<TOutputs>): void {
    if (this.ended) return;
    this.end();
    this.resolveOutcome(outcome);
  }

  /** Rejects `outcome` and completes `events$`; does nothing once the handle has ended. */
  fail(error: unknown): void {
    if (this.ended) return;
    this.end();
    // A caller who never looks at `outcome` must not crash the process with an unhandled
    // rejection; awaiting it still rejects. Handled here, not when the handle is made: a handler
    // on every `outcome` is a reaction and a promise more per run in flight, for the few that fail.
    this.outcome.catch(ignore);
    // Resolved with a rejected promise, `outcome` rejects with its reason (two microtasks later than
    // a `reject` would); that promise is handled once `outcome` adopts it, in the same microtask run.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rejects with what the run failed with, as given
    this.resolveOutcome(Promise.reject(error));
  }

  /** Whether the handle has settled or failed. */
  get isEnded(): boolean {
    return this.ended;
  }

  private end(): void {
    this.ended = true;
    this.canceller = undefined;
    this.rare?.subject?.complete();
  }

  /** The subject of `events$`, made (with the journal so far) for the first subscriber. */
  private replaySubject(): ReplaySubject<SagaEvent> {
    const rare = this.rareParts();
    if (rare.subject === undefined) {
      const subject = new ReplaySubject<SagaEvent>();
      const journal = this.own ?? this.held ?? NO_EVENTS;
      const length = this.own === undefined ? this.heldLength : journal.length;
      for (let index = 0; index < length; index++) subject.next(journal[index] as SagaEvent);
      if (this.ended) subject.complete();
      rare.subject = subject;
      this.own = undefined;
      this.held = undefined;
      this.heldLength = 0;
    }
    return rare.subject;
  }

  /** {@link RunHandle.rare}, made when first needed. */
  private rareParts(): RareParts {
    return (this.rare ??= { observable$: undefined, subject: undefined, cancelFunction: undefined, pendingCancel: undefined });
  }
}

/** The parts of a {@link RunHandle} few handles use (see `RunHandle.rare`). */
interface RareParts {
  /** `events$`, made on first read. */
  observable$: Observable<SagaEvent> | undefined;
  /** The subject of `events$`, made for its first subscriber. */
  subject: ReplaySubject<SagaEvent> | undefined;
  /** `cancel`, made when first read. */
  cancelFunction: ((reason?: string) => void) | undefined;
  /** A cancel asked before the handle was attached to whatever drives the run. */
  pendingCancel: string | undefined;
}

const NO_OPTIONS: RunHandleOptions = Object.freeze({});
const NO_EVENTS: readonly SagaEvent[] = Object.freeze([]);

/** What a handle's `outcome` is given so that an unobserved rejection is never unhandled: one function for all. */
function ignore(): void {
  // Nothing: awaiting `outcome` still rejects.
}

/**
 * What is wrong with a cancel reason given by a caller (`run.cancel`, `orchestrator.cancel`), or
 * `undefined` when it is a string a store can keep. It is journaled as the run's
 * `cancellation.reason`, which every store reads back as text: a number or an object written there
 * made the journal unreadable.
 *
 * @internal
 */
export function cancelReasonProblem(reason: unknown): string | undefined {
  if (typeof reason === 'string') {
    // A cancel asked of a run another process drives is recorded in the store as text, which
    // refuses these: refused here too, wherever the run is driven.
    if (!reason.includes('\u0000') && reason.isWellFormed()) return undefined;
    return `the reason must not hold a NUL character or a lone surrogate, which no store can keep (got ${JSON.stringify(reason.length > 80 ? `${reason.slice(0, 80)}…` : reason)})`;
  }
  const got = typeof reason === 'object' && reason !== null ? describeThrown(reason) : describePrimitive(reason);
  return `the reason must be a string (got ${got})`;
}
