import { firstValueFrom, from, lastValueFrom, map, race, shareReplay, timer } from 'rxjs';
import { createOrchestrator, foldJournal, SagaError, SagaNotRegisteredError, supportsWorkers, type Orchestrator, type SagaRun, type SagaStore } from '../../index.js';
import { printable } from '../format.js';
import { onStopSignals, STOPPED_EXIT_CODE } from '../stop-signals.js';
import { settlesWithin, STORE_GRACE_MS } from '../store-grace.js';
import { driveRun, outcomeHints, printOutcome, storeFlag } from '../drive-run.js';
import { CliUsageError, ExitCode } from '../exit-codes.js';
import { writeLines, type CliIo } from '../io.js';
import { loadSagaModule } from '../load-sagas.js';
import { leaseTimeLeft } from '../lease-time-left.js';
import { openStore } from '../store-url.js';
import { noSuchRun, resolveRunId } from '../resolve-run-id.js';

/** Options of `sagaflow cancel`. */
export interface CancelCommandOptions {
  /** The store URL. */
  readonly store: string;
  /** The module exporting the run's saga: needed only for a run no live process drives. */
  readonly sagas?: string;
  /** Follow the run until it settles (default); `false` with `--no-wait`. */
  readonly wait?: boolean;
  /** NDJSON events instead of progress. */
  readonly json?: boolean;
}

/** The reason recorded when none is given. */
export const DEFAULT_CANCEL_REASON = 'cancelled by an operator (sagaflow cancel)';

/**
 * `sagaflow cancel <runId> [reason]`: cancels a run wherever it is driven, with
 * `orchestrator.cancel`, then follows it until it settles.
 *
 * @remarks
 * For a run a live process drives (an application, a worker, another `sagaflow start`), the cancel
 * is recorded in the store and that process carries it out within one heartbeat: it settles the
 * stages in flight, then compensates (or keeps, per `onCancel`). For a run nobody drives any more
 * (its process died and its lease ran out), this command takes it over and rolls it back itself,
 * which needs the saga's code: `--sagas <module>`. Exit 0 when the run ends `cancelled`, 1 when it
 * ended otherwise (it completed first, or a compensation failed); with `--no-wait`, 0 once the
 * cancel is recorded.
 *
 * @throws {@link CliUsageError} for an unknown run, a run that is not going forward, or a run
 * nobody drives when `--sagas` is missing.
 */
export async function cancelCommand(runId: string, reason: string | undefined, options: CancelCommandOptions, io: CliIo): Promise<ExitCode> {
  const store = await openStore(options.store, { mustExist: true });
  try {
    runId = await resolveRunId(store, runId);
    const journal = await store.load(runId);
    if (journal === undefined || journal.length === 0) {
      throw noSuchRun(store, runId);
    }
    if (options.sagas !== undefined) process.env['SAGAFLOW_STORE'] = options.store;
    const sagas = options.sagas === undefined ? [] : (await loadSagaModule(options.sagas)).sagas.map((entry) => entry.saga);
    const orchestrator = createOrchestrator({ store, sagas });
    const why = reason ?? DEFAULT_CANCEL_REASON;
    const json = options.json === true;
    const storeHint = storeFlag(options.store);
    // Read before the cancel: a live lease means another process drives the run and carries the
    // cancel out itself, at its next heartbeat, so the wait that follows is not a hang.
    const lease = await store.leaseOf(runId).catch(() => undefined);
    const cancelling = orchestrator.cancel(runId, why);
    const stopping = stopWhileCancelling(runId, io, cancelling, () => orchestrator.close({ timeoutMs: 0 }));
    try {
      await cancelling;
    } catch (error) {
      // Stopped meanwhile: the process exits once the stop is done, with its code.
      if (stopping.leaving !== undefined) await stopping.leaving;
      stopping.stop();
      await orchestrator.close();
      throw cancelRefusal(runId, error);
    }
    if (stopping.leaving !== undefined) await stopping.leaving;
    stopping.stop();
    if (options.wait === false) {
      // A run this process took over is rolled back before close() resolves.
      await orchestrator.close();
      writeLines(
        io.stdout,
        json ? [JSON.stringify({ runId, cancelRequested: true, reason: why })] : [`cancel of run ${runId} recorded (${why}); follow it with 'npx sagaflow show ${runId}${storeHint}'`],
      );
      return ExitCode.Completed;
    }
    const state = foldJournal(journal);
    // A submitted run nobody holds (parked while it waits) is cancelled by the worker that claims
    // it: this command only follows it, and must say so rather than wait in silence. One queued
    // with no stage started was cancelled by cancel() itself (nothing to undo): nothing to wait for.
    const cancelledAtOnce = foldJournal((await store.load(runId)) ?? journal).status === 'cancelled';
    const toWorkers = state.submitted && supportsWorkers(store) && lease?.live !== true && !cancelledAtOnce;
    if (!json) {
      writeLines(io.stdout, [
        `cancelling run ${runId} (${why})`,
        ...(toWorkers
          ? [
              `  run ${runId} was submitted to workers: the worker that claims it carries the cancel out (a parked run is woken by the cancel at once), ` +
                `and this command follows it until then (keep a 'npx sagaflow worker${storeHint} --sagas <module>' running)`,
            ]
          : []),
        ...(lease?.live === true
          ? [
              `  ${lease.owner} drives it, and carries the cancel out at its next heartbeat (a third of its lease: 10 s by default; at once on PostgreSQL)`,
              `  if that process has died, this command rolls the run back itself when its lease runs out (at ${new Date(lease.expiresAt).toISOString()})${options.sagas === undefined ? ', given --sagas <module>' : ''}`,
            ]
          : []),
      ]);
    }
    const events$ = orchestrator.watch(runId).pipe(shareReplay());
    const settled = lastValueFrom(events$, { defaultValue: undefined });
    // A recorded cancel is carried out by the run's owner; an owner that was SIGKILLed never does,
    // and nobody else takes the run over while its lease is live. Without this the command
    // followed such a run forever: once the lease lapses, cancel again, which takes it over here.
    const takeover = lease?.live === true ? cancelOnceLeaseLapses(store, orchestrator, runId, why, settled) : Promise.resolve();
    const followed: SagaRun = {
      runId,
      events$,
      outcome: Promise.all([settled, takeover]).then(() => orchestrator.inspect(runId)),
      cancel: () => undefined,
    };
    let outcome: Awaited<SagaRun['outcome']>;
    try {
      outcome = await driveRun(followed, {
        io,
        json,
        stageNames: state.stageNames,
        liveFromSeq: journal.length,
        // Stopping this command (SIGTERM, Ctrl-C) stops only its part: following the run, and a
        // rollback it took over, whose lease it gives back for the next process to go on with.
        onCtrlC: 'leave',
        leave: () => orchestrator.close({ timeoutMs: 0 }),
        leftNote: toWorkers
          ? `run ${runId} is still being cancelled: a worker carries the cancel out when it claims the run; follow it with 'npx sagaflow show ${runId}${storeHint}'`
          : `run ${runId} is still being cancelled: its owner goes on with the rollback, or, if this command had taken it over, 'npx sagaflow resume ${runId} --sagas <module>' continues it`,
      });
    } finally {
      await orchestrator.close();
    }
    if (!json) {
      io.stdout.write('\n');
      printOutcome(io, outcome, outcomeHints(options.store, options.sagas));
    }
    return outcome.status === 'cancelled' ? ExitCode.Completed : ExitCode.NotCompleted;
  } finally {
    await store.close();
  }
}

/** The CLI's error for a refused cancel: the advice to pass --sagas for a run this command must roll back itself. */
function cancelRefusal(runId: string, error: unknown): unknown {
  if (error instanceof SagaNotRegisteredError) {
    return new CliUsageError(
      `No live process drives run ${runId} of saga '${error.saga}', so this command must roll it back itself, and needs the saga's code: pass --sagas <module> (the module that defines '${error.saga}').`,
      { cause: error },
    );
  }
  return error instanceof SagaError ? new CliUsageError(error.message, { cause: error }) : error;
}

/** How the cancel that a stopped command waited for ended. */
type CancelEnd = { readonly kind: 'recorded' } | { readonly kind: 'refused'; readonly error: unknown } | { readonly kind: 'unanswered' };

/**
 * Stops the command on SIGTERM or Ctrl-C while `orchestrator.cancel` is under way (until the run is
 * followed, when driveRun watches the signals), without dying mid-statement: the cancel may be
 * waiting for the run's row (another session holds it, for up to the store's lock timeout), and a
 * takeover that landed after the process died would keep the run's lease until it runs out. So it
 * waits for the cancel (at most the store grace), gives back a run it took over (`leave`), says
 * what became of the cancel, and exits 143 (130 for Ctrl-C). A second signal leaves at once.
 */
function stopWhileCancelling(
  runId: string,
  io: CliIo,
  cancelling: Promise<void>,
  leave: () => Promise<void>,
): { readonly stop: () => void; readonly leaving: Promise<never> | undefined } {
  let end: CancelEnd = { kind: 'unanswered' };
  cancelling.then(
    () => (end = { kind: 'recorded' }),
    (error: unknown) => (end = { kind: 'refused', error }),
  );
  let leaving: Promise<never> | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    const code = STOPPED_EXIT_CODE[signal === 'SIGTERM' ? 'SIGTERM' : 'SIGINT'];
    if (leaving !== undefined) {
      io.stderr.write(`\n${signal}: leaving at once; 'npx sagaflow show ${runId}' tells whether the cancel was recorded\n`);
      process.exit(code);
    }
    leaving = (async () => {
      await settlesWithin(cancelling, STORE_GRACE_MS);
      // A run taken over here is given back (its compensation in flight aborted), not held until its lease runs out.
      const left = await settlesWithin(leave(), STORE_GRACE_MS);
      io.stderr.write(`\n${signal}: stopping; ${stoppedNote(runId, end, left)}\n`);
      return process.exit(code);
    })();
  };
  const stop = onStopSignals(onSignal);
  return {
    stop,
    get leaving() {
      return leaving;
    },
  };
}

/** What a command stopped while cancelling says of the cancel, printable (an error's message comes from outside). */
function stoppedNote(runId: string, end: CancelEnd, left: boolean): string {
  const unanswered = left ? '' : `; the store did not answer within ${STORE_GRACE_MS / 1_000} s, so a lease taken here expires on its own first`;
  switch (end.kind) {
    case 'recorded':
      return `run ${runId} is being cancelled: its owner goes on with the rollback, or, if this command had taken it over, 'npx sagaflow resume ${runId} --sagas <module>' continues it${unanswered}`;
    case 'refused':
      return printable(`the cancel of run ${runId} was not recorded (${(end.error instanceof Error ? end.error.message : String(end.error)).replace(/\.$/, '')}): run this command again`);
    case 'unanswered':
      return `the store did not answer the cancel of run ${runId} within ${STORE_GRACE_MS / 1_000} s: it may still be recorded; 'npx sagaflow show ${runId}' tells, and this command can be run again`;
  }
}

/**
 * Waits for the lease of the run's owner to run out, unless the run settles first, then cancels the
 * run again: with nobody holding it, `orchestrator.cancel` takes it over and rolls it back here. An
 * owner that is alive renews its lease (and carries the cancel out at its next heartbeat), so the
 * wait starts over from its new expiry.
 */
async function cancelOnceLeaseLapses(store: SagaStore, orchestrator: Orchestrator, runId: string, reason: string, settled: Promise<unknown>): Promise<void> {
  const settled$ = from(settled).pipe(map(() => 'settled' as const));
  for (;;) {
    const lease = await store.leaseOf(runId);
    if (lease?.live !== true) break;
    // A little past the expiry: the store's clock decides, and the lease must be over by then. Timed
    // by what the store says is left, not by this machine's clock, which may be off the store's.
    const next = await firstValueFrom(race(timer(leaseTimeLeft(lease) + 50).pipe(map(() => 'due' as const)), settled$));
    if (next === 'settled') return;
  }
  const status = (await orchestrator.inspect(runId)).status;
  if (status !== 'running' && status !== 'queued') return;
  try {
    await orchestrator.cancel(runId, reason);
  } catch (error) {
    throw cancelRefusal(runId, error);
  }
}
