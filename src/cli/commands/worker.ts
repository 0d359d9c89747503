import * as core from '../../index.js';
import { supportsWorkers, type AnySaga, type SagaStore } from '../../index.js';
import { CliUsageError, ExitCode } from '../exit-codes.js';
import { writeLines, type CliIo } from '../io.js';
import { loadSagaModule } from '../load-sagas.js';
import { openStore, parseStoreUrl } from '../store-url.js';

/** Options of `sagaflow worker`. */
export interface WorkerCommandOptions {
  /** The store URL: a store shared with workers (`postgres://…`). */
  readonly store: string;
  /** The module exporting the sagas to work on. */
  readonly sagas: string;
  /** Runs driven at once. */
  readonly concurrency?: string;
  /** Lease length in ms. */
  readonly leaseMs?: string;
}

/** The worker API of the contract (API.md, "Stores and workers"). */
interface SagaWorker {
  start(): Promise<void>;
  stop(options?: { readonly timeoutMs?: number }): Promise<void>;
}

type CreateWorker = (options: { readonly store: SagaStore; readonly sagas: readonly AnySaga[]; readonly concurrency?: number; readonly leaseMs?: number }) => SagaWorker;

/**
 * `createWorker` from the public API, if this build has it.
 *
 * @remarks
 * The worker is built alongside the CLI; looking it up by name keeps this command compiling
 * until it lands, and refusing clearly if it has not. Once `createWorker` is exported, this
 * can become a plain import.
 */
function findCreateWorker(): CreateWorker | undefined {
  const candidate = (core as unknown as Record<string, unknown>)['createWorker'];
  return typeof candidate === 'function' ? (candidate as CreateWorker) : undefined;
}

const STOP_TIMEOUT_MS = 30_000;

/**
 * `sagaflow worker --store postgres://… --sagas <module>`: claims queued runs of the module's
 * sagas and drives them until Ctrl-C (or SIGTERM), then stops claiming, lets its active runs
 * settle (up to 30 s) and releases their leases.
 *
 * @throws {@link CliUsageError} for a store that cannot be shared with workers, bad numbers,
 * a module without sagas, or a build without the worker API.
 */
export async function workerCommand(options: WorkerCommandOptions, io: CliIo): Promise<ExitCode> {
  const concurrency = positiveInteger(options.concurrency, '--concurrency', 10);
  const leaseMs = positiveInteger(options.leaseMs, '--lease-ms', 30_000);
  if (parseStoreUrl(options.store).kind !== 'postgres') {
    throw new CliUsageError(`The worker needs a store it can share with other processes, and ${options.store} is not one: pass --store postgres://user@host:5432/database.`);
  }
  const createWorker = findCreateWorker();
  if (createWorker === undefined) {
    throw new CliUsageError(
      'The worker command is not available in this build of sagaflow (it has no createWorker): upgrade sagaflow, or drive runs in-process with resume/redrive.',
    );
  }
  const store = await openStore(options.store);
  try {
    if (!supportsWorkers(store)) {
      throw new CliUsageError(`The store ${store.description} cannot be shared with workers: run the worker on a postgres://… store.`);
    }
    process.env['SAGAFLOW_STORE'] = options.store;
    const module = await loadSagaModule(options.sagas);
    const sagas = module.sagas.map((entry) => entry.saga);
    const worker = createWorker({ store, sagas, concurrency, leaseMs });
    await worker.start();
    writeLines(io.stdout, [
      `worker polling ${store.description} for ${sagas.map((saga) => `${saga.name} v${saga.version}`).join(', ')} (concurrency ${concurrency}, lease ${leaseMs} ms); Ctrl-C to stop`,
    ]);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    writeLines(io.stdout, [`${signal}: stopping; active runs get up to ${STOP_TIMEOUT_MS / 1_000} s to settle`]);
    await worker.stop({ timeoutMs: STOP_TIMEOUT_MS });
    writeLines(io.stdout, ['worker stopped']);
    return ExitCode.Completed;
  } finally {
    await store.close();
  }
}

function positiveInteger(value: string | undefined, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new CliUsageError(`${option} takes a whole number of 1 or more, not '${value}'.`);
  return parsed;
}
