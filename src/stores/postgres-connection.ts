import type pg from 'pg';
import { SagaError } from '../errors/saga-error.js';
import { StoreUnavailableError } from '../errors/store-errors.js';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Checks a schema name and returns it, so it can be spliced into SQL.
 * Internal to the PostgreSQL store.
 *
 * @throws TypeError naming the bad value.
 *
 * @internal
 */
export function validateSchemaName(schema: string): string {
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw new TypeError(
      `PostgresStore: schema ${JSON.stringify(schema)} is not a plain SQL identifier: use 1 to 63 lowercase letters, digits and underscores, starting with a letter or an underscore.`,
    );
  }
  // PostgreSQL refuses to create schemas named pg_*; say so now rather than at the first append.
  if (schema.startsWith('pg_')) {
    throw new TypeError(`PostgresStore: schema ${JSON.stringify(schema)} is reserved: PostgreSQL keeps names starting with pg_ for itself.`);
  }
  return schema;
}

/**
 * A connection string with its password replaced by `***`, for messages and `description`.
 * Internal to the PostgreSQL store.
 *
 * @internal
 */
export function maskConnectionString(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password !== '') url.password = '***';
    if (url.searchParams.has('password')) url.searchParams.set('password', '***');
    return url.toString();
  } catch {
    // libpq keyword/value form: host=… password=…
    return connectionString.replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, '$1***');
  }
}

/**
 * How a store built on an existing pool describes itself: the pool's connection string, masked,
 * or a URL rebuilt from its host, port, user and database.
 * Internal to the PostgreSQL store.
 *
 * @internal
 */
export function describePool(options: pg.PoolConfig): string {
  if (options.connectionString !== undefined) return maskConnectionString(options.connectionString);
  const user = options.user === undefined ? '' : `${encodeURIComponent(options.user)}@`;
  const host = options.host ?? 'localhost';
  const port = options.port ?? 5432;
  const database = options.database === undefined ? '' : `/${encodeURIComponent(options.database)}`;
  return `postgres://${user}${host.includes('/') ? encodeURIComponent(host) : host}:${port}${database}`;
}

// Node socket errors that mean the server cannot be reached.
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

// pg's own messages when a socket dies or a connection attempt times out.
const CONNECTION_LOST_MESSAGE = /connection terminated|timeout exceeded when trying to connect|not queryable|connection ended|connection timeout|query read timeout/i;

type Diagnosis = 'unreachable' | 'lost' | 'rejected' | 'authentication' | 'no-database';

function diagnose(error: unknown): Diagnosis | undefined {
  if (error instanceof AggregateError) {
    // Node tries every address of a host name ("localhost": ::1 and 127.0.0.1) and reports all.
    for (const inner of error.errors) {
      const found = diagnose(inner);
      if (found !== undefined) return found;
    }
  }
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_ERROR_CODES.has(code)) return 'unreachable';
    // SQLSTATE class 08: connection exception; 57P01-03: the server is shutting down or starting.
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return 'lost';
    if (code === '53300') return 'rejected';
    if (code.startsWith('28')) return 'authentication';
    if (code === '3D000') return 'no-database';
  }
  return CONNECTION_LOST_MESSAGE.test(error.message) ? 'lost' : undefined;
}

/**
 * Tells whether an error from pg means the connection is gone or could not be made.
 * Internal to the PostgreSQL store.
 *
 * @internal
 */
export function isConnectionError(error: unknown): boolean {
  return diagnose(error) !== undefined;
}

/**
 * Turns a pg connection failure into a {@link StoreUnavailableError} that says which server,
 * what happened and what to do; other errors are returned unchanged.
 * Internal to the PostgreSQL store.
 *
 * @param store - the store's masked description.
 * @param operation - what the store was doing, e.g. `append to run 0190…`.
 *
 * @internal
 */
export function toStoreError(error: unknown, store: string, operation: string): unknown {
  if (error instanceof SagaError) return error;
  const code = (error as { code?: unknown } | undefined)?.code;
  // The statement was cancelled and rolled back: nothing of it was applied, so it can be retried.
  if (code === '55P03') {
    return new StoreUnavailableError(
      store,
      `${operation} waited longer than its lock_timeout for a row another client holds (an open transaction, a frozen process); nothing was written: retry, and look for the client holding the lock in pg_stat_activity`,
      { cause: error },
    );
  }
  if (code === '57014') {
    return new StoreUnavailableError(store, `${operation} was cancelled (it ran longer than its statement_timeout, or an operator cancelled it); nothing was written: retry`, {
      cause: error,
    });
  }
  const diagnosis = diagnose(error);
  if (diagnosis === undefined) return error;
  const reason = describeCause(error);
  const detail = ((): string => {
    switch (diagnosis) {
      case 'unreachable':
        return `${operation} could not connect to the PostgreSQL server (${reason}); check that the server is running and reachable at that address, then retry`;
      case 'lost':
        return `the connection to the PostgreSQL server was lost during ${operation} (${reason}); retry once the server is back, and if the loss happened while committing, reload the run first because the write may have been applied`;
      case 'rejected':
        return `the PostgreSQL server refused a new connection for ${operation} (${reason}); lower the pool size or raise max_connections, then retry`;
      case 'authentication':
        return `the PostgreSQL server rejected the credentials for ${operation} (${reason}); check the user and password in the connection settings`;
      case 'no-database':
        return `the database does not exist (${reason}); create it or fix the database name in the connection settings`;
    }
  })();
  return new StoreUnavailableError(store, detail, { cause: error });
}

/**
 * pg's `Query read timeout` (its client-side `query_timeout` fired) with how long was waited, for
 * {@link toStoreError}'s message; other errors are returned unchanged.
 * Internal to the PostgreSQL store.
 *
 * @internal
 */
export function withReadTimeout(error: unknown, timeoutMs: number | undefined): unknown {
  if (!(error instanceof Error) || error.message !== 'Query read timeout') return error;
  return new Error(`Query read timeout: the server did not answer within ${timeoutMs ?? 0} ms`, { cause: error });
}

function describeCause(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describeCause(error.errors[0]);
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}
