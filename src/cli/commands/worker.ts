import { createWorker, supportsWorkers, type Worker, type WorkerOptions } from '../../index.js';
import { CliUsageError, ExitCode } from '../exit-codes.js';
import { writeLines, type CliIo } from '../io.js';
import { loadSagaModule } from '../load-sagas.js';
import { maskUrl } from '../mask-secrets.js';
import { settlesWithin, STORE_GRACE_MS } from '../store-grace.js';
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
  /** Park waits longer than this many ms (`never`: keep every wait). */
  readonly parkThresholdMs?: string;
  /** How often to look for work when no announcement comes, in ms. */
  readonly pollIntervalMs?: string;
  /** The worker's id in leases, logs and `sagaflow show`'s owner line (default: host and process). */
  readonly workerId?: string;
}

const STOP_TIMEOUT_MS = 30_000;

/**
 * `sagaflow worker --store postgres://… --sagas <module>`: claims queued runs of the module's
 * sagas and drives them until Ctrl-C (or SIGTERM), then stops claiming, lets its active runs
 * settle (up to 30 s) and releases their leases.
 *
 * @throws {@link CliUsageError} for a store that cannot be shared with workers, bad numbers,
 * or a module without sagas.
 */
export async function workerCommand(options: WorkerCommandOptions, io: CliIo): Promise<ExitCode> {
  const concurrency = positiveInteger(options.concurrency, '--concurrency', 10);
  const leaseMs = positiveInteger(options.leaseMs, '--lease-ms', 30_000);
  const parkThresholdMs = parkThreshold(options.parkThresholdMs);
  const pollIntervalMs = positiveInteger(options.pollIntervalMs, '--poll-interval-ms', 1_000);
  if (parseStoreUrl(options.store).kind !== 'postgres') {
    throw new CliUsageError(`The worker needs a store it can share with other processes, and ${maskUrl(options.store)} is not one: pass --store postgres://user@host:5432/database.`);
  }
  const store = await openStore(options.store);
  try {
    if (!supportsWorkers(store)) {
      throw new CliUsageError(`The store ${store.description} cannot be shared with workers: run the worker on a postgres://… store.`);
    }
    process.env['SAGAFLOW_STORE'] = options.store;
    const module = await loadSagaModule(options.sagas);
    const sagas = module.sagas.map((entry) => entry.saga);
    const worker = newWorker({ store, sagas, concurrency, leaseMs, parkThresholdMs, pollIntervalMs, ...(options.workerId === undefined ? {} : { workerId: options.workerId }) });
    await worker.start();
    writeLines(io.stdout, [
      `worker polling ${store.description} for ${sagas.map((saga) => `${saga.name} v${saga.version}`).join(', ')} ` +
        `(worker ${worker.id}, polling every ${pollIntervalMs} ms, concurrency ${concurrency}, lease ${leaseMs} ms, ${parkThresholdMs === Number.POSITIVE_INFINITY ? 'waiting runs kept' : `waits over ${parkThresholdMs} ms parked`}); Ctrl-C to stop`,
    ]);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    writeLines(io.stdout, [`${signal}: stopping; active runs get up to ${STOP_TIMEOUT_MS / 1_000} s to settle`]);
    // Giving the leases back needs the store: one that does not answer must not hold the process.
    const held = worker.activeRuns;
    if (await settlesWithin(worker.stop({ timeoutMs: STOP_TIMEOUT_MS }), STOP_TIMEOUT_MS + STORE_GRACE_MS)) {
      writeLines(io.stdout, ['worker stopped']);
    } else {
      writeLines(io.stderr, [
        `the store did not answer within ${STORE_GRACE_MS / 1_000} s of the stop: the leases of ${held.length === 0 ? 'its runs' : `run${held.length === 1 ? '' : 's'} ${held.join(', ')}`} expire on their own, and other workers take the runs over then`,
      ]);
    }
    return ExitCode.Completed;
  } finally {
    await settlesWithin(store.close(), STORE_GRACE_MS);
  }
}

/** `createWorker`, with a `--worker-id` it refuses reported as the option's problem. */
function newWorker(options: WorkerOptions): Worker {
  try {
    return createWorker(options);
  } catch (error) {
    const prefix = 'createWorker: workerId ';
    if (error instanceof TypeError && error.message.startsWith(prefix)) throw new CliUsageError(`--worker-id ${error.message.slice(prefix.length)}`);
    throw error;
  }
}

function positiveInteger(value: string | undefined, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new CliUsageError(`${option} takes a whole number of 1 or more, not '${value}'.`);
  return parsed;
}

function parkThreshold(value: string | undefined): number {
  if (value === undefined) return 2_000;
  if (value === 'never') return Number.POSITIVE_INFINITY;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new CliUsageError(`--park-threshold-ms takes a whole number of 0 or more, or 'never', not '${value}'.`);
  return parsed;
}
