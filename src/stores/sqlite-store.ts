import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import Database from 'better-sqlite3';
import { RunAlreadyExistsError, RunNotFoundError } from '../errors/run-errors.js';
import { SagaError } from '../errors/saga-error.js';
import {
  StoreConflictError,
  StoreCorruptionError,
  StoreUnavailableError,
  StoreUnsupportedError,
} from '../errors/store-errors.js';
import { ACTIVE_RUN_STATUSES, type RunStatus } from '../journal/outcome.js';
import type { RunStartedEvent, SagaEvent } from '../journal/saga-event.js';
import { GroupCommit, type QueuedWrite } from './group-commit.js';
import { WALL_CLOCK_LEASES } from './lease-clock.js';
import { parseJournalRows } from './journal-rows.js';
import { assertStorableRunId } from './run-id.js';
import type {
  AcquireRequest,
  AcquireResult,
  AppendRequest,
  CancelRequest,
  CreateRunRequest,
  HeartbeatResult,
  LeaseInfo,
  LeaseToken,
  ListRunsQuery,
  PruneOptions,
  RunSummary,
  SagaStore,
  SignalRequest,
} from './saga-store.js';
import { parseSignalRequests } from './signal-requests.js';
import {
  appendRefusal,
  checkAppend,
  checkCreate,
  checkKnownEvents,
  checkLeaseMs,
  checkListQuery,
  checkOwner,
  checkReason,
  collectSummaries,
  isActiveStatus,
  isRunStatus,
  isStorableRunId,
  pruneCriteria,
  rejectWith,
  takeoverReadsFrom,
  type PruneCriteria,
  type SummaryRow,
} from './store-requests.js';

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
  readonly durability?: SqliteDurability | undefined;
  /**
   * How long a write waits for another connection's write transaction before failing with
   * `StoreUnavailableError`. Default 5,000 ms.
   *
   * @remarks
   * better-sqlite3 is synchronous: the wait blocks this process's event loop.
   */
  readonly busyTimeoutMs?: number | undefined;
  /** Create the file's missing parent directories on first use. Default `true`. */
  readonly createDirectory?: boolean | undefined;
}

/**
 * Counters of what a {@link SqliteStore} has committed since it was created.
 *
 * @remarks
 * Read with {@link SqliteStore.stats}, a snapshot. Counts this store object only, and only what
 * committed (plus the refused `conflicts`): writes that failed with `StoreUnavailableError` are
 * not counted. `(creates + appends) / transactions` is the mean group-commit batch.
 *
 * @example
 * ```ts
 * import type { SqliteStoreStats } from 'sagaflow/sqlite';
 * const perTransaction = (stats: SqliteStoreStats) => stats.appends / Math.max(1, stats.transactions);
 * ```
 */
export interface SqliteStoreStats {
  /** Write transactions committed: one per group-commit batch of writes, and one per batch of takeovers (`acquire`). */
  readonly transactions: number;
  /** `create` calls that committed. */
  readonly creates: number;
  /** `append` calls that committed. */
  readonly appends: number;
  /** Events committed, each run's `run.started` included. */
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
  /** `PRAGMA wal_autocheckpoint`: the WAL pages after which a commit checkpoints them into the file (SQLite's default, 1,000). */
  readonly walAutocheckpointPages: number;
  /** The version of sagaflow's tables in this file. */
  readonly schemaVersion: number;
}

/** The schema this code reads and writes: the number of {@link MIGRATIONS}. */
const SCHEMA_VERSION = 4;
const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

/** SQLite's clock in epoch milliseconds: the one clock of a SQLite store's leases. */
const NOW_MS = "(unixepoch('subsec') * 1000)";

/**
 * The schema's migrations, in order; entry `i` brings the tables to version `i + 1`. Never edit a
 * shipped one: append a new one. Names are prefixed so that pointing the store at an
 * application's own database cannot collide with tables such as `events`.
 */
const MIGRATIONS: readonly string[] = [
  `
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
  `,
  // Ownership: the lease (owner, epoch, expiry in ms on SQLite's clock) and the cancel request
  // a run keeps while it is active; the age index serves prune.
  `
  ALTER TABLE sagaflow_runs ADD COLUMN submitted INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE sagaflow_runs ADD COLUMN lease_owner TEXT;
  ALTER TABLE sagaflow_runs ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE sagaflow_runs ADD COLUMN lease_expires_at REAL;
  ALTER TABLE sagaflow_runs ADD COLUMN cancel_reason TEXT;
  CREATE INDEX IF NOT EXISTS sagaflow_runs_by_age ON sagaflow_runs (updated_at, status);
  `,
  // Durable waits: signals sent through the store (a JSON array) while the run is active.
  `
  ALTER TABLE sagaflow_runs ADD COLUMN signal_requests TEXT;
  `,
  // Prune finds settled runs by when they settled (settled_at: updated_at as of the write that
  // settled the run; NULL while it is active). The age index was on updated_at, which every append
  // moves, so every append rewrote an index entry that only prune reads.
  `
  ALTER TABLE sagaflow_runs ADD COLUMN settled_at INTEGER;
  UPDATE sagaflow_runs SET settled_at = updated_at WHERE status NOT IN ('queued', 'running', 'compensating');
  DROP INDEX IF EXISTS sagaflow_runs_by_age;
  CREATE INDEX IF NOT EXISTS sagaflow_runs_by_settled_at ON sagaflow_runs (settled_at, status);
  `,
];

/**
 * The query `prune` selects a slice of runs with: `statuses` placeholders, then `olderThan` twice,
 * then the limit when `limited`. A run under a live lease is left alone: a settled run is leased
 * only by a process that took it over to redrive or compensate it, and has yet to append. Found by `settled_at`'s index, in its order, so a slice reads
 * about as many rows as it deletes: the status is tested with a unary `+`, which keeps SQLite's
 * planner (with no statistics, it takes an equality as selective) off the status index, on which
 * every slice would read and sort every settled run of those statuses.
 *
 * @internal
 */
export function pruneSelectSql(statuses: number, limited: boolean): string {
  return `SELECT run_id FROM sagaflow_runs WHERE +status IN (${Array.from({ length: statuses }, () => '?').join(', ')}) AND settled_at < ? AND updated_at < ?
    AND (lease_owner IS NULL OR lease_expires_at <= ${NOW_MS})
    ORDER BY settled_at, run_id${limited ? ' LIMIT ?' : ''}`;
}

/** What the group commit writes: a new run, an append, or a lease given up (kept in call order with appends). */
type SqliteWrite =
  | { readonly kind: 'create'; readonly event: RunStartedEvent; readonly status: RunStatus; readonly owner: string; readonly leaseMs: number; readonly body: string }
  | { readonly kind: 'append'; readonly request: AppendRequest; readonly bodies: readonly string[] }
  | { readonly kind: 'release'; readonly runId: string; readonly lease: LeaseToken };

type QueuedSqliteWrite = QueuedWrite<SqliteWrite, void>;

/** `sagaflow_runs` as read for an append: length, status, lease owner, epoch. */
type RunRow = [events: number, status: string, leaseOwner: string | null, leaseEpoch: number];

interface LeaseRow {
  readonly owner: string | null;
  readonly epoch: number;
  readonly expiresAt: number | null;
  readonly live: number | null;
  /** What is left of the lease by SQLite's clock, in ms (negative once it ran out). */
  readonly remaining: number | null;
  readonly cancelReason: string | null;
  readonly signalRequests: string | null;
  readonly events: number;
}

/** What a takeover in {@link Connection.acquireBatch} found. */
type AcquireOutcome = { readonly found: false } | { readonly found: true; readonly result: AcquireResult };

/** An open database with its prepared statements. */
interface Connection {
  readonly db: Database.Database;
  /** Applies a batch in one IMMEDIATE transaction; returns, per item, the error it was refused with. */
  readonly writeBatch: (batch: readonly QueuedSqliteWrite[]) => Array<Error | undefined>;
  /** Reads a journal's rows and the run's recorded length in one snapshot. */
  readonly readJournal: (runId: string) => { rows: unknown[][]; recorded: number | undefined };
  /** Takes over each run it can, in one IMMEDIATE transaction; per request its outcome or the error it failed with. */
  readonly acquireBatch: (batch: ReadonlyArray<QueuedWrite<AcquireRequest, AcquireResult>>) => Array<AcquireOutcome | Error>;
  readonly heartbeat: (owner: string, runs: ReadonlyArray<{ readonly runId: string; readonly lease: LeaseToken }>, leaseMs: number) => HeartbeatResult;
  /** Records a cancel request; `false` when the run does not exist. */
  readonly requestCancel: (runId: string, reason: string) => boolean;
  readonly requestSignal: (request: SignalRequest) => boolean;
  readonly leaseOf: (runId: string) => LeaseRow | undefined;
  readonly prune: (criteria: PruneCriteria) => number;
  readonly countRuns: (saga: string | undefined) => Array<{ status: unknown; count: number }>;
  readonly listStatements: Map<string, Database.Statement<unknown[], SummaryRow>>;
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
 * Writes are group-committed: every `create`, `append` and `release` requested within one turn
 * of the event loop is written in a single transaction (one fsync), so throughput grows with the
 * number of concurrent runs. Each promise still resolves only once its own write is committed,
 * and a refused one fails alone. better-sqlite3 is synchronous, so a commit blocks the event
 * loop for the length of its fsync; that pause is what lets the next batch fill up.
 *
 * Ownership: every run has a lease (owner, epoch, expiry) kept in the file and measured on
 * SQLite's own clock (`unixepoch('subsec')`), so processes on one machine sharing the file fence
 * each other: an append is checked against the lease in its write transaction. Worker queues are
 * not supported (`create` without an owner is refused).
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
  private readonly writes = new GroupCommit<SqliteWrite>({
    write: (batch) => this.writeBatch(batch),
    schedule: (flush) => this.scheduleFlush(flush),
  });
  /** Takeovers asked for in one turn (a `recover()` of many runs) share one transaction, so one fsync. */
  private readonly acquires = new GroupCommit<AcquireRequest, AcquireResult>({
    write: (batch) => this.acquireBatch(batch),
    schedule: (flush) => this.scheduleFlush(flush),
  });
  private readonly counters = { transactions: 0, creates: 0, appends: 0, events: 0, conflicts: 0 };
  /** Leases expire on the database's clock, so they are heartbeated in real time, even by an orchestrator on virtual time. @internal */
  readonly [WALL_CLOCK_LEASES] = true;

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
   * For metrics, and to check that group commit batches: `(creates + appends) / transactions`
   * is the mean batch size. Counts this store object only, not other connections to the file.
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
    return settle(() =>
      this.withDatabase(({ db }) => {
        const synchronous = (['off', 'normal', 'full', 'extra'] as const)[Number(db.pragma('synchronous', { simple: true }))];
        return {
          journalMode: String(db.pragma('journal_mode', { simple: true })),
          synchronous: synchronous ?? 'full',
          busyTimeoutMs: Number(db.pragma('busy_timeout', { simple: true })),
          walAutocheckpointPages: Number(db.pragma('wal_autocheckpoint', { simple: true })),
          schemaVersion: Number(db.prepare('SELECT version FROM sagaflow_schema').pluck().get()),
        };
      }),
    );
  }

  /**
   * Creates a run owned by `request.owner` (lease epoch 1, expiring `leaseMs` from now on
   * SQLite's clock); resolves once it is committed, group-committed with the writes of this turn.
   *
   * @throws `RunAlreadyExistsError` (rejects) when a run with this id exists; nothing is changed.
   * @throws `StoreUnsupportedError` (rejects) for a run without owner: SQLite has no worker queue.
   * @throws `TypeError` (rejects) when the event is not a `run.started` at seq 0, or its run id
   * cannot be stored (empty, over 200 characters, NUL, ill-formed Unicode).
   * @throws `StoreUnavailableError` (rejects) when the database cannot be written, or the store is closed.
   */
  create(request: CreateRunRequest): Promise<void> {
    try {
      if (this.closed) throw this.closedError();
      const status = checkCreate(request);
      const { event, owner } = request;
      if (owner === undefined) {
        throw new StoreUnsupportedError('SqliteStore', 'submitted runs', 'workers need a PostgresStore; start the run in this process instead');
      }
      const body = serializeEvent(event.runId, event);
      return this.writes.enqueue({ kind: 'create', event, status, owner: owner.owner, leaseMs: owner.leaseMs, body });
    } catch (error) {
      return rejectWith(error);
    }
  }

  /**
   * Appends events to a run's journal, all or nothing; resolves once they are durable.
   *
   * @remarks
   * Group-committed with the other writes of the same event-loop turn; writes to one run in
   * one turn are applied in call order. The lease is checked in the write transaction, against
   * what other processes sharing the file have committed.
   *
   * @throws `RunNotFoundError` (rejects) when the run does not exist.
   * @throws `LeaseLostError` (rejects) when `lease` no longer holds the run.
   * @throws `StoreConflictError` (rejects) when `expectedSeq` is not the journal's length;
   * the other writes of the batch still commit.
   * @throws `RunLeasedError` (rejects) when `lease` is absent and someone holds a live lease.
   * @throws `StoreUnavailableError` (rejects) when the database cannot be written (locked
   * past `busyTimeoutMs`, disk full…), or the store is closed. Nothing of that append was
   * written; the whole batch failed with it.
   * @throws `StoreCorruptionError` (rejects) when the run's rows disagree with its recorded
   * length.
   * @throws `TypeError` (rejects) when the events are empty, not contiguous from
   * `expectedSeq`, of another run, or not JSON-serialisable.
   */
  append(request: AppendRequest): Promise<void> {
    try {
      if (this.closed) throw this.closedError();
      checkAppend(request);
      const bodies = request.events.map((event) => serializeEvent(request.runId, event));
      return this.writes.enqueue({ kind: 'append', request, bodies });
    } catch (error) {
      return rejectWith(error);
    }
  }

  /**
   * Loads a run's journal in `seq` order, validating every event; `undefined` for an unknown run.
   *
   * @remarks
   * Every row is parsed and validated with `sagaEventSchema`, and checked against its run and
   * position; a bad row fails only this run's load. Writes not yet committed (their promise
   * still pending) are not seen.
   *
   * @throws `StoreCorruptionError` (rejects) naming the run and the seq of the first bad row:
   * not JSON, not a valid event, of another run, or a gap in the sequence.
   * @throws `StoreUnavailableError` (rejects) when the database cannot be read, or the store
   * is closed.
   * @throws `TypeError` (rejects) when the run id cannot be stored (so no run can have it).
   */
  load(runId: string): Promise<readonly SagaEvent[] | undefined> {
    return settle(() => {
      assertStorableRunId(runId, 'Load');
      const { rows, recorded } = this.withDatabase((connection) => connection.readJournal(runId));
      return parseJournalRows(runId, rows, recorded);
    });
  }

  /**
   * Lists runs, filtered, in run-id order (`order: 'desc'` for newest first).
   *
   * @remarks
   * Served by indexes on `(status, run_id)` and `(saga, status, run_id)`; page with
   * `afterRunId` set to the last id of the previous page. A run whose summary row cannot be
   * read (a status that is no run status, a length that is no number: a hand edit) is left out,
   * so one bad row never hides the others.
   *
   * @throws `TypeError` (rejects) when `limit` is not an integer >= 0 or `order` is unknown.
   * @throws `StoreUnavailableError` (rejects) when the database cannot be read, or the store is
   * closed.
   */
  async listRuns(query: ListRunsQuery = {}): Promise<readonly RunSummary[]> {
    if (this.closed) throw this.closedError();
    const { statuses, descending } = checkListQuery(query);
    if (statuses?.length === 0) return [];
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
    if (query.runIdPrefix !== undefined && query.runIdPrefix !== '') {
      // A range an index serves, closed above by the first text past every id with the prefix (so
      // a search that matches few runs stops there instead of reading on to the last id), then an
      // exact, case-sensitive prefix check (substr counts characters, as the spread counts code
      // points): no LIKE, so no wildcard to escape.
      const end = prefixEnd(query.runIdPrefix);
      clauses.push(end === undefined ? 'run_id >= ?' : 'run_id >= ? AND run_id < ?', 'substr(run_id, 1, ?) = ?');
      parameters.push(query.runIdPrefix, ...(end === undefined ? [] : [end]), [...query.runIdPrefix].length, query.runIdPrefix);
    }
    const statementFor = (cursor: boolean): Database.Statement<unknown[], SummaryRow> => {
      const where = cursor ? [...clauses, descending ? 'run_id < ?' : 'run_id > ?'] : clauses;
      const sql =
        'SELECT run_id AS runId, saga, status, events, created_at AS createdAt, updated_at AS updatedAt, submitted FROM sagaflow_runs' +
        (where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`) +
        ` ORDER BY run_id ${descending ? 'DESC' : 'ASC'} LIMIT ?`;
      return this.withDatabase((connection) => {
        let prepared = connection.listStatements.get(sql);
        if (prepared === undefined) {
          prepared = connection.db.prepare<unknown[], SummaryRow>(sql);
          connection.listStatements.set(sql, prepared);
        }
        return prepared;
      });
    };
    return collectSummaries(query.limit, query.afterRunId, (after, size) =>
      this.withDatabase(() => (after === undefined ? statementFor(false).all(...parameters, size) : statementFor(true).all(...parameters, after, size))),
    );
  }

  /**
   * Counts runs per status, optionally of one saga; unreadable statuses are not counted.
   *
   * @throws `StoreUnavailableError` (rejects) when the database cannot be read, or the store is closed.
   */
  countRuns(query: { readonly saga?: string | undefined } = {}): Promise<Readonly<Partial<Record<RunStatus, number>>>> {
    return settle(() => {
      if (this.closed) throw this.closedError();
      const counts: Partial<Record<RunStatus, number>> = {};
      for (const { status, count } of this.withDatabase((connection) => connection.countRuns(query.saga))) {
        if (isRunStatus(status)) counts[status] = count;
      }
      return counts;
    });
  }

  /**
   * Takes a run over when nobody holds a live lease on it (by SQLite's clock): bumps its epoch
   * and makes the caller its owner in one write transaction, or reports the live owner. The
   * takeovers asked for in one turn (as `recover()` asks for a page of runs) share that
   * transaction, so a recovery of many runs pays for one commit, not one per run.
   *
   * @throws `RunNotFoundError` (rejects) when the run does not exist.
   * @throws `StoreCorruptionError` (rejects) when its journal cannot be read; the lease is not taken.
   * @throws `StoreUnavailableError` (rejects) when the database cannot be written, or the store is closed.
   * @throws `TypeError` (rejects) when the run id, owner or lease length is invalid.
   */
  acquire(request: AcquireRequest): Promise<AcquireResult> {
    try {
      const operation = `Acquire run ${request.runId}`;
      assertStorableRunId(request.runId, 'Acquire');
      checkOwner(request.owner, operation);
      checkLeaseMs(request.leaseMs, operation);
      checkKnownEvents(request, operation);
      if (this.closed) throw this.closedError();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new TypeError(String(error)));
    }
    return this.acquires.enqueue(request);
  }

  /**
   * Extends the leases `owner` still holds (to `leaseMs` from now, SQLite's clock) in one write
   * transaction; reports the lost ones and pending cancel requests.
   *
   * @throws `StoreUnavailableError` (rejects) when the database cannot be written, or the store is closed.
   */
  heartbeat(owner: string, runs: ReadonlyArray<{ readonly runId: string; readonly lease: LeaseToken }>, leaseMs: number): Promise<HeartbeatResult> {
    return settle(() => {
      checkLeaseMs(leaseMs, `Heartbeat of ${owner}`);
      // An id no run can have is lost; SQLite would bind it changed (a lone surrogate as U+FFFD).
      const lost = runs.filter(({ runId }) => !isStorableRunId(runId)).map(({ runId }) => runId);
      const held = lost.length === 0 ? runs : runs.filter(({ runId }) => isStorableRunId(runId));
      if (held.length === 0) return { lost, cancelRequests: [] };
      const result = this.withDatabase((connection) => connection.heartbeat(owner, held, leaseMs));
      return lost.length === 0 ? result : { lost: [...lost, ...result.lost], cancelRequests: result.cancelRequests };
    });
  }

  /**
   * Gives a lease up if this owner and epoch still hold it; otherwise does nothing. Committed in
   * call order with the appends of the same turn.
   *
   * @throws `StoreUnavailableError` (rejects) when the database cannot be written, or the store is closed.
   */
  release(runId: string, lease: LeaseToken): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    if (!isStorableRunId(runId)) return Promise.resolve();
    return this.writes.enqueue({ kind: 'release', runId, lease });
  }

  /**
   * Records a cancellation for the run's owner (one statement); the first reason is kept, a
   * settled run ignores it.
   *
   * @throws `RunNotFoundError` (rejects) when the run does not exist.
   * @throws `StoreUnavailableError` (rejects) when the database cannot be written, or the store is closed.
   */
  requestCancel(runId: string, reason: string): Promise<void> {
    return settle(() => {
      assertStorableRunId(runId, 'Cancel request');
      checkReason(runId, reason);
      if (!this.withDatabase((connection) => connection.requestCancel(runId, reason))) throw new RunNotFoundError(runId);
    });
  }

  /**
   * Records a signal for the run's owner to deliver with its next heartbeat (one statement); a
   * settled run ignores it.
   *
   * @throws `RunNotFoundError` (rejects) when the run does not exist.
   * @throws `StoreUnavailableError` (rejects) when the database cannot be written, or the store is closed.
   */
  requestSignal(request: SignalRequest): Promise<void> {
    return settle(() => {
      assertStorableRunId(request.runId, 'Signal request');
      if (!this.withDatabase((connection) => connection.requestSignal(request))) throw new RunNotFoundError(request.runId);
    });
  }

  /**
   * The run's lease, if anybody holds it (live or expired by SQLite's clock).
   *
   * @throws `StoreUnavailableError` (rejects) when the database cannot be read, or the store is closed.
   */
  leaseOf(runId: string): Promise<LeaseInfo | undefined> {
    return settle(() => {
      assertStorableRunId(runId, 'Lease lookup');
      const row = this.withDatabase((connection) => connection.leaseOf(runId));
      if (row?.owner === undefined || row.owner === null) return undefined;
      return { owner: row.owner, epoch: row.epoch, live: row.live === 1, expiresAt: row.expiresAt ?? 0, remainingMs: remainingOf(row) };
    });
  }

  /**
   * Deletes settled runs last written before `olderThan` (by their last event's `at`), oldest
   * first, with their journals, in one write transaction.
   *
   * @remarks
   * better-sqlite3 is synchronous: deleting many thousands of runs blocks the event loop for
   * that long. Prune in slices with `limit` (say 1,000 per call) on a busy process.
   *
   * @throws `TypeError` (rejects) when `statuses` names an unfinished status or `limit` is not an integer >= 0.
   * @throws `StoreUnavailableError` (rejects) when the database cannot be written, or the store is closed.
   */
  prune(options: PruneOptions): Promise<number> {
    return settle(() => {
      const criteria = pruneCriteria(options);
      if (criteria.limit === 0) return 0;
      return this.withDatabase((connection) => connection.prune(criteria));
    });
  }

  /**
   * Releases the store's resources. Idempotent.
   *
   * @remarks
   * Commits the writes already requested first, then closes the file. Every call after
   * `close` rejects with `StoreUnavailableError`.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    // Synchronous from here on, so no write can slip in between the flush and the close.
    this.writes.flush();
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
   * Runs `flush` once the writes of this event-loop turn are collected.
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

  /** Commits one batch in one transaction, then settles each write. Never throws: failures reject the writes. */
  private writeBatch(batch: readonly QueuedSqliteWrite[]): void {
    const failures = this.commit(batch, (connection) => connection.writeBatch(batch));
    if (failures === undefined) return;
    for (let index = 0; index < batch.length; index++) {
      const item = batch[index] as QueuedSqliteWrite;
      const failure = failures[index];
      if (failure !== undefined) {
        if (failure instanceof StoreConflictError) this.counters.conflicts++;
        item.reject(failure);
        continue;
      }
      const write = item.request;
      if (write.kind === 'append') {
        this.counters.appends++;
        this.counters.events += write.request.events.length;
      } else if (write.kind === 'create') {
        this.counters.creates++;
        this.counters.events++;
      }
      item.resolve();
    }
  }

  /** Commits the takeovers of one turn in one transaction, then settles each. Never throws. */
  private acquireBatch(batch: ReadonlyArray<QueuedWrite<AcquireRequest, AcquireResult>>): void {
    const outcomes = this.commit(batch, (connection) => connection.acquireBatch(batch));
    if (outcomes === undefined) return;
    for (let index = 0; index < batch.length; index++) {
      const item = batch[index] as QueuedWrite<AcquireRequest, AcquireResult>;
      const outcome = outcomes[index] as AcquireOutcome | Error;
      if (outcome instanceof Error) item.reject(outcome);
      else if (!outcome.found) item.reject(new RunNotFoundError(item.request.runId));
      else item.resolve(outcome.result);
    }
  }

  /** Runs one batch's transaction and counts it; when it cannot commit, rejects every item of the batch and returns `undefined`. */
  private commit<TResult>(batch: ReadonlyArray<{ readonly reject: (error: unknown) => void }>, transaction: (connection: Connection) => TResult): TResult | undefined {
    let result: TResult;
    try {
      result = transaction(this.connect());
    } catch (error) {
      const failure = this.unavailable(error);
      for (const item of batch) item.reject(failure);
      return undefined;
    }
    this.counters.transactions++;
    return result;
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
    return new StoreUnavailableError(this.description, 'the store was closed: create a new SqliteStore to use the database again', { closed: true });
  }

  private unavailable(error: unknown): Error {
    if (error instanceof SagaError || error instanceof TypeError) return error;
    return new StoreUnavailableError(this.description, describeDriverError(error, this.busyTimeoutMs), { cause: error });
  }
}

/** Runs `work` now and wraps its result or its throw in a promise, so no method throws synchronously. */
function settle<T>(work: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    resolve(work());
  });
}

/** Serialises one event, once, at call time, so a later mutation by the caller cannot leak in. */
function serializeEvent(runId: string, event: SagaEvent): string {
  try {
    return JSON.stringify(event);
  } catch (error) {
    throw new TypeError(`Append to run ${runId}: event ${event.seq} (${event.type}) is not JSON-serialisable.`, { cause: error });
  }
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
    const version = readVersion();
    if (check(version)) return;
    for (let step = version ?? 0; step < SCHEMA_VERSION; step++) db.exec(MIGRATIONS[step] ?? '');
    db.exec('CREATE TABLE IF NOT EXISTS sagaflow_schema (version INTEGER NOT NULL)');
    db.exec('DELETE FROM sagaflow_schema');
    db.prepare('INSERT INTO sagaflow_schema (version) VALUES (?)').run(SCHEMA_VERSION);
  }).immediate();
}

function prepare(db: Database.Database): Connection {
  const lengthOf = db.prepare<[string], number>('SELECT events FROM sagaflow_runs WHERE run_id = ?').pluck();
  const insertEvent = db.prepare<[string, number, string, string], unknown>('INSERT INTO sagaflow_events (run_id, seq, type, body) VALUES (?, ?, ?, ?)');
  const runOf = db.prepare<[string], RunRow>('SELECT events, status, lease_owner, lease_epoch FROM sagaflow_runs WHERE run_id = ?').raw();
  // Read only for a lease-less append to a leased run, the one rule that needs the clock.
  const leaseLive = db.prepare<[string], number>(`SELECT lease_expires_at > ${NOW_MS} FROM sagaflow_runs WHERE run_id = ?`).pluck();
  const existingRun = db.prepare<[string], { status: string; saga: string }>('SELECT status, saga FROM sagaflow_runs WHERE run_id = ?');
  const insertRun = db.prepare<[string, string, string, number, number, number, string, number], unknown>(
    `INSERT INTO sagaflow_runs (run_id, saga, status, events, created_at, updated_at, submitted, lease_owner, lease_epoch, lease_expires_at)
     VALUES (?, ?, ?, 1, ?, ?, ?, ?, 1, ${NOW_MS} + ?)`,
  );
  // Most appends leave the status alone; not naming it in SET spares rewriting the two
  // status indexes, which is fewer pages in the WAL and so a cheaper fsync.
  const extendRun = db.prepare<[number, number, string], unknown>('UPDATE sagaflow_runs SET events = ?, updated_at = ? WHERE run_id = ?');
  // The common append, checked by its own WHERE: the run is held with this lease, the journal is
  // the expected length, and the (active) status stays. No change: see appendHeld.
  const extendHeldRun = db.prepare<[number, number, string, number, string, number, string], unknown>(
    'UPDATE sagaflow_runs SET events = ?, updated_at = ? WHERE run_id = ? AND events = ? AND lease_owner = ? AND lease_epoch = ? AND status = ?',
  );
  // The same checks, for an append that moves the run to another active status (a rollback
  // begun, a queued run's first stage, a settled run redriven): names the status, so it is tried
  // only once extendHeldRun matched no row.
  const extendHeldRunWithStatus = db.prepare<[string, number, number, string, number, string, number], unknown>(
    'UPDATE sagaflow_runs SET status = ?, events = ?, updated_at = ?, settled_at = NULL WHERE run_id = ? AND events = ? AND lease_owner = ? AND lease_epoch = ?',
  );
  // To another active status (a settled run redriven, a rollback begun): not settled any more.
  const extendRunWithStatus = db.prepare<[string, number, number, string], unknown>(
    'UPDATE sagaflow_runs SET status = ?, events = ?, updated_at = ?, settled_at = NULL WHERE run_id = ?',
  );
  // A settled status ends the lease and the cancel request in the same write, and dates the
  // settlement for prune (settled_at, indexed: the only append that writes it).
  const settleRun = db.prepare<[string, number, number, number, string], unknown>(
    'UPDATE sagaflow_runs SET status = ?, events = ?, updated_at = ?, settled_at = ?, lease_owner = NULL, lease_expires_at = NULL, cancel_reason = NULL, signal_requests = NULL WHERE run_id = ?',
  );
  const clearLease = db.prepare<[string], unknown>('UPDATE sagaflow_runs SET lease_owner = NULL, lease_expires_at = NULL WHERE run_id = ?');
  const releaseLease = db.prepare<[string, string, number], unknown>(
    'UPDATE sagaflow_runs SET lease_owner = NULL, lease_expires_at = NULL WHERE run_id = ? AND lease_owner = ? AND lease_epoch = ?',
  );
  const selectRows = db.prepare<[string], unknown[]>('SELECT seq, body FROM sagaflow_events WHERE run_id = ? ORDER BY seq').raw();
  const selectRowsFrom = db.prepare<[string, number], unknown[]>('SELECT seq, body FROM sagaflow_events WHERE run_id = ? AND seq >= ? ORDER BY seq').raw();
  const leaseRow = db.prepare<[string], LeaseRow>(
    `SELECT lease_owner AS owner, lease_epoch AS epoch, lease_expires_at AS expiresAt, lease_expires_at > ${NOW_MS} AS live,
       lease_expires_at - ${NOW_MS} AS remaining, cancel_reason AS cancelReason, signal_requests AS signalRequests, events FROM sagaflow_runs WHERE run_id = ?`,
  );
  const takeLease = db.prepare<[string, number, string], unknown>(
    `UPDATE sagaflow_runs SET lease_owner = ?, lease_epoch = lease_epoch + 1, lease_expires_at = ${NOW_MS} + ? WHERE run_id = ?`,
  );
  const renewLease = db.prepare<[number, string, string, number], { cancelReason: string | null; signalRequests: string | null }>(
    `UPDATE sagaflow_runs SET lease_expires_at = ${NOW_MS} + ? WHERE run_id = ? AND lease_owner = ? AND lease_epoch = ?
     RETURNING cancel_reason AS cancelReason, signal_requests AS signalRequests`,
  );
  // One pending request per signalId: a second with the same id is a no-op.
  const addSignalRequest = db.prepare<[string, string, string], unknown>(
    `UPDATE sagaflow_runs SET signal_requests = json_insert(COALESCE(signal_requests, '[]'), '$[#]', json(?))
     WHERE run_id = ? AND status IN (${sqlList(ACTIVE_RUN_STATUSES)})
       AND NOT EXISTS (SELECT 1 FROM json_each(COALESCE(signal_requests, '[]')) AS pending WHERE json_extract(pending.value, '$.signalId') = ?)`,
  );
  // A request is done with once its signal.received is journaled: heartbeats stop carrying it.
  const dropSignalRequests = db.prepare<[string, string], unknown>(
    `UPDATE sagaflow_runs SET signal_requests = (
       SELECT CASE WHEN count(*) = 0 THEN NULL ELSE json_group_array(json(pending.value)) END
       FROM json_each(sagaflow_runs.signal_requests) AS pending
       WHERE json_extract(pending.value, '$.signalId') NOT IN (SELECT value FROM json_each(?))
     ) WHERE run_id = ? AND signal_requests IS NOT NULL`,
  );
  const cancelRun = db.prepare<[string, string], unknown>(
    `UPDATE sagaflow_runs SET cancel_reason = COALESCE(cancel_reason, ?) WHERE run_id = ? AND status IN (${sqlList(ACTIVE_RUN_STATUSES)})`,
  );
  const deleteEvents = db.prepare<[string], unknown>('DELETE FROM sagaflow_events WHERE run_id = ?');
  const deleteEventsBetween = db.prepare<[string, number, number], unknown>('DELETE FROM sagaflow_events WHERE run_id = ? AND seq >= ? AND seq < ?');
  const deleteRun = db.prepare<[string], unknown>('DELETE FROM sagaflow_runs WHERE run_id = ?');
  const countAll = db.prepare<[], { status: unknown; count: number }>('SELECT status, count(*) AS count FROM sagaflow_runs GROUP BY status');
  const countOfSaga = db.prepare<[string], { status: unknown; count: number }>(
    'SELECT status, count(*) AS count FROM sagaflow_runs WHERE saga = ? GROUP BY status',
  );

  // Without a SAVEPOINT of its own (it had one, a statement pair more per new run): a create
  // that fails here (the run was checked to be new) fails the whole batch, which is rolled back.
  const writeCreate = (write: Extract<SqliteWrite, { kind: 'create' }>): void => {
    const { event } = write;
    insertRun.run(event.runId, event.saga, write.status, event.at, event.at, event.submitted === true ? 1 : 0, write.owner, write.leaseMs);
    insertEvent.run(event.runId, 0, event.type, write.body);
  };
  // Without a SAVEPOINT of its own (a statement pair more for every append of every batch): the
  // one failure a batch outlives is a row already at one of the append's seqs (see writeBatch),
  // and the rows the append wrote before it are then deleted, so it is still all or nothing.
  // Any other failure rolls the whole batch back.
  const writeAppend = (write: Extract<SqliteWrite, { kind: 'append' }>, run: RunRow): void => {
    const { request, bodies } = write;
    const events = request.events;
    for (let offset = 0; offset < events.length; offset++) {
      const event = events[offset] as SagaEvent;
      try {
        insertEvent.run(request.runId, event.seq, event.type, bodies[offset] ?? '');
      } catch (error) {
        // Rows at the earlier seqs were free (or their insert would have failed first): this append's.
        if (offset > 0 && isConstraintError(error)) deleteEventsBetween.run(request.runId, request.expectedSeq, event.seq);
        throw error;
      }
    }
    dropJournaledSignals(request);
    const length = request.expectedSeq + events.length;
    const updatedAt = events[events.length - 1]?.at ?? 0;
    if (!isActiveStatus(request.status)) settleRun.run(request.status, length, updatedAt, updatedAt, request.runId);
    else if (run[1] === request.status) extendRun.run(length, updatedAt, request.runId);
    else extendRunWithStatus.run(request.status, length, updatedAt, request.runId);
    // Accepted without a lease once the lease ran out: the former holder is fenced out.
    if (request.lease === undefined && run[2] !== null) clearLease.run(request.runId);
  };

  // A signal request is done with once its signal.received is journaled.
  const dropJournaledSignals = (request: AppendRequest): void => {
    let journaledSignals: string[] | undefined;
    for (const event of request.events) if (event.type === 'signal.received') (journaledSignals ??= []).push(event.signalId);
    if (journaledSignals !== undefined) dropSignalRequests.run(JSON.stringify(journaledSignals), request.runId);
  };

  // The append of a run held with a lease, to an active status (every append but a settling
  // one): its rows, then the run row extended only if the lease and the length are as the append
  // expects, which is exactly when appendRefusal accepts it and writeAppend would extend the row
  // — first keeping the status (nearly every append), else moving it. Two statements for a
  // one-event append instead of three (no read of the run row first). Anything else (a refusal,
  // a row already at one of its seqs) undoes the rows it wrote, so nothing of it is left, and
  // returns false: writeAppend's way decides.
  const appendHeld = (write: Extract<SqliteWrite, { kind: 'append' }>, lease: LeaseToken): boolean => {
    const { request, bodies } = write;
    const events = request.events;
    let inserted = 0;
    try {
      for (; inserted < events.length; inserted++) {
        const event = events[inserted] as SagaEvent;
        insertEvent.run(request.runId, event.seq, event.type, bodies[inserted] ?? '');
      }
    } catch (error) {
      if (!isConstraintError(error)) throw error;
    }
    if (inserted === events.length) {
      const length = request.expectedSeq + events.length;
      const updatedAt = events[events.length - 1]?.at ?? 0;
      if (
        extendHeldRun.run(length, updatedAt, request.runId, request.expectedSeq, lease.owner, lease.epoch, request.status).changes === 1 ||
        extendHeldRunWithStatus.run(request.status, length, updatedAt, request.runId, request.expectedSeq, lease.owner, lease.epoch).changes === 1
      ) {
        dropJournaledSignals(request);
        return true;
      }
    }
    // The seqs it wrote were free before (their inserts succeeded): only this append's rows go.
    if (inserted > 0) deleteEventsBetween.run(request.runId, request.expectedSeq, request.expectedSeq + inserted);
    return false;
  };

  const writeBatch = db.transaction((batch: readonly QueuedSqliteWrite[]): Array<Error | undefined> => {
    const failures = new Array<Error | undefined>(batch.length);
    for (let index = 0; index < batch.length; index++) {
      const write = (batch[index] as QueuedSqliteWrite).request;
      // Read inside the write transaction: earlier writes of this batch are visible, and no
      // other process can write in between.
      try {
        if (write.kind === 'append') {
          const { request } = write;
          if (request.lease !== undefined && isActiveStatus(request.status) && appendHeld(write, request.lease)) continue;
          const run = runOf.get(request.runId);
          const live = request.lease === undefined && run !== undefined && run[2] !== null && leaseLive.get(request.runId) === 1;
          const refused = appendRefusal(request, run?.[0], run?.[2], run?.[3] ?? 0, live);
          if (refused !== undefined) failures[index] = refused;
          else writeAppend(write, run as RunRow);
        } else if (write.kind === 'create') {
          const existing = existingRun.get(write.event.runId);
          if (existing !== undefined) failures[index] = new RunAlreadyExistsError(write.event.runId, isRunStatus(existing.status) ? existing.status : 'running', existing.saga);
          else writeCreate(write);
        } else {
          releaseLease.run(write.runId, write.lease.owner, write.lease.epoch);
        }
      } catch (error) {
        if (!isConstraintError(error) || write.kind !== 'append') throw error;
        // The run's recorded length says the slot is free but a row occupies it.
        failures[index] = new StoreCorruptionError(write.request.runId, write.request.expectedSeq, 'a row already holds a seq past the recorded end of the journal', {
          cause: error,
        });
      }
    }
    return failures;
  });

  const readJournal = db.transaction((runId: string) => ({ rows: selectRows.all(runId), recorded: lengthOf.get(runId) }));

  // Everything that can fail is read and parsed before the one write (the lease), so a takeover
  // that fails has written nothing: it needs no SAVEPOINT of its own in its batch.
  const acquire = (request: AcquireRequest): AcquireOutcome => {
    const row = leaseRow.get(request.runId);
    if (row === undefined) return { found: false };
    if (row.owner !== null && row.live === 1) {
      return { found: true, result: { acquired: false, heldBy: { owner: row.owner, epoch: row.epoch, live: true, expiresAt: row.expiresAt ?? 0, remainingMs: remainingOf(row) } } };
    }
    // Only what the caller has not read yet: journals only grow.
    const from = takeoverReadsFrom(request, row.events);
    const rows = from === 0 ? selectRows.all(request.runId) : selectRowsFrom.all(request.runId, from);
    const events = parseJournalRows(request.runId, rows, row.events, from) ?? [];
    const signalRequests = row.signalRequests === null ? undefined : parseSignalRequests(request.runId, row.signalRequests);
    takeLease.run(request.owner, request.leaseMs, request.runId);
    const lease: LeaseToken = { owner: request.owner, epoch: row.epoch + 1 };
    const cancelRequest = row.cancelReason === null ? undefined : { runId: request.runId, reason: row.cancelReason };
    return {
      found: true,
      result: { acquired: true, lease, events, ...(cancelRequest === undefined ? {} : { cancelRequest }), ...(signalRequests === undefined ? {} : { signalRequests }) },
    };
  };

  // A journal that cannot be read fails that takeover alone (see `acquire`); a database error
  // rolls the whole batch back.
  const acquireBatch = db.transaction((batch: ReadonlyArray<QueuedWrite<AcquireRequest, AcquireResult>>): Array<AcquireOutcome | Error> =>
    batch.map(({ request }) => {
      try {
        return acquire(request);
      } catch (error) {
        if (error instanceof Database.SqliteError) throw error;
        return error instanceof Error ? error : new Error(String(error));
      }
    }),
  );

  const heartbeat = db.transaction((owner: string, runs: ReadonlyArray<{ readonly runId: string; readonly lease: LeaseToken }>, leaseMs: number): HeartbeatResult => {
    const lost: string[] = [];
    const cancelRequests: CancelRequest[] = [];
    let signalRequests: SignalRequest[] | undefined;
    for (const { runId, lease } of runs) {
      const renewed = renewLease.get(leaseMs, runId, owner, lease.epoch);
      if (renewed === undefined) {
        lost.push(runId);
        continue;
      }
      if (renewed.cancelReason !== null) cancelRequests.push({ runId, reason: renewed.cancelReason });
      if (renewed.signalRequests !== null) (signalRequests ??= []).push(...parseSignalRequests(runId, renewed.signalRequests));
    }
    return signalRequests === undefined ? { lost, cancelRequests } : { lost, cancelRequests, signalRequests };
  });

  const requestCancel = (runId: string, reason: string): boolean => cancelRun.run(reason, runId).changes > 0 || lengthOf.get(runId) !== undefined;
  const requestSignal = (request: SignalRequest): boolean =>
    addSignalRequest.run(JSON.stringify(request), request.runId, request.signalId).changes > 0 || lengthOf.get(request.runId) !== undefined;

  // Found by settled_at (indexed); updated_at < olderThan too, which every write of this schema
  // makes true of a run settled before olderThan: a process of schema 3 still running on an
  // upgraded file redrives and settles runs without moving settled_at, and such a run, written
  // since, is kept (it is not "last written before olderThan").
  const prune = db.transaction((criteria: PruneCriteria): number => {
    const select = db.prepare<unknown[], string>(pruneSelectSql(criteria.statuses.length, criteria.limit !== undefined)).pluck();
    const runIds = select.all(...criteria.statuses, criteria.olderThan, criteria.olderThan, ...(criteria.limit === undefined ? [] : [criteria.limit]));
    for (const runId of runIds) {
      deleteEvents.run(runId);
      deleteRun.run(runId);
    }
    return runIds.length;
  });

  return {
    db,
    writeBatch: (batch) => writeBatch.immediate(batch),
    readJournal: (runId) => readJournal.deferred(runId),
    acquireBatch: (batch) => acquireBatch.immediate(batch),
    heartbeat: (owner, runs, leaseMs) => heartbeat.immediate(owner, runs, leaseMs),
    requestCancel,
    requestSignal,
    leaseOf: (runId) => leaseRow.get(runId),
    prune: (criteria) => prune.immediate(criteria),
    countRuns: (saga) => (saga === undefined ? countAll.all() : countOfSaga.all(saga)),
    listStatements: new Map(),
  };
}

/** `'a', 'b'`: statuses spliced into SQL (constants, never user input). */
function sqlList(values: readonly string[]): string {
  return values.map((value) => `'${value}'`).join(', ');
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

/**
 * The least text greater than every text that starts with `prefix`, in SQLite's binary order
 * (UTF-8 bytes, which is code point order): the prefix with its last code point raised by one;
 * `undefined` when there is none (a prefix of U+10FFFF only).
 */
function prefixEnd(prefix: string): string | undefined {
  const points = [...prefix].map((char) => char.codePointAt(0) ?? 0);
  while (points.length > 0) {
    const last = points.pop() ?? 0;
    if (last < 0x10ffff) {
      // Surrogate code points are never stored (run ids are well-formed Unicode): skip over them.
      points.push(last === 0xd7ff ? 0xe000 : last + 1);
      return String.fromCodePoint(...points);
    }
  }
  return undefined;
}

/** What is left of a lease by SQLite's clock, in whole ms, 0 once it ran out (see `LeaseInfo.remainingMs`). */
function remainingOf(row: LeaseRow): number {
  return Math.max(0, Math.ceil(row.remaining ?? 0));
}
