import type { CliIo } from '../../../src/cli/io.js';
import { runCli } from '../../../src/cli/program.js';

/** What one in-process CLI call ended with and printed. */
export interface CapturedCli {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in this process with captured output: the same code as the binary, minus the process. */
export async function cli(...argv: string[]): Promise<CapturedCli> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) } };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}
