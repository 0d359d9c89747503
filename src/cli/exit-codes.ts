import type { RunStatus } from '../index.js';

/**
 * The CLI's exit codes.
 *
 * @remarks
 * - `Completed` (0): the run completed, or the command did what was asked.
 * - `NotCompleted` (1): the run ended rolled back (`compensated`), `cancelled`, `paused` or
 *   `compensation_failed`.
 * - `Usage` (2): the CLI could not do what was asked: a usage error or bad input (unknown saga,
 *   stage, run id or store URL, unreachable database, module without sagas), reported as one line.
 */
export const ExitCode = {
  Completed: 0,
  NotCompleted: 1,
  Usage: 2,
} as const;

/** One of the values of {@link ExitCode}. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * A problem the user can fix: the CLI prints its message as one line and exits with
 * {@link ExitCode.Usage}. The message says what is wrong and what to do.
 */
export class CliUsageError extends Error {
  /** Always `'CliUsageError'`. */
  override readonly name = 'CliUsageError';

  /**
   * @param message - one sentence: what is wrong, and what to do about it.
   * @param options - `cause`: the underlying error.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The exit code of a run that settled with `status`. */
export function exitCodeFor(status: RunStatus): ExitCode {
  switch (status) {
    case 'completed':
      return ExitCode.Completed;
    case 'compensated':
    case 'cancelled':
    case 'paused':
    case 'compensation_failed':
      return ExitCode.NotCompleted;
    case 'queued':
    case 'running':
    case 'compensating':
      // A handle's outcome only resolves once the run settles; a live status here means the
      // run was left in place (e.g. the orchestrator closed), which is not a completion.
      return ExitCode.NotCompleted;
  }
}
