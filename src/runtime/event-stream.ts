import { Subject } from 'rxjs';
import { SafeObservable, type SafeObservableOptions } from './safe-observable.js';

/**
 * A hot stream of values for any number of subscribers: a private RxJS `Subject` behind a
 * {@link SafeObservable}, so that no subscriber can crash the process or the producer.
 *
 * @remarks
 * What `orchestrator.events$` and `worker.events$` are made of. A subscriber that throws (in
 * `next`, in an operator of its `pipe`, in `complete`) is reported to `options.onError` and the
 * others still receive every value; `next` and `complete` never throw. A subscriber that joins
 * during an emission gets the next value, not this one; after `complete`, a new subscriber
 * completes at once. Check {@link EventStream.observed} before building a value nobody may want.
 */
export class EventStream<T> {
  /** The stream, for subscribers. */
  readonly observable$: SafeObservable<T>;
  private readonly subject = new Subject<T>();

  /** @param options - where subscriber errors go, and which run a value belongs to. */
  constructor(options: SafeObservableOptions<T> = {}) {
    this.observable$ = SafeObservable.from(this.subject, options);
  }

  /** Whether anyone listens: emitting costs nothing then. */
  get observed(): boolean {
    return this.subject.observed;
  }

  /** Emits a value to every current subscriber. */
  next(value: T): void {
    if (this.subject.observed) this.subject.next(value);
  }

  /** Completes every subscriber, and every later one at once. Idempotent. */
  complete(): void {
    this.subject.complete();
  }
}
