import type { SchedulerLike } from 'rxjs';
import type { SagaStore } from '../stores/saga-store.js';
import type { BackoffPolicy } from './backoff.js';
import type { Instrumentation } from './instrumentation.js';
import type { InterpreterEnvironment } from './interpreter.js';
import { LeaseKeeper, type LeaseProblemReporter } from './lease-keeper.js';

/** What makes a process an owner of runs: an orchestrator's options, or a worker's. */
export interface RunOwnerOptions {
  readonly store: SagaStore;
  /** The owner's id, stored with every lease it holds. */
  readonly owner: string;
  readonly leaseMs: number;
  readonly scheduler: SchedulerLike;
  readonly random: () => number;
  /** How a failed heartbeat is retried. */
  readonly backoff: BackoffPolicy;
  readonly instrumentation: Instrumentation | undefined;
  /** Where problems that stop no run go: a throwing hook, a failed heartbeat. */
  readonly report: (error: unknown, context: { readonly operation: 'instrumentation' | 'heartbeat' | 'listen'; readonly runId?: string; readonly retryCount?: number }) => void;
}

/**
 * A process that owns runs — an orchestrator or a worker: what every run it drives shares (the
 * interpreters' environment) and the keeper of the leases it holds.
 *
 * @internal
 */
export class RunOwner {
  readonly environment: InterpreterEnvironment;
  readonly keeper: LeaseKeeper;

  constructor(options: RunOwnerOptions) {
    const report = options.report;
    this.environment = {
      store: options.store,
      scheduler: options.scheduler,
      random: options.random,
      instrumentation: options.instrumentation,
      report: (error, runId) => report(error, { operation: 'instrumentation', runId }),
    };
    const leaseProblem: LeaseProblemReporter = (error, context) => report(error, context);
    this.keeper = new LeaseKeeper(options.store, options.owner, options.leaseMs, options.scheduler, options.backoff, options.random, leaseProblem);
  }
}
