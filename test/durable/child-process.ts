import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** The repository root: children run from there so that tsx finds tsconfig.json (and `sagaflow`). */
const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

/** How a child process ended and what it said. */
export interface ChildResult<TMessage> {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Each JSON line it wrote to stdout. */
  readonly messages: TMessage[];
  /** Anything else it wrote to stdout, and all of stderr. */
  readonly output: string;
  /** It was still running after `timeoutMs` and was killed by the parent. */
  readonly timedOut: boolean;
}

/**
 * Runs a TypeScript file in a new Node process (`node --import tsx file json`) and waits for it
 * to exit, collecting its JSON-line messages.
 */
export async function runChild<TMessage>(file: string, argument: unknown, timeoutMs: number): Promise<ChildResult<TMessage>> {
  const child = spawn(process.execPath, ['--import', 'tsx', file, JSON.stringify(argument)], {
    cwd: repositoryRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const messages: TMessage[] = [];
  let output = '';
  let partial = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    partial += chunk;
    let newline = partial.indexOf('\n');
    while (newline !== -1) {
      const line = partial.slice(0, newline);
      partial = partial.slice(newline + 1);
      try {
        messages.push(JSON.parse(line) as TMessage);
      } catch {
        output += `${line}\n`;
      }
      newline = partial.indexOf('\n');
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    output += chunk;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return { code, signal, messages, output: output + partial, timedOut };
}
