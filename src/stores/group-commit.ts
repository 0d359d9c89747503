/**
 * One queued request of a {@link GroupCommit} batch, with the callbacks that settle its promise.
 *
 * @remarks
 * The batch writer calls exactly one of `resolve` / `reject` per item it decides on; items it
 * leaves unsettled are rejected with the writer's error if it throws. Internal to the stores.
 *
 * @internal
 */
export interface QueuedWrite<TRequest, TResult> {
  /** What was asked. */
  readonly request: TRequest;
  /** Settles the caller's promise with success. */
  readonly resolve: (value: TResult) => void;
  /** Settles the caller's promise with failure. */
  readonly reject: (error: unknown) => void;
}

/**
 * How a {@link GroupCommit} writes and when.
 *
 * @internal
 */
export interface GroupCommitOptions<TRequest, TResult> {
  /**
   * Writes one batch, settling each item. A synchronous throw or a rejection fails every item of
   * the batch it did not settle.
   */
  readonly write: (batch: ReadonlyArray<QueuedWrite<TRequest, TResult>>) => void | Promise<void>;
  /**
   * Calls `flush` once the requests of this turn are collected. Default `setImmediate`: Node
   * drains microtasks after every I/O callback, so a microtask flush would write each callback's
   * requests alone, while `setImmediate` waits for every callback of the current poll phase.
   */
  readonly schedule?: (flush: () => void) => void;
  /**
   * Requests with the same key never share a batch: the later ones wait for the next batch, in
   * arrival order (PostgreSQL appends, whose row locks order two writes to one run). Default: any
   * number per key, in arrival order.
   */
  readonly keyOf?: (request: TRequest) => string;
}

/**
 * Group commit: requests made within one turn of the event loop are written together, in one
 * transaction or statement, each caller's promise settling on its own. The one batching
 * mechanism of the SQL stores. Internal to the stores.
 *
 * @remarks
 * A batch is written as soon as the scheduled flush runs; batches are not serialised (a
 * PostgreSQL statement may still be in flight when the next one goes out, on another connection).
 *
 * @internal
 */
export class GroupCommit<TRequest, TResult = void> {
  private queue: Array<QueuedWrite<TRequest, TResult>> = [];
  private scheduled = false;
  private readonly schedule: (flush: () => void) => void;
  private readonly flushCallback = (): void => this.flush();

  constructor(private readonly options: GroupCommitOptions<TRequest, TResult>) {
    this.schedule = options.schedule ?? setImmediate;
  }

  /** Requests waiting for the next flush. */
  get size(): number {
    return this.queue.length;
  }

  /** Queues a request; settles once its batch is written. */
  enqueue(request: TRequest): Promise<TResult> {
    return new Promise<TResult>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        this.schedule(this.flushCallback);
      }
    });
  }

  /** Writes what is queued now (a store's `close` calls it to commit the last requests). */
  flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    let batch = this.queue;
    this.queue = [];
    const keyOf = this.options.keyOf;
    if (keyOf !== undefined) {
      const keys = new Set<string>();
      const now: Array<QueuedWrite<TRequest, TResult>> = [];
      for (const item of batch) {
        const key = keyOf(item.request);
        if (keys.has(key)) this.queue.push(item);
        else {
          keys.add(key);
          now.push(item);
        }
      }
      batch = now;
      if (this.queue.length > 0) {
        this.scheduled = true;
        this.schedule(this.flushCallback);
      }
    }
    this.writeBatch(batch);
  }

  private writeBatch(batch: ReadonlyArray<QueuedWrite<TRequest, TResult>>): void {
    const failAll = (error: unknown): void => {
      // Settling a settled promise does nothing: only the undecided items fail.
      for (const item of batch) item.reject(error);
    };
    try {
      const written = this.options.write(batch);
      if (written !== undefined) written.catch(failAll);
    } catch (error) {
      failAll(error);
    }
  }
}
