import { Observable, Subscriber, type Observer, type Operator, type OperatorFunction, type Subscribable, type Subscription, type TeardownLogic } from 'rxjs';
import { describeThrown } from '../errors/safe-read.js';

/**
 * Where an error reported to a {@link SubscriberErrorHandler} came from.
 *
 * @remarks
 * `operation` is always `'subscriber'`: code subscribed to an `events$` stream threw (in `next`,
 * `error` or `complete`, in an operator of its `pipe`, or in a teardown), or the stream errored
 * with no `error` callback to receive it. `runId` names the run whose event was being delivered,
 * when there was one.
 *
 * @example
 * ```ts
 * import type { SubscriberErrorContext } from 'sagaflow';
 * const where = (context: SubscriberErrorContext) => `an events$ subscriber${context.runId === undefined ? '' : ` of run ${context.runId}`}`;
 * ```
 */
export interface SubscriberErrorContext {
  /** What failed: a subscriber of an `events$` stream. */
  readonly operation: 'subscriber';
  /** The run whose event was being delivered, when known. */
  readonly runId?: string;
}

/**
 * Receives what a subscriber of an `events$` stream threw, instead of the process.
 *
 * @remarks
 * RxJS rethrows an error thrown by a subscriber (or an error notification nobody handles) from a
 * `setTimeout`, which kills a Node process, and every run in it. sagaflow's `events$` streams
 * catch it and pass it here instead; the run, and every other subscriber, go on as if nothing
 * happened. The handler itself must not throw (if it does, that is swallowed).
 *
 * @example
 * ```ts
 * import type { SubscriberErrorHandler } from 'sagaflow';
 * const log: SubscriberErrorHandler = (error, context) => console.error(`events$ subscriber failed (run ${context.runId ?? '-'})`, error);
 * ```
 */
export type SubscriberErrorHandler = (error: unknown, context: SubscriberErrorContext) => void;

/** Options of a {@link SafeObservable}. */
export interface SafeObservableOptions<T> {
  /** Where a subscriber's error goes. Default: {@link reportSubscriberError}. */
  readonly onError?: SubscriberErrorHandler;
  /** The run every value belongs to (a run's own `events$`). */
  readonly runId?: string;
  /** The run a value belongs to, when values are of several runs (`orchestrator.events$`). */
  readonly runIdOf?: (value: T) => string | undefined;
}

/**
 * The default {@link SubscriberErrorHandler}: says so on stderr, with the error's stack, or with
 * what it was when it cannot be printed (a `stack` or `message` getter that throws).
 */
export function reportSubscriberError(error: unknown, context: SubscriberErrorContext): void {
  const said = `sagaflow: an events$ subscriber threw${context.runId === undefined ? '' : ` (event of run ${context.runId})`}; the run goes on. Pass onError to handle this yourself.`;
  try {
    console.error(said, error);
  } catch (printing) {
    console.error(`${said} It threw ${describeThrown(error)} (it could not be printed: ${describeThrown(printing)}).`);
  }
}

/** How a SafeObservable reports: never throws, whatever the handler does. */
type Report = (error: unknown, runId: string | undefined) => void;

function reporter<T>(options: SafeObservableOptions<T>): Report {
  const onError = options.onError ?? reportSubscriberError;
  return (error, runId) => {
    try {
      onError(error, runId === undefined ? { operation: 'subscriber' } : { operation: 'subscriber', runId });
    } catch {
      // The handler is the last resort: nothing is left to tell.
    }
  };
}

/** RxJS's own test for a Subscriber (also one from another copy of rxjs): those are chained, not wrapped. */
function isSubscriber(value: unknown): value is Subscriber<unknown> {
  if (value instanceof Subscriber) return true;
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return ['next', 'error', 'complete', 'add', 'unsubscribe'].every((key) => typeof candidate[key] === 'function');
}

/**
 * An RxJS `Observable` whose subscribers cannot crash the process or disturb the producer.
 *
 * @remarks
 * What sagaflow's `events$` streams are (typed as plain `Observable<SagaEvent>`):
 * - `subscribe(…)` wraps the caller's `next`, `error` and `complete` in `try`/`catch`, reporting
 *   what they throw to `onError`, and supplies an `error` callback when none is given, which
 *   reports the error instead of letting RxJS rethrow it from a `setTimeout`.
 * - `pipe(…)` and every RxJS operator (they are built on `lift`) return a `SafeObservable` again,
 *   so `events$.pipe(map(throwing)).subscribe(…)` reports the operator's error, and
 *   `events$.pipe(filter(…)).subscribe(throwingNext)` reports the subscriber's.
 * - Made {@link SafeObservable.from | from} a Subject, each subscriber receives the Subject's
 *   values through its own guard: whatever one subscriber's chain throws back (a teardown that
 *   throws while an operator's error unsubscribes it), the others still receive every value, and
 *   the producer's `next` never throws.
 *
 * What it cannot isolate: a chain that leaves `events$` — `merge(other$, events$)`,
 * `switchMap(() => events$)`, `from(events$)` — is a plain Observable, so its subscriber follows
 * RxJS's rules (the producer and other subscribers are still protected); a `Subscriber` instance
 * passed to `subscribe` is used as is; a teardown (`finalize`) that throws while an
 * asynchronously scheduled operator (`delay`, `observeOn(asyncScheduler)`, `debounceTime`…)
 * completes is rethrown by that scheduler. A subscriber that never returns blocks, as any
 * synchronous code does.
 *
 * @internal
 */
export class SafeObservable<T> extends Observable<T> {
  /** @internal */
  private readonly report: Report;
  /** @internal */
  private readonly runIdOf: ((value: T) => string | undefined) | undefined;
  /** @internal */
  private readonly runId: string | undefined;

  /**
   * @param subscribe - as for `new Observable(subscribe)`.
   * @param options - where subscriber errors go, and which run values belong to.
   */
  constructor(subscribe: ((this: Observable<T>, subscriber: Subscriber<T>) => TeardownLogic) | undefined, options: SafeObservableOptions<T> = {}) {
    super(subscribe);
    this.report = reporter(options);
    this.runIdOf = options.runIdOf;
    this.runId = options.runId;
  }

  /**
   * A SafeObservable of a source (a `Subject`, a `ReplaySubject`): each subscriber receives the
   * source's values through its own guard, so nothing it throws reaches the source's `next`.
   */
  static from<T>(source: Subscribable<T>, options: SafeObservableOptions<T> = {}): SafeObservable<T> {
    const safe: SafeObservable<T> = new SafeObservable<T>((subscriber) => source.subscribe(new GuardSubscriber(subscriber, safe)), options);
    return safe;
  }

  /** @internal Reports an error thrown back by a subscriber while it received `value` (or a completion). */
  reportFor(error: unknown, value?: T): void {
    this.report(error, value === undefined ? this.runId : this.runOf(value));
  }

  /** @internal Every RxJS operator goes through `lift`: the result is safe too. */
  override lift<R>(operator?: Operator<T, R>): SafeObservable<R> {
    const observable = new SafeObservable<R>(undefined, { onError: (error) => this.report(error, this.runId), ...(this.runId === undefined ? {} : { runId: this.runId }) });
    observable.source = this;
    observable.operator = operator;
    return observable;
  }

  /** `Observable.pipe`, whose result is a SafeObservable even after an operator that does not use `lift`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- one signature that fits every overload of Observable.pipe
  override pipe(...operations: OperatorFunction<any, any>[]): Observable<any> {
    const piped = operations.reduce<Observable<unknown>>((source, operation) => operation(source) as Observable<unknown>, this);
    if (piped instanceof SafeObservable) return piped;
    return new SafeObservable<unknown>((subscriber) => piped.subscribe(subscriber), {
      onError: (error) => this.report(error, this.runId),
      ...(this.runId === undefined ? {} : { runId: this.runId }),
    });
  }

  /** `Observable.subscribe`, with the caller's callbacks guarded and a default `error` that reports. */
  override subscribe(
    observerOrNext?: Partial<Observer<T>> | ((value: T) => void) | null,
    error?: ((error: unknown) => void) | null,
    complete?: (() => void) | null,
  ): Subscription {
    // Operators subscribe with their own Subscribers: those are chained as RxJS does.
    if (isSubscriber(observerOrNext)) return super.subscribe(observerOrNext);
    const observer: Partial<Observer<T>> =
      typeof observerOrNext === 'function' || observerOrNext === null || observerOrNext === undefined
        ? {
            ...(typeof observerOrNext === 'function' ? { next: observerOrNext } : {}),
            ...(typeof error === 'function' ? { error } : {}),
            ...(typeof complete === 'function' ? { complete } : {}),
          }
        : observerOrNext;
    const next = observer.next;
    const onError = observer.error;
    const onComplete = observer.complete;
    return super.subscribe({
      next: (value: T) => {
        if (next === undefined) return;
        try {
          next.call(observer, value);
        } catch (thrown) {
          this.report(thrown, this.runOf(value));
        }
      },
      error: (failure: unknown) => {
        if (onError === undefined) return this.report(failure, this.runId);
        try {
          onError.call(observer, failure);
        } catch (thrown) {
          this.report(thrown, this.runId);
        }
      },
      complete: () => {
        if (onComplete === undefined) return;
        try {
          onComplete.call(observer);
        } catch (thrown) {
          this.report(thrown, this.runId);
        }
      },
    });
  }

  private runOf(value: T): string | undefined {
    if (this.runId !== undefined || this.runIdOf === undefined) return this.runId;
    try {
      return this.runIdOf(value);
    } catch {
      return undefined;
    }
  }
}

/**
 * Sits between a source and one subscriber: every Subscriber method already catches what user
 * code throws, except a teardown's UnsubscriptionError (thrown while an operator's error or a
 * completion unsubscribes the chain). Caught here, so the source goes on to its next subscriber.
 * A Subscriber itself, so a Subject calls it directly, without another wrapper.
 */
class GuardSubscriber<T> extends Subscriber<T> {
  constructor(
    private readonly downstream: Subscriber<T>,
    private readonly owner: SafeObservable<T>,
  ) {
    // Chained to the subscriber: once it is closed (take(1) during a replay), so is this guard.
    super(downstream);
  }

  override next(value: T): void {
    try {
      this.downstream.next(value);
    } catch (error) {
      this.owner.reportFor(error, value);
    }
  }

  override error(failure: unknown): void {
    try {
      this.downstream.error(failure);
    } catch (error) {
      this.owner.reportFor(error);
    } finally {
      this.unsubscribe();
    }
  }

  override complete(): void {
    try {
      this.downstream.complete();
    } catch (error) {
      this.owner.reportFor(error);
    } finally {
      this.unsubscribe();
    }
  }
}
