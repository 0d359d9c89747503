#!/usr/bin/env node
/**
 * The `sagaflow` command line (the package's `bin`). See `docs/cli.md`.
 *
 * @packageDocumentation
 */
import { processIo } from './io.js';
import { runCli } from './program.js';

const code = await runCli(process.argv.slice(2), processIo);
process.exitCode = code;
// A module loaded with --sagas may keep the event loop alive (a database pool it opened): the
// command is done, so leave shortly even then.
setTimeout(() => process.exit(code), 500).unref();
