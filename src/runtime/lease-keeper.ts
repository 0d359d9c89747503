import { defer, exhaustMap, merge, retry, Subject, timer, type SchedulerLike, type Subscription } from 'rxjs';
import { LeaseLostError } from '../errors/store-errors.js';
import type { LeaseToken, SagaStore } from '../stores/saga-store.js';
import { supportsWorkers } from '../stores/work-queue.js';
import { backoffNotifier, type BackoffPolicy } from './backoff.js';

/** A run whose lease a process keeps, and what it does when the lease is lost or a cancel is requested. */
export interface KeptRun {
  readonly runId: string;
  readonly lease: LeaseToken;
  /** Another process took the run over: stop driving it, write nothing more. */
  lost(error: LeaseLostError): void;
  /** `orchestrator.cancel(runId)` was called elsewhere: cancel the run. */
  cancelRequested(reason: string): void;
}

/** What the keeper reports: a heartbeat that failed (it is retried). */
export type LeaseProblemReporter = (error: unknown, context: { readonly operation: 'heartbeat' | 'listen'; readonly retryCount?: number }) => void;

/**
 * Keeps the leases of every run one owner (an orchestrator or a worker) drives: heartbeats every
 * `leaseMs / 3` while it holds any, reports lost leases and carries cancel requests to their runs.
 *
 * @remarks
 * One heartbeat call covers every held run. The beat runs only while runs are held, so an idle
 * orchestrator has no timer keeping the process alive. On a store that announces cancel requests
 * (`PostgresStore`), an announcement triggers a beat at once, so a cancel from another process is
 * carried out within a round trip rather than a heartbeat period.
 */
export class LeaseKeeper {
  private readonly held = new Map<string, KeptRun>();
  private readonly beatNow$ = new Subject<void>();
  private beating: Subscription | undefined;
  private unlisten: Promise<(() => Promise<void>) | undefined> | undefined;
  private stopped = false;

  constructor(
    private readonly store: SagaStore,
    readonly owner: string,
    readonly leaseMs: number,
    private readonly scheduler: SchedulerLike,
    private readonly backoff: BackoffPolicy,
    private readonly random: () => number,
    private readonly report: LeaseProblemReporter,
  ) {}

  /** The runs held now. */
  get runs(): readonly string[] {
    return [...this.held.keys()];
  }

  /** Starts keeping a run's lease. */
  hold(run: KeptRun): void {
    if (this.stopped) return;
    this.held.set(run.runId, run);
    if (this.beating === undefined) this.startBeating();
  }

  /** Stops keeping a run's lease (it settled, or this process stopped driving it). */
  drop(runId: string, run?: KeptRun): void {
    if (run !== undefined && this.held.get(runId) !== run) return;
    this.held.delete(runId);
    if (this.held.size === 0) this.stopBeating();
  }

  /** Beats now rather than at the next period. */
  beatNow(): void {
    this.beatNow$.next();
  }

  /** Stops beating and listening for good. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.held.clear();
    this.stopBeating();
    const unlisten = await this.unlisten;
    this.unlisten = undefined;
    await unlisten?.().catch(() => undefined);
  }

  private startBeating(): void {
    const everyMs = Math.max(1, Math.floor(this.leaseMs / 3));
    // Retries stay within one period, so a lease is never left to run out while a beat waits.
    const cap: BackoffPolicy = { initialDelayMs: Math.min(this.backoff.initialDelayMs, everyMs), maxDelayMs: Math.min(this.backoff.maxDelayMs, everyMs) };
    this.beating = merge(timer(everyMs, everyMs, this.scheduler), this.beatNow$)
      .pipe(
        exhaustMap(() =>
          defer(() => this.beat()).pipe(
            retry({ delay: backoffNotifier(cap, this.random, this.scheduler, (error, retryCount) => this.report(error, { operation: 'heartbeat', retryCount })) }),
          ),
        ),
      )
      .subscribe();
    this.listen();
  }

  private stopBeating(): void {
    this.beating?.unsubscribe();
    this.beating = undefined;
  }

  /** On a store that announces cancel requests, beat as soon as one is announced for a held run. */
  private listen(): void {
    const store = this.store;
    if (this.unlisten !== undefined || !supportsWorkers(store)) return;
    this.unlisten = store
      .onWork((signal) => {
        if (signal.kind === 'cancel_requested' && signal.runId !== undefined && this.held.has(signal.runId)) this.beatNow();
      })
      .then(
        (unlisten) => {
          if (!this.stopped) return unlisten;
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

  private async beat(): Promise<void> {
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
    if (this.held.size === 0) this.stopBeating();
  }
}
