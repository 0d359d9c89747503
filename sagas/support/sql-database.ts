/**
 * The demos' outside systems (banks, a travel agency, a shop) keep their state in real SQL
 * tables. This is the small port they are written against, so the same ledger code runs on
 * SQLite (better-sqlite3) and on PostgreSQL (pg): SQL uses `?` placeholders and the subset both
 * databases share (`INSERT … ON CONFLICT DO NOTHING`, `RETURNING`, conditional `UPDATE`s).
 */

/** Runs SQL: inside a transaction, or on its own. */
export interface SqlExecutor {
  /** Runs one statement with `?` placeholders and returns its rows (`RETURNING` rows for writes). */
  query<TRow extends object = Record<string, unknown>>(sql: string, params?: readonly SqlValue[]): Promise<TRow[]>;
}

/** A value bound to a `?` placeholder. */
export type SqlValue = string | number | null;

/** A database the demo systems keep their tables in. */
export interface SqlDatabase extends SqlExecutor {
  /** Which database engine: the DDL differs a little between them. */
  readonly dialect: 'sqlite' | 'postgres';
  /** Where it is, for messages: `sqlite:PATH` or the masked `postgres://…` URL. */
  readonly description: string;
  /**
   * Runs `work` in one transaction: committed when it resolves, rolled back when it rejects.
   *
   * @remarks
   * On SQLite the transaction holds the file's write lock: `work` must only await queries on
   * the executor it is given (no timers, no other I/O), so that it finishes within one turn of
   * the event loop and never waits on another connection to the same file.
   */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Creates tables: runs the statements once, serialised with other processes doing the same. */
  migrate(statements: readonly string[]): Promise<void>;
  /** Closes the connection(s). Idempotent. */
  close(): Promise<void>;
}

/** Where a demo system keeps its tables: `memory:`, `sqlite:PATH` or `postgres://…` (the CLI's store URLs). */
export type DatabaseUrl = string;

/**
 * Opens the database a store URL names: `memory:` is a private in-memory SQLite database,
 * `sqlite:PATH` a SQLite file (shared with the saga store when it is the same path), and
 * `postgres://…` a PostgreSQL database, where the demo tables live in their own schema
 * (`sagaflow_demo`, or `<schema>_demo` when the URL has `?schema=NAME`).
 *
 * @throws TypeError for any other URL.
 */
export async function openDatabase(url: DatabaseUrl): Promise<SqlDatabase> {
  if (url === 'memory:' || url === 'sqlite::memory:') {
    const { SqliteDatabase } = await import('./sqlite-database.js');
    return new SqliteDatabase(':memory:');
  }
  if (url.startsWith('sqlite:')) {
    const { SqliteDatabase } = await import('./sqlite-database.js');
    return new SqliteDatabase(url.slice('sqlite:'.length));
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { PostgresDatabase } = await import('./postgres-database.js');
    const parsed = new URL(url);
    const schema = parsed.searchParams.get('schema');
    parsed.searchParams.delete('schema');
    return PostgresDatabase.connect(parsed.toString(), `${schema ?? 'sagaflow'}_demo`);
  }
  throw new TypeError(`Unknown database URL '${url}': use memory:, sqlite:PATH or postgres://user@host/database.`);
}

/** The URL the demos use when none is given: the CLI's default store, or `SAGAFLOW_STORE`. */
export function defaultDatabaseUrl(): DatabaseUrl {
  return process.env['SAGAFLOW_STORE'] ?? 'sqlite:.sagaflow/sagaflow.db';
}
