import { AsyncLocalStorage } from 'node:async_hooks';
// Node's own timers and monotonic clock, not the globals: a test that installed fake timers
// (vi.useFakeTimers(), jest's, @sinonjs/fake-timers) replaces the globals (Date included), and the
// clock's idle turns and real-time holds would then never elapse, hanging every run in silence.
import { performance } from 'node:perf_hooks';
import { clearTimeout, setImmediate, setTimeout } from 'node:timers';
import { Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';
import type { TimeHold, TimeHoldingClock } from '../runtime/time-hold.js';

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
  readonly now?: number | undefined;
  /**
   * Jump to the next timer whenever the program is idle (default `true`): retry backoffs and
   * timeouts elapse at once, in order. With `false`, time moves only through
   * {@link VirtualClock.advanceBy} and {@link VirtualClock.runAll}.
   */
  readonly autoAdvance?: boolean | undefined;
  /**
   * How many event-loop turns without any timer being scheduled count as idle. Default 3:
   * enough for promise chains and one `setImmediate` hop (as the SQLite store's group commit
   * takes). Raise it if stages do real I/O that must finish before time moves on.
   */
  readonly idleTurns?: number | undefined;
  /**
   * How long, in real milliseconds, a pending call of user code holds virtual time. Default 2 000.
   *
   * While an `execute` or `compensate` call is in flight, virtual time stands still (a stage
   * awaiting real I/O must not time out in virtual time meanwhile), unless the call is itself
   * waiting on this clock (`sleep`, the `delayStage` fault). A call still pending after this long
   * is taken to hang, and time moves on, so that its timeout fires; the timeout's message then
   * says so. Raise it for stages doing slow real I/O; `0` never holds time.
   */
  readonly realTimeHoldMs?: number | undefined;
}

/**
 * A virtual-time RxJS scheduler: pass it as `createOrchestrator({ scheduler })` and every retry
 * delay, timeout and event timestamp follows it instead of the wall clock.
 *
 * @remarks
 * Time only moves forward when the program is idle (no pending promise work) and no call of user
 * code is in flight, jumping straight to the next due timer, so a test with a 30-second backoff
 * and a 2-second timeout runs in microseconds and in a deterministic order, while a stage that
 * reads a file or calls a local server finishes before any virtual time passes (as Temporal's
 * test server stops skipping time while an activity runs). A stage that waits on this clock
 * ({@link VirtualClock.sleep}, the `delayStage` fault) lets time move; a call pending for longer
 * than `realTimeHoldMs` of real time is taken to hang, and time moves on. Timers of user code
 * (`setTimeout`) are not virtual.
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

/** One call of user code holding virtual time (see {@link VirtualClockOptions.realTimeHoldMs}). */
class Hold implements TimeHold {
  /** Real time the hold began (or last resumed). */
  since = performance.now();
  /** Timers of this clock the held call is waiting on: while any is pending, the hold does not block. */
  waitingOnClock = 0;
  released = false;

  constructor(private readonly clock: VirtualClockImpl) {}

  run<T>(call: () => T): T {
    return holdContext.run(this, call);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.clock.holdChanged(this);
  }
}

/** The hold whose call is running, so that timers it sets on the clock suspend it. */
const holdContext = new AsyncLocalStorage<Hold>();

class VirtualClockImpl implements VirtualClock, TimeHoldingClock {
  private time: number;
  private readonly holds = new Set<Hold>();
  private readonly realTimeHoldMs: number;
  private heldTooLong = false;
  private wakeHolds: (() => void) | undefined;
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
    this.realTimeHoldMs = Math.max(0, options.realTimeHoldMs ?? 2_000);
  }

  holdTime(): TimeHold {
    const hold = new Hold(this);
    if (this.realTimeHoldMs > 0) this.holds.add(hold);
    return hold;
  }

  get timeoutNote(): string {
    return this.heldTooLong
      ? `of virtual time (a call of user code was still pending after ${this.realTimeHoldMs} ms of real time, so the test clock moved on; raise createVirtualClock({ realTimeHoldMs }) for slow real I/O)`
      : 'of virtual time';
  }

  /** A hold was released, or began or stopped waiting on this clock. */
  holdChanged(hold: Hold): void {
    if (hold.released) this.holds.delete(hold);
    if (this.holds.size === 0) this.heldTooLong = false;
    this.wakeHolds?.();
  }

  /** Real ms until the oldest blocking hold expires; 0 when nothing blocks time. */
  private heldFor(): number {
    let wait = 0;
    const now = performance.now();
    for (const hold of this.holds) {
      if (hold.waitingOnClock > 0) continue;
      const left = hold.since + this.realTimeHoldMs - now;
      if (left <= 0) {
        this.heldTooLong = true;
        continue;
      }
      wait = Math.max(wait, left);
    }
    return wait;
  }

  /** Waits until no call of user code holds time (released, waiting on this clock, or held too long). */
  private async whileHeld(): Promise<void> {
    for (let wait = this.heldFor(); wait > 0; wait = this.heldFor()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, wait);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.wakeHolds = done;
      });
      this.wakeHolds = undefined;
      await this.settle();
    }
  }

  now = (): number => this.time;

  get pendingTimers(): number {
    return this.queue.length;
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    const hold = holdContext.getStore();
    if (hold === undefined || hold.released) return new VirtualAction<T>(this, work).schedule(state, delay);
    // A held call waits on this clock: time may move until the timer fires (or is dropped).
    hold.waitingOnClock++;
    this.holdChanged(hold);
    let waiting = true;
    const resume = (): void => {
      if (!waiting) return;
      waiting = false;
      hold.waitingOnClock--;
      hold.since = performance.now();
      this.holdChanged(hold);
    };
    const action = new VirtualAction<T>(this, function (this: SchedulerAction<T>, value?: T) {
      resume();
      work.call(this, value);
    });
    action.add(resume);
    return action.schedule(state, delay);
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
      await this.whileHeld();
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
      await this.whileHeld();
      if (this.queue.length === 0) break;
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
        await this.whileHeld();
        if (this.queue.length === 0) break;
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
