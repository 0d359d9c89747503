import { setTimeout as sleepFor } from 'node:timers/promises';

/**
 * Which stage of a demo should fail, and how: the demos' fault injection. It lives in the
 * process that runs the demo, so a run redriven later by another process (the operator's
 * `sagaflow redrive`) sees the outage over.
 */
export interface FaultPlan {
  /** The stage whose every attempt fails (a persistent outage). */
  readonly failAt?: string;
}

/** A simulated outage of an outside system (retryable, like a real one). */
export class SimulatedOutageError extends Error {
  override readonly name = 'SimulatedOutageError';
}

/** Throws a {@link SimulatedOutageError} when the plan says this stage fails. */
export function injectFault(plan: FaultPlan | undefined, stage: string, system: string): void {
  if (plan?.failAt === stage) throw new SimulatedOutageError(`${system} is unavailable (simulated outage at '${stage}')`);
}

/** Waits like a remote call would, and gives up at once when `signal` aborts. */
export async function latency(ms: number, signal: AbortSignal): Promise<void> {
  await sleepFor(ms, undefined, { signal });
}

/** Resolves never, until `signal` aborts: a call whose answer is lost. */
export function hangUntilAborted(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_resolve, reject) => {
    const onAbort = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
