/**
 * Starts and stops a private Restate server (the binary shipped in
 * `@restatedev/restate-server-<platform>`) for one benchmark peer.
 *
 * - Fresh data directory under the OS temp dir, removed at `stop()`.
 * - Free loopback ports chosen at run time for admin, ingress and the node-to-node fabric;
 *   `--bind-ip 127.0.0.1 --listen-mode tcp`, so nothing listens off this machine.
 * - Its own process group (killed as a group), SIGKILLed if this process exits first
 *   (`exit` hook, and the parent-death signal through `setpriv --pdeathsig` where available,
 *   which covers a SIGKILLed runner too); data dirs of runners that died that way are removed
 *   by the next start.
 * - Telemetry off (`disable-telemetry`). The server also looks up api.github.com at start-up
 *   for a release check that no setting turns off; where `unshare` may (root), the server runs
 *   in a private mount namespace whose /etc/resolv.conf points at 127.0.0.1, so that lookup
 *   never leaves the machine.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running Restate server. */
export interface RestateServer {
  /** e.g. `http://127.0.0.1:34567` */
  readonly adminUrl: string;
  readonly ingressUrl: string;
  readonly dataDir: string;
  /** Last `maxBytes` of the server's log. */
  logTail(maxBytes?: number): string;
  /** Kill the process group (SIGTERM, then SIGKILL after `graceMs`) and remove the data dir. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** Options for `startRestateServer`. */
export interface StartOptions {
  /** Also copy the server's log to this process's stderr. */
  readonly echoLog?: boolean;
  /** Give up waiting for the admin API after this long (default 30 s). */
  readonly readyTimeoutMs?: number;
}

/**
 * Path of the platform's restate-server binary inside bench/peers/node_modules.
 * @throws when the platform package is not installed
 */
export function restateServerBinary(): string {
  const require = createRequire(import.meta.url);
  return require.resolve(`@restatedev/restate-server-${platform()}-${arch()}/bin/restate-server`);
}

/**
 * The binary's `--version` output, or an error message.
 * @returns `{ ok: true, version }` or `{ ok: false, reason }`
 */
export function restateServerVersion(): { ok: true; version: string } | { ok: false; reason: string } {
  let binary: string;
  try {
    binary = restateServerBinary();
  } catch {
    return { ok: false, reason: `no restate-server binary for ${platform()}-${arch()} in bench/peers/node_modules` };
  }
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0) {
    return { ok: false, reason: `${binary} --version failed: ${result.error?.message ?? result.stderr.trim()}` };
  }
  return { ok: true, version: result.stdout.trim() };
}

/** A free TCP port on 127.0.0.1 (bound then released: the caller retries if someone takes it meanwhile). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

let sandboxChecked: { unshare: boolean; setpriv: boolean } | undefined;

/** Which wrappers work here: `unshare -m` + bind mount (needs root), `setpriv --pdeathsig`. */
function sandboxSupport(resolvConf: string): { unshare: boolean; setpriv: boolean } {
  if (sandboxChecked !== undefined) return sandboxChecked;
  const unshare =
    platform() === 'linux' &&
    existsSync('/etc/resolv.conf') &&
    spawnSync(
      'unshare',
      ['-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" /etc/resolv.conf', 'sh', resolvConf],
      { stdio: 'ignore', timeout: 5_000 },
    ).status === 0;
  const setpriv =
    platform() === 'linux' &&
    spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { stdio: 'ignore', timeout: 5_000 }).status === 0;
  sandboxChecked = { unshare, setpriv };
  return sandboxChecked;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Kills a process group, ignoring "no such process". */
function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Starts a Restate server on free loopback ports with a fresh data dir and waits until its admin
 * API is healthy. Retries twice with new ports if the server dies during start-up.
 * @param options - log echo, ready timeout
 */
export async function startRestateServer(options: StartOptions = {}): Promise<RestateServer> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      lastError = error;
      if (!(error instanceof ServerExitedError)) break; // only port races are worth retrying
    }
  }
  throw lastError;
}

class ServerExitedError extends Error {}

const DIR_PREFIX = 'sagaflow-restate-';

/** Whether process `pid` exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes data dirs left by runs that were SIGKILLed (their owner pid, in `owner.pid`, is gone). */
function removeStaleDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    try {
      const owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) rmSync(dir, { recursive: true, force: true });
    } catch {
      // no owner file (being created, or not ours): leave it
    }
  }
}

async function startOnce(options: StartOptions): Promise<RestateServer> {
  const binary = restateServerBinary();
  removeStaleDirs();
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  writeFileSync(join(dir, 'owner.pid'), String(process.pid));
  const logPath = join(dir, 'server.log');
  let child: ChildProcess | undefined;
  let exitHook: (() => void) | undefined;
  let exited = false;
  let exitInfo = '';
  let echo: NodeJS.Timeout | undefined;

  const logTail = (maxBytes = 4_000): string => {
    try {
      const text = readFileSync(logPath, 'utf8');
      return text.slice(-maxBytes);
    } catch {
      return '(no log)';
    }
  };

  let stopped: Promise<void> | undefined;
  const stop = (graceMs = 5_000): Promise<void> => {
    stopped ??= (async () => {
      if (echo !== undefined) clearInterval(echo);
      const pid = child?.pid;
      if (pid !== undefined && !exited) {
        const gone = new Promise<void>((resolve) => child?.once('exit', () => resolve()));
        killGroup(pid, 'SIGTERM');
        const timer = sleep(graceMs).then(() => 'timeout' as const);
        if ((await Promise.race([gone.then(() => 'gone' as const), timer])) === 'timeout') {
          killGroup(pid, 'SIGKILL');
          await Promise.race([gone, sleep(2_000)]);
        }
      }
      // Anything else left in the group (there should be nothing): make sure.
      if (pid !== undefined) killGroup(pid, 'SIGKILL');
      if (exitHook !== undefined) process.off('exit', exitHook);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    const [admin, ingress, fabric] = [await freePort(), await freePort(), await freePort()];
    const config = join(dir, 'restate.toml');
    await writeFile(config, 'disable-telemetry = true\n');
    const resolvConf = join(dir, 'resolv.conf');
    await writeFile(resolvConf, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');

    const serverArgs = [
      '--config-file', config,
      '--base-dir', join(dir, 'data'),
      '--bind-ip', '127.0.0.1',
      '--listen-mode', 'tcp',
      '--bind-port', String(fabric),
      '--node-name', 'sagaflow-bench',
      '--no-logo',
      '--log-format', 'compact',
      '--log-disable-ansi-codes', 'true',
    ];
    const support = sandboxSupport(resolvConf);
    // exec chain keeps one pid: [unshare -> sh -> ] [setpriv -> ] restate-server
    let command = binary;
    let args = serverArgs;
    if (support.setpriv) {
      args = ['--pdeathsig', 'KILL', '--', command, ...args];
      command = 'setpriv';
    }
    if (support.unshare) {
      args = [
        '-m', '--propagation', 'private',
        'sh', '-c', 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"', 'sh', resolvConf,
        command, ...args,
      ];
      command = 'unshare';
    }

    const logFd = openSync(logPath, 'a');
    try {
      child = spawn(command, args, {
        cwd: dir,
        detached: true, // own process group
        stdio: ['ignore', logFd, logFd],
        env: {
          ...process.env,
          RESTATE_ADMIN__BIND_ADDRESS: `127.0.0.1:${admin}`,
          RESTATE_INGRESS__BIND_ADDRESS: `127.0.0.1:${ingress}`,
        },
      });
    } finally {
      closeSync(logFd);
    }
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start ${command}`);
    exitHook = () => {
      killGroup(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    };
    process.on('exit', exitHook);
    child.once('exit', (code, signal) => {
      exited = true;
      exitInfo = signal ?? `exit code ${code}`;
    });
    child.once('error', (error) => {
      exited = true;
      exitInfo = error.message;
    });
    child.unref(); // never keep this process alive by itself

    if (options.echoLog === true) {
      let offset = 0;
      echo = setInterval(() => {
        try {
          const text = readFileSync(logPath, 'utf8');
          if (text.length > offset) process.stderr.write(text.slice(offset));
          offset = text.length;
        } catch {
          // log not there yet
        }
      }, 250);
      echo.unref();
    }

    const adminUrl = `http://127.0.0.1:${admin}`;
    const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (exited) throw new ServerExitedError(`restate-server exited during start-up (${exitInfo})\n${logTail()}`);
      try {
        const response = await fetch(`${adminUrl}/health`, { signal: AbortSignal.timeout(1_000) });
        await response.arrayBuffer();
        if (response.ok) break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`restate-server not healthy after start-up timeout\n${logTail()}`);
      await sleep(50);
    }
    return { adminUrl, ingressUrl: `http://127.0.0.1:${ingress}`, dataDir: dir, logTail, stop };
  } catch (error) {
    await stop(1_000);
    throw error;
  }
}
