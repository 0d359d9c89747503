import type { RunStatus } from '../index.js';
import { CliUsageError } from './exit-codes.js';
import { orList } from './format.js';

/** Every run status, in the order a listing explains them. */
export const RUN_STATUSES = [
  'queued',
  'running',
  'compensating',
  'completed',
  'compensated',
  'cancelled',
  'paused',
  'compensation_failed',
] as const satisfies readonly RunStatus[];

// Fails to compile when RunStatus gains a member this list lacks.
const everyStatusListed: Exclude<RunStatus, (typeof RUN_STATUSES)[number]> extends never ? true : never = true;
void everyStatusListed;

/**
 * Checks a status given on the command line.
 *
 * @throws {@link CliUsageError} naming the option and the statuses it takes.
 */
export function parseRunStatus(value: string, option: string): RunStatus {
  const status = RUN_STATUSES.find((candidate) => candidate === value);
  if (status === undefined) throw new CliUsageError(`Unknown run status '${value}' for ${option}: use ${orList(RUN_STATUSES)}.`);
  return status;
}
