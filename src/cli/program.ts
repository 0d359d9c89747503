import { createRequire } from 'node:module';
import { Command, CommanderError, Option, type OutputConfiguration } from 'commander';
import { CliUsageError, ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';
import { maskingIo, secretsOf, storeUrlsOf } from './mask-secrets.js';
import { RUN_STATUSES } from './run-status.js';
import { DEFAULT_STORE_URL } from './defaults.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const storeOption = (): Option =>
  new Option('--store <url>', 'where runs are kept: memory:, sqlite:PATH or postgres://user@host/db[?schema=NAME]').env('SAGAFLOW_STORE').default(DEFAULT_STORE_URL);

const HELP_FOOTER = `
Store URLs: memory: (this process only), sqlite:PATH (a file: demo and start create it; runs, show,
prune, cancel, resume, redrive and compensate need it to exist), postgres://user:password@host:5432/database
(add ?schema=NAME to use a schema other than sagaflow; tables are created on first use).
The default store is ${DEFAULT_STORE_URL}, or $SAGAFLOW_STORE when it is set.

Exit codes: 0 the run completed (or the command did what was asked); 1 the run was rolled back,
cancelled, paused or its compensation failed; 2 usage error or bad input (one line on stderr).`;

/**
 * Runs the `sagaflow` command line.
 *
 * @param argv - the arguments after the program name.
 * @param rawIo - where to write (through a filter that masks the passwords of store URLs).
 * @returns the process's exit code (see {@link ExitCode}).
 */
export async function runCli(argv: readonly string[], rawIo: CliIo): Promise<ExitCode> {
  // The error boundary for secrets: whatever is printed, by whom, never shows a store password.
  const io = maskingIo(rawIo, storeUrlsOf(argv, process.env).flatMap(secretsOf));
  let exitCode: ExitCode = ExitCode.Completed;
  const done = (code: ExitCode): void => {
    exitCode = code;
  };
  const program = buildProgram(io, done);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    return reportError(error, io);
  }
}

function buildProgram(io: CliIo, done: (code: ExitCode) => void): Command {
  const program = new Command('sagaflow')
    .description('Run the demos; start, list, inspect, cancel, continue, repair and prune saga runs; inspect them in the browser.')
    .version(version, '-V, --version')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput(outputFor(io, 'sagaflow'))
    .addHelpText('after', HELP_FOOTER);

  command(program, io, 'demo')
    .description('run a demo saga on real tables and show what it did to them')
    .argument('<name>', 'money-transfer, trip-booking or order-fulfillment')
    .option('--fail-at <stage>', 'make every attempt of this stage fail (a simulated outage)')
    .option('--pause', "order-fulfillment only: the onFailure: 'pause' variant, left for redrive")
    .addOption(storeOption())
    .option('--json', 'print the run’s events as NDJSON instead of progress')
    .option('--expect <status>', `exit 0 only if the run ends with this status (${RUN_STATUSES.slice(3).join(', ')})`)
    .action(async (name: string, options: { failAt?: string; pause?: boolean; store: string; json?: boolean; expect?: string }) => {
      const { demoCommand } = await import('./commands/demo.js');
      done(await demoCommand(name, options, io));
    });

  command(program, io, 'runs')
    .description('list the runs in a store, oldest first')
    .option('--status <status>', `only runs in this status (comma-separate several): ${RUN_STATUSES.join(', ')}`)
    .option('--saga <name>', 'only runs of this saga')
    .option('--limit <n>', 'the newest n runs', '100')
    .addOption(storeOption())
    .option('--json', 'print one JSON object per run')
    .action(async (options: { status?: string; saga?: string; limit?: string; store: string; json?: boolean }) => {
      const { runsCommand } = await import('./commands/runs.js');
      done(await runsCommand(options, io));
    });

  command(program, io, 'show')
    .description('show a run: outcome, a timeline of every stage and compensation, outputs and errors')
    .argument('<runId>', 'the run (see sagaflow runs)')
    .addOption(storeOption())
    .option('--json', 'print the run’s journal as NDJSON events')
    .action(async (runId: string, options: { store: string; json?: boolean }) => {
      const { showCommand } = await import('./commands/show.js');
      done(await showCommand(runId, options, io));
    });

  command(program, io, 'start')
    .description('start a run of a saga a module exports, and follow it to its end (or --detach: hand it to workers)')
    .argument('<saga>', 'the saga’s name (or its export’s name)')
    .argument('[input]', 'the input as JSON (quoted for the shell), or @FILE to read it from a JSON file; default {}')
    .requiredOption('--sagas <module>', 'the .js, .mjs or .ts module exporting the saga')
    .addOption(storeOption())
    .option('--run-id <id>', 'the run’s id (default: a new uuid v7); a run id that exists already is refused')
    .option('--saga-version <version>', 'which version, when the module exports several of the saga')
    .option('--detach', 'submit the run to workers and print its id at once (needs a postgres:// store and a running worker)')
    .option('--json', 'print the run’s events as NDJSON instead of progress (with --detach: one JSON line)')
    .action(async (saga: string, input: string | undefined, options: { sagas: string; store: string; runId?: string; sagaVersion?: string; detach?: boolean; json?: boolean }) => {
      const { startCommand } = await import('./commands/start.js');
      done(await startCommand(saga, input, options, io));
    });

  command(program, io, 'cancel')
    .description('cancel a run wherever it is driven, and follow it until it settles')
    .argument('<runId>', 'the run (see sagaflow runs)')
    .argument('[reason]', 'why, recorded on the run')
    .option('--sagas <module>', 'the module exporting the run’s saga: needed only when no live process drives the run, as this command then rolls it back itself')
    .addOption(storeOption())
    .option('--no-wait', 'return once the cancel is recorded, without following the run')
    .option('--json', 'print the run’s new events as NDJSON instead of progress')
    .action(async (runId: string, reason: string | undefined, options: { sagas?: string; store: string; wait?: boolean; json?: boolean }) => {
      const { cancelCommand } = await import('./commands/cancel.js');
      done(await cancelCommand(runId, reason, options, io));
    });

  command(program, io, 'signal')
    .description('send a signal to a run waiting for it (or buffered until it does); the payload is validated by the saga’s wait stage')
    .argument('<runId>', 'the run (see sagaflow runs)')
    .argument('<name>', 'the signal’s name, as the saga’s waitForSignal stage names it')
    .argument('[json]', 'the payload, as JSON (default: none)')
    .requiredOption('--sagas <module>', 'the module exporting the run’s saga (its schema validates the payload)')
    .addOption(storeOption())
    .option('--signal-id <id>', 'an id of your own: sending the same id again is a no-op')
    .option('--timeout-ms <ms>', 'give up waiting for another process to journal it after this long (the request stays recorded)')
    .option('--json', 'print the result as one JSON line')
    .action(async (runId: string, name: string, json: string | undefined, options: { sagas: string; store: string; signalId?: string; timeoutMs?: string; json?: boolean }) => {
      const { signalCommand } = await import('./commands/signal.js');
      done(await signalCommand(runId, name, json, options, io));
    });

  command(program, io, 'prune')
    .description('delete finished runs last written before a cut-off, with their journals')
    .requiredOption('--older-than <age>', 'a duration back from now (30d, 12h, 90m, 45s) or an ISO date (2026-01-31, 2026-01-31T12:00:00Z)')
    .option('--status <status>', 'only runs in this status (comma-separate several): completed, compensated, cancelled (the default), paused, compensation_failed')
    .option('--dry-run', 'list the runs that would be deleted, and delete nothing')
    .addOption(storeOption())
    .option('--json', 'print one JSON line: the count deleted (with --dry-run: one RunSummary per line)')
    .action(async (options: { olderThan: string; status?: string; dryRun?: boolean; store: string; json?: boolean }) => {
      const { pruneCommand } = await import('./commands/prune.js');
      done(await pruneCommand(options, io));
    });

  command(program, io, 'graph')
    .description("print a saga's stages and dependencies as a Mermaid flowchart or Graphviz DOT")
    .argument('<module>', 'a .js, .mjs or .ts module exporting built sagas')
    .option('--export <name>', 'the export to draw, when the module exports several sagas')
    .option('--format <format>', 'mermaid or dot', 'mermaid')
    .action(async (modulePath: string, options: { export?: string; format: string }) => {
      const { graphCommand } = await import('./commands/graph.js');
      done(await graphCommand(modulePath, options, io));
    });

  const continuations = [
    ['resume', 'continue a running or compensating run left behind by a stopped process'],
    ['redrive', 'go on with a paused run, or retry the failed compensations of a compensation_failed run'],
    ['compensate', 'roll a paused run back'],
  ] as const;
  for (const [mode, description] of continuations) {
    command(program, io, mode)
      .description(description)
      .argument('<runId>', 'the run (see sagaflow runs)')
      .option(
        '--sagas <module>',
        mode === 'resume'
          ? 'the .js, .mjs or .ts module exporting the run’s saga (required)'
          : 'the .js, .mjs or .ts module exporting the run’s saga (not needed for a run submitted to workers: they drive it)',
      )
      .addOption(storeOption())
      .option('--json', 'print the events this command adds as NDJSON instead of progress')
      .action(async (runId: string, options: { sagas?: string; store: string; json?: boolean }) => {
        const { continueCommand } = await import('./commands/continue-run.js');
        done(await continueCommand(mode, runId, options, io));
      });
  }

  command(program, io, 'ui')
    .description('serve the run inspector in the browser: runs, DAG, rollback, timeline, journal, live; redrive, compensate, cancel')
    .addOption(storeOption())
    .option('--port <n>', 'the port to listen on (0: any free port)', '4000')
    .option('--host <address>', 'the address to listen on; anything but a loopback address needs --token', '127.0.0.1')
    .option('--read-only', 'show runs only: refuse redrive, compensate and cancel')
    .option('--sagas <module>', 'the module exporting the sagas whose runs the inspector may redrive or roll back')
    .option('--token <secret>', 'a secret every request must prove (open the page once with ?token=SECRET); also $SAGAFLOW_UI_TOKEN')
    .action(async (options: { store: string; port?: string; host?: string; readOnly?: boolean; sagas?: string; token?: string }) => {
      const { uiCommand } = await import('./commands/ui.js');
      done(await uiCommand(options, io));
    });

  command(program, io, 'worker')
    .description('claim and drive queued runs of the given sagas until Ctrl-C (needs a postgres:// store)')
    .requiredOption('--sagas <module>', 'the module exporting the sagas to work on')
    .addOption(storeOption())
    .option('--concurrency <n>', 'runs driven at once', '10')
    .option('--lease-ms <ms>', 'lease length; heartbeats every third of it', '30000')
    .option('--park-threshold-ms <ms>', "park a run that only waits, for longer than this (0: every wait; 'never')", '2000')
    .option('--poll-interval-ms <ms>', 'how often to look for work when no announcement comes', '1000')
    .option('--worker-id <id>', 'the id its leases and logs carry (default: host and process)')
    .action(async (options: { sagas: string; store: string; concurrency?: string; leaseMs?: string; parkThresholdMs?: string; pollIntervalMs?: string; workerId?: string }) => {
      const { workerCommand } = await import('./commands/worker.js');
      done(await workerCommand(options, io));
    });

  return program;
}

/** Adds a subcommand whose usage errors name it. */
function command(program: Command, io: CliIo, name: string): Command {
  return program.command(name).configureOutput(outputFor(io, `sagaflow ${name}`)).addHelpText('after', HELP_FOOTER);
}

/** Commander's output: help on stdout, errors as one line on stderr with where to find the usage. */
function outputFor(io: CliIo, usage: string): OutputConfiguration {
  return {
    writeOut: (text: string) => void io.stdout.write(text),
    writeErr: (text: string) => void io.stderr.write(text),
    outputError: (text: string, write: (text: string) => void) => write(`${oneLine(text)} (see '${usage} --help')\n`),
  };
}

function oneLine(text: string): string {
  // From the first blank of a run only: tried from each, a long run with no newline took quadratic time.
  return text.trim().replace(/(?<!\s)\s*\n\s*/g, ' ');
}

function reportError(error: unknown, io: CliIo): ExitCode {
  if (error instanceof CommanderError) {
    // Commander already printed help, the version, or the one-line usage error. Help asked for
    // exits 0; help shown because the command line was incomplete, and every error, exit 2.
    return error.exitCode === 0 ? ExitCode.Completed : ExitCode.Usage;
  }
  if (error instanceof CliUsageError || isMissingPeer(error)) {
    // A missing optional peer (`pg` for a postgres:// store) says what to install: no stack needed.
    io.stderr.write(`error: ${oneLine((error as Error).message)}\n`);
    return ExitCode.Usage;
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  io.stderr.write(`error: ${oneLine(message)}${process.env['SAGAFLOW_DEBUG'] === undefined ? ' (set SAGAFLOW_DEBUG=1 for the stack trace)' : ''}\n`);
  if (process.env['SAGAFLOW_DEBUG'] !== undefined && error instanceof Error && error.stack !== undefined) io.stderr.write(`${error.stack}\n`);
  return ExitCode.Usage;
}

/** The error a store's entry point throws when its optional peer dependency is not installed. */
function isMissingPeer(error: unknown): boolean {
  return error instanceof Error && (error as Error & { code?: unknown }).code === 'SAGAFLOW_MISSING_PEER_DEPENDENCY';
}
