import { createOrchestrator, SagaError } from '../../index.js';
import { CliUsageError, ExitCode } from '../exit-codes.js';
import { formatDuration } from '../format.js';
import { writeLines, type CliIo } from '../io.js';
import { loadSagaModule } from '../load-sagas.js';
import { leaseTimeLeft } from '../lease-time-left.js';
import { openStore } from '../store-url.js';
import { resolveRunId } from '../resolve-run-id.js';
import { shellWord } from '../shell-word.js';

/** Options of `sagaflow signal`. */
export interface SignalCommandOptions {
  /** The store URL. */
  readonly store: string;
  /** The module exporting the run's saga: its wait stage's schema validates the payload. */
  readonly sagas: string;
  /** The signal's id, for an idempotent send (default: a new uuid). */
  readonly signalId?: string;
  /** The longest wait, in ms, for another process to journal the signal. */
  readonly timeoutMs?: string;
  /** One JSON line instead of a sentence. */
  readonly json?: boolean;
}

/**
 * `sagaflow signal <runId> <name> [json]`: sends a signal to a run with `orchestrator.signal`.
 *
 * @remarks
 * The payload (JSON, default none) is validated against the schema of the saga's wait stage for
 * `name`, so the saga's code is needed: `--sagas <module>`. A run this process drives nobody else
 * drives (its process stopped) is taken over, gets the signal, and is driven here until it
 * settles. Exit 0 when the signal is journaled or was a duplicate; 2 for a bad payload, an
 * unknown run or signal, a run that is not going forward, or `--timeout-ms` passed before another
 * process journaled it (the request stays recorded for the run's owner).
 *
 * @throws {@link CliUsageError} for JSON that does not parse and every refusal of `signal()`.
 */
export async function signalCommand(runId: string, name: string, payloadText: string | undefined, options: SignalCommandOptions, io: CliIo): Promise<ExitCode> {
  let payload: unknown;
  if (payloadText !== undefined) {
    try {
      payload = JSON.parse(payloadText) as unknown;
    } catch (error) {
      throw new CliUsageError(`The payload of signal '${name}' is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
  const timeoutMs = options.timeoutMs === undefined ? undefined : Number(options.timeoutMs);
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs >= 1)) {
    throw new CliUsageError(`--timeout-ms takes a whole number of 1 or more, not '${options.timeoutMs ?? ''}'.`);
  }
  const store = await openStore(options.store, { mustExist: true });
  try {
    runId = await resolveRunId(store, runId);
    process.env['SAGAFLOW_STORE'] = options.store;
    const sagas = (await loadSagaModule(options.sagas)).sagas.map((entry) => entry.saga);
    const orchestrator = createOrchestrator({ store, sagas });
    // A run this command takes over (nobody drove it) is told apart by its lease: the user is then
    // told that the command goes on driving it.
    const { ownerId } = orchestrator;
    try {
      // A run another live process drives gets the signal from that process, at its next
      // heartbeat: say so before that wait, or the command looks hung for up to 10 s.
      const lease = options.json === true ? undefined : await store.leaseOf(runId).catch(() => undefined);
      if (lease?.live === true) {
        // After a kill -9 the dead owner's lease stays live until it runs out, with nothing printed
        // meanwhile: say how long that is and what this command does then.
        const left = leaseTimeLeft(lease);
        const ifDead =
          timeoutMs !== undefined && timeoutMs < left
            ? `its lease runs out after --timeout-ms (at ${new Date(lease.expiresAt).toISOString()}): this command gives up first, and the request stays recorded`
            : `this command takes the run over when its lease runs out (at ${new Date(lease.expiresAt).toISOString()}, in about ${formatDuration(left)}) and drives it here until it settles`;
        writeLines(io.stdout, [
          `run ${runId} is driven by ${lease.owner}, which journals the signal at its next heartbeat (a third of its lease: 10 s by default; at once on PostgreSQL)${timeoutMs === undefined ? '' : `; waiting at most ${timeoutMs} ms`}`,
          `  if that process has died, ${ifDead}`,
        ]);
      }
      const result = await orchestrator.signal(runId, name, payload, { signalId: options.signalId, timeoutMs });
      writeLines(
        io.stdout,
        options.json === true
          ? [JSON.stringify({ runId, signal: name, ...result })]
          : [
              result.accepted
                ? `signal '${name}' (${result.signalId}) journaled for run ${runId}: ${result.delivered === 'waiting' ? 'the stage waiting for it goes on' : 'buffered until a stage waits for it'}`
                : `signal ${result.signalId} was already received by run ${runId}: nothing changed`,
            ],
      );
      if (options.json !== true) {
        const held = await store.leaseOf(runId).catch(() => undefined);
        if (held?.live === true && held.owner === ownerId) {
          writeLines(io.stdout, [
            `  no live process drove run ${runId}, so this command took it over and drives it on here until it settles (a later wait holds it as long); Ctrl-C leaves it for 'npx sagaflow resume ${runId} --sagas ${shellWord(options.sagas)}' (or recover()) once its lease runs out`,
          ]);
        }
      }
      return ExitCode.Completed;
    } catch (error) {
      throw error instanceof SagaError ? new CliUsageError(error.message, { cause: error }) : error;
    } finally {
      // A run taken over here goes on here until it settles.
      await orchestrator.close();
    }
  } finally {
    await store.close();
  }
}
