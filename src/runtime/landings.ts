import type { LeaseToken } from '../stores/saga-store.js';
import type { LeaseKeeper } from './lease-keeper.js';
import { settleWithin } from './settle-within.js';

/**
 * The runs a process stopped driving while calls of their user code were still in flight (see
 * `RunHost.halted`): each keeps its lease, heartbeated, until those calls land, and is given back
 * then. Shared by the orchestrator and the worker.
 *
 * @internal
 */
export class Landings {
  private readonly pending = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly keeper: LeaseKeeper) {}

  /** Keeps `lease` until `landed` resolves, then calls `giveBack`, unless the lease was lost or {@link close} came first. */
  add(runId: string, lease: LeaseToken, landed: Promise<void>, giveBack: () => void): void {
    const landing = this.keeper.keepUntil(runId, lease, landed).then((ours) => {
      if (ours && !this.closed) giveBack();
    });
    this.pending.add(landing);
    void landing.then(() => this.pending.delete(landing));
  }

  /**
   * For `close()`/`stop()`: gives the calls in flight one turn of the event loop to land (a stage
   * that honours its aborted signal has by then), so that their runs are given back now; a run
   * whose calls land later keeps its lease until it expires.
   */
  async close(): Promise<void> {
    await settleWithin(Promise.all(this.pending), 0);
    this.closed = true;
  }
}
