import type { IncomingMessage, ServerResponse } from 'node:http';
import { createOrchestrator, RUN_STATUSES, supportsWorkers, type AnySaga, type Orchestrator, type RunStatus, type SagaStore } from '../index.js';
import { Access } from './access.js';
import { parseActionRequest, performAction } from './actions.js';
import { loadScripts, STATIC_ASSETS, type Asset } from './assets.js';
import { readBody, send, sendJson, sendText } from './http.js';
import { messagePage, runPage, runsListPage } from './pages.js';
import { POLL_INTERVAL_MS } from './journal-feed.js';
import { streamRun } from './run-stream.js';
import { readRunsPage, type RunsCursor, type RunsFilter } from './runs-query.js';

/**
 * Options of {@link createInspector}.
 *
 * @remarks
 * Only `store` is required. Without `sagas` the inspector shows every run and can cancel runs that
 * a live process drives, but it cannot redrive or roll back a run itself (it would have to run the
 * saga's code): pass the saga definitions for that.
 *
 * @example
 * ```ts
 * import { MemoryStore } from 'sagaflow';
 * import type { InspectorOptions } from 'sagaflow/inspector';
 * const options: InspectorOptions = { store: new MemoryStore(), readOnly: true };
 * ```
 */
export interface InspectorOptions {
  /** Where the runs are kept. The inspector never closes it: close it after {@link Inspector.close}. */
  readonly store: SagaStore;
  /** The sagas whose runs the inspector may redrive, roll back, or cancel when no live process drives them. */
  readonly sagas?: readonly AnySaga[] | undefined;
  /** Refuse every action (redrive, compensate, cancel): the pages only show runs. Default `false`. */
  readonly readOnly?: boolean | undefined;
  /**
   * A secret every request must prove: opening the page once with `?token=TOKEN` (kept in an
   * HTTP-only cookie from then on), or `Authorization: Bearer TOKEN`. Needed whenever the server
   * can be reached from other machines. Default: none.
   */
  readonly token?: string | undefined;
  /**
   * The only host names (without port) the inspector answers for, e.g. `['localhost', '127.0.0.1']`:
   * a page of another site whose name was pointed at this machine (DNS rebinding) gets nothing.
   * Default: any host (rely on `token` when the server is reachable from other machines).
   */
  readonly allowedHosts?: readonly string[] | undefined;
  /**
   * Where problems go that no page can show (a request the store failed, a redriven run whose
   * store fails), with what the inspector was doing. Default: one `console.warn` line saying what
   * it was doing, the error's name, code and message, and its causes.
   */
  readonly onError?: ((error: Error, context: InspectorProblemContext) => void) | undefined;
}

/**
 * What the inspector was doing when a problem reached {@link InspectorOptions.onError}.
 *
 * @remarks
 * `request` when it could not answer a request (`GET /`, `GET /api/stream`); `action` and
 * `runId` when an action on a run failed, at once or after it started (a redrive whose store
 * went away). The error itself is passed as it was thrown, so `instanceof` checks work on it.
 *
 * @example
 * ```ts
 * import { MemoryStore } from 'sagaflow';
 * import { createInspector, type InspectorProblemContext } from 'sagaflow/inspector';
 * const where = (context: InspectorProblemContext) => context.request ?? `${context.action ?? 'action'} of run ${context.runId ?? '?'}`;
 * createInspector({ store: new MemoryStore(), onError: (error, context) => console.error(where(context), error) });
 * ```
 */
export interface InspectorProblemContext {
  /** The request it could not answer: method and path, e.g. `GET /`. */
  readonly request?: string;
  /** The action that failed. */
  readonly action?: 'redrive' | 'compensate' | 'cancel';
  /** The run the action was on. */
  readonly runId?: string;
}

/** The default {@link InspectorOptions.onError}: one line with what was being done, the error and its causes. */
function warnProblem(error: Error, context: InspectorProblemContext): void {
  const doing = context.request !== undefined ? `could not answer ${context.request}` : `${context.action ?? 'action'} of run ${context.runId ?? '?'}`;
  console.warn(`sagaflow inspector: ${doing}: ${describeChain(error)}`);
}

/** `Name (CODE): message`, then each cause (a few levels at most: a cause may point back). */
function describeChain(error: unknown): string {
  const parts: string[] = [];
  for (let current: unknown = error, depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (!(current instanceof Error)) {
      const value = current;
      parts.push(typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? String(value) : `a thrown ${typeof value} that is not an Error`);
      break;
    }
    const code = (current as { code?: unknown }).code;
    parts.push(`${current.name}${typeof code === 'string' ? ` (${code})` : ''}: ${current.message}`);
    current = current.cause;
  }
  return parts.join(' Caused by ');
}

/**
 * A Node request handler serving the inspector, with a way to stop it.
 *
 * @remarks
 * Mount it at a path that ends with `/` (every link in its pages is relative). `close()` ends the
 * pages' open streams and closes the inspector's orchestrator, which waits for runs the inspector
 * redrove or rolled back (up to `timeoutMs`; the rest stay in the store, resumable). It does not
 * close the store.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { MemoryStore } from 'sagaflow';
 * import { createInspector, type Inspector } from 'sagaflow/inspector';
 * const inspector: Inspector = createInspector({ store: new MemoryStore() });
 * const server = createServer(inspector).listen(0, '127.0.0.1');
 * server.close();
 * await inspector.close();
 * ```
 */
export interface Inspector {
  /** Answers one request. */
  (req: IncomingMessage, res: ServerResponse): void;
  /** The orchestrator the inspector acts with (its actions' runs are driven by it). */
  readonly orchestrator: Orchestrator;
  /** Ends the open streams and closes the orchestrator (see the remarks). */
  close(options?: { readonly timeoutMs?: number | undefined }): Promise<void>;
}

/** Runs per page of the list. */
const PAGE_SIZE = 50;
/** The longest run id, saga name or prefix looked for (anything longer names no run). */
const MAX_TEXT = 200;

/**
 * Creates the run inspector: a Node request handler that serves the runs list, each run's page
 * (its DAG, rollback, timeline, input, outputs and journal, live), and the redrive, compensate
 * and cancel actions.
 *
 * @remarks
 * One more reader of the journal: every page is drawn from the fold of a run's events, read from
 * `store`; a run's page follows its journal in the store over server-sent events, for as long as
 * an action can still move the run (a redrive from another process shows too). Runs are
 * listed newest first with keyset paging on the run id, so a page costs the same with 100,000 runs
 * as with ten. Actions need a same-origin request carrying the page's per-session token; with
 * `readOnly` they are refused. Everything from a journal is written into pages as text.
 *
 * Serve it on 127.0.0.1 (as `sagaflow ui` does by default); on an address other machines reach,
 * set `token`. The page's assets are served by the handler itself: no network access is needed.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { SqliteStore } from 'sagaflow/sqlite';
 * import { createInspector } from 'sagaflow/inspector';
 * const store = new SqliteStore({ path: '.sagaflow/sagaflow.db' });
 * const inspector = createInspector({ store, readOnly: true });
 * createServer(inspector).listen(4000, '127.0.0.1'); // http://127.0.0.1:4000/
 * ```
 */
export function createInspector(options: InspectorOptions): Inspector {
  const { store } = options;
  const readOnly = options.readOnly === true;
  const sagas = options.sagas ?? [];
  const onError = options.onError ?? warnProblem;
  const orchestrator = createOrchestrator({ store, sagas: [...sagas] });
  const access = new Access(options.token, options.allowedHosts === undefined ? undefined : new Set(options.allowedHosts.map((host) => host.toLowerCase())));
  const sagaNames = new Set(sagas.map((saga) => saga.name));
  const actions = { readOnly, drives: (saga: string) => sagaNames.has(saga), workers: supportsWorkers(store) };
  const open = new Set<ServerResponse>();
  let scripts: Promise<ReadonlyMap<string, Asset>> | undefined;
  let closed = false;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://inspector.invalid');
    const admission = access.admit(req, url);
    if (admission.kind === 'refused') return sendText(res, admission.status, admission.message);
    if (admission.kind === 'redirect') {
      res.writeHead(303, { location: admission.location, 'set-cookie': [...admission.setCookies], 'cache-control': 'no-store' });
      res.end();
      return;
    }
    const cookies = admission.setCookies.length === 0 ? {} : { 'set-cookie': [...admission.setCookies] };
    const route = routeOf(url.pathname);
    const method = req.method ?? 'GET';
    if (route === 'action') {
      if (method !== 'POST') return sendText(res, 405, 'Actions are POST requests.', { allow: 'POST' });
      if (readOnly) return sendJson(res, 403, { ok: false, message: 'This inspector is read-only: it takes no actions.' });
      const refusal = access.checkAction(req, admission.session);
      if (refusal !== undefined) return sendJson(res, 403, { ok: false, message: `Refused: ${refusal}.` });
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) return sendJson(res, 415, { ok: false, message: 'Send the action as application/json.' });
      const body = await readBody(req);
      if (body.kind === 'too-large') {
        // The body is not read any further: close the connection once the answer is out.
        return sendJson(res, 413, { ok: false, message: `The action request is larger than ${body.limit} bytes: send only the action, the run id and a reason of at most 500 characters.` }, { connection: 'close' });
      }
      const request = parseActionRequest(body.text);
      if (typeof request === 'string') return sendJson(res, 400, { ok: false, message: `Bad action request: ${request}.` });
      const { status, result } = await performAction(orchestrator, store, request, onError);
      return sendJson(res, status, result);
    }
    if (method !== 'GET' && method !== 'HEAD') return sendText(res, 405, 'Only GET here.', { allow: 'GET, HEAD' });
    switch (route) {
      case 'list': {
        const filter = filterOf(url.searchParams);
        const cursor = cursorOf(url.searchParams);
        const [page, counts] = await Promise.all([readRunsPage(store, filter, cursor, PAGE_SIZE), store.countRuns(filter.saga === undefined ? {} : { saga: filter.saga })]);
        const names = [...new Set([...sagaNames, ...page.runs.map((run) => run.saga)])].sort();
        return send(res, 200, 'text/html; charset=utf-8', runsListPage({ store: store.description, filter, page, counts, sagas: names, readOnly }), cookies);
      }
      case 'run': {
        const runId = idParam(url.searchParams, 'id');
        if (runId === undefined) return send(res, 400, 'text/html; charset=utf-8', messagePage('No run', 'Open a run from the list.'), cookies);
        return send(res, 200, 'text/html; charset=utf-8', runPage({ runId, csrfToken: access.csrfToken(admission.session), readOnly }), cookies);
      }
      case 'stream': {
        const runId = idParam(url.searchParams, 'id');
        if (runId === undefined) return sendText(res, 400, 'Which run? Pass ?id=RUN_ID.');
        if (closed) return sendText(res, 503, 'The inspector is closing.');
        const after = Number(url.searchParams.get('after') ?? '-1');
        streamRun(req, res, runId, Number.isInteger(after) ? after : -1, { store, actions, open, pollIntervalMs: POLL_INTERVAL_MS });
        return;
      }
      case 'asset': {
        const name = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
        const asset = STATIC_ASSETS.get(name) ?? (name.endsWith('.js') ? (await (scripts ??= loadScripts())).get(name) : undefined);
        if (asset === undefined) return sendText(res, 404, `No asset ${name}.`);
        if (req.headers['if-none-match'] === asset.etag) {
          res.writeHead(304, { etag: asset.etag });
          res.end();
          return;
        }
        const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
        return send(res, 200, asset.type, gzip ? asset.gzip : asset.body, {
          etag: asset.etag,
          'cache-control': 'no-cache',
          vary: 'accept-encoding',
          ...(gzip ? { 'content-encoding': 'gzip' } : {}),
        });
      }
      case undefined:
        return send(res, 404, 'text/html; charset=utf-8', messagePage('Not found', `There is no page ${url.pathname} here.`), cookies);
    }
  };

  const inspector = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: unknown) => {
      const problem = error instanceof Error ? error : new Error(String(error));
      onError(problem, { request: `${req.method ?? 'GET'} ${new URL(req.url ?? '/', 'http://inspector.invalid').pathname}` });
      if (!res.headersSent) sendText(res, 500, `The inspector could not answer: ${problem.message}`);
      else res.end();
    });
  };
  return Object.assign(inspector, {
    orchestrator,
    async close(closeOptions: { readonly timeoutMs?: number | undefined } = {}): Promise<void> {
      closed = true;
      for (const res of [...open]) res.end();
      open.clear();
      await orchestrator.close(closeOptions.timeoutMs === undefined ? {} : { timeoutMs: closeOptions.timeoutMs });
    },
  });
}

type Route = 'list' | 'run' | 'stream' | 'action' | 'asset';

/** The page a path names, by its last segments (the handler may be mounted under any path). */
function routeOf(pathname: string): Route | undefined {
  if (pathname.endsWith('/')) return 'list';
  if (/\/run$/.test(pathname)) return 'run';
  if (/\/api\/stream$/.test(pathname)) return 'stream';
  if (/\/api\/action$/.test(pathname)) return 'action';
  if (/\/assets\/[\w.-]+$/.test(pathname)) return 'asset';
  return undefined;
}

/** A filter typed into the page: trimmed, cut to {@link MAX_TEXT}. */
function textParam(params: URLSearchParams, name: string): string | undefined {
  const value = params.get(name)?.trim();
  return value === undefined || value === '' ? undefined : value.slice(0, MAX_TEXT);
}

/**
 * A run id from a link (a run's page, a paging cursor): exactly as given — an id may begin or end
 * with spaces, and a cut one would name another run.
 */
function idParam(params: URLSearchParams, name: string): string | undefined {
  const value = params.get(name);
  return value === null || value === '' ? undefined : value;
}

function filterOf(params: URLSearchParams): RunsFilter {
  const status = params.get('status');
  const saga = textParam(params, 'saga');
  const prefix = textParam(params, 'q');
  return {
    ...(RUN_STATUSES.includes(status as RunStatus) ? { status: status as RunStatus } : {}),
    ...(saga === undefined ? {} : { saga }),
    ...(prefix === undefined ? {} : { runIdPrefix: prefix }),
  };
}

function cursorOf(params: URLSearchParams): RunsCursor {
  // A cursor no store can hold (a NUL, from a crafted address) starts the list at its beginning.
  const after = idParam(params, 'after');
  if (after !== undefined && !after.includes('\u0000')) return { after };
  const before = idParam(params, 'before');
  return before === undefined || before.includes('\u0000') ? undefined : { before };
}
