import type { TextSink } from './progress.js';

/** Where a command writes: the process's streams, or fakes in tests. */
export interface CliIo {
  /** Results: tables, timelines, NDJSON events, progress. */
  readonly stdout: TextSink;
  /** Errors and notes that are not the command's result. */
  readonly stderr: TextSink;
}

/** Writes lines to a sink. */
export function writeLines(sink: TextSink, lines: readonly string[]): void {
  if (lines.length > 0) sink.write(`${lines.join('\n')}\n`);
}

/** The process's own streams. */
export const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr };
