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

/**
 * A process stream that goes quiet once its reader is gone (`sagaflow runs | head`): the
 * command still finishes its work, e.g. a run still settles in the store, instead of dying on
 * EPIPE mid-run.
 */
function quietOnClosedPipe(stream: NodeJS.WriteStream): TextSink {
  let closed = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    closed = true;
  });
  return {
    write: (text: string) => (closed ? false : stream.write(text)),
    get isTTY() {
      return stream.isTTY;
    },
    get columns() {
      return stream.columns;
    },
  };
}

/** The process's own streams. */
export const processIo: CliIo = { stdout: quietOnClosedPipe(process.stdout), stderr: quietOnClosedPipe(process.stderr) };
