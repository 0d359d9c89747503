import pg from 'pg';
import type { SqlDatabase, SqlExecutor, SqlValue } from './sql-database.js';

/** `?` placeholders to pg's `$1, $2…` (the demos' SQL has no `?` inside string literals). */
function numbered(sql: string): string {
  let index = 0;
  return sql.replace(/\?/g, () => `$${++index}`);
}

function executor(client: pg.Pool | pg.PoolClient): SqlExecutor {
  return {
    async query<TRow extends object>(sql: string, params: readonly SqlValue[] = []): Promise<TRow[]> {
      const result = await client.query<TRow>(numbered(sql), [...params]);
      return result.rows;
    },
  };
}

/** {@link SqlDatabase} on a pg pool; every table lives in one schema (the connections' `search_path`). */
export class PostgresDatabase implements SqlDatabase {
  readonly dialect = 'postgres' as const;
  private readonly plain: SqlExecutor;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    readonly description: string,
    readonly schema: string,
  ) {
    this.plain = executor(pool);
  }

  /** Connects, creates the schema if needed, and checks the server answers. */
  static async connect(connectionString: string, schema: string): Promise<PostgresDatabase> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new TypeError(`'${schema}' is not a plain schema name.`);
    const pool = new pg.Pool({
      connectionString,
      max: 4,
      connectionTimeoutMillis: 5_000,
      options: `-c search_path=${schema}`,
      application_name: 'sagaflow-demo',
    });
    // An idle client dropped by the server must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    const url = new URL(connectionString);
    if (url.password !== '') url.password = '***';
    const database = new PostgresDatabase(pool, url.toString(), schema);
    try {
      await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    } catch (error) {
      // Two processes creating the schema at once: the loser sees a unique violation.
      if ((error as { code?: string }).code !== '23505') {
        await pool.end();
        throw error;
      }
    }
    return database;
  }

  query<TRow extends object>(sql: string, params?: readonly SqlValue[]): Promise<TRow[]> {
    return this.plain.query<TRow>(sql, params);
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(executor(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  migrate(statements: readonly string[]): Promise<void> {
    return this.transaction(async (tx) => {
      // CREATE TABLE IF NOT EXISTS races between processes; a transaction-scoped lock orders them.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext(?))', [this.schema]);
      for (const statement of statements) await tx.query(statement);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
