import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { retryDelayMs } from '../definition/retry-policy.js';
import { LeaseLostError } from '../errors/store-errors.js';
import { leasesRunOnWallClock } from '../stores/lease-clock.js';
import type { LeaseToken, SagaStore, SignalRequest } from '../stores/saga-store.js';
import { supportsWorkers } from '../stores/work-queue.js';
import type { BackoffPolicy } from './backoff.js';
import { scheduleAfter, setLongTimeout } from './long-delay.js';

/** A run whose lease a process keeps, and what it does when the lease is lost or a cancel is requested. */
export interface KeptRun {
  readonly runId: string;
  readonly lease: LeaseToken;
  /** Another process took the run over (or a newer lease of this one's did): stop driving it, write nothing more. */
  lost(error: Error): void;
  /** `orchestrator.cancel(runId)` was called elsewhere: cancel the run. */
  cancelRequested(reason: string): void;
  /** `orchestrator.signal(runId, …)` was called elsewhere: deliver the signal (the run dedups it by id). */
  signalRequested?(request: SignalRequest): void;
}

/** What the keeper reports: a heartbeat that failed (it is retried), or listening that failed. */
export type LeaseProblemReporter = (error: unknown, context: { readonly operation: 'heartbeat' | 'listen'; readonly retryCount?: number }) => void;

/** A pending timer of the keeper. */
interface Tick {
  cancel(): void;
}

/**
 * Keeps the leases of every run one owner (an orchestrator or a worker) drives: heartbeats every
 * `leaseMs / 3` while it holds any, reports lost leases and carries cancel requests to their runs.
 *
 * @remarks
 * One heartbeat call covers every held run. The beat is one timer, armed while runs are held and
 * left to lapse once none is; in real time it never keeps the process alive on its own (a run in
 * flight does that), so a script that forgets `close()` still exits. A failed beat is retried
 * with backoff within the period, so a lease is never left to run out while a beat waits. On a
 * store that announces cancel requests (`PostgresStore`), an announcement triggers a beat at once,
 * so a cancel from another process is carried out within a round trip.
 */
export class LeaseKeeper {
  private readonly held = new Map<string, KeptRun>();
  private tick: Tick | undefined;
  private beating = false;
  private again = false;
  private failures = 0;
  private unlisten: Promise<(() => Promise<void>) | undefined> | undefined;
  /** The listen's unsubscribe, once it is set up (see {@link LeaseKeeper.stop}). */
  private listening: (() => Promise<void>) | undefined;
  private stopped = false;
  private readonly everyMs: number;
  /**
   * What beats are timed on: real time when the store's leases expire in real time (SQLite,
   * PostgreSQL, a `MemoryStore` without `now`), even when runs are driven on a virtual clock —
   * there a beat per third of a virtual lease renews nothing about to run out, and a virtual
   * day's wait would write 8,640 beats; otherwise the scheduler, whose clock the store's may be.
   */
  private readonly timers: SchedulerLike;

  constructor(
    private readonly store: SagaStore,
    readonly owner: string,
    readonly leaseMs: number,
    private readonly scheduler: SchedulerLike,
    private readonly backoff: BackoffPolicy,
    private readonly random: () => number,
    private readonly report: LeaseProblemReporter,
  ) {
    this.everyMs = Math.max(1, Math.floor(leaseMs / 3));
    this.timers = leasesRunOnWallClock(store) ? asyncScheduler : scheduler;
  }

  /** The runs held now. */
  get runs(): readonly string[] {
    return [...this.held.keys()];
  }

  /** Starts keeping a run's lease. */
  hold(run: KeptRun): void {
    if (this.stopped) return;
    this.held.set(run.runId, run);
    if (this.tick === undefined && !this.beating) this.arm(this.everyMs);
    if (this.unlisten === undefined) this.listen();
  }

  /**
   * Goes on keeping the lease of a run this process stopped driving while calls of its user code
   * are still in flight here (see `RunHost.halted`), until `landed` resolves; then resolves whether
   * the lease is still this process's to give back (neither lost nor left to expire by
   * {@link LeaseKeeper.stop}). Until those calls land their effects are unknown: a lease left to
   * lapse meanwhile would let another process run the stage again beside them.
   */
  keepUntil(runId: string, lease: LeaseToken, landed: Promise<void>): Promise<boolean> {
    let lost = false;
    // Only the lease: a run no longer driven here takes no cancel or signal (they stay in the store for its next owner).
    const kept: KeptRun = {
      runId,
      lease,
      lost: () => {
        lost = true;
      },
      cancelRequested: () => undefined,
    };
    this.hold(kept);
    return landed.then(() => {
      this.drop(runId, kept);
      return !lost && !this.stopped;
    });
  }

  /** Stops keeping a run's lease (it settled, or this process stopped driving it). */
  drop(runId: string, run?: KeptRun): void {
    if (run !== undefined && this.held.get(runId) !== run) return;
    this.held.delete(runId);
    // A test clock must not be left with a heartbeat to jump to; real time lets the timer lapse.
    if (this.held.size === 0 && this.scheduler !== asyncScheduler) {
      this.tick?.cancel();
      this.tick = undefined;
    }
  }

  /** Beats now rather than at the next period. */
  beatNow(): void {
    if (this.stopped || this.held.size === 0) return;
    if (this.beating) {
      this.again = true;
      return;
    }
    this.tick?.cancel();
    this.tick = undefined;
    void this.beat();
  }

  /** Stops beating and listening for good. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.held.clear();
    this.tick?.cancel();
    this.tick = undefined;
    // A listen still being set up is not waited for: against a server gone silent it may never
    // be, and stop() (so close() and a worker's stop()) would wait for ever. Once it is set up, it
    // sees `stopped` and unsubscribes at once (listen()).
    const unlisten = this.listening;
    this.listening = undefined;
    this.unlisten = undefined;
    await unlisten?.().catch(() => undefined);
  }

  private arm(delayMs: number): void {
    this.tick = later(this.timers, delayMs, () => {
      this.tick = undefined;
      // Nothing held any more: let the timer lapse; the next hold arms it again.
      if (this.held.size > 0) void this.beat();
    });
  }

  private async beat(): Promise<void> {
    this.beating = true;
    let nextMs = this.everyMs;
    try {
      await this.beatOnce();
      this.failures = 0;
    } catch (error) {
      this.failures++;
      this.report(error, { operation: 'heartbeat', retryCount: this.failures });
      // The same backoff as every retry, capped at the period: the lease must not run out meanwhile.
      const policy = { maxAttempts: Infinity, initialDelayMs: this.backoff.initialDelayMs, backoffFactor: 2, maxDelayMs: this.backoff.maxDelayMs, jitter: true };
      nextMs = Math.min(this.everyMs, retryDelayMs(policy, this.failures, this.random));
    } finally {
      this.beating = false;
    }
    if (this.stopped || this.held.size === 0) return;
    if (this.again) {
      this.again = false;
      nextMs = 0;
    }
    this.arm(nextMs);
  }

  private async beatOnce(): Promise<void> {
    const runs = [...this.held.values()];
    if (runs.length === 0) return;
    const result = await this.store.heartbeat(
      this.owner,
      runs.map((run) => ({ runId: run.runId, lease: run.lease })),
      this.leaseMs,
    );
    const sent = new Map(runs.map((run) => [run.runId, run]));
    for (const runId of result.lost) {
      const run = sent.get(runId);
      // Only the run we beat for: it may have settled, or been picked up again, meanwhile.
      if (run === undefined || this.held.get(runId) !== run) continue;
      this.held.delete(runId);
      run.lost(new LeaseLostError(runId, this.owner, run.lease.epoch));
    }
    for (const request of result.cancelRequests) this.held.get(request.runId)?.cancelRequested(request.reason);
    const signals = result.signalRequests;
    if (signals !== undefined) for (const request of signals) this.held.get(request.runId)?.signalRequested?.(request);
  }

  /** On a store that announces cancel requests, beat as soon as one is announced for a held run. */
  private listen(): void {
    const store = this.store;
    if (!supportsWorkers(store)) {
      this.unlisten = Promise.resolve(undefined);
      return;
    }
    this.unlisten = store
      .onWork((signal) => {
        if (signal.kind === 'cancel_requested' && signal.runId !== undefined && this.held.has(signal.runId)) this.beatNow();
      })
      .then(
        (unlisten) => {
          if (!this.stopped) {
            this.listening = unlisten;
            return unlisten;
          }
          void unlisten().catch(() => undefined);
          return undefined;
        },
        (error: unknown) => {
          // Without announcements, cancel requests still arrive with the next beat.
          this.report(error, { operation: 'listen' });
          return undefined;
        },
      );
  }
}

/**
 * Runs `work` after `delayMs` on the scheduler. In real time (RxJS's `asyncScheduler`) the timer
 * is unreferenced: a heartbeat alone never keeps a process alive.
 */
function later(scheduler: SchedulerLike, delayMs: number, work: () => void): Tick {
  if (scheduler === asyncScheduler) return setLongTimeout(delayMs, work, { unref: true });
  const subscription = scheduleAfter(scheduler, delayMs, work);
  return { cancel: () => subscription.unsubscribe() };
}
