import { createOrchestrator, describeWait, foldJournal, RunNotFoundError, type LeaseInfo, type RunState, type SagaEvent, type SagaOutcome, type StageRecord } from '../../index.js';
import { ExitCode } from '../exit-codes.js';
import { compactJson, errorText, formatOffset, formatTime, printable, table } from '../format.js';
import { describeEvent } from '../describe-event.js';
import { writeLines, type CliIo } from '../io.js';
import { openStore } from '../store-url.js';
import { noSuchRun, resolveRunId } from '../resolve-run-id.js';

/** Options of `sagaflow show`. */
export interface ShowCommandOptions {
  /** The store URL. */
  readonly store: string;
  /** Print the run's journal as NDJSON events instead. */
  readonly json?: boolean;
}

/**
 * `sagaflow show <runId>`: the run's outcome (from `orchestrator.inspect`) and a timeline of
 * every stage and compensation (from its journal).
 *
 * @throws {@link CliUsageError} for an unknown run id or a missing store.
 */
export async function showCommand(runId: string, options: ShowCommandOptions, io: CliIo): Promise<ExitCode> {
  const store = await openStore(options.store, { mustExist: true });
  try {
    const orchestrator = createOrchestrator({ store });
    runId = await resolveRunId(store, runId);
    let outcome: SagaOutcome;
    try {
      outcome = await orchestrator.inspect(runId);
    } catch (error) {
      if (error instanceof RunNotFoundError) throw noSuchRun(store, runId, { cause: error });
      throw error;
    }
    const journal = (await store.load(runId)) ?? [];
    await orchestrator.close();
    // Who drives an unfinished run: a run whose process was killed looks just like a driven one.
    const lease = UNFINISHED.has(outcome.status) ? await store.leaseOf(runId).catch(() => undefined) : undefined;
    if (options.json === true) {
      writeLines(io.stdout, journal.map((event) => JSON.stringify(event)));
      return ExitCode.Completed;
    }
    // Each line printable: reasons and error messages in it come from outside (see printable).
    writeLines(io.stdout, [...header(outcome, journal, lease), '', 'Timeline', ...timeline(journal), '', 'Stages', ...stageTable(outcome, journal)].map(printable));
    return ExitCode.Completed;
  } finally {
    await store.close();
  }
}

/** The statuses of a run that some process should be driving. */
const UNFINISHED: ReadonlySet<string> = new Set(['queued', 'running', 'compensating']);

/**
 * Who holds an unfinished run's lease, and what that means for an operator. A run submitted to
 * workers is theirs with or without a lease: a worker parks a run that only waits (no lease, by
 * design) and takes over one whose worker died, so nothing is to be resumed by hand.
 */
function ownerText(outcome: SagaOutcome, lease: LeaseInfo | undefined, submitted: boolean, waits: readonly string[]): string {
  const runId = outcome.runId;
  const resume = `'npx sagaflow resume ${runId} --sagas <module>' (or recover()) continues it`;
  if (lease === undefined) {
    if (!submitted) return `nobody holds it: ${resume}`;
    return waits.length > 0
      ? `nobody: the workers have it, parked while it waits (${waits.join('; ')}); a worker claims it again when that is due or a signal or cancel arrives for it (nothing to resume)`
      : `nobody: the workers have it, queued for the next claim by a worker with saga '${outcome.saga}' v${outcome.version} (start one with 'npx sagaflow worker --sagas <module>' if none runs; nothing to resume)`;
  }
  const until = new Date(lease.expiresAt).toISOString();
  if (submitted) {
    return lease.live
      ? `${lease.owner} holds its lease until ${until}: it renews it while it drives the run; if that worker died, another worker takes the run over after then`
      : `nobody live: the lease of ${lease.owner} expired at ${until} (its worker stopped); the next worker to claim takes it over (nothing to resume)`;
  }
  return lease.live
    ? `${lease.owner} holds its lease until ${until}: it renews it while it drives the run; if that process died, ${resume} after then`
    : `nobody live: the lease of ${lease.owner} expired at ${until} (its process stopped); ${resume}`;
}

function header(outcome: SagaOutcome, journal: readonly SagaEvent[], lease: LeaseInfo | undefined): string[] {
  const start = journal[0]?.at ?? 0;
  const end = journal[journal.length - 1]?.at ?? start;
  const first = journal[0];
  const state = first?.type === 'run.started' ? foldJournal(journal) : undefined;
  const waits = [...(state?.waits ?? [])].map(([stage, wait]) => `${stage} waits for ${describeWait(wait)}`);
  const submitted = first?.type === 'run.started' && first.submitted === true;
  const rows: string[][] = [
    ['saga', `${outcome.saga} v${outcome.version}`],
    ['status', outcome.status],
    ...(UNFINISHED.has(outcome.status) ? [['owner', ownerText(outcome, lease, submitted, waits)]] : []),
    ['started', `${formatTime(start)} (last event ${formatOffset(end, start)}, ${journal.length} event${journal.length === 1 ? '' : 's'})`],
    ['input', compactJson(outcome.input, 120)],
  ];
  if (outcome.failure !== undefined) rows.push(['failure', `${outcome.failure.stage}: ${errorText(outcome.failure.error)}`]);
  if (outcome.cancellation !== undefined) {
    rows.push(['cancelled', `${outcome.cancellation.reason}${outcome.cancellation.by === 'external' ? '' : ` (by stage ${outcome.cancellation.by})`}`]);
  }
  rows.push(...waits.map((wait) => ['waiting', wait]), ...bufferedRows(state));
  if (outcome.completionOrder.length > 0) rows.push(['completed', outcome.completionOrder.join(', ')]);
  if (outcome.compensationOrder.length > 0) rows.push(['rolled back', outcome.compensationOrder.join(', ')]);
  return [`Run ${outcome.runId}`, ...table(rows, '  ')];
}

/** The signals the run holds buffered (no stage waits for them yet): read from the fold. */
function bufferedRows(state: RunState | undefined): string[][] {
  const rows: string[][] = [];
  for (const signal of state?.signals?.values() ?? []) {
    if (signal.stage === undefined) rows.push(['buffered', `signal '${signal.signal}' (${signal.signalId}), received ${formatTime(signal.at)}`]);
  }
  return rows;
}

/** One line per event, with its time from the run's start. */
function timeline(journal: readonly SagaEvent[]): string[] {
  const start = journal[0]?.at ?? 0;
  return table(
    journal.map((event) => {
      const [subject, what] = describeEvent(event);
      return [formatOffset(event.at, start), subject, what];
    }),
    '  ',
  );
}

/** Per stage: status, attempts, start and end, output or error; its compensation below it. */
function stageTable(outcome: SagaOutcome, journal: readonly SagaEvent[]): string[] {
  const start = journal[0]?.at ?? 0;
  const at = (time: number | undefined): string => (time === undefined ? '' : formatOffset(time, start));
  const rows: string[][] = [['STAGE', 'STATUS', 'ATTEMPTS', 'STARTED', 'ENDED', 'OUTPUT / ERROR']];
  for (const [name, record] of Object.entries(outcome.stages)) {
    rows.push([name, record.status, String(record.attempts), at(record.startedAt), at(record.endedAt), detail(record)]);
    const compensation = record.compensation;
    if (compensation !== undefined) {
      rows.push([
        '',
        '↳ compensation',
        String(compensation.attempts),
        at(compensation.startedAt),
        at(compensation.endedAt),
        compensation.error === undefined ? '' : errorText(compensation.error),
      ]);
    }
  }
  return table(rows, '  ');
}

function detail(record: StageRecord): string {
  if (record.error !== undefined) return errorText(record.error);
  if (record.cancelReason !== undefined) return `cancelled: ${record.cancelReason}`;
  if (record.output !== undefined) return compactJson(record.output, 90);
  return '';
}
