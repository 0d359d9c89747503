import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { SagaStore } from '../index.js';
import { CliUsageError } from './exit-codes.js';
import { orList } from './format.js';
import { maskUrl } from './mask-secrets.js';

/** A parsed store URL. */
export type StoreLocation =
  | { readonly kind: 'memory' }
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly connectionString: string; readonly schema?: string };

const STORE_URL_HELP = 'use memory:, sqlite:PATH (e.g. sqlite:.sagaflow/sagaflow.db) or postgres://user@host:5432/database';

/**
 * Parses a store URL: `memory:`, `sqlite:PATH`, or `postgres://…` / `postgresql://…` with an
 * optional `?schema=NAME` (default `sagaflow`).
 *
 * @throws {@link CliUsageError} for anything else.
 */
export function parseStoreUrl(url: string): StoreLocation {
  if (url === 'memory:' || url === 'memory://') return { kind: 'memory' };
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new CliUsageError(`The store URL '${maskUrl(url)}' has no file path: write sqlite:PATH, e.g. sqlite:.sagaflow/sagaflow.db.`);
    // `sqlite://x` (two slashes, as in postgres://) is neither a relative path nor `sqlite:///x`:
    // reading it as the absolute `//x` would look for a file at the root of the disk.
    if (path.startsWith('//')) {
      const rest = maskUrl(path.slice(2));
      throw new CliUsageError(
        `The store URL '${maskUrl(url)}' has two slashes after sqlite:, which sagaflow does not read as a path: write sqlite:${rest} for a file relative to the current directory, or sqlite:/${rest} for an absolute path.`,
      );
    }
    return { kind: 'sqlite', path };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (error) {
      throw new CliUsageError(`The store URL '${maskUrl(url)}' is not a valid URL: ${STORE_URL_HELP}.`, { cause: error });
    }
    const schema = parsed.searchParams.get('schema');
    parsed.searchParams.delete('schema');
    return { kind: 'postgres', connectionString: parsed.toString(), ...(schema === null ? {} : { schema }) };
  }
  // A bare file path (no scheme) is almost always a SQLite file whose `sqlite:` was forgotten.
  if (!/^[a-z][a-z0-9+.-]*:/i.test(url)) {
    throw new CliUsageError(`Unknown store URL '${maskUrl(url)}': for a SQLite file write sqlite:${maskUrl(url)} (store URLs are memory:, sqlite:PATH or postgres://user@host:5432/database).`);
  }
  throw new CliUsageError(`Unknown store URL '${maskUrl(url)}': ${STORE_URL_HELP}.`);
}

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /**
   * The store must already hold runs: a `sqlite:` file that does not exist is an error rather
   * than a new, empty store (for commands that read runs).
   */
  readonly mustExist?: boolean;
}

/**
 * Opens the store a URL names and checks that it answers, so that an unreachable database is
 * reported before anything runs. The library loads only once the URL is known to be good, so a
 * bad one is reported at once.
 *
 * @throws {@link CliUsageError} for a bad URL, a missing file (with `mustExist`), or a store
 * that cannot be reached.
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<SagaStore> {
  const location = parseStoreUrl(url);
  const store = await createStore(location, url, options);
  try {
    await store.listRuns({ limit: 1 });
  } catch (error) {
    await store.close().catch(() => undefined);
    // The library is loaded by now (the store came from it).
    const { SagaError } = await import('../index.js');
    // A sagaflow error (StoreUnavailableError…) already says which store, what failed and what to do.
    const message = error instanceof SagaError ? messageOf(error) : `The saga store ${maskUrl(url)} cannot be opened: ${messageOf(error)}`;
    throw new CliUsageError(message, { cause: error });
  }
  return store;
}

async function createStore(location: StoreLocation, url: string, options: OpenStoreOptions): Promise<SagaStore> {
  switch (location.kind) {
    case 'memory': {
      const { MemoryStore } = await import('../index.js');
      return new MemoryStore();
    }
    case 'sqlite': {
      if (options.mustExist === true && location.path !== ':memory:' && !existsSync(location.path)) {
        throw new CliUsageError(
          `There is no saga store at ${maskUrl(url)} (${missingFileDetail(location.path)}): pass --store with the URL your runs were written to, or set SAGAFLOW_STORE.`,
        );
      }
      const { SqliteStore } = await import('../sqlite-runtime.js');
      return new SqliteStore({ path: location.path });
    }
    case 'postgres': {
      const { PostgresStore } = await import('../postgres-runtime.js');
      try {
        return new PostgresStore({ connectionString: location.connectionString, ...(location.schema === undefined ? {} : { schema: location.schema }) });
      } catch (error) {
        throw new CliUsageError(`The store URL '${maskUrl(url)}' is not usable: ${messageOf(error)}`, { cause: error });
      }
    }
  }
}

function messageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // From the first blank of a run only: tried from each, a long run with no newline took quadratic time.
  return message.replace(/(?<!\s)\s*\n\s*/g, ' ');
}

const SQLITE_FILE = /\.(db|sqlite3?)$/;

/**
 * Why a `sqlite:` path names no store: the absolute path that was looked for (a relative path is
 * relative to the current directory, which is easy to get wrong), and the SQLite files that sit in
 * that directory instead, as store URLs (an application that wrote its runs to
 * `.sagaflow/app.db` while the CLI looks at its default `.sagaflow/sagaflow.db`).
 */
function missingFileDetail(path: string): string {
  const absolute = resolve(path);
  let beside: string[] = [];
  try {
    beside = readdirSync(dirname(absolute))
      .filter((name) => SQLITE_FILE.test(name) && name !== basename(absolute))
      .sort()
      .slice(0, 3);
  } catch {
    // no such directory: nothing to suggest
  }
  const looked = `no file ${absolute}`;
  if (beside.length === 0) return looked;
  const urls = beside.map((name) => `sqlite:${join(dirname(path), name)}`);
  return `${looked}; that directory holds ${orList(urls)}`;
}
