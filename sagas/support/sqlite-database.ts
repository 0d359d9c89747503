import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { SqlDatabase, SqlExecutor, SqlValue } from './sql-database.js';

/**
 * {@link SqlDatabase} on one better-sqlite3 connection.
 *
 * @remarks
 * better-sqlite3 is synchronous, and one connection has one transaction at a time, so every
 * statement and transaction goes through a queue: a query from another task never lands inside
 * someone else's open transaction.
 */
export class SqliteDatabase implements SqlDatabase {
  readonly dialect = 'sqlite' as const;
  readonly description: string;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement<SqlValue[], object>>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.description = `sqlite:${path}`;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    // The saga store may have the same file open: wait for its write lock instead of failing.
    this.db.pragma('busy_timeout = 5000');
    if (path !== ':memory:') this.db.pragma('journal_mode = WAL');
  }

  query<TRow extends object>(sql: string, params: readonly SqlValue[] = []): Promise<TRow[]> {
    return this.serialised(() => Promise.resolve(this.run<TRow>(sql, params)));
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.serialised(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await work({ query: <TRow extends object>(sql: string, params: readonly SqlValue[] = []) => Promise.resolve(this.run<TRow>(sql, params)) });
        this.db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      }
    });
  }

  migrate(statements: readonly string[]): Promise<void> {
    return this.transaction(async (tx) => {
      for (const statement of statements) await tx.query(statement);
    });
  }

  close(): Promise<void> {
    return this.serialised(() => {
      if (this.db.open) this.db.close();
      return Promise.resolve();
    });
  }

  private run<TRow extends object>(sql: string, params: readonly SqlValue[]): TRow[] {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare<SqlValue[], object>(sql);
      this.statements.set(sql, statement);
    }
    if (statement.reader) return statement.all(...params) as TRow[];
    statement.run(...params);
    return [];
  }

  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task);
    this.queue = result.catch(() => undefined);
    return result;
  }
}
