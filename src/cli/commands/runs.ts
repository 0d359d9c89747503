import { serializeError, type LeaseInfo, type RunStatus, type RunSummary, type SagaStore } from '../../index.js';
import { CliUsageError, ExitCode } from '../exit-codes.js';
import { errorText, formatTime, orList, printable, table } from '../format.js';
import { writeLines, type CliIo } from '../io.js';
import { uniqueRunIdPrefixes } from '../resolve-run-id.js';
import { parseRunStatus } from '../run-status.js';
import { openStore } from '../store-url.js';

/** Options of `sagaflow runs`. */
export interface RunsCommandOptions {
  /** The store URL. */
  readonly store: string;
  /** Only runs in these statuses (comma-separated). */
  readonly status?: string;
  /** Only runs of this saga. */
  readonly saga?: string;
  /** At most this many of the newest runs. */
  readonly limit?: string;
  /** NDJSON rows instead of a table. */
  readonly json?: boolean;
}

const PAGE = 1_000;

/**
 * `sagaflow runs`: lists the runs in a store, oldest first, the newest `--limit` of them.
 *
 * @throws {@link CliUsageError} for an unknown status, a bad limit, or a missing store.
 */
export async function runsCommand(options: RunsCommandOptions, io: CliIo): Promise<ExitCode> {
  const statuses: RunStatus[] | undefined = options.status?.split(',').map((value) => parseRunStatus(value.trim(), '--status'));
  const limit = parseLimit(options.limit);
  const store = await openStore(options.store, { mustExist: true });
  try {
    // Runs come back in id order (uuid v7: oldest first); keep the newest `limit`.
    const runs: RunSummary[] = [];
    // The run just before the newest `limit`: the neighbour the first listed id is told apart from.
    let before: string | undefined;
    let afterRunId: string | undefined;
    for (;;) {
      const page = await store.listRuns({
        ...(statuses === undefined ? {} : { status: statuses }),
        ...(options.saga === undefined ? {} : { saga: options.saga }),
        limit: PAGE,
        ...(afterRunId === undefined ? {} : { afterRunId }),
      });
      runs.push(...page);
      if (runs.length > limit) before = runs.splice(0, runs.length - limit).at(-1)?.runId;
      if (page.length < PAGE) break;
      afterRunId = page[page.length - 1]?.runId;
    }
    if (options.json === true) {
      writeLines(io.stdout, runs.map((run) => JSON.stringify(run)));
      return ExitCode.Completed;
    }
    if (runs.length === 0) {
      const filters = [
        ...(options.saga === undefined ? [] : [`of saga '${options.saga}'`]),
        ...(statuses === undefined ? [] : [`with status ${orList(statuses)}`]),
      ];
      const others = options.saga === undefined ? [] : await otherSagas(store, options.saga);
      const hint = others.length === 0 ? '' : `; sagas with runs there: ${others.map((name) => `'${printable(name)}'`).join(', ')}`;
      writeLines(io.stdout, [`No runs${filters.length === 0 ? '' : ` ${filters.join(' ')}`} in ${store.description}${hint}.`]);
      return ExitCode.Completed;
    }
    // Who drives each run that is going (as `show` says for one): a column only when one is listed.
    const owners = await ownersOf(store, runs);
    // On a terminal, the start of each id that the commands taking a run id need is shown bold.
    const color = io.stdout.isTTY === true && process.env['NO_COLOR'] === undefined;
    const prefixes = color
      ? await uniqueRunIdPrefixes(
          store,
          runs.map((run) => run.runId),
          { before, complete: statuses === undefined && options.saga === undefined },
        )
      : undefined;
    const idCell = (runId: string): string => {
      const length = prefixes?.get(runId);
      if (length === undefined) return runId;
      return `\u001b[1m${runId.slice(0, length)}\u001b[0m${length < runId.length ? `\u001b[2m${runId.slice(length)}\u001b[0m` : ''}`;
    };
    writeLines(
      io.stdout,
      table([
        ['RUN ID', 'SAGA', 'STATUS', 'EVENTS', 'STARTED', 'LAST EVENT', ...(owners === undefined ? [] : ['OWNER'])],
        ...runs.map((run) => [
          idCell(run.runId),
          run.saga,
          run.status,
          String(run.events),
          formatTime(run.createdAt),
          formatTime(run.updatedAt),
          ...(owners === undefined ? [] : [owners.get(run.runId) ?? '']),
        ]),
      ]),
    );
    return ExitCode.Completed;
  } finally {
    await store.close();
  }
}

/** How many of the newest runs {@link otherSagas} looks at. */
const SAGAS_SAMPLED = 1_000;

/**
 * The sagas of the store's newest runs, sorted, when `saga` is not among them (else none): for a
 * `--saga` that listed nothing, the names a misspelt one was meant to be. One query of the newest
 * {@link SAGAS_SAMPLED} runs, not a scan of the store.
 */
async function otherSagas(store: SagaStore, saga: string): Promise<string[]> {
  const names = new Set((await store.listRuns({ order: 'desc', limit: SAGAS_SAMPLED })).map((run) => run.saga));
  return names.has(saga) ? [] : [...names].sort();
}

/** The statuses of a run some process drives: its lease says which one (`show` has the same). */
const DRIVEN: ReadonlySet<RunStatus> = new Set(['running', 'compensating']);

/**
 * What the OWNER column says for each listed run that is running or compensating, or `undefined`
 * when none is (the column is left out): the live owner and until when, or that nobody live holds
 * it (its process stopped: `resume` or `recover()` continues it), or that its lease could not be
 * read (never 'nobody' then: that would send an operator to resume a run someone drives). One
 * lease read per such run.
 *
 * @internal
 */
export async function ownersOf(store: Pick<SagaStore, 'leaseOf'>, runs: readonly RunSummary[]): Promise<Map<string, string> | undefined> {
  const driven = runs.filter((run) => DRIVEN.has(run.status));
  if (driven.length === 0) return undefined;
  const owners = new Map<string, string>();
  for (const run of driven) {
    owners.set(
      run.runId,
      await store.leaseOf(run.runId).then(
        (lease) => ownerCell(lease, run.submitted),
        (error: unknown) => `unknown (its lease could not be read: ${errorText(serializeError(error))})`,
      ),
    );
  }
  return owners;
}

/** A submitted run without a live lease is the workers' (parked, queued, or taken over at the next claim), not a run to resume. */
function ownerCell(lease: LeaseInfo | undefined, submitted: boolean): string {
  if (lease?.live === true) return `${printable(lease.owner)} (until ${formatTime(lease.expiresAt)})`;
  if (submitted) return lease === undefined ? 'workers (parked or queued)' : `workers (${printable(lease.owner)}'s lease ran out ${formatTime(lease.expiresAt)}: a worker takes it over)`;
  return lease === undefined ? 'nobody' : `nobody live (${printable(lease.owner)}'s lease ran out ${formatTime(lease.expiresAt)})`;
}

function parseLimit(value: string | undefined): number {
  if (value === undefined) return 100;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new CliUsageError(`--limit takes a whole number of runs (1 or more), not '${value}'.`);
  }
  return limit;
}
