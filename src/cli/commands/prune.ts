import type { RunStatus, RunSummary, SagaStore } from '../../index.js';
import { CliUsageError, ExitCode } from '../exit-codes.js';
import { formatTime, orList, table } from '../format.js';
import { writeLines, type CliIo } from '../io.js';
import { parseOlderThan } from '../older-than.js';
import { parseRunStatus } from '../run-status.js';
import { openStore } from '../store-url.js';

/** Options of `sagaflow prune`. */
export interface PruneCommandOptions {
  /** The store URL. */
  readonly store: string;
  /** A duration (`30d`) or an ISO date: runs last written before it. */
  readonly olderThan: string;
  /** Only runs in these statuses (comma-separated). */
  readonly status?: string;
  /** List what would be deleted; delete nothing. */
  readonly dryRun?: boolean;
  /** NDJSON instead of text. */
  readonly json?: boolean;
}

/** What a store prunes when no status is named: runs that ended and need nobody. */
export const DEFAULT_PRUNED_STATUSES: readonly RunStatus[] = ['completed', 'compensated', 'cancelled'];
const PRUNABLE: readonly RunStatus[] = ['completed', 'compensated', 'cancelled', 'paused', 'compensation_failed'];
const PAGE = 1_000;

/**
 * `sagaflow prune --older-than 30d`: deletes finished runs (and their journals) last written
 * before a cut-off, with `store.prune`; `--dry-run` lists them instead.
 *
 * @remarks
 * By default only `completed`, `compensated` and `cancelled` runs are pruned; `paused` and
 * `compensation_failed` runs wait for an operator and are pruned only when `--status` names them.
 * Unfinished runs are never pruned.
 *
 * @throws {@link CliUsageError} for a bad `--older-than`, an unknown or unfinished status, or a
 * missing store.
 */
export async function pruneCommand(options: PruneCommandOptions, io: CliIo): Promise<ExitCode> {
  const olderThan = parseOlderThan(options.olderThan, Date.now());
  const statuses = options.status === undefined ? DEFAULT_PRUNED_STATUSES : parseStatuses(options.status);
  const store = await openStore(options.store, { mustExist: true });
  try {
    const what = `${orList(statuses)} runs last written before ${formatTime(olderThan)}`;
    if (options.dryRun === true) {
      const runs = await unleased(store, await prunable(store.listRuns.bind(store), statuses, olderThan));
      if (options.json === true) {
        writeLines(io.stdout, runs.map((run) => JSON.stringify(run)));
        return ExitCode.Completed;
      }
      if (runs.length === 0) {
        writeLines(io.stdout, [`No ${what} in ${store.description}: nothing to prune.`]);
        return ExitCode.Completed;
      }
      writeLines(io.stdout, [
        ...table([['RUN ID', 'SAGA', 'STATUS', 'LAST EVENT'], ...runs.map((run) => [run.runId, run.saga, run.status, formatTime(run.updatedAt)])]),
        '',
        `Would prune ${count(runs.length)} (${what}) from ${store.description}; nothing was deleted (run without --dry-run to delete them).`,
      ]);
      return ExitCode.Completed;
    }
    const pruned = await store.prune({ olderThan, statuses });
    if (options.json === true) {
      writeLines(io.stdout, [JSON.stringify({ pruned, olderThan, statuses })]);
    } else {
      writeLines(io.stdout, [`Pruned ${count(pruned)} (${what}) from ${store.description}.`]);
    }
    return ExitCode.Completed;
  } finally {
    await store.close();
  }
}

function parseStatuses(value: string): RunStatus[] {
  const statuses = value.split(',').map((part) => parseRunStatus(part.trim(), '--status'));
  const unfinished = statuses.filter((status) => !PRUNABLE.includes(status));
  if (unfinished.length > 0) {
    throw new CliUsageError(`--status ${orList(unfinished)}: unfinished runs are never pruned; prune takes ${orList(PRUNABLE)}.`);
  }
  return [...new Set(statuses)];
}

/** The runs prune would delete, oldest id first. */
async function prunable(listRuns: (query: { status: readonly RunStatus[]; limit: number; afterRunId?: string }) => Promise<readonly RunSummary[]>, statuses: readonly RunStatus[], olderThan: number): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  let afterRunId: string | undefined;
  for (;;) {
    const page = await listRuns({ status: statuses, limit: PAGE, ...(afterRunId === undefined ? {} : { afterRunId }) });
    runs.push(...page.filter((run) => run.updatedAt < olderThan));
    if (page.length < PAGE) return runs;
    afterRunId = page[page.length - 1]?.runId;
  }
}

/**
 * The runs `store.prune` deletes of those it would select: not a run under a live lease. A settled
 * run is leased only when a process has taken it over to redrive or compensate it (a `paused` or
 * `compensation_failed` one) and has yet to append, and prune keeps it; only those statuses are
 * looked up (one lease read per run listed).
 */
async function unleased(store: Pick<SagaStore, 'leaseOf'>, runs: readonly RunSummary[]): Promise<RunSummary[]> {
  const kept: RunSummary[] = [];
  for (const run of runs) {
    const takeable = run.status === 'paused' || run.status === 'compensation_failed';
    if (!takeable || (await store.leaseOf(run.runId))?.live !== true) kept.push(run);
  }
  return kept;
}

const count = (n: number): string => `${n} run${n === 1 ? '' : 's'}`;
