import { foldJournal, runErrorFor, SagaError, StoreUnavailableError, type LeaseInfo, type SagaEvent, type SagaOutcome, type SagaRun } from '../index.js';
import { leaseTimeLeft } from './lease-time-left.js';
import { DEFAULT_STORE_URL } from './defaults.js';
import { CliUsageError, exitCodeFor, type ExitCode } from './exit-codes.js';
import { printable } from './format.js';
import { writeLines, type CliIo } from './io.js';
import { maskUrl } from './mask-secrets.js';
import { RunProgress } from './progress.js';
import { onStopSignals, STOPPED_EXIT_CODE } from './stop-signals.js';
import { settlesWithin, STORE_GRACE_MS } from './store-grace.js';
import { shellWord } from './shell-word.js';

/** Options of {@link driveRun}. */
export interface DriveRunOptions {
  /** Where to write. */
  readonly io: CliIo;
  /** Print the run's events as NDJSON instead of progress. */
  readonly json: boolean;
  /** The saga's stage names, in declaration order. */
  readonly stageNames: readonly string[];
  /** Events below this `seq` were already in the journal (resume, redrive, compensate): not printed as NDJSON, shown as "so far". */
  readonly liveFromSeq?: number;
  /** Watch for Ctrl-C: the first cancels the run, the second leaves it where it is. Default true. */
  readonly handleInterrupts?: boolean;
  /**
   * What the first Ctrl-C does: `'cancel'` the run (default), or `'leave'` it as SIGTERM does, for
   * a command that is already cancelling it (`sagaflow cancel`).
   */
  readonly onCtrlC?: 'cancel' | 'leave';
  /** What the message on leaving says of the run after "stopping; ". Default: it is left as it is, and `sagaflow resume` continues it. */
  readonly leftNote?: string;
  /**
   * Stops driving the run and leaves it resumable (closing the orchestrator that drives it, which
   * gives its lease back): what SIGTERM does. Without it, SIGTERM leaves at once, as a second
   * Ctrl-C does.
   */
  readonly leave?: () => Promise<void>;
  /**
   * Where the run is kept and the module of its saga: when the store fails mid-run (locked, full,
   * unreachable), the error then says that the run stopped, resumable, and the command that
   * continues it. Without it (or on `memory:`), the store's error alone.
   */
  readonly resumeHints?: OutcomeHints & {
    /** The store's `leaseOf`: whether this process could give the run's lease back, and if not, until when it holds. */
    readonly leaseOf: (runId: string) => Promise<LeaseInfo | undefined>;
  };
}

/**
 * ` --store <url>` (the URL masked and shell-quoted) for a command printed about a run kept in
 * `store`; empty for the CLI's default store, which needs no flag.
 */
export function storeFlag(store: string): string {
  return store === DEFAULT_STORE_URL ? '' : ` --store ${shellWord(maskUrl(store))}`;
}

/** The {@link OutcomeHints} of a command on the store `store`, given `--sagas` (or a demo's module) or not. */
export function outcomeHints(store: string, sagasModule: string | undefined): OutcomeHints {
  return { store, defaultStore: store === DEFAULT_STORE_URL, ...(sagasModule === undefined ? {} : { sagasModule }) };
}

/** Where a run is kept and the module of its saga, for the commands printed about it (see {@link printOutcome}). */
export interface OutcomeHints {
  /** The store URL the run is in (`memory:` gets no follow-up commands: the run is gone with this process). */
  readonly store: string;
  /** Whether it is the CLI's default, so the commands need no `--store`. */
  readonly defaultStore: boolean;
  /** The module for `--sagas`. */
  readonly sagasModule?: string;
}

/**
 * Follows a run to its end: live progress (or NDJSON events), Ctrl-C to cancel, SIGTERM to leave
 * it resumable.
 *
 * @returns the run's outcome.
 * @throws {@link CliUsageError} when the run was refused (unknown run, wrong status, another
 * definition) or the store failed, with the library's one-sentence message.
 */
export async function driveRun(run: SagaRun, options: DriveRunOptions): Promise<SagaOutcome> {
  const { io, json } = options;
  const liveFromSeq = options.liveFromSeq ?? 0;
  const progress = json ? undefined : new RunProgress(io.stdout, options.stageNames, { tty: io.stdout.isTTY === true, liveFromSeq });
  // events$ completes once the run settles (or is no longer driven here), which ends the subscription.
  // Kept to say where the run stopped if the store fails (a CLI run is small).
  const seen: SagaEvent[] = [];
  const eventsDone = new Promise<void>((resolve) => {
    run.events$.subscribe({
      next: (event: SagaEvent) => {
        seen.push(event);
        if (progress !== undefined) progress.update(event);
        else if (event.seq >= liveFromSeq) io.stdout.write(`${JSON.stringify(event)}\n`);
      },
      error: () => resolve(),
      complete: () => resolve(),
    });
  });
  const interrupts = options.handleInterrupts === false ? undefined : watchInterrupts(run, io, options);
  try {
    const outcome = await run.outcome;
    await eventsDone;
    // Left on a signal meanwhile (a followed run's outcome resolves as its follower closes): the
    // process exits once the leave is done, with its code, not with this outcome's.
    if (interrupts?.leaving !== undefined) await interrupts.leaving;
    return outcome;
  } catch (error) {
    // Left on SIGTERM: the run's outcome rejects as the orchestrator closes; the process exits once it has.
    if (interrupts?.leaving !== undefined) await interrupts.leaving;
    if (!(error instanceof SagaError)) throw error;
    const hints = options.resumeHints;
    const stopped = isStoppedMidRun(seen, error, hints) ? await stoppedMidRun(run.runId, seen, hints, options.leave) : '';
    throw new CliUsageError(`${error.message}${stopped}`, { cause: error });
  } finally {
    interrupts?.stop();
    progress?.finish();
  }
}

/** Whether `error` stopped a stored run that `sagaflow resume` can continue (see {@link stoppedMidRun}). */
function isStoppedMidRun(seen: readonly SagaEvent[], error: SagaError, hints: DriveRunOptions['resumeHints']): hints is NonNullable<DriveRunOptions['resumeHints']> {
  return error instanceof StoreUnavailableError && hints !== undefined && !hints.store.startsWith('memory:') && seen[0]?.type === 'run.started';
}

/**
 * What an operator must know when the store failed while the run was under way here (the file
 * locked or full, the server gone): the run is stored and stopped where its journal ends, nothing
 * journaled is lost, and `sagaflow resume` continues it once the store is back — at once if this
 * process gave the run's lease back (it tries, for the store grace), else once the lease expires.
 * The store's own sentence ends "then retry", and running the same `start` again would start a
 * second run beside this one.
 */
async function stoppedMidRun(runId: string, seen: readonly SagaEvent[], hints: NonNullable<DriveRunOptions['resumeHints']>, leave: DriveRunOptions['leave']): Promise<string> {
  let inFlight: string[] = [];
  try {
    const state = foldJournal(seen);
    inFlight = [...state.stages].filter(([, stage]) => stage.status === 'running' || stage.compensation?.status === 'running').map(([name]) => `'${name}'`);
  } catch {
    // Only said when known.
  }
  // Gives the lease back if the store lets it (a lock released meanwhile); a read works even while the file is locked.
  await settlesWithin(leave?.() ?? Promise.resolve(), STORE_GRACE_MS);
  const lease = await hints.leaseOf(runId).catch(() => undefined);
  const when =
    lease?.live === true
      ? `once its lease, which this process could not give back, has expired (in ${Math.ceil(leaseTimeLeft(lease) / 1_000)} s, at ${new Date(lease.expiresAt).toISOString()})`
      : 'once the store can be written again';
  const where = inFlight.length === 0 ? '' : ` with ${inFlight.join(', ')} in flight`;
  return (
    ` Run ${runId} stopped here${where}; what it journaled is kept. Continue it with '${resumeCommand(runId, hints)}' ${when}` +
    ' (starting the saga again would start a second run beside it).'
  );
}

/** `npx sagaflow resume <runId> --sagas … [--store …]`, shell-quoted. */
function resumeCommand(runId: string, hints: OutcomeHints): string {
  const sagas = hints.sagasModule === undefined ? '--sagas <module>' : `--sagas ${shellWord(hints.sagasModule)}`;
  return `npx sagaflow resume ${runId} ${sagas}${hints.defaultStore ? '' : storeFlag(hints.store)}`;
}

/**
 * Ctrl-C (SIGINT), first: cancel the run and let it roll back. SIGTERM, first: leave the run as it
 * is, resumable (a supervisor stopping the process, a container's shutdown, `timeout`: a stop is
 * not a decision to undo the saga). Either, second: leave at once; the journal keeps the run
 * resumable.
 */
function watchInterrupts(
  run: SagaRun,
  io: CliIo,
  options: Pick<DriveRunOptions, 'leave' | 'onCtrlC' | 'leftNote'>,
): { readonly stop: () => void; readonly leaving: Promise<never> | undefined } {
  let interrupted = false;
  let leaving: Promise<never> | undefined;
  const resume = `'npx sagaflow resume ${run.runId} --sagas <module>'`;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      io.stderr.write(`\nLeft run ${run.runId} as it is: continue it later with ${resume}.\n`);
      process.exit(130);
    }
    interrupted = true;
    if (signal === 'SIGTERM' || options.onCtrlC === 'leave') {
      const note = options.leftNote ?? `run ${run.runId} is left as it is, to be resumed: ${resume} continues it (Ctrl-C cancels a run instead)`;
      io.stderr.write(`\n${signal}: stopping; ${note}\n`);
      // A store that does not answer must not hold the process: the lease then expires on its own.
      leaving = settlesWithin(options.leave?.() ?? Promise.resolve(), STORE_GRACE_MS).then((inTime) => {
        if (!inTime) io.stderr.write(`the store did not answer within ${STORE_GRACE_MS / 1_000} s: run ${run.runId} keeps its lease until it expires, then ${resume} continues it\n`);
        return process.exit(STOPPED_EXIT_CODE[signal === 'SIGTERM' ? 'SIGTERM' : 'SIGINT']);
      });
      return;
    }
    io.stderr.write(`\n${signal}: cancelling run ${run.runId} (press Ctrl-C again to leave it as it is)\n`);
    run.cancel(`interrupted by the operator (${signal})`);
  };
  const stop = onStopSignals(onSignal);
  return {
    stop,
    get leaving() {
      return leaving;
    },
  };
}

/**
 * The one sentence about how a run ended, printable: the library's message quotes error messages
 * and cancel reasons from outside, whose control characters would forge a line or drive the
 * terminal (see {@link printable}).
 */
export function outcomeSentence(outcome: SagaOutcome): string {
  if (outcome.status === 'completed') {
    return printable(`✔ Saga '${outcome.saga}' run ${outcome.runId} completed: ${outcome.completionOrder.join(' → ')}.`);
  }
  return printable(`✖ ${runErrorFor(outcome).message}`);
}

/**
 * Prints how the run ended and what an operator can do next.
 *
 * @param hints - `store`: the store URL the run is in (`memory:` gets no follow-up commands:
 * the run is gone with this process); `defaultStore`: whether it is the CLI's default, so
 * the commands need no `--store`; `sagasModule`: the module for `--sagas`.
 */
export function printOutcome(io: CliIo, outcome: SagaOutcome, hints: OutcomeHints): void {
  if (hints.store.startsWith('memory:')) {
    writeLines(io.stdout, [outcomeSentence(outcome), '  (the memory: store keeps the run only while this process lives)']);
    return;
  }
  const sagas = hints.sagasModule === undefined ? '--sagas <module>' : `--sagas ${shellWord(hints.sagasModule)}`;
  const store = hints.defaultStore ? '' : storeFlag(hints.store);
  const lines = [outcomeSentence(outcome), `  timeline: npx sagaflow show ${outcome.runId}${store}`];
  switch (outcome.status) {
    case 'paused':
      lines.push(`  continue: npx sagaflow redrive ${outcome.runId} ${sagas}${store}`, `  or undo:  npx sagaflow compensate ${outcome.runId} ${sagas}${store}`);
      break;
    case 'compensation_failed':
      lines.push(`  once the cause is fixed: npx sagaflow redrive ${outcome.runId} ${sagas}${store}`);
      break;
    case 'queued':
    case 'running':
    case 'compensating':
      lines.push(`  continue: ${resumeCommand(outcome.runId, hints)}`);
      break;
    case 'completed':
    case 'compensated':
    case 'cancelled':
      break;
  }
  writeLines(io.stdout, lines);
}

/**
 * How a command that drove a run to its end finishes: unless it printed NDJSON, a blank line and
 * the outcome with what to do next; then the exit code for the run's status.
 */
export function finishRun(io: CliIo, outcome: SagaOutcome, json: boolean, hints: Parameters<typeof printOutcome>[2]): ExitCode {
  if (!json) {
    io.stdout.write('\n');
    printOutcome(io, outcome, hints);
  }
  return exitCodeFor(outcome.status);
}
