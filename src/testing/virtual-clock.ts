import { Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';

/**
 * Options of {@link createVirtualClock}.
 *
 * @remarks
 * The defaults suit `createSagaTest`: time jumps ahead whenever the test is idle. Turn
 * `autoAdvance` off to look at a run in the middle of a backoff or a timeout, moving time yourself
 * with `advanceBy`. A fixed `now` makes event timestamps (`at`) deterministic.
 *
 * @example
 * ```ts
 * import type { VirtualClockOptions } from 'sagaflow/testing';
 * const options: VirtualClockOptions = { now: Date.UTC(2026, 0, 1), autoAdvance: false };
 * ```
 */
export interface VirtualClockOptions {
  /** The clock's start, in epoch ms. Default `Date.UTC(2026, 0, 1)`. */
  readonly now?: number;
  /**
   * Jump to the next timer whenever the program is idle (default `true`): retry backoffs and
   * timeouts elapse at once, in order. With `false`, time moves only through
   * {@link VirtualClock.advanceBy} and {@link VirtualClock.runAll}.
   */
  readonly autoAdvance?: boolean;
  /**
   * How many event-loop turns without any timer being scheduled count as idle. Default 3:
   * enough for promise chains and one `setImmediate` hop (as the SQLite store's group commit
   * takes). Raise it if stages do real I/O that must finish before time moves on.
   */
  readonly idleTurns?: number;
}

/**
 * A virtual-time RxJS scheduler: pass it as `createOrchestrator({ scheduler })` and every retry
 * delay, timeout and event timestamp follows it instead of the wall clock.
 *
 * @remarks
 * Time only moves forward when the program is idle (no pending promise work), jumping straight
 * to the next due timer, so a test with a 30-second backoff and a 2-second timeout runs in
 * microseconds and in a deterministic order. Timers of user code (`setTimeout`) are not
 * virtual: in stages, wait with {@link VirtualClock.sleep} (or the `delayStage` fault) instead.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { createOrchestrator, defineSaga } from 'sagaflow';
 * import { createVirtualClock } from 'sagaflow/testing';
 *
 * const clock = createVirtualClock({ autoAdvance: false });
 * const flaky = defineSaga({ name: 'flaky', input: z.object({}) })
 *   .stage('call', {
 *     execute: async ({ attempt }) => {
 *       if (attempt === 1) throw new Error('busy');
 *       return 'ok';
 *     },
 *     retry: { maxAttempts: 2, initialDelayMs: 10_000, jitter: false },
 *   })
 *   .build();
 * const run = createOrchestrator({ scheduler: clock }).start(flaky, {});
 * await clock.advanceBy(9_999); // the first attempt failed; the retry waits 10 virtual seconds
 * await clock.advanceBy(1); // now the second attempt runs
 * console.log((await run.outcome).status); // 'completed'
 * ```
 */
export interface VirtualClock extends SchedulerLike {
  /** The virtual time, in epoch ms. */
  now(): number;
  /** Timers not yet due. */
  readonly pendingTimers: number;
  /** Runs every timer due within `ms` from now, in order, letting promise work settle between them. */
  advanceBy(ms: number): Promise<void>;
  /** Runs timers until none is left (or `maxTimers` ran, to stop runaway periodic timers). */
  runAll(maxTimers?: number): Promise<void>;
  /** A promise that resolves after `ms` of virtual time. */
  sleep(ms: number): Promise<void>;
}

class VirtualAction<T> extends Subscription implements SchedulerAction<T> {
  due = 0;
  order = 0;
  state: T | undefined;

  constructor(
    private readonly clock: VirtualClockImpl,
    private readonly work: (this: SchedulerAction<T>, state?: T) => void,
  ) {
    super();
  }

  schedule(state?: T, delay = 0): Subscription {
    if (this.closed) return this;
    this.state = state;
    this.clock.enqueue(this, delay);
    return this;
  }

  execute(): void {
    if (this.closed) return;
    this.work.call(this, this.state);
  }

  override unsubscribe(): void {
    this.clock.dequeue(this);
    super.unsubscribe();
  }
}

class VirtualClockImpl implements VirtualClock {
  private time: number;
  private readonly queue: VirtualAction<unknown>[] = [];
  private sequence = 0;
  private looping = false;
  private scheduledSinceTurn = false;
  private readonly autoAdvance: boolean;
  private readonly idleTurns: number;

  constructor(options: VirtualClockOptions) {
    this.time = options.now ?? Date.UTC(2026, 0, 1);
    this.autoAdvance = options.autoAdvance ?? true;
    this.idleTurns = Math.max(1, options.idleTurns ?? 3);
  }

  now = (): number => this.time;

  get pendingTimers(): number {
    return this.queue.length;
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    return new VirtualAction<T>(this, work).schedule(state, delay);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- actions of every state type share one queue
  enqueue(action: VirtualAction<any>, delay: number): void {
    this.dequeue(action);
    action.due = this.time + Math.max(0, delay);
    action.order = this.sequence++;
    // Keep the queue sorted by (due, order): a binary search keeps inserts cheap.
    let low = 0;
    let high = this.queue.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const other = this.queue[middle] as VirtualAction<unknown>;
      if (other.due < action.due || (other.due === action.due && other.order < action.order)) low = middle + 1;
      else high = middle;
    }
    this.queue.splice(low, 0, action as VirtualAction<unknown>);
    this.scheduledSinceTurn = true;
    if (this.autoAdvance && !this.looping) void this.loop();
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see enqueue
  dequeue(action: VirtualAction<any>): void {
    const index = this.queue.indexOf(action as VirtualAction<unknown>);
    if (index !== -1) this.queue.splice(index, 1);
  }

  async advanceBy(ms: number): Promise<void> {
    const target = this.time + ms;
    await this.settle();
    for (;;) {
      const next = this.queue[0];
      if (next === undefined || next.due > target) break;
      this.runNext();
      await this.settle();
    }
    this.time = Math.max(this.time, target);
  }

  async runAll(maxTimers = 100_000): Promise<void> {
    await this.settle();
    for (let ran = 0; ran < maxTimers && this.queue.length > 0; ran++) {
      this.runNext();
      await this.settle();
    }
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.schedule(() => resolve(), ms);
    });
  }

  private runNext(): void {
    const action = this.queue.shift();
    if (action === undefined) return;
    this.time = Math.max(this.time, action.due);
    action.execute();
  }

  /** Waits until `idleTurns` event-loop turns pass with no new timer scheduled. */
  private async settle(): Promise<void> {
    let quiet = 0;
    while (quiet < this.idleTurns) {
      this.scheduledSinceTurn = false;
      await new Promise<void>((resolve) => setImmediate(resolve));
      quiet = this.scheduledSinceTurn ? 0 : quiet + 1;
    }
  }

  private async loop(): Promise<void> {
    this.looping = true;
    try {
      await this.settle();
      while (this.queue.length > 0) {
        this.runNext();
        await this.settle();
      }
    } finally {
      this.looping = false;
    }
  }
}

/**
 * Creates a {@link VirtualClock}.
 *
 * @remarks
 * Pass it as `createOrchestrator({ scheduler })`, or as `createSagaTest({ clock })` to share one
 * clock between harnesses (a crash in one and a resume in the other). Use one clock per test:
 * timers of a test that is over would otherwise keep firing in the next.
 *
 * @example
 * ```ts
 * import { createOrchestrator } from 'sagaflow';
 * import { createVirtualClock } from 'sagaflow/testing';
 * const clock = createVirtualClock();
 * const orchestrator = createOrchestrator({ scheduler: clock });
 * ```
 */
export function createVirtualClock(options: VirtualClockOptions = {}): VirtualClock {
  return new VirtualClockImpl(options);
}
