import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const script = fileURLToPath(new URL('./fixtures/store-process.ts', import.meta.url));

/** What a call in the other process answered: its result, or the error it threw (by name, with its fields). */
export type Reply = { readonly result: unknown } | { readonly error: { readonly name: string; readonly message: string } & Record<string, unknown> };

/** Which store the other process opens. */
export type StoreSpec = { readonly sqlite: string } | { readonly postgres: string; readonly schema: string };

/** A store in another Node process, called one method at a time (see fixtures/store-process.ts). */
export class StoreProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: Array<(reply: Reply) => void> = [];
  private stderr = '';
  /** How many calls have been answered so far. */
  replies = 0;

  constructor(spec: StoreSpec) {
    this.child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(spec)], { cwd: repositoryRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    // Writes to a killed process fail with EPIPE: each call's write callback reports that.
    this.child.stdin.on('error', () => undefined);
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.replies++;
      this.waiting.shift()?.(JSON.parse(line) as Reply);
    });
  }

  /** The process id, to signal it. */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Calls `store[method](...args)` there; resolves with its reply. */
  call(method: string, ...args: unknown[]): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      this.waiting.push(resolve);
      this.child.stdin.write(`${JSON.stringify({ method, args })}\n`, (error) => {
        if (error) reject(new Error(`store process ${this.pid} is gone: ${this.stderr}`, { cause: error }));
      });
    });
  }

  /** Calls and expects success; resolves with the result. */
  async ok(method: string, ...args: unknown[]): Promise<unknown> {
    const reply = await this.call(method, ...args);
    if ('error' in reply) throw new Error(`${method} failed in process ${this.pid}: ${reply.error.name}: ${reply.error.message}`);
    return reply.result;
  }

  /** Kills the process at once (SIGKILL) and waits for it to exit. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }

  /** Ends the process (closing its store) and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGCONT');
    this.child.stdin.end();
    await exited;
  }
}
