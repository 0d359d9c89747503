import { Observable, type Subscriber } from 'rxjs';

/**
 * A hot stream of values for any number of subscribers, like a private `Subject` behind
 * `asObservable()`, without a `Subject`'s per-value work.
 *
 * @remarks
 * The orchestrator's `events$` emits every event of every run it drives: a `Subject` allocates
 * per emitted value (an error-context closure and an iterator in RxJS's CommonJS build). Here
 * subscribers are kept in an array that is replaced, never changed, when one joins or leaves,
 * so an emission walks a snapshot, as a `Subject`'s does: a subscriber that joins during an
 * emission gets the next value, not this one. After `complete`, a new subscriber completes at once.
 */
export class EventStream<T> {
  readonly observable$: Observable<T>;
  private subscribers: readonly Subscriber<T>[] = [];
  private completed = false;

  constructor() {
    this.observable$ = new Observable<T>((subscriber) => {
      if (this.completed) {
        subscriber.complete();
        return undefined;
      }
      this.subscribers = [...this.subscribers, subscriber];
      return () => {
        this.subscribers = this.subscribers.filter((other) => other !== subscriber);
      };
    });
  }

  /** Whether anyone listens: emitting costs nothing then. */
  get observed(): boolean {
    return this.subscribers.length > 0;
  }

  next(value: T): void {
    const subscribers = this.subscribers;
    for (let index = 0; index < subscribers.length; index++) (subscribers[index] as Subscriber<T>).next(value);
  }

  complete(): void {
    if (this.completed) return;
    this.completed = true;
    const subscribers = this.subscribers;
    this.subscribers = [];
    for (const subscriber of subscribers) subscriber.complete();
  }
}
