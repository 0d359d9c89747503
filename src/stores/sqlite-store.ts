import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import Database from 'better-sqlite3';
import { StoreConflictError, StoreCorruptionError, StoreUnavailableError } from '../errors/store-errors.js';
import type { RunStatus } from '../journal/outcome.js';
import { sagaEventSchema, type SagaEvent } from '../journal/saga-event.js';
import type { AppendRequest, ListRunsQuery, RunSummary, SagaStore } from './saga-store.js';

/**
 * How hard a {@link SqliteStore} works to keep a committed append across a power loss.
 *
 * @remarks
 * - `'full'` (`PRAGMA synchronous = FULL`): every committed transaction is fsynced before
 *   `append` resolves. Survives a process crash and a power loss or kernel panic.
 * - `'normal'` (`PRAGMA synchronous = NORMAL`): in WAL mode a commit is written to the
 *   operating system but fsynced only at checkpoints. Survives a process crash; the last
 *   transactions before a power loss may be rolled back (the database stays consistent).
 *
 * @example
 * ```ts
 * import type { SqliteDurability } from 'sagaflow/sqlite';
 * const durability: SqliteDurability = process.env.NODE_ENV === 'production' ? 'full' : 'normal';
 * ```
 */
export type SqliteDurability = 'full' | 'normal';

/**
 * Options of {@link SqliteStore}.
 *
 * @remarks
 * Only `path` is required; the constructor checks the other values (a `TypeError` for a bad
 * one) but touches no file. The defaults favour safety: `durability: 'full'` (an fsync per group
 * commit), a 5-second `busyTimeoutMs`, and parent directories created as needed. A relative
 * `path` is resolved against the process's working directory. Several processes may open one
 * file; SQLite serialises their writes, each waiting up to `busyTimeoutMs`.
 *
 * @example
 * ```ts
 * import type { SqliteStoreOptions } from 'sagaflow/sqlite';
 * const options: SqliteStoreOptions = { path: '.sagaflow/sagas.db', durability: 'full', busyTimeoutMs: 2_000 };
 * ```
 */
export interface SqliteStoreOptions {
  /** The database file. Created, with its tables, on first use. `':memory:'` keeps everything in memory. */
  readonly path: string;
  /** See {@link SqliteDurability}. Default `'full'`. */
  readonly durability?: SqliteDurability;
  /**
   * How long a write waits for another connection's write transaction before failing with
   * `StoreUnavailableError`. Default 5,000 ms.
   *
   * @remarks
   * better-sqlite3 is synchronous: the wait blocks this process's event loop.
   */
  readonly busyTimeoutMs?: number;
  /** Create the file's missing parent directories on first use. Default `true`. */
  readonly createDirectory?: boolean;
}

/**
 * Counters of what a {@link SqliteStore} has committed since it was created.
 *
 * @remarks
 * Read with {@link SqliteStore.stats}, a snapshot. Counts this store object only, and only what
 * committed (plus the refused `conflicts`): appends that failed with `StoreUnavailableError` are
 * not counted. `appends / transactions` is the mean group-commit batch.
 *
 * @example
 * ```ts
 * import type { SqliteStoreStats } from 'sagaflow/sqlite';
 * const perTransaction = (stats: SqliteStoreStats) => stats.appends / Math.max(1, stats.transactions);
 * ```
 */
export interface SqliteStoreStats {
  /** Write transactions committed: one per group-commit batch. */
  readonly transactions: number;
  /** `append` calls that committed. */
  readonly appends: number;
  /** Events committed. */
  readonly events: number;
  /** `append` calls refused with `StoreConflictError`. */
  readonly conflicts: number;
}

/**
 * The settings a {@link SqliteStore}'s connection actually runs with, read back from SQLite.
 *
 * @remarks
 * Returned by {@link SqliteStore.readSettings}: what SQLite accepted, which can differ from what
 * was asked (an in-memory database has no WAL). Use it in a health check or a start-up log line
 * to confirm that production runs with `journalMode: 'wal'` and `synchronous: 'full'`.
 *
 * @example
 * ```ts
 * import type { SqliteStoreSettings } from 'sagaflow/sqlite';
 * const durable = (settings: SqliteStoreSettings) => settings.journalMode === 'wal' && settings.synchronous === 'full';
 * ```
 */
export interface SqliteStoreSettings {
  /** `PRAGMA journal_mode`: `'wal'` for a file, `'memory'` for `':memory:'`. */
  readonly journalMode: string;
  /** `PRAGMA synchronous`. */
  readonly synchronous: 'off' | 'normal' | 'full' | 'extra';
  /** `PRAGMA busy_timeout`, in milliseconds. */
  readonly busyTimeoutMs: number;
  /** The version of sagaflow's tables in this file. */
  readonly schemaVersion: number;
}

/** The schema this code reads and writes; bump it with a migration in {@link migrate}. */
const SCHEMA_VERSION = 1;
const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

// Prefixed names, so that pointing the store at an application's own database cannot collide
// with tables such as `events`.
const SCHEMA_V1 = `
  CREATE TABLE IF NOT EXISTS sagaflow_runs (
    run_id     TEXT    NOT NULL PRIMARY KEY,
    saga       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    events     INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS sagaflow_runs_by_status ON sagaflow_runs (status, run_id);
  CREATE INDEX IF NOT EXISTS sagaflow_runs_by_saga ON sagaflow_runs (saga, status, run_id);
  CREATE TABLE IF NOT EXISTS sagaflow_events (
    run_id TEXT    NOT NULL,
    seq    INTEGER NOT NULL,
    type   TEXT    NOT NULL,
    body   TEXT    NOT NULL,
    PRIMARY KEY (run_id, seq)
  );
`;

const RUN_STATUSES: ReadonlySet<string> = new Set<RunStatus>([
  'completed',
  'compensated',
  'cancelled',
  'compensation_failed',
  'paused',
  'queued',
  'running',
  'compensating',
]);

interface PendingAppend {
  readonly request: AppendRequest;
  /** Each event serialised once, at call time, so a later mutation by the caller cannot leak in. */
  readonly bodies: readonly string[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface RunSummaryRow {
  readonly runId: string;
  readonly saga: string;
  readonly status: string;
  readonly events: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** An open database with its prepared statements. */
interface Connection {
  readonly db: Database.Database;
  /** Applies a batch in one IMMEDIATE transaction; fills `failures` for the requests refused alone. */
  readonly writeBatch: (batch: readonly PendingAppend[], failures: Array<Error | undefined>) => void;
  /** Reads a journal's rows and the run's recorded length in one snapshot. */
  readonly readJournal: (runId: string) => { rows: unknown[][]; recorded: number | undefined };
  readonly listStatements: Map<string, Database.Statement<unknown[], RunSummaryRow>>;
}

/**
 * Keeps journals in a SQLite database file: the embedded, durable store for one machine.
 *
 * @remarks
 * Use it when runs must survive a crash and one process (or a few on one machine) drives
 * them; use `PostgresStore` to share runs between machines and workers. The file is opened,
 * put in WAL mode and given its tables on first use (or by {@link SqliteStore.open}), so
 * the constructor does no I/O and never throws for an unusable path: that surfaces as a
 * rejected `StoreUnavailableError` from the first call.
 *
 * Appends are group-committed: every `append` requested within one turn of the event loop
 * is written in a single transaction (one fsync), so throughput grows with the number of
 * concurrent runs. Each promise still resolves only once its own events are committed, and
 * a conflicting append fails alone. better-sqlite3 is synchronous, so a commit blocks the
 * event loop for the length of its fsync; that pause is what lets the next batch fill up.
 *
 * Worker queues are not supported: `lease` on an append is ignored.
 *
 * @example
 * ```ts
 * import { createOrchestrator } from 'sagaflow';
 * import { SqliteStore } from 'sagaflow/sqlite';
 * const store = new SqliteStore({ path: '.sagaflow/sagas.db' });
 * const orchestrator = createOrchestrator({ store, sagas: [] });
 * ```
 */
export class SqliteStore implements SagaStore {
  /** `sqlite:` and the path as given. */
  readonly description: string;
  private readonly path: string;
  private readonly durability: SqliteDurability;
  private readonly busyTimeoutMs: number;
  private readonly createDirectory: boolean;
  private connection: Connection | undefined;
  private closed = false;
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  private readonly counters = { transactions: 0, appends: 0, events: 0, conflicts: 0 };

  /**
   * @param options - the file and how to treat it; see {@link SqliteStoreOptions}.
   * @throws `TypeError` when an option has an invalid value (no I/O happens here).
   */
  constructor(options: SqliteStoreOptions) {
    if (typeof options.path !== 'string' || options.path === '') {
      throw new TypeError('SqliteStore needs a `path`: the database file, e.g. ".sagaflow/sagas.db".');
    }
    const durability = options.durability ?? 'full';
    if (durability !== 'full' && durability !== 'normal') {
      throw new TypeError(`SqliteStore \`durability\` must be 'full' or 'normal', not ${JSON.stringify(durability)}.`);
    }
    const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new TypeError(`SqliteStore \`busyTimeoutMs\` must be an integer >= 0, not ${String(busyTimeoutMs)}.`);
    }
    this.path = options.path;
    this.description = `sqlite:${options.path}`;
    this.durability = durability;
    this.busyTimeoutMs = busyTimeoutMs;
    this.createDirectory = options.createDirectory ?? true;
  }

  /**
   * What this store has committed so far: a snapshot of {@link SqliteStoreStats}.
   *
   * @remarks
   * For metrics, and to check that group commit batches: `appends / transactions` is the
   * mean batch size. Counts this store object only, not other connections to the file.
   *
   * @example
   * ```ts
   * import { SqliteStore } from 'sagaflow/sqlite';
   * const store = new SqliteStore({ path: '.sagaflow/sagas.db' });
   * const { appends, transactions } = store.stats;
   * console.log(`${appends / Math.max(1, transactions)} appends per commit`);
   * ```
   */
  get stats(): SqliteStoreStats {
    return { ...this.counters };
  }

  /**
   * Opens the database now (creating the file, its directory and its tables if needed)
   * instead of on first use, so a bad path fails at start-up.
   *
   * @remarks
   * Optional: every other method opens the database itself. A failed open is retried by the
   * next call, so a store that was locked or missing its disk becomes usable once that is
   * fixed.
   *
   * @example
   * ```ts
   * import { SqliteStore } from 'sagaflow/sqlite';
   * const store = await new SqliteStore({ path: '.sagaflow/sagas.db' }).open();
   * ```
   *
   * @throws `StoreUnavailableError` (rejects) when the file cannot be created or opened, is
   * not a database, is locked, or was written by a newer sagaflow.
   */
  open(): Promise<this> {
    return settle(() => {
      this.connect();
      return this;
    });
  }

  /**
   * Reads back the settings the database connection runs with (opening it if needed).
   *
   * @remarks
   * For diagnostics and tests: it shows what SQLite accepted, not what was asked for.
   *
   * @example
   * ```ts
   * import { SqliteStore } from 'sagaflow/sqlite';
   * const store = new SqliteStore({ path: '.sagaflow/sagas.db', durability: 'normal' });
   * console.log((await store.readSettings()).synchronous); // 'normal'
   * ```
   *
   * @throws `StoreUnavailableError` (rejects) when the database cannot be opened or read.
   */
  readSettings(): Promise<SqliteStoreSettings> {
    return settle(() => this.withDatabase(({ db }) => {
      const synchronous = (['off', 'normal', 'full', 'extra'] as const)[Number(db.pragma('synchronous', { simple: true }))];
      return {
        journalMode: String(db.pragma('journal_mode', { simple: true })),
        synchronous: synchronous ?? 'full',
        busyTimeoutMs: Number(db.pragma('busy_timeout', { simple: true })),
        schemaVersion: Number(db.prepare('SELECT version FROM sagaflow_schema').pluck().get()),
      };
    }));
  }

  /**
   * Appends events to a run's journal, all or nothing; resolves once they are durable.
   *
   * @remarks
   * Group-committed with the other appends of the same event-loop turn; appends to one run in
   * one turn are applied in call order.
   *
   * @throws `StoreConflictError` (rejects) when `expectedSeq` is not the journal's length;
   * the other appends of the batch still commit.
   * @throws `StoreUnavailableError` (rejects) when the database cannot be written (locked
   * past `busyTimeoutMs`, disk full…), or the store is closed. Nothing of that append was
   * written; the whole batch failed with it.
   * @throws `StoreCorruptionError` (rejects) when the run's rows disagree with its recorded
   * length.
   * @throws `TypeError` (rejects) when the events are empty, not contiguous from
   * `expectedSeq`, of another run, or not JSON-serialisable.
   */
  append(request: AppendRequest): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.closed) throw this.closedError();
      const bodies = serializeEvents(request);
      this.pending.push({ request, bodies, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        this.scheduleFlush(() => this.flush());
      }
    });
  }

  /**
   * Loads a run's journal in `seq` order, validating every event; `undefined` for an unknown run.
   *
   * @remarks
   * Every row is parsed and validated with `sagaEventSchema`, and checked against its run and
   * position; a bad row fails only this run's load. Appends not yet committed (their promise
   * still pending) are not seen.
   *
   * @throws `StoreCorruptionError` (rejects) naming the run and the seq of the first bad row:
   * not JSON, not a valid event, of another run, or a gap in the sequence.
   * @throws `StoreUnavailableError` (rejects) when the database cannot be read, or the store
   * is closed.
   */
  load(runId: string): Promise<readonly SagaEvent[] | undefined> {
    return settle(() => {
      const { rows, recorded } = this.withDatabase((connection) => connection.readJournal(runId));
      return parseJournal(runId, rows, recorded);
    });
  }

  /**
   * Lists runs, filtered by status and saga, in run-id order.
   *
   * @remarks
   * Served by indexes on `(status, run_id)` and `(saga, status, run_id)`; page with
   * `afterRunId` set to the last id of the previous page.
   *
   * @throws `TypeError` (rejects) when `limit` is not an integer >= 0.
   * @throws `StoreUnavailableError` (rejects) when the database cannot be read, or the store is
   * closed.
   * @throws `StoreCorruptionError` (rejects) when a run's stored status is not a run status.
   */
  listRuns(query: ListRunsQuery = {}): Promise<readonly RunSummary[]> {
    return settle(() => this.listRunsNow(query));
  }

  private listRunsNow(query: ListRunsQuery): RunSummary[] {
    if (this.closed) throw this.closedError();
    const { limit } = query;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
      throw new TypeError(`listRuns \`limit\` must be an integer >= 0, not ${String(limit)}.`);
    }
    const statuses = query.status === undefined ? undefined : [...new Set(typeof query.status === 'string' ? [query.status] : query.status)];
    if (statuses?.length === 0 || limit === 0) return [];

    const clauses: string[] = [];
    const parameters: Array<string | number> = [];
    if (statuses !== undefined) {
      clauses.push(`status IN (${statuses.map(() => '?').join(', ')})`);
      parameters.push(...statuses);
    }
    if (query.saga !== undefined) {
      clauses.push('saga = ?');
      parameters.push(query.saga);
    }
    if (query.afterRunId !== undefined) {
      clauses.push('run_id > ?');
      parameters.push(query.afterRunId);
    }
    if (limit !== undefined) parameters.push(limit);
    const sql =
      'SELECT run_id AS runId, saga, status, events, created_at AS createdAt, updated_at AS updatedAt FROM sagaflow_runs' +
      (clauses.length === 0 ? '' : ` WHERE ${clauses.join(' AND ')}`) +
      ' ORDER BY run_id' +
      (limit === undefined ? '' : ' LIMIT ?');

    const rows = this.withDatabase((connection) => {
      let statement = connection.listStatements.get(sql);
      if (statement === undefined) {
        statement = connection.db.prepare<unknown[], RunSummaryRow>(sql);
        connection.listStatements.set(sql, statement);
      }
      return statement.all(...parameters);
    });
    return rows.map((row) => {
      if (!RUN_STATUSES.has(row.status)) {
        throw new StoreCorruptionError(row.runId, undefined, `its status ${JSON.stringify(row.status)} is not a run status`);
      }
      return { ...row, status: row.status as RunStatus };
    });
  }

  /**
   * Releases the store's resources. Idempotent.
   *
   * @remarks
   * Commits the appends already requested first, then closes the file. Every call after
   * `close` rejects with `StoreUnavailableError`.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    // Synchronous from here on, so no append can slip in between the flush and the close.
    this.flush();
    this.closed = true;
    const connection = this.connection;
    this.connection = undefined;
    return settle(() => {
      try {
        connection?.db.close();
      } catch (error) {
        throw this.unavailable(error);
      }
    });
  }

  /**
   * Runs `flush` once the appends of this event-loop turn are collected.
   *
   * @remarks
   * `setImmediate` rather than a microtask: Node drains microtasks after every I/O callback,
   * so a microtask flush commits the appends of each callback on its own, while
   * `setImmediate` waits for all the callbacks of the current poll phase. Runs append right
   * after their stage's I/O completes, so this is the difference between about one event and
   * a hundred per fsync with 100 runs (measured by `bench/sqlite-store.ts`, which overrides
   * this method to compare).
   *
   * @internal
   */
  protected scheduleFlush(flush: () => void): void {
    setImmediate(flush);
  }

  /** Commits every pending append in one transaction. Never throws: failures reject the appends. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const failures = new Array<Error | undefined>(batch.length).fill(undefined);
    try {
      this.connect().writeBatch(batch, failures);
    } catch (error) {
      const failure = this.unavailable(error);
      for (const item of batch) item.reject(failure);
      return;
    }
    this.counters.transactions++;
    for (const [index, item] of batch.entries()) {
      const failure = failures[index];
      if (failure === undefined) {
        this.counters.appends++;
        this.counters.events += item.request.events.length;
        item.resolve();
      } else {
        if (failure instanceof StoreConflictError) this.counters.conflicts++;
        item.reject(failure);
      }
    }
  }

  /** Runs `work` on the open database, turning driver errors into `StoreUnavailableError`. */
  private withDatabase<T>(work: (connection: Connection) => T): T {
    try {
      return work(this.connect());
    } catch (error) {
      throw this.unavailable(error);
    }
  }

  private connect(): Connection {
    if (this.closed) throw this.closedError();
    this.connection ??= this.openConnection();
    return this.connection;
  }

  private openConnection(): Connection {
    if (this.path !== ':memory:') this.ensureDirectory(dirname(resolvePath(this.path)));
    let db: Database.Database | undefined;
    try {
      db = new Database(this.path, { timeout: this.busyTimeoutMs });
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${this.durability === 'full' ? 'FULL' : 'NORMAL'}`);
      migrate(db, this.description);
      return prepare(db);
    } catch (error) {
      try {
        db?.close();
      } catch {
        // The open already failed; that error is the one worth reporting.
      }
      throw this.unavailable(error);
    }
  }

  private ensureDirectory(directory: string): void {
    const fail = (detail: string, cause?: unknown): never => {
      throw new StoreUnavailableError(this.description, detail, cause === undefined ? undefined : { cause });
    };
    let isDirectory: boolean;
    try {
      isDirectory = statSync(directory).isDirectory();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') return fail(`the path to ${directory} runs through a file: choose a path in a directory`, error);
      if (code !== 'ENOENT') return fail(`its directory ${directory} cannot be reached (${code ?? String(error)}): check the path and its permissions`, error);
      if (!this.createDirectory) {
        return fail(`the directory ${directory} does not exist: create it, or leave \`createDirectory\` on so the store creates it`);
      }
      try {
        mkdirSync(directory, { recursive: true });
      } catch (mkdirError) {
        const mkdirCode = (mkdirError as NodeJS.ErrnoException).code ?? String(mkdirError);
        return fail(`its directory ${directory} cannot be created (${mkdirCode}): choose a path in a writable directory`, mkdirError);
      }
      return;
    }
    if (!isDirectory) fail(`${directory} is a file, not a directory: choose a path in a directory`);
  }

  private closedError(): StoreUnavailableError {
    return new StoreUnavailableError(this.description, 'the store was closed: create a new SqliteStore to use the database again');
  }

  private unavailable(error: unknown): Error {
    if (error instanceof StoreUnavailableError || error instanceof StoreCorruptionError) return error;
    return new StoreUnavailableError(this.description, describeDriverError(error, this.busyTimeoutMs), { cause: error });
  }
}

/** Runs `work` now and wraps its result or its throw in a promise, so no method throws synchronously. */
function settle<T>(work: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(work());
  });
}

/** Checks an append's events and serialises each once; throws `TypeError` for a malformed request. */
function serializeEvents(request: AppendRequest): string[] {
  const { runId, expectedSeq, events } = request;
  if (!Number.isInteger(expectedSeq) || expectedSeq < 0) {
    throw new TypeError(`Append to run ${runId}: expectedSeq must be an integer >= 0, not ${String(expectedSeq)}.`);
  }
  if (events.length === 0) {
    throw new TypeError(`Append to run ${runId}: there are no events to append.`);
  }
  const bodies: string[] = [];
  for (const [offset, event] of events.entries()) {
    if (event.seq !== expectedSeq + offset || event.runId !== runId) {
      throw new TypeError(
        `Append to run ${runId}: event ${offset} has runId ${event.runId} and seq ${event.seq}, expected seq ${expectedSeq + offset}.`,
      );
    }
    try {
      bodies.push(JSON.stringify(event));
    } catch (error) {
      throw new TypeError(`Append to run ${runId}: event ${event.seq} (${event.type}) is not JSON-serialisable.`, { cause: error });
    }
  }
  return bodies;
}

/** Creates or upgrades the tables. Takes the write lock only when there is something to do. */
function migrate(db: Database.Database, description: string): void {
  const readVersion = (): number | undefined => {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sagaflow_schema'").get();
    if (table === undefined) return undefined;
    const version = db.prepare('SELECT version FROM sagaflow_schema').pluck().get();
    return typeof version === 'number' ? version : undefined;
  };
  const check = (version: number | undefined): boolean => {
    if (version !== undefined && version > SCHEMA_VERSION) {
      throw new StoreUnavailableError(
        description,
        `the database has schema version ${version}, written by a newer sagaflow than this one (which knows version ${SCHEMA_VERSION}): upgrade sagaflow to use it`,
      );
    }
    return version === SCHEMA_VERSION;
  };
  if (check(readVersion())) return;
  db.transaction(() => {
    // Another process may have migrated between the read above and taking the lock.
    if (check(readVersion())) return;
    db.exec(SCHEMA_V1);
    db.exec('CREATE TABLE IF NOT EXISTS sagaflow_schema (version INTEGER NOT NULL)');
    db.exec('DELETE FROM sagaflow_schema');
    db.prepare('INSERT INTO sagaflow_schema (version) VALUES (?)').run(SCHEMA_VERSION);
  }).immediate();
}

function prepare(db: Database.Database): Connection {
  const lengthOf = db.prepare<[string], number>('SELECT events FROM sagaflow_runs WHERE run_id = ?').pluck();
  const insertEvent = db.prepare<[string, number, string, string], unknown>(
    'INSERT INTO sagaflow_events (run_id, seq, type, body) VALUES (?, ?, ?, ?)',
  );
  const runOf = db.prepare<[string], [number, string]>('SELECT events, status FROM sagaflow_runs WHERE run_id = ?').raw();
  const insertRun = db.prepare<[string, string, string, number, number, number], unknown>(
    'INSERT INTO sagaflow_runs (run_id, saga, status, events, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
  );
  // Most appends leave the status alone; not naming it in SET spares rewriting the two
  // status indexes, which is fewer pages in the WAL and so a cheaper fsync.
  const extendRun = db.prepare<[number, number, string], unknown>('UPDATE sagaflow_runs SET events = ?, updated_at = ? WHERE run_id = ?');
  const extendRunWithStatus = db.prepare<[string, number, number, string], unknown>(
    'UPDATE sagaflow_runs SET status = ?, events = ?, updated_at = ? WHERE run_id = ?',
  );
  const selectRows = db.prepare<[string], unknown[]>('SELECT seq, body FROM sagaflow_events WHERE run_id = ? ORDER BY seq').raw();

  // Nested in `writeBatch`'s transaction, better-sqlite3 runs this one as a SAVEPOINT, so a
  // request that fails half-way is undone alone.
  const writeOne = db.transaction((item: PendingAppend, previousStatus: string | undefined): void => {
    const { request, bodies } = item;
    for (const [offset, event] of request.events.entries()) {
      insertEvent.run(request.runId, event.seq, event.type, bodies[offset] ?? '');
    }
    const length = request.expectedSeq + request.events.length;
    const updatedAt = request.events[request.events.length - 1]?.at ?? 0;
    if (previousStatus === undefined) {
      insertRun.run(request.runId, request.saga, request.status, length, request.events[0]?.at ?? 0, updatedAt);
    } else if (previousStatus === request.status) {
      extendRun.run(length, updatedAt, request.runId);
    } else {
      extendRunWithStatus.run(request.status, length, updatedAt, request.runId);
    }
  });

  const writeBatch = db.transaction((batch: readonly PendingAppend[], failures: Array<Error | undefined>): void => {
    for (const [index, item] of batch.entries()) {
      const { runId, expectedSeq } = item.request;
      // Read inside the write transaction: earlier requests of this batch are visible, and no
      // other process can append in between.
      const run = runOf.get(runId);
      const length = run?.[0] ?? 0;
      if (length !== expectedSeq) {
        failures[index] = new StoreConflictError(runId, expectedSeq, length);
        continue;
      }
      try {
        writeOne(item, run?.[1]);
      } catch (error) {
        if (!isConstraintError(error)) throw error;
        // The run's recorded length says the slot is free but a row occupies it.
        failures[index] = new StoreCorruptionError(runId, expectedSeq, 'a row already holds a seq past the recorded end of the journal', {
          cause: error,
        });
      }
    }
  });

  const readJournal = db.transaction((runId: string) => ({ rows: selectRows.all(runId), recorded: lengthOf.get(runId) }));

  return {
    db,
    writeBatch: (batch, failures) => writeBatch.immediate(batch, failures),
    readJournal: (runId) => readJournal.deferred(runId),
    listStatements: new Map(),
  };
}

/** Turns stored rows back into events, validating each; throws `StoreCorruptionError` at the first bad one. */
function parseJournal(runId: string, rows: readonly unknown[][], recorded: number | undefined): SagaEvent[] | undefined {
  if (rows.length === 0 && recorded === undefined) return undefined;
  const events: SagaEvent[] = [];
  for (const [index, row] of rows.entries()) {
    const [seq, body] = row;
    if (seq !== index) {
      throw new StoreCorruptionError(
        runId,
        index,
        typeof seq === 'number' && seq > index ? `the event is missing (the next row has seq ${seq})` : `the row has seq ${String(seq)}`,
      );
    }
    if (typeof body !== 'string') {
      const kind = body === null ? 'null' : Buffer.isBuffer(body) ? 'a blob' : `a ${typeof body}`;
      throw new StoreCorruptionError(runId, index, `the row's body is ${kind}, not JSON text`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (error) {
      throw new StoreCorruptionError(runId, index, 'the row is not valid JSON', { cause: error });
    }
    const result = sagaEventSchema.safeParse(parsed);
    if (!result.success) {
      const issue = result.error.issues[0];
      const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
      throw new StoreCorruptionError(runId, index, `the row is not a valid event (${issue?.message ?? 'invalid'}${where})`, {
        cause: result.error,
      });
    }
    const event = result.data;
    if (event.seq !== index) {
      throw new StoreCorruptionError(runId, index, `the row's event says seq ${event.seq}`);
    }
    if (event.runId !== runId) {
      throw new StoreCorruptionError(runId, index, `the row's event belongs to run ${event.runId}`);
    }
    events.push(event);
  }
  if (recorded === undefined) {
    throw new StoreCorruptionError(runId, undefined, 'it has events but no entry in sagaflow_runs');
  }
  if (recorded > rows.length) {
    throw new StoreCorruptionError(runId, rows.length, `the event is missing (the run records ${recorded} events, ${rows.length} rows remain)`);
  }
  if (recorded < rows.length) {
    throw new StoreCorruptionError(runId, recorded, `the row lies past the end of the journal (the run records ${recorded} events)`);
  }
  return events;
}

function isConstraintError(error: unknown): boolean {
  return error instanceof Database.SqliteError && error.code.startsWith('SQLITE_CONSTRAINT');
}

/** One clause saying what is wrong with the database and what to do about it. */
function describeDriverError(error: unknown, busyTimeoutMs: number): string {
  if (!(error instanceof Database.SqliteError)) {
    const message = error instanceof Error ? error.message : String(error);
    if (/directory does not exist/i.test(message)) {
      return 'the directory of the database file does not exist: create it, or leave `createDirectory` on';
    }
    return `the SQLite driver failed (${message})`;
  }
  const code = error.code;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return `the database is locked by another connection, which has held a write transaction open for longer than busyTimeoutMs (${busyTimeoutMs} ms): let that process finish or stop it, then retry`;
  }
  if (code === 'SQLITE_NOTADB') {
    return 'the file is not a SQLite database: point `path` at a sagaflow database or at a file that does not exist yet';
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return 'the database file cannot be opened (the path may be a directory, or the process may lack permission to read and write the file and its directory): check the path and its permissions';
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') {
    return `the database cannot be written (${code}): give the process write permission on the file and its directory`;
  }
  if (code.startsWith('SQLITE_CORRUPT')) {
    return `the database file is damaged (${code}): restore it from a backup`;
  }
  if (code === 'SQLITE_FULL') {
    return 'the disk is full: free some space, then retry';
  }
  if (code.startsWith('SQLITE_IOERR')) {
    return `the disk reported an I/O error (${code}): check the disk and the file, then retry`;
  }
  return `the SQLite driver failed (${code}: ${error.message})`;
}
