import { v5 as uuidv5 } from 'uuid';

/** The uuid v5 namespace of sagaflow's idempotency keys (a fixed, random uuid). */
const NAMESPACE = '5b0f3c52-9d3e-4b8e-a3f1-6c1d2e7f9a40';

/**
 * The idempotency key of a stage's `execute` in a run: uuid v5 of the run id and stage name,
 * so it is the same across retries, crashes, resumes and redrives, and in every process.
 */
export function executeKey(runId: string, stage: string): string {
  return uuidv5(`${runId}\u0000${stage}\u0000execute`, NAMESPACE);
}

/** The idempotency key of a stage's `compensate` in a run: stable, and different from its execute key. */
export function compensateKey(runId: string, stage: string): string {
  return uuidv5(`${runId}\u0000${stage}\u0000compensate`, NAMESPACE);
}
