import { isAbsolute, relative } from 'node:path';
import type { RunStatus } from '../../index.js';
import { loadDemos } from '../demo-catalog.js';
import { CliUsageError, ExitCode, exitCodeFor } from '../exit-codes.js';
import { orList } from '../format.js';
import { writeLines, type CliIo } from '../io.js';
import { parseRunStatus } from '../run-status.js';
import { parseStoreUrl } from '../store-url.js';

/** A path relative to the current directory when it is inside it, for commands to copy. */
function shortPath(path: string): string {
  const relativePath = relative(process.cwd(), path);
  return relativePath.startsWith('..') || isAbsolute(relativePath) ? path : relativePath;
}

/** Options of `sagaflow demo`. */
export interface DemoCommandOptions {
  /** The stage that fails on every attempt. */
  readonly failAt?: string;
  /** Run the pause-on-failure variant. */
  readonly pause?: boolean;
  /** The store URL (the demo's tables go in the same database). */
  readonly store: string;
  /** NDJSON events instead of progress. */
  readonly json?: boolean;
  /** Exit 0 only if the run ends with this status (and every check holds). */
  readonly expect?: string;
}

/**
 * `sagaflow demo <name>`: runs a demo saga against real tables, prints the world before and
 * after, and checks the demo's invariants.
 *
 * @returns the exit code.
 * @throws {@link CliUsageError} for an unknown demo, stage, status or store.
 */
export async function demoCommand(name: string, options: DemoCommandOptions, io: CliIo): Promise<ExitCode> {
  const demos = await loadDemos();
  const demo = demos.find((candidate) => candidate.name === name);
  if (demo === undefined) throw new CliUsageError(`Unknown demo '${name}': choose ${orList(demos.map((candidate) => candidate.name))}.`);
  if (options.failAt !== undefined && !demo.failurePoints.includes(options.failAt)) {
    throw new CliUsageError(`The ${demo.name} demo has no stage '${options.failAt}': --fail-at takes ${orList(demo.failurePoints)}.`);
  }
  if (options.pause === true && !demo.pausable) {
    const pausable = demos.filter((candidate) => candidate.pausable).map((candidate) => candidate.name);
    throw new CliUsageError(`The ${demo.name} demo has no pause variant: --pause works with ${orList(pausable)}.`);
  }
  const expected: RunStatus | undefined = options.expect === undefined ? undefined : parseRunStatus(options.expect, '--expect');
  parseStoreUrl(options.store);

  // Loaded once the arguments are known to be good, so that a usage error answers at once.
  const [{ createOrchestrator }, { driveRun, outcomeHints, printOutcome }, { openStore }] = await Promise.all([
    import('../../index.js'),
    import('../drive-run.js'),
    import('../store-url.js'),
  ]);
  const store = await openStore(options.store);
  try {
    let session;
    try {
      session = await demo.open({
        database: options.store,
        ...(options.failAt === undefined ? {} : { failAt: options.failAt }),
        ...(options.pause === true ? { pause: true } : {}),
      });
    } catch (error) {
      throw new CliUsageError(`The ${demo.name} demo could not set up its tables in ${store.description}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
    try {
      const orchestrator = createOrchestrator({ store, sagas: [session.saga] });
      const json = options.json === true;
      if (!json) {
        writeLines(io.stdout, [
          `${session.title}`,
          `saga ${session.saga.name} · store ${store.description}`,
          ...(session.fault === undefined ? [] : [`fault: ${session.fault}`]),
          '',
          'Before:',
          ...(await session.describe()).map((line) => `  ${line}`),
          '',
        ]);
      }
      const run = orchestrator.start(session.saga, session.input);
      const hints = outcomeHints(options.store, shortPath(demo.sagasModule));
      const outcome = await driveRun(run, { io, json, stageNames: session.saga.stages.map((stage) => stage.name), leave: () => orchestrator.close({ timeoutMs: 0 }), resumeHints: { ...hints, leaseOf: (id: string) => store.leaseOf(id) } });
      await orchestrator.close();
      const checks = await session.check(outcome);
      if (!json) {
        io.stdout.write('\n');
        printOutcome(io, outcome, hints);
        if (outcome.status === 'paused' && options.failAt !== undefined) {
          writeLines(io.stdout, ["  (the simulated outage ends with this command: a redrive from now on finds the system back)"]);
        }
        writeLines(io.stdout, [
          '',
          'After:',
          ...(await session.describe(outcome)).map((line) => `  ${line}`),
          '',
          ...checks.map((check) => `${check.ok ? '✓' : '✗'} ${check.description}`),
        ]);
      } else {
        writeLines(io.stderr, checks.filter((check) => !check.ok).map((check) => `✗ ${check.description}`));
      }
      const checksHold = checks.every((check) => check.ok);
      if (expected !== undefined) {
        if (outcome.status !== expected) writeLines(io.stderr, [`Expected the run to end ${expected}, but it ended ${outcome.status}.`]);
        return outcome.status === expected && checksHold ? ExitCode.Completed : ExitCode.NotCompleted;
      }
      return checksHold ? exitCodeFor(outcome.status) : ExitCode.NotCompleted;
    } finally {
      await session.close();
    }
  } finally {
    await store.close();
  }
}
