import { createOrchestrator, SagaError, supportsWorkers, type AnySaga, type SagaRun } from '../../index.js';
import { driveRun, finishRun, outcomeHints, storeFlag } from '../drive-run.js';
import { CliUsageError, ExitCode } from '../exit-codes.js';
import { orList } from '../format.js';
import { writeLines, type CliIo } from '../io.js';
import { parseJsonInput } from '../json-input.js';
import { loadSagaModule, type SagaModule } from '../load-sagas.js';
import { openStore } from '../store-url.js';

/** Options of `sagaflow start`. */
export interface StartCommandOptions {
  /** The module exporting the saga. */
  readonly sagas: string;
  /** The store URL. */
  readonly store: string;
  /** The run's id (default: a new uuid v7). */
  readonly runId?: string;
  /** Which version, when the module exports several of the saga. */
  readonly sagaVersion?: string;
  /** Submit the run to workers and return at once. */
  readonly detach?: boolean;
  /** NDJSON events (or, with `detach`, one JSON line) instead of text. */
  readonly json?: boolean;
}

/**
 * `sagaflow start <saga> [input] --sagas <module>`: starts a run of a saga the module exports and
 * follows it to its end, as `demo` does for the demos; with `--detach`, submits it to workers
 * (`orchestrator.submit`) and prints its id at once.
 *
 * @remarks
 * The input is JSON text, `@PATH` of a JSON file, or `{}` when absent; it is validated by the
 * saga's schema before anything is written. Without `--detach` this process drives the run (it
 * owns it in the store) and Ctrl-C cancels it. A `sqlite:` file is created if it does not exist.
 *
 * @throws {@link CliUsageError} for an unknown saga, bad input, an existing run id, or
 * `--detach` on a store without workers.
 */
export async function startCommand(sagaName: string, inputText: string | undefined, options: StartCommandOptions, io: CliIo): Promise<ExitCode> {
  const input = parseJsonInput(inputText);
  const store = await openStore(options.store);
  try {
    if (options.detach === true && !supportsWorkers(store)) {
      throw new CliUsageError(
        `--detach hands the run to workers, and ${store.description} cannot be shared with them: use a postgres://… store with 'sagaflow worker' running, or leave --detach out to drive the run in this process.`,
      );
    }
    process.env['SAGAFLOW_STORE'] = options.store;
    const module = await loadSagaModule(options.sagas);
    const saga = pickSaga(module, sagaName, options.sagaVersion);
    const orchestrator = createOrchestrator({ store, sagas: module.sagas.map((entry) => entry.saga) });
    const runOptions = options.runId === undefined ? {} : { runId: options.runId };
    const json = options.json === true;
    if (options.detach === true) {
      const runId = await orchestrator.submit(saga, input, runOptions).catch((error: unknown) => {
        throw asUsageError(error);
      });
      await orchestrator.close();
      const store = storeFlag(options.store);
      writeLines(
        io.stdout,
        json
          ? [JSON.stringify({ runId, saga: saga.name, version: saga.version, status: 'queued' })]
          : [`run ${runId} submitted (saga ${saga.name} v${saga.version}): a worker will drive it`, `  follow:  npx sagaflow show ${runId}${store}`, `  cancel:  npx sagaflow cancel ${runId}${store}`],
      );
      return ExitCode.Completed;
    }
    let run: SagaRun;
    try {
      run = orchestrator.start(saga, input, runOptions) as SagaRun;
    } catch (error) {
      throw asUsageError(error);
    }
    const hints = outcomeHints(options.store, options.sagas);
    const outcome = await driveRun(run, { io, json, stageNames: saga.stages.map((stage) => stage.name), leave: () => orchestrator.close({ timeoutMs: 0 }), resumeHints: { ...hints, leaseOf: (id: string) => store.leaseOf(id) } });
    await orchestrator.close();
    return finishRun(io, outcome, json, hints);
  } finally {
    await store.close();
  }
}

/** The saga named on the command line (by saga name, or by export name), in the version asked for. */
function pickSaga(module: SagaModule, name: string, version: string | undefined): AnySaga {
  const named = module.sagas.filter((entry) => entry.saga.name === name || entry.exportName === name);
  if (named.length === 0) {
    throw new CliUsageError(
      `The module ${module.path} exports no saga '${name}' (it exports ${orList(module.sagas.map((entry) => `'${entry.saga.name}'`))}): pass one of those names.`,
    );
  }
  const versions = version === undefined ? named : named.filter((entry) => entry.saga.version === version);
  const [only, ...others] = versions;
  if (only === undefined) {
    throw new CliUsageError(`The module ${module.path} exports saga '${name}' in version ${orList(named.map((entry) => entry.saga.version))}, not ${version ?? ''}: pass one of those to --saga-version.`);
  }
  if (others.length > 0) {
    throw new CliUsageError(
      `The module ${module.path} exports saga '${name}' in several versions (${orList(versions.map((entry) => entry.saga.version))}): pick one with --saga-version.`,
    );
  }
  return only.saga;
}

/** A refusal by the library (bad input, an existing run id…) is the user's to fix: one line, exit 2. */
function asUsageError(error: unknown): unknown {
  return error instanceof SagaError ? new CliUsageError(error.message, { cause: error }) : error;
}
