import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInspector } from '../../inspector.js';
import { CliUsageError, ExitCode } from '../exit-codes.js';
import { writeLines, type CliIo } from '../io.js';
import { loadSagaModule } from '../load-sagas.js';
import { openStore } from '../store-url.js';

/** Options of `sagaflow ui`. */
export interface UiCommandOptions {
  /** The store URL. */
  readonly store: string;
  /** The port (0: any free port). */
  readonly port?: string;
  /** The address to listen on. */
  readonly host?: string;
  /** Refuse every action. */
  readonly readOnly?: boolean;
  /** The module exporting the sagas the inspector may redrive and roll back. */
  readonly sagas?: string;
  /** The token every request must prove (also `SAGAFLOW_UI_TOKEN`). */
  readonly token?: string;
}

/** The default port of `sagaflow ui`. */
export const DEFAULT_UI_PORT = 4000;
const STOP_TIMEOUT_MS = 30_000;

/**
 * `sagaflow ui --store URL`: serves the run inspector until Ctrl-C (or SIGTERM), then closes it,
 * giving runs it redrove or rolled back up to 30 s to settle (the rest stay resumable).
 *
 * @throws {@link CliUsageError} for a bad port, a non-loopback host without a token, a port in
 * use, a missing store, or a module without sagas.
 */
export async function uiCommand(options: UiCommandOptions, io: CliIo): Promise<ExitCode> {
  const port = parsePort(options.port);
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? nonEmpty(process.env['SAGAFLOW_UI_TOKEN']);
  const loopback = isLoopback(host);
  if (!loopback && token === undefined) {
    throw new CliUsageError(
      `Listening on ${host} lets other machines reach the inspector, and its actions: pass --token SECRET (or set SAGAFLOW_UI_TOKEN), or leave --host out to listen on 127.0.0.1 only.`,
    );
  }
  if (token !== undefined && token.length < 16) throw new CliUsageError('--token must be at least 16 characters long: a short token is guessed.');
  const store = await openStore(options.store, { mustExist: true });
  try {
    let sagas: Parameters<typeof createInspector>[0]['sagas'];
    if (options.sagas !== undefined) {
      process.env['SAGAFLOW_STORE'] = options.store;
      sagas = (await loadSagaModule(options.sagas)).sagas.map((entry) => entry.saga);
    }
    const inspector = createInspector({
      store,
      readOnly: options.readOnly === true,
      ...(sagas === undefined ? {} : { sagas }),
      ...(token === undefined ? {} : { token }),
      // On a loopback address, answer only for loopback names: another site's name pointed at
      // 127.0.0.1 (DNS rebinding) gets nothing.
      ...(loopback ? { allowedHosts: ['localhost', '127.0.0.1', '[::1]', host.includes(':') && !host.startsWith('[') ? `[${host}]` : host] } : {}),
    });
    const server = createServer(inspector);
    const address = await listen(server, port, host);
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    writeLines(io.stdout, [
      `sagaflow inspector on http://${shown}:${address.port}/ (${store.description}${options.readOnly === true ? ', read-only' : ''}${sagas === undefined ? '' : `, sagas: ${sagas.map((saga) => saga.name).join(', ')}`})`,
      ...(token === undefined ? [] : [`open it once as http://${shown}:${address.port}/?token=YOUR_TOKEN (the token you gave); the browser keeps it from then on`]),
      'Ctrl-C to stop',
    ]);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    writeLines(io.stdout, [`${signal}: stopping`]);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await inspector.close({ timeoutMs: STOP_TIMEOUT_MS });
    await closed;
    return ExitCode.Completed;
  } finally {
    await store.close();
  }
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new CliUsageError(`Port ${port} on ${host} is in use: pass another with --port (0 picks a free one).`, { cause: error }));
      else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') reject(new CliUsageError(`Cannot listen on ${host}: it is not an address of this machine.`, { cause: error }));
      else reject(error);
    });
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}

function parsePort(value: string | undefined): number {
  if (value === undefined) return DEFAULT_UI_PORT;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new CliUsageError(`--port takes a port number from 0 to 65535 (0: any free port), not '${value}'.`);
  return port;
}

/** Whether an address is this machine's loopback (reachable from this machine only). */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
