import { createOrchestrator, foldJournal, type AnySaga, RUN_ACTION_STATUSES, RunLeasedError, RunStateError, supportsWorkers, type ResumeMode, type RunState } from '../../index.js';
import { driveRun, finishRun, outcomeHints, storeFlag } from '../drive-run.js';
import { CliUsageError, type ExitCode } from '../exit-codes.js';
import { orList } from '../format.js';
import { writeLines, type CliIo } from '../io.js';
import { loadSagaModule } from '../load-sagas.js';
import { openStore } from '../store-url.js';
import { noSuchRun, resolveRunId } from '../resolve-run-id.js';
import { shellWord } from '../shell-word.js';

/** Options of `sagaflow resume | redrive | compensate`. */
export interface ContinueCommandOptions {
  /**
   * The module exporting the run's saga: required unless the run was submitted to workers and
   * the command hands it back to them (`redrive`, `compensate`).
   */
  readonly sagas?: string | undefined;
  /** The store URL. */
  readonly store: string;
  /** NDJSON events instead of progress. */
  readonly json?: boolean;
}

/**
 * `sagaflow resume | redrive | compensate <runId> --sagas <module>`: continues a stored run with
 * the saga definitions a module exports, and follows it to its end.
 *
 * @remarks
 * - `resume`: a `running` or `compensating` run left behind by a stopped process.
 * - `redrive`: a `paused` run (re-executes what did not complete) or a `compensation_failed`
 *   run (retries the failed compensations).
 * - `compensate`: rolls a `paused` run back.
 *
 * Before loading the module, the CLI sets `SAGAFLOW_STORE` to the store URL, so a module that
 * wires its own dependencies from it (as the demos do) finds the same database.
 *
 * @throws {@link CliUsageError} for an unknown run, a module that does not export the run's
 * saga, or a run whose status does not allow the operation.
 */
export async function continueCommand(mode: ResumeMode, runId: string, options: ContinueCommandOptions, io: CliIo): Promise<ExitCode> {
  const store = await openStore(options.store, { mustExist: true });
  try {
    runId = await resolveRunId(store, runId);
    const journal = await store.load(runId);
    if (journal === undefined || journal.length === 0) {
      throw noSuchRun(store, runId);
    }
    const state = foldJournal(journal);
    if (mode === 'resume' && state.submitted && supportsWorkers(store) && UNFINISHED.has(state.status)) throw workersDriveIt(runId, state, options);
    // A redrive or rollback of a submitted run only writes the decision: the workers drive it,
    // with their own definitions, so the saga's code is not needed here (as from the library).
    const toWorkers = mode !== 'resume' && state.submitted && supportsWorkers(store);
    let sagas: AnySaga[] = [];
    let stageNames: readonly string[] = [...state.stages.keys()];
    if (options.sagas !== undefined) {
      process.env['SAGAFLOW_STORE'] = options.store;
      const module = await loadSagaModule(options.sagas);
      const saga = module.sagas.find((entry) => entry.saga.name === state.saga)?.saga;
      if (saga === undefined) {
        throw new CliUsageError(
          `Run ${runId} belongs to saga '${state.saga}', which ${options.sagas} does not export (it exports ${orList(module.sagas.map((entry) => entry.saga.name))}): pass the module that defines it with --sagas.`,
        );
      }
      sagas = module.sagas.map((entry) => entry.saga);
      stageNames = saga.stages.map((stage) => stage.name);
    } else if (!toWorkers) {
      const why = state.submitted ? 'its store has no workers' : 'was not submitted to workers';
      throw new CliUsageError(
        `Run ${runId} of saga '${state.saga}' ${state.submitted ? `was submitted to workers, but ${why}` : why}, so this command ${VERB[mode]} it itself, and needs the saga's code: pass --sagas <module> (the module that defines '${state.saga}').`,
      );
    }
    const orchestrator = createOrchestrator({ store, sagas });
    const handle = mode === 'resume' ? orchestrator.resume(runId) : mode === 'redrive' ? orchestrator.redrive(runId) : orchestrator.compensate(runId);
    const json = options.json === true;
    // Said only of a run the library will hand back: a refused one (a queued run) gets the refusal alone.
    if (!json && toWorkers && RUN_ACTION_STATUSES[mode].includes(state.status)) writeLines(io.stdout, [handedToWorkers(runId, mode, options)]);
    const hints = outcomeHints(options.store, options.sagas);
    // A run handed to the workers is not driven here: a store failure stops only the following.
    const outcome = await driveRun(handle, { io, json, stageNames, liveFromSeq: journal.length, leave: () => orchestrator.close({ timeoutMs: 0 }), ...(toWorkers ? {} : { resumeHints: { ...hints, leaseOf: (id: string) => store.leaseOf(id) } }) }).catch((error: unknown) => {
      throw withNextStep(error, runId, options, state);
    });
    await orchestrator.close();
    return finishRun(io, outcome, json, hints);
  } finally {
    await store.close();
  }
}

/** What each command does to a run, for its messages. */
const VERB: Readonly<Record<ResumeMode, string>> = { resume: 'resumes', redrive: 'redrives', compensate: 'rolls back' };

/** The statuses of a run that someone drives or will drive. */
const UNFINISHED: ReadonlySet<string> = new Set(['queued', 'running', 'compensating']);

/**
 * `resume` of a run submitted to workers: the library only follows such a run (the workers own
 * it), so the command would print nothing and wait, for ever if no worker runs, and its Ctrl-C
 * would record a cancel. Say who drives it instead, and what the user can do.
 */
function workersDriveIt(runId: string, state: RunState, options: ContinueCommandOptions): CliUsageError {
  const store = storeFlag(options.store);
  const how =
    state.waits !== undefined && state.waits.size > 0
      ? 'it is parked while it waits, and a worker claims it again when its wait is due or a signal or cancel arrives for it'
      : "a worker claims it (and takes it over from a worker that stopped, once that worker's lease has run out)";
  return new CliUsageError(
    `Run ${runId} of saga '${state.saga}' was submitted to workers, which drive it: ${how}, so there is nothing to resume. ` +
      `Follow it with 'npx sagaflow show ${runId}${store}'; send a signal with 'npx sagaflow signal', and keep a 'npx sagaflow worker' running on this store.`,
  );
}

/**
 * `redrive` or `compensate` of a run submitted to workers: the library writes the decision and
 * hands the run back to the workers' queue, and the command follows it until a worker settles
 * it, which it would do in silence, for ever if no worker runs. Say so first.
 */
function handedToWorkers(runId: string, mode: ResumeMode, options: ContinueCommandOptions): string {
  const store = storeFlag(options.store);
  return (
    `run ${runId} was submitted to workers: the ${mode} hands it back to their queue, and this command follows it until a worker settles it ` +
    `(keep a 'npx sagaflow worker${store} --sagas <module>' running; Ctrl-C cancels the run, SIGTERM only stops following it)`
  );
}

/**
 * A refusal because of the run's status says which command does apply: `resume` on a paused run
 * is a natural first guess, and the library's sentence only says what `resume` needs.
 */
function withNextStep(error: unknown, runId: string, options: ContinueCommandOptions, state: RunState): unknown {
  const refusal = error instanceof CliUsageError ? error.cause : error;
  if (refusal instanceof RunLeasedError) {
    // The library's sentence speaks of orchestrator.cancel() and recover(): say it in commands.
    const store = storeFlag(options.store);
    const until = refusal.expiresAt === undefined ? '' : `, held until ${new Date(refusal.expiresAt).toISOString()}`;
    return new CliUsageError(
      `Run ${runId} is owned by ${refusal.owner} (lease epoch ${refusal.epoch}${until}), so it cannot be continued from here. ` +
        `If that process is alive, it is driving the run: stop it with 'npx sagaflow cancel ${runId}${store}', which its owner carries out. ` +
        'If it died (a crash, a SIGKILL), nothing takes the run over before its lease expires: run this command again then.',
      { cause: refusal },
    );
  }
  // A status that is allowed was refused for another reason (the run is being driven elsewhere).
  if (!(refusal instanceof RunStateError) || refusal.allowed.includes(refusal.status)) return error;
  const tail = `${runId} --sagas ${options.sagas === undefined ? '<module>' : shellWord(options.sagas)}${storeFlag(options.store)}`;
  const store = storeFlag(options.store);
  const next =
    refusal.status === 'queued' && state.submitted
      ? `A queued run waits for a worker with saga '${state.saga}' v${state.version} to claim it: keep a 'npx sagaflow worker${store} --sagas <module>' running, ` +
        `or cancel it with 'npx sagaflow cancel ${runId}${store}' (the worker that claims it carries the cancel out).`
      : refusal.status === 'paused'
      ? `A paused run goes on with 'npx sagaflow redrive ${tail}', or rolls back with 'npx sagaflow compensate ${tail}'.`
      : refusal.status === 'compensation_failed'
        ? `Once the cause is fixed, 'npx sagaflow redrive ${tail}' retries its failed compensations.`
        : undefined;
  return next === undefined ? error : new CliUsageError(`${error instanceof Error ? error.message : String(error)} ${next}`, { cause: refusal });
}
