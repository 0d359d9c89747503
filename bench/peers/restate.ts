/**
 * Restate (server 1.7.12 from @restatedev/restate-server, SDK @restatedev/restate-sdk 1.17.2): a
 * service handler with `ctx.run` per step and per compensation, compensating in a catch.
 * Durable in the Restate server, which journals every `ctx.run` result before the handler goes on.
 *
 * `setup()` starts a private server (see `./restate-server.ts`), serves the service endpoint
 * from this process on a free loopback port (`http2.createServer(createEndpointHandler(...))`,
 * not `restate.serve()`, which binds every interface), registers that deployment through the
 * admin API, then self-checks through the ingress HTTP API. Every saga is one ingress request.
 */
import './with-resolvers.js'; // before the SDK: it calls Promise.withResolvers, missing on Node 20
import { createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import * as restate from '@restatedev/restate-sdk';
import { restateServerVersion, startRestateServer, type RestateServer } from './restate-server.js';
import {
  assertCounts,
  assertTrace,
  CountingEffects,
  FAILING_STEP,
  runPool,
  STEP_COUNT,
  TracingEffects,
  type Availability,
  type BatchOptions,
  type PeerOptions,
  type SagaEffects,
  type SagaEnding,
  type SagaPeer,
} from './peer.js';

const SERVICE = 'SagaflowBenchSaga';
const HANDLER = 'run';
/** A saga that has not answered after this long fails the batch instead of hanging it (Restate retries transient errors forever). */
const INVOCATION_TIMEOUT_MS = 60_000;

interface SagaRequest {
  readonly fail: boolean;
}

interface SagaResponse {
  readonly ending: SagaEnding;
}

/**
 * The Restate service running the 5-step saga with `effects()`'s effects.
 * @param effects - returns the effects to use now (counting or tracing)
 */
function sagaService(effects: () => SagaEffects) {
  return restate.service({
    name: SERVICE,
    handlers: {
      [HANDLER]: async (ctx: restate.Context, request: SagaRequest | undefined): Promise<SagaResponse> => {
        if (typeof request?.fail !== 'boolean') throw new restate.TerminalError('expected a body {"fail": boolean}');
        const fail = request.fail;
        let done = 0;
        try {
          while (done < STEP_COUNT) {
            const step = done + 1;
            await ctx.run(`execute-${step}`, async () => {
              await effects().execute(step);
              // A TerminalError is journaled as the step's failure and not retried.
              if (fail && step === FAILING_STEP) throw new restate.TerminalError(`step ${step} failed`);
            });
            done = step;
          }
          return { ending: 'completed' };
        } catch (error) {
          if (!(error instanceof restate.TerminalError)) throw error; // suspensions etc. belong to the SDK
          for (let step = done; step >= 1; step--) {
            await ctx.run(`compensate-${step}`, () => effects().compensate(step));
          }
          return { ending: 'compensated' };
        }
      },
    },
  });
}

/** Only the SDK's warnings and errors reach stderr (its per-invocation info lines would flood a benchmark), less one expected warning. */
const quietLogger: restate.LoggerTransport = (meta, message: unknown, ...rest: unknown[]) => {
  // RestateLogLevel is a type-only (declare) enum: the SDK exports no value for it; compare its strings.
  const level: string = meta.level;
  // Expected here: the endpoint listens on 127.0.0.1 only, for the private server.
  if (typeof message === 'string' && message.startsWith('Accepting requests without validating request signatures')) return;
  if (level === 'error' || level === 'warn') console.error(`[restate-sdk ${level}]`, message, ...rest);
};

class RestatePeer implements SagaPeer {
  readonly name = 'restate';
  readonly durable = true;
  readonly #options: PeerOptions;
  readonly #counts = new CountingEffects();
  #effects: SagaEffects = this.#counts;
  #server: RestateServer | undefined;
  #endpoint: Http2Server | undefined;
  readonly #sessions = new Set<ServerHttp2Session>();
  #invokeUrl: string | undefined;

  constructor(options: PeerOptions) {
    this.#options = options;
  }

  async setup(): Promise<void> {
    if (this.#server !== undefined) throw new Error('restate: setup() called twice');
    try {
      this.#server = await startRestateServer({ echoLog: this.#options.restateServerLog === true });
      const endpointPort = await this.#serveEndpoint();
      await this.#register(`http://127.0.0.1:${endpointPort}`);
      this.#invokeUrl = `${this.#server.ingressUrl}/${SERVICE}/${HANDLER}`;
      await this.selfCheck();
    } catch (error) {
      const tail = this.#server?.logTail(3_000);
      await this.teardown().catch(() => undefined); // the setup error is the one worth reporting
      if (tail === undefined) throw error;
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new Error(`restate: setup failed: ${message}\n--- restate-server log (tail) ---\n${tail}`, { cause: error });
    }
  }

  async #serveEndpoint(): Promise<number> {
    const handler = restate.createEndpointHandler({
      services: [sagaService(() => this.#effects)],
      logger: quietLogger,
    });
    const endpoint = createServer(handler);
    this.#endpoint = endpoint;
    endpoint.on('session', (session) => {
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
      // A connection reset (e.g. the server stopping) must not become an unhandled 'error' event.
      session.on('error', () => undefined);
    });
    return new Promise((resolve, reject) => {
      endpoint.once('error', reject);
      endpoint.listen(0, '127.0.0.1', () => {
        endpoint.off('error', reject);
        const address = endpoint.address();
        if (typeof address === 'object' && address !== null) resolve(address.port);
        else reject(new Error('restate: endpoint has no port'));
      });
    });
  }

  async #register(uri: string): Promise<void> {
    const server = this.#server;
    if (server === undefined) throw new Error('restate: no server');
    const response = await fetch(`${server.adminUrl}/deployments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = await response.text();
    if (!response.ok) throw new Error(`restate: registering ${uri} failed: HTTP ${response.status} ${body}`);
  }

  #url(): string {
    if (this.#invokeUrl === undefined) throw new Error('restate: call setup() first');
    return this.#invokeUrl;
  }

  /**
   * One saga through the ingress: resolves with how it ended.
   * @param retryNotFound - retry while the ingress answers 404 (it learns about a new deployment
   *   shortly after registration; a 404 creates no invocation, so retrying is safe)
   */
  async #invoke(url: string, fail: boolean, retryNotFound = false): Promise<SagaResponse> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ fail } satisfies SagaRequest),
        signal: AbortSignal.timeout(INVOCATION_TIMEOUT_MS),
      });
      const text = await response.text();
      if (response.ok) return JSON.parse(text) as SagaResponse;
      if (!(retryNotFound && response.status === 404 && Date.now() < deadline)) {
        throw new Error(`restate: invocation failed: HTTP ${response.status} ${text}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async selfCheck(): Promise<void> {
    const url = this.#url();
    for (const fail of [false, true]) {
      const tracing = new TracingEffects();
      this.#effects = tracing;
      let response: SagaResponse;
      try {
        response = await this.#invoke(url, fail, true);
      } finally {
        this.#effects = this.#counts;
      }
      assertTrace(this.name, fail, response.ending, tracing.trace);
    }
    await this.#checkJournal();
  }

  /** Durable for real: the server's journal holds the failing saga's 5 + 4 `ctx.run` entries. */
  async #checkJournal(): Promise<void> {
    const server = this.#server;
    if (server === undefined) throw new Error('restate: no server');
    const want = [1, 2, 3, 4, 5].map((s) => `execute-${s}`);
    want.push('compensate-4', 'compensate-3', 'compensate-2', 'compensate-1');
    const sql =
      `SELECT j.id, j.entry_type, j.name FROM sys_journal j JOIN sys_invocation i ON i.id = j.id ` +
      `WHERE i.target_service_name = '${SERVICE}' ORDER BY j.id, j.index`;
    const response = await fetch(`${server.adminUrl}/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query: sql }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`restate: journal query failed: HTTP ${response.status} ${text}`);
    const rows = (JSON.parse(text) as { rows: Array<{ id: string; entry_type: string; name: string | null }> }).rows;
    const byInvocation = new Map<string, string[]>();
    for (const row of rows) {
      // Journal v2: each ctx.run is a named `Command: Run` entry plus its unnamed completion notification.
      if (row.entry_type !== 'Command: Run' || row.name === null) continue;
      byInvocation.set(row.id, [...(byInvocation.get(row.id) ?? []), row.name]);
    }
    const journals = [...byInvocation.values()].map((names) => names.join(','));
    if (!journals.includes(want.join(','))) {
      throw new Error(
        `restate self-check failed: no journal [${want.join(',')}] among [${journals.join(' | ')}]; rows: ${text.slice(0, 2_000)}`,
      );
    }
  }

  async runBatch(options: BatchOptions): Promise<void> {
    const url = this.#url();
    const { fail } = options;
    const expected: SagaEnding = fail ? 'compensated' : 'completed';
    this.#counts.reset();
    await runPool(options.count, options.concurrency, async () => {
      const { ending } = await this.#invoke(url, fail);
      if (ending !== expected) throw new Error(`restate: saga ended ${ending}, expected ${expected}`);
    });
    assertCounts(this.name, options, this.#counts, true);
  }

  async teardown(): Promise<void> {
    const server = this.#server;
    const endpoint = this.#endpoint;
    this.#server = undefined;
    this.#endpoint = undefined;
    this.#invokeUrl = undefined;
    try {
      // The server first: it holds HTTP/2 connections to the endpoint open.
      await server?.stop();
    } finally {
      if (endpoint !== undefined) {
        for (const session of this.#sessions) session.destroy();
        this.#sessions.clear();
        await new Promise<void>((resolve) => endpoint.close(() => resolve()));
      }
    }
  }
}

/** Restate can run when its server binary for this platform runs. */
export async function probe(): Promise<Availability> {
  const version = restateServerVersion();
  return version.ok ? { ok: true } : { ok: false, reason: version.reason };
}

/**
 * A new Restate peer.
 * @param options - `restateServerLog` to echo the server log
 */
export function createPeer(options: PeerOptions): SagaPeer {
  return new RestatePeer(options);
}
