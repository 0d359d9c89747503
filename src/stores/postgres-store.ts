import pg from 'pg';
import { RunAlreadyExistsError, RunNotFoundError } from '../errors/run-errors.js';
import { StoreCorruptionError, StoreUnavailableError } from '../errors/store-errors.js';
import type { RunStatus } from '../journal/outcome.js';
import type { SagaEvent } from '../journal/saga-event.js';
import { GroupCommit, type QueuedWrite } from './group-commit.js';
import { WALL_CLOCK_LEASES } from './lease-clock.js';
import { parseJournalRows } from './journal-rows.js';
import { describePool, isConnectionError, maskConnectionString, toStoreError, validateSchemaName, withReadTimeout } from './postgres-connection.js';
import { WorkListener } from './postgres-listener.js';
import { ensureSchema } from './postgres-schema.js';
import { postgresStatements, type NamedStatement, type PostgresStatements } from './postgres-statements.js';
import { assertStorableRunId, assertStorableText } from './run-id.js';
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
  SignalRequest,
} from './saga-store.js';
import { parseSignalRequests, storableSignalRequest } from './signal-requests.js';
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
  compareRunIds,
  isActiveStatus,
  isRunStatus,
  isStorableRunId,
  pruneCriteria,
  rejectWith,
  shapeHashAfter,
  takeoverReadsFrom,
  type SummaryRow,
} from './store-requests.js';
import type { ClaimedRun, ClaimRequest, ParkRequest, ParkResult, WorkQueueStore, WorkSignal } from './work-queue.js';

/**
 * Settings shared by both ways of connecting a {@link PostgresStore}.
 *
 * @remarks
 * Every setting has a default that suits a service with a few workers. With `onWork`
 * listeners, the store holds one connection more than its pool, for `LISTEN`. The two timeouts
 * keep one client's lock (a canceller that froze mid-statement, an operator's open transaction)
 * from stalling the store: see `lockTimeoutMs`.
 *
 * @example
 * ```ts
 * import type { PostgresStoreSettings } from 'sagaflow/postgres';
 * const settings: PostgresStoreSettings = { schema: 'billing_sagas', maxConnections: 20 };
 * ```
 */
export interface PostgresStoreSettings {
  /**
   * The schema holding the store's tables, created on first use. Default `sagaflow`.
   * A plain identifier: 1–63 lowercase letters, digits and underscores, not starting with a digit.
   */
  readonly schema?: string | undefined;
  /** Size of the pool the store creates from `connectionString`. Default 10. Ignored with `pool`. */
  readonly maxConnections?: number | undefined;
  /** How long to wait for a new connection before failing with `StoreUnavailableError`. Default 5 000 ms. */
  readonly connectionTimeoutMs?: number | undefined;
  /** `application_name` of the store's connections, shown in `pg_stat_activity`. Default `sagaflow`. */
  readonly applicationName?: string | undefined;
  /**
   * How often the `LISTEN` connection checks that the server still answers, reconnecting when it
   * does not within the same time (at most 10 s). Default 30 000 ms.
   */
  readonly listenerPingMs?: number | undefined;
  /**
   * The longest a statement about one run waits for that run's row while another client holds it
   * (PostgreSQL's `lock_timeout`), in ms; `0` leaves the server's own setting. Default 1 000.
   *
   * @remarks
   * Keep it a small fraction of your leases. Statements that touch many runs (batched appends,
   * heartbeats, claims, prune) never wait for a row another client holds: they skip it. A
   * statement that gives up fails with a `StoreUnavailableError` saying so; nothing of it was
   * written. Applied to the pool the store creates; with a `pool` of your own, set `lock_timeout`
   * in its config.
   */
  readonly lockTimeoutMs?: number | undefined;
  /**
   * The longest any of the store's statements may run (PostgreSQL's `statement_timeout`), in ms;
   * `0` leaves the server's own setting. Default 15 000. Applied to the pool the store creates; with a `pool` of your
   * own, set `statement_timeout` in its config.
   *
   * @remarks
   * A server that went silent (a host gone, a network partition) cannot enforce it, so the store
   * also gives up a statement that got no answer within `statementTimeoutMs` + `connectionTimeoutMs`
   * (pg's client-side `query_timeout`): a `StoreUnavailableError`, and that connection is dropped.
   * Not with `0`, nor with a `pool` of your own (set `query_timeout` in its config). The same
   * limit bounds the schema check on first use and the `LISTEN` of `onWork`'s connection (with
   * `0` or a pool of your own: its `query_timeout`, else the `listenerPingMs` check's limit).
   */
  readonly statementTimeoutMs?: number | undefined;
}

/**
 * How to create a {@link PostgresStore}: a connection string (the store owns its pool) or a
 * `pg.Pool` you own.
 *
 * @remarks
 * With `pool`, the store never ends the pool; it opens one extra connection, with the pool's
 * settings, for `LISTEN` when workers subscribe to {@link PostgresStore.onWork}.
 * `connectionTimeoutMs` and `applicationName` then apply to that connection only, and
 * `lockTimeoutMs` / `statementTimeoutMs` not at all: set `lock_timeout` and `statement_timeout`
 * in your pool's config (the store never changes your pool's sessions).
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import type { PostgresStoreOptions } from 'sagaflow/postgres';
 * const own: PostgresStoreOptions = { connectionString: 'postgres://app@db:5432/app' };
 * const shared: PostgresStoreOptions = { pool: new pg.Pool({ max: 5, lock_timeout: 1_000, statement_timeout: 15_000 }), schema: 'sagas' };
 * ```
 */
export type PostgresStoreOptions = PostgresConnectionStringOptions | PostgresPoolOptions;

/**
 * {@link PostgresStoreOptions} for a store that opens its own pool.
 *
 * @remarks
 * The simple choice: the store creates a `pg.Pool` of `maxConnections` (default 10) from the
 * connection string, with TCP keep-alive, and ends it in `close()`. The password never appears in
 * `store.description` or in error messages (it is masked).
 *
 * @example
 * ```ts
 * import type { PostgresConnectionStringOptions } from 'sagaflow/postgres';
 * const options: PostgresConnectionStringOptions = { connectionString: 'postgres://postgres@127.0.0.1:5432/test' };
 * ```
 */
export interface PostgresConnectionStringOptions extends PostgresStoreSettings {
  /** Where the server is, e.g. `postgres://user:password@host:5432/database`. */
  readonly connectionString: string;
  /** Not with `connectionString`. */
  readonly pool?: undefined;
}

/**
 * {@link PostgresStoreOptions} for a store that uses a pool the application owns (and ends).
 *
 * @remarks
 * Use it to share one pool, and its settings (TLS, credentials from a secret store), between
 * sagaflow and the rest of the application. `maxConnections` is ignored; the store adds a listener
 * for the pool's idle-client `error` events (and removes it in `close()`), so that a dropped idle
 * connection cannot crash the process. End the pool yourself after `store.close()`.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import type { PostgresPoolOptions } from 'sagaflow/postgres';
 * const options: PostgresPoolOptions = { pool: new pg.Pool({ max: 5 }) };
 * ```
 */
export interface PostgresPoolOptions extends PostgresStoreSettings {
  /** The application's pool; the store never ends it. */
  readonly pool: pg.Pool;
  /** Not with `pool`. */
  readonly connectionString?: undefined;
}

/** What the append statement reports per run: its row as locked, and whether the events went in. */
interface AppendRow {
  run_id: string;
  next_seq: number | null;
  lease_owner: string | null;
  lease_epoch: number | null;
  lease_live: boolean | null;
  appended: boolean;
  skipped: boolean;
}

/** A new run, checked, for the create statement. */
interface CreateWrite {
  readonly request: CreateRunRequest;
  readonly status: RunStatus;
}

/** One event of a claimed run, with the claim's columns repeated on each. */
interface ClaimRow {
  run_id: string;
  lease_epoch: number;
  cancel_reason: string | null;
  signal_requests: string | null;
  next_seq: number;
  seq: number;
  body: string;
}

type QueuedAppend = QueuedWrite<AppendRequest, void>;
type QueuedCreate = QueuedWrite<CreateWrite, void>;
type QueuedRelease = QueuedWrite<{ readonly runId: string; readonly lease: LeaseToken }, void>;
type QueuedPark = QueuedWrite<ParkRequest, ParkResult>;

const DEFAULT_LOCK_TIMEOUT_MS = 1_000;
const DEFAULT_STATEMENT_TIMEOUT_MS = 15_000;

/** A store's description with its schema, when that is not the default one. */
function withSchema(description: string, schema: string): string {
  return schema === DEFAULT_SCHEMA ? description : `${description} (schema ${schema})`;
}

/** The schema a store uses when its options name none. */
const DEFAULT_SCHEMA = 'sagaflow';

/**
 * Keeps journals in PostgreSQL and shares runs between worker processes: the distributed store.
 *
 * @remarks
 * Tables live in one schema (default `sagaflow`) and are created on first use, safely when many
 * processes start at once. Every write is one statement that checks `expectedSeq` (optimistic
 * concurrency) and the lease (fencing) under a row lock on the run.
 *
 * Ownership: a run is created with its owner's lease (`create`), or queued without one
 * (`submit`); `acquire` and a worker's `claim` take over runs whose lease expired, by the
 * database clock, bumping the run's epoch. Lease rules:
 * - An append carrying `lease` is accepted only when that owner and epoch hold the run's lease;
 *   an expired lease nobody took over is still held (the epoch, not the clock, is the fence).
 * - An append without `lease` is refused with `RunLeasedError` while anyone holds a live lease;
 *   once the lease expired it is accepted and ends the lease, so the former holder is fenced out.
 * - A settled status ends the lease and the cancel request in the same statement.
 *
 * Locks: no statement that writes many runs waits for a row another client holds (a frozen
 * canceller, an operator's open transaction). Batched appends and releases skip such a run and
 * retry it alone; heartbeats skip it (neither renewed nor lost: tried again next beat). A
 * statement about one run waits at most `lockTimeoutMs` (default 1 s), then fails with a
 * `StoreUnavailableError` saying so; nothing of it was written, so it can simply be retried.
 * `requestCancel` is one statement, its `NOTIFY` included, so it never leaves a lock behind.
 *
 * Connection failures become `StoreUnavailableError` (the pg error as `cause`); the pool
 * reconnects by itself when the server is back. Every write is a single statement (one round
 * trip), so one whose connection dropped while it was in flight may still have been applied:
 * reload the journal before trying again (the runtime does: a run whose append failed is
 * resumed from its stored journal).
 *
 * Group commit: creates, appends and releases of different runs made in the same turn of the
 * event loop share one statement each, every run checked and written or refused on its own. A
 * worker driving many runs, or a service submitting many, pays one round trip and one commit for
 * all of them. A corrupt journal found by `claim` is left leased, and skipped, until its lease
 * expires, so it cannot take a worker's every claim; `load` reports it as a `StoreCorruptionError`.
 *
 * @example
 * ```ts
 * import { PostgresStore } from 'sagaflow/postgres';
 * const store = new PostgresStore({ connectionString: 'postgres://app:secret@db.internal:5432/app', schema: 'sagaflow' });
 * store.description; // 'postgres://app:***@db.internal:5432/app'
 * const running = await store.listRuns({ status: 'running', limit: 100 });
 * await store.close();
 * ```
 */
export class PostgresStore implements WorkQueueStore {
  /**
   * The connection string with its password masked, e.g. `postgres://app:***@db:5432/app`, and
   * the schema when it is not the default (`postgres://app:***@db:5432/app (schema orders)`), so
   * that messages about two schemas of one database tell them apart.
   */
  readonly description: string;
  /** Marks the store as worker-capable. */
  readonly workQueue = true as const;
  /** The schema holding the store's tables. */
  readonly schema: string;
  /** Leases expire on the database's clock, so they are heartbeated in real time, even by an orchestrator on virtual time. @internal */
  readonly [WALL_CLOCK_LEASES] = true;

  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  /**
   * How long a statement may go without an answer before its connection is given up for dead
   * (pg's client-side `query_timeout`): the statement's own limit, plus the connection timeout
   * for the network. The server's `statement_timeout` cannot end a wait for a server that went
   * silent (a host gone, a network partition): without this, such a call never settled. Only on the pool
   * the store creates, whose `statement_timeout` it knows, and unless that is disabled (`0`).
   */
  private readonly answerTimeoutMs: number | undefined;
  private readonly listener: WorkListener;
  private readonly channel: string;
  private readonly t: { readonly runs: string; readonly events: string };
  private readonly sql: PostgresStatements;
  private ready: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  /** Set once the pool is about to end: nothing more may be sent. */
  private ended = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** The last append asked for per run, until it settles. */
  private readonly appending = new Map<string, Promise<void>>();
  // Two writes to one run cannot share a statement (the row lock orders them): the later waits
  // for the next batch.
  private readonly appends = new GroupCommit<AppendRequest>({ write: (batch) => this.track(this.writeAppends(batch, batch.length === 1)), keyOf: (request) => request.runId });
  private readonly creates = new GroupCommit<CreateWrite>({ write: (batch) => this.track(this.writeCreates(batch)), keyOf: ({ request }) => request.event.runId });
  private readonly releases = new GroupCommit<{ readonly runId: string; readonly lease: LeaseToken }>({
    write: (batch) => this.track(this.writeReleases(batch, batch.length === 1)),
    keyOf: ({ runId }) => runId,
  });
  private readonly parks = new GroupCommit<ParkRequest, ParkResult>({
    write: (batch) => this.track(this.writeParks(batch, batch.length === 1)),
    keyOf: ({ runId }) => runId,
  });

  /**
   * @param options - a connection string or a pool, and the schema.
   * @throws `TypeError` when `schema` is not a plain SQL identifier, a timeout is not an integer
   * >= 0, or no connection is given.
   */
  constructor(options: PostgresStoreOptions) {
    this.schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
    this.t = { runs: `"${this.schema}".runs`, events: `"${this.schema}".events` };
    // One channel per schema; NOTIFY refuses names over 63 bytes, LISTEN would silently truncate.
    this.channel = `sagaflow_${this.schema}`.slice(0, 63);
    this.sql = postgresStatements(this.t, this.channel);
    const applicationName = options.applicationName ?? 'sagaflow';
    const connectionTimeoutMillis = options.connectionTimeoutMs ?? 5_000;
    const lockTimeoutMs = checkTimeout('lockTimeoutMs', options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
    const statementTimeoutMs = checkTimeout('statementTimeoutMs', options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS);

    let listenConfig: pg.ClientConfig;
    if (options.pool !== undefined) {
      this.pool = options.pool;
      this.ownsPool = false;
      this.answerTimeoutMs = undefined;
      this.description = withSchema(describePool(options.pool.options), this.schema);
      const poolOptions = options.pool.options;
      listenConfig = {
        ...poolOptions,
        application_name: options.applicationName ?? poolOptions.application_name ?? applicationName,
        connectionTimeoutMillis: options.connectionTimeoutMs ?? poolOptions.connectionTimeoutMillis ?? connectionTimeoutMillis,
      };
    } else {
      if (typeof options.connectionString !== 'string' || options.connectionString === '') {
        throw new TypeError('PostgresStore: pass a connectionString (postgres://user@host:5432/database) or a pg.Pool.');
      }
      const config: pg.PoolConfig = {
        connectionString: options.connectionString,
        max: options.maxConnections ?? 10,
        connectionTimeoutMillis,
        application_name: applicationName,
        keepAlive: true,
        // Session settings sent with the connection's start-up: no extra round trip.
        lock_timeout: lockTimeoutMs,
        statement_timeout: statementTimeoutMs,
      };
      this.pool = new pg.Pool(config);
      this.ownsPool = true;
      this.answerTimeoutMs = statementTimeoutMs === 0 ? undefined : statementTimeoutMs + connectionTimeoutMillis;
      this.description = withSchema(maskConnectionString(options.connectionString), this.schema);
      listenConfig = config;
    }
    // Idle pooled clients report a dropped connection as a pool 'error' event, which would
    // crash the process unhandled. pg has already discarded the client; the next query opens a
    // fresh one, and a query that fails reports StoreUnavailableError.
    this.pool.on('error', ignoreIdleClientError);
    const pingIntervalMs = options.listenerPingMs ?? 30_000;
    const pingTimeoutMs = Math.min(pingIntervalMs, 10_000);
    this.listener = new WorkListener({
      clientConfig: { ...listenConfig, keepAlive: true },
      channel: this.channel,
      pingIntervalMs,
      pingTimeoutMs,
      // LISTEN is as quick as the ping: with no statement limit known, the ping's limit bounds it.
      answerTimeoutMs: this.answerTimeoutMs ?? listenConfig.query_timeout ?? pingTimeoutMs,
    });
  }

  /**
   * Creates a run: owned by `request.owner` (lease epoch 1, expiring `leaseMs` from now by the
   * database clock), or, without an owner, queued for workers (and the workers woken).
   *
   * @remarks
   * Creates of the same event-loop turn share one statement.
   *
   * @throws `RunAlreadyExistsError` (rejects) when a run with this id exists; nothing is changed.
   * @throws `TypeError` (rejects) when the event is not a `run.started` at seq 0, a run without
   * owner does not say `submitted: true`, or the run id cannot be stored (empty, over 200
   * characters, NUL, ill-formed Unicode).
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached, or the store is closed.
   */
  create(request: CreateRunRequest): Promise<void> {
    try {
      this.assertOpen();
      return this.creates.enqueue({ request, status: checkCreate(request) });
    } catch (error) {
      return rejectWith(error);
    }
  }

  /**
   * Creates a submitted run (no owner) and queues it, atomically; wakes workers. The same as
   * {@link PostgresStore.create} without `owner`.
   *
   * @throws `RunAlreadyExistsError` (rejects) when the run already exists.
   * @throws `TypeError` (rejects) when the request has an owner or its event lacks `submitted: true`.
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached.
   */
  submit(request: CreateRunRequest): Promise<void> {
    if (request.owner !== undefined) {
      return rejectWith(new TypeError(`Submit run ${request.event.runId}: a submitted run has no owner; use create to start one owned.`));
    }
    return this.create(request);
  }

  /**
   * Appends events to a run's journal, all or nothing; resolves once they are durable.
   *
   * @remarks
   * Appends to different runs made in the same turn of the event loop go out as one statement
   * (group commit, as `SqliteStore` does). Each run is still checked, and appended or refused,
   * on its own; a run whose row another client holds is left out of the statement and retried
   * alone, so it never holds the others up.
   *
   * @throws `RunNotFoundError` (rejects) when the run does not exist.
   * @throws `LeaseLostError` (rejects) when `lease` no longer holds the run.
   * @throws `StoreConflictError` (rejects) when `expectedSeq` is not the journal's length.
   * @throws `RunLeasedError` (rejects) when `lease` is absent and someone holds a live lease.
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached or the store is
   * closed (the append may or may not have been applied: reload the journal), or when another
   * client held the run's row for longer than `lockTimeoutMs` (nothing was written: retry).
   * @throws `TypeError` (rejects) when there are no events, they are not contiguous from
   * `expectedSeq`, or they belong to another run.
   */
  append(request: AppendRequest): Promise<void> {
    try {
      this.assertOpen();
      checkAppend(request);
      const appended = this.appends.enqueue(request);
      // A release of the run waits for it: the two go out in different statements.
      this.appending.set(request.runId, appended);
      const done = (): void => {
        if (this.appending.get(request.runId) === appended) this.appending.delete(request.runId);
      };
      appended.then(done, done);
      return appended;
    } catch (error) {
      return rejectWith(error);
    }
  }

  private async writeAppends(batch: readonly QueuedAppend[], wait: boolean): Promise<void> {
    const operation = batchOperation('append to', batch.map((item) => item.request.runId));
    if (operation === undefined) return;
    let rows: Map<string, AppendRow>;
    try {
      const result = await this.query<AppendRow>(operation, wait ? this.sql.appendWaiting : this.sql.appendSkipping, appendColumns(batch));
      rows = new Map(result.rows.map((row) => [row.run_id, row]));
    } catch (error) {
      if (batch.length > 1 && !(error instanceof StoreUnavailableError)) {
        // One run's bad request must not fail the others: write each on its own.
        await Promise.all(batch.map((item) => this.writeAppends([item], true)));
        return;
      }
      for (const item of batch) item.reject(error);
      return;
    }
    const skipped: QueuedAppend[] = [];
    for (const item of batch) {
      const row = rows.get(item.request.runId);
      if (row?.appended === true) item.resolve();
      else if (row?.skipped === true) skipped.push(item);
      else item.reject(refusalOf(item.request, row));
    }
    // Runs whose row another client holds: each alone, waiting at most lock_timeout for it.
    await Promise.all(skipped.map((item) => this.writeAppends([item], true)));
  }

  private async writeCreates(batch: readonly QueuedCreate[]): Promise<void> {
    const operation = batchOperation('create of', batch.map((item) => item.request.request.event.runId));
    if (operation === undefined) return;
    const columns: unknown[][] = Array.from({ length: 9 }, () => []);
    for (const { request: write } of batch) {
      const { event, owner } = write.request;
      const values = [
        event.runId,
        event.saga,
        event.shapeHash,
        write.status,
        event.at,
        event.submitted === true,
        JSON.stringify(event),
        owner?.owner ?? null,
        owner?.leaseMs ?? null,
      ];
      for (let index = 0; index < values.length; index++) columns[index]?.push(values[index]);
    }
    let rows: Array<{ run_id: string; created: boolean; existing_status: string | null; existing_saga: string | null }>;
    try {
      rows = (await this.query<{ run_id: string; created: boolean; existing_status: string | null; existing_saga: string | null }>(operation, this.sql.create, columns)).rows;
    } catch (error) {
      if (batch.length > 1 && !(error instanceof StoreUnavailableError)) {
        await Promise.all(batch.map((item) => this.writeCreates([item])));
        return;
      }
      for (const item of batch) item.reject(error);
      return;
    }
    const byRun = new Map(rows.map((row) => [row.run_id, row]));
    const raced: QueuedCreate[] = [];
    for (const item of batch) {
      const row = byRun.get(item.request.request.event.runId);
      if (row?.created === true) item.resolve();
      else if (row !== undefined && isRunStatus(row.existing_status)) item.reject(new RunAlreadyExistsError(row.run_id, row.existing_status, row.existing_saga ?? undefined));
      else raced.push(item);
    }
    if (raced.length === 0) return;
    // Created by a concurrent statement committed after this one's snapshot: read its status now.
    try {
      const now = await this.query<{ run_id: string; status: string; saga: string }>(
        `status of runs ${raced.map((item) => item.request.request.event.runId).join(', ')}`,
        `SELECT run_id, status, saga FROM ${this.t.runs} WHERE run_id = ANY($1::text[])`,
        [raced.map((item) => item.request.request.event.runId)],
      );
      const existing = new Map(now.rows.map((row) => [row.run_id, row]));
      for (const item of raced) {
        const runId = item.request.request.event.runId;
        const row = existing.get(runId);
        item.reject(new RunAlreadyExistsError(runId, isRunStatus(row?.status) ? row.status : 'running', row?.saga));
      }
    } catch (error) {
      for (const item of raced) item.reject(error);
    }
  }

  /**
   * Loads a run's journal in `seq` order, validating every event; `undefined` for an unknown run.
   *
   * @throws `StoreCorruptionError` (rejects) naming the run and the seq of the first bad row (a
   * gap, an invalid event, an event of another run or position).
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached, or the store is
   * closed.
   * @throws `TypeError` (rejects) when the run id cannot be stored (so no run can have it).
   */
  async load(runId: string): Promise<readonly SagaEvent[] | undefined> {
    this.assertOpen();
    assertStorableRunId(runId, 'Load');
    return this.readJournal(runId, 0);
  }

  /** A run's journal from seq `from` on (0: all of it), validated as {@link PostgresStore.load} says; `undefined` for an unknown run. */
  private async readJournal(runId: string, from: number): Promise<readonly SagaEvent[] | undefined> {
    const result = await this.query<{ recorded: number; seq: number | null; body: string | null }>(
      `load of run ${runId}`,
      from === 0 ? this.sql.load : this.sql.loadFrom,
      from === 0 ? [runId] : [runId, from],
    );
    const head = result.rows[0];
    if (head === undefined) return undefined;
    const rows = result.rows.filter((row) => row.seq !== null).map((row) => [row.seq, row.body]);
    return parseJournalRows(runId, rows, head.recorded, from);
  }

  /**
   * Lists runs, filtered, in run-id order (`order: 'desc'` for newest first).
   *
   * @remarks
   * `runIdPrefix` is matched literally (`%` and `_` are escaped) and case-sensitively, served by
   * the primary key. A row that cannot be read is left out, so it never hides the others.
   *
   * @throws `TypeError` (rejects) when `limit` is not an integer >= 0, or `order` is unknown.
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached, or the store is
   * closed.
   */
  async listRuns(query: ListRunsQuery = {}): Promise<readonly RunSummary[]> {
    this.assertOpen();
    const { statuses, descending } = checkListQuery(query);
    if (statuses?.length === 0) return [];
    const conditions: string[] = [];
    const values: unknown[] = [];
    if (statuses !== undefined) {
      values.push(statuses);
      conditions.push(`status = ANY($${values.length}::text[])`);
    }
    if (query.saga !== undefined) {
      assertStorableText(query.saga, 'listRuns `saga`');
      values.push(query.saga);
      conditions.push(`saga = $${values.length}`);
    }
    if (query.runIdPrefix !== undefined && query.runIdPrefix !== '') {
      values.push(`${query.runIdPrefix.replace(/[\\%_]/g, '\\$&')}%`);
      conditions.push(`run_id LIKE $${values.length} ESCAPE '\\'`);
    }
    return collectSummaries(query.limit, query.afterRunId, async (after, size) => {
      const parameters = [...values];
      const where = [...conditions];
      if (after !== undefined) {
        parameters.push(after);
        where.push(`run_id ${descending ? '<' : '>'} $${parameters.length}`);
      }
      parameters.push(size);
      const result = await this.query<SummaryRow>(
        'list runs',
        `SELECT run_id AS "runId", saga, status, next_seq AS events, created_at AS "createdAt", updated_at AS "updatedAt", submitted
         FROM ${this.t.runs}${where.length === 0 ? '' : ` WHERE ${where.join(' AND ')}`}
         ORDER BY run_id ${descending ? 'DESC' : 'ASC'} LIMIT $${parameters.length}`,
        parameters,
      );
      return result.rows;
    });
  }

  /**
   * Counts runs per status, optionally of one saga.
   *
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached, or the store is closed.
   */
  async countRuns(query: { readonly saga?: string | undefined } = {}): Promise<Readonly<Partial<Record<RunStatus, number>>>> {
    this.assertOpen();
    if (query.saga !== undefined) assertStorableText(query.saga, 'countRuns `saga`');
    const result = await this.query<{ status: string; count: number }>(
      'count runs',
      `SELECT status, count(*)::integer AS count FROM ${this.t.runs}${query.saga === undefined ? '' : ' WHERE saga = $1'} GROUP BY status`,
      query.saga === undefined ? [] : [query.saga],
    );
    const counts: Partial<Record<RunStatus, number>> = {};
    for (const { status, count } of result.rows) if (isRunStatus(status)) counts[status] = count;
    return counts;
  }

  /**
   * Claims up to `limit` claimable runs of the registered sagas, bumping each run's epoch.
   *
   * @remarks
   * Only runs of the registered (saga name, shape hash) pairs are looked at; others stay queued,
   * untouched. Expiry is judged by the database clock, so workers' clocks do not matter.
   *
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached.
   */
  async claim(request: ClaimRequest): Promise<readonly ClaimedRun[]> {
    this.assertOpen();
    if (request.limit <= 0 || request.sagas.length === 0) return [];
    checkLeaseMs(request.leaseMs, `Claim for ${request.owner}`);
    const pairs = new Map(request.sagas.map((saga) => [`${saga.name}\u0000${saga.shapeHash}`, saga]));
    const names = [...pairs.values()].map((saga) => saga.name);
    const hashes = [...pairs.values()].map((saga) => saga.shapeHash);
    // Named: parsing and planning it at every call cost the database ~1 ms of CPU per claim, on
    // the path of every run (claims are one at a time per worker). Its text keeps every plan of it
    // on the partial indexes, so the cached generic plan is as good as a fresh one (see the statement).
    const result = await this.query<ClaimRow>(`claim of runs for worker ${request.owner}`, this.sql.claim, [
      names,
      hashes,
      request.limit,
      request.owner,
      request.leaseMs,
      request.holding ?? [],
    ]);
    const journals = new Map<string, ClaimRow[]>();
    for (const row of result.rows) {
      const rows = journals.get(row.run_id);
      if (rows === undefined) journals.set(row.run_id, [row]);
      else rows.push(row);
    }
    const runs: ClaimedRun[] = [];
    for (const [runId, rows] of journals) {
      const claimed = rows[0] as ClaimRow;
      const lease = { owner: request.owner, epoch: claimed.lease_epoch };
      let events: readonly SagaEvent[];
      try {
        events = parseJournalRows(runId, rows.map((row) => [row.seq, row.body]), claimed.next_seq) ?? [];
      } catch (error) {
        // Claimed all the same (see ClaimedRun.corruption): its lease keeps it from every claim until it expires.
        if (error instanceof StoreCorruptionError) {
          runs.push({ runId, lease, events: [], corruption: error });
          continue;
        }
        throw error;
      }
      runs.push({
        runId,
        lease,
        events,
        ...(claimed.cancel_reason === null ? {} : { cancelRequest: { runId, reason: claimed.cancel_reason } }),
        ...(claimed.signal_requests === null ? {} : { signalRequests: parseSignalRequests(runId, claimed.signal_requests) }),
      });
    }
    return runs.sort((left, right) => compareRunIds(left.runId, right.runId));
  }

  /**
   * Takes a run over when nobody holds a live lease on it (by the database clock): bumps its
   * epoch and makes the caller its owner, in one statement; or reports the live owner.
   *
   * @throws `RunNotFoundError` (rejects) when the run does not exist.
   * @throws `StoreCorruptionError` (rejects) when its journal cannot be read; the lease taken is given back.
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached, or another client
   * held the run's row for longer than `lockTimeoutMs` (nothing changed).
   * @throws `TypeError` (rejects) when the run id, owner or lease length is invalid.
   */
  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    this.assertOpen();
    const operation = `Acquire run ${request.runId}`;
    assertStorableRunId(request.runId, 'Acquire');
    checkOwner(request.owner, operation);
    checkLeaseMs(request.leaseMs, operation);
    checkKnownEvents(request, operation);
    const result = await this.query<{
      lease_owner: string | null;
      lease_epoch: number;
      live: boolean | null;
      expires_at: number | null;
      remaining_ms: number | null;
      taken_epoch: number | null;
      cancel_reason: string | null;
      signal_requests: string | null;
      next_seq: number | null;
    }>(`takeover of run ${request.runId}`, this.sql.acquire, [request.runId, request.owner, request.leaseMs]);
    const row = result.rows[0];
    if (row === undefined) throw new RunNotFoundError(request.runId);
    if (row.taken_epoch === null) {
      return {
        acquired: false,
        heldBy: { owner: row.lease_owner ?? '', epoch: row.lease_epoch, live: row.live === true, expiresAt: row.expires_at ?? 0, remainingMs: Math.max(0, row.remaining_ms ?? 0) },
      };
    }
    const lease: LeaseToken = { owner: request.owner, epoch: row.taken_epoch };
    // Read after the takeover committed: from now on only this lease can append to the run.
    let events: readonly SagaEvent[];
    try {
      // Only what the caller has not read yet: journals only grow.
      const from = takeoverReadsFrom(request, row.next_seq ?? 0);
      events = (await this.readJournal(request.runId, from)) ?? [];
      const length = from + events.length;
      if (length !== row.next_seq) throw new StoreCorruptionError(request.runId, length, `the journal has ${length} events, the run records ${String(row.next_seq)}`);
    } catch (error) {
      await this.release(request.runId, lease).catch(() => undefined);
      throw error;
    }
    return {
      acquired: true,
      lease,
      events,
      ...(row.cancel_reason === null ? {} : { cancelRequest: { runId: request.runId, reason: row.cancel_reason } }),
      ...(row.signal_requests === null ? {} : { signalRequests: parseSignalRequests(request.runId, row.signal_requests) }),
    };
  }

  /**
   * Extends this owner's leases; reports lost ones and pending cancel requests.
   *
   * @remarks
   * A lease is extended while `owner` and its epoch still hold it, even if it ran out and nobody
   * took the run over meanwhile; otherwise the run is reported `lost`. A run whose row another
   * client holds right now is skipped: neither renewed nor lost, tried again at the next beat.
   *
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached.
   */
  async heartbeat(owner: string, runs: ReadonlyArray<{ readonly runId: string; readonly lease: LeaseToken }>, leaseMs: number): Promise<HeartbeatResult> {
    this.assertOpen();
    checkLeaseMs(leaseMs, `Heartbeat of ${owner}`);
    // An id no run can have is lost; PostgreSQL would refuse the whole statement for a NUL.
    const held = runs.filter(({ runId }) => isStorableRunId(runId));
    if (held.length === 0) return { lost: runs.map(({ runId }) => runId), cancelRequests: [] };
    const result = await this.query<{ run_id: string; renewed: boolean; cancel_reason: string | null; signal_requests: string | null; held: boolean }>(
      `heartbeat of ${owner}`,
      this.sql.heartbeat,
      [owner, held.map((run) => run.runId), held.map((run) => run.lease.epoch), leaseMs],
    );
    const byRun = new Map(result.rows.map((row) => [row.run_id, row]));
    const lost: string[] = [];
    const cancelRequests: CancelRequest[] = [];
    let signalRequests: SignalRequest[] | undefined;
    for (const { runId } of runs) {
      const row = byRun.get(runId);
      if (row?.renewed === true) {
        if (row.cancel_reason !== null) cancelRequests.push({ runId, reason: row.cancel_reason });
        if (row.signal_requests !== null) (signalRequests ??= []).push(...parseSignalRequests(runId, row.signal_requests));
      } else if (row?.held !== true) {
        lost.push(runId);
      }
    }
    return signalRequests === undefined ? { lost, cancelRequests } : { lost, cancelRequests, signalRequests };
  }

  /**
   * Gives a lease up if this owner and epoch still hold it; otherwise does nothing.
   *
   * @remarks
   * Releases of one turn share a statement. Releasing an unfinished submitted run (a worker
   * stopping) makes it claimable at once and wakes the other workers.
   *
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached, or another client
   * held the run's row for longer than `lockTimeoutMs`.
   */
  release(runId: string, lease: LeaseToken): Promise<void> {
    try {
      this.assertOpen();
      if (!isStorableRunId(runId)) return Promise.resolve();
      const appending = this.appending.get(runId);
      if (appending === undefined) return this.releases.enqueue({ runId, lease });
      // In call order with the run's append still on its way, as one queue would keep them.
      const after = (): Promise<void> => this.releases.enqueue({ runId, lease });
      return appending.then(after, after);
    } catch (error) {
      return rejectWith(error);
    }
  }

  private async writeReleases(batch: readonly QueuedRelease[], wait: boolean): Promise<void> {
    const operation = batchOperation('release of', batch.map((item) => item.request.runId));
    if (operation === undefined) return;
    const result = await this.query<{ run_id: string; skipped: boolean }>(operation, wait ? this.sql.releaseWaiting : this.sql.releaseSkipping, [
      batch.map((item) => item.request.runId),
      batch.map((item) => item.request.lease.owner),
      batch.map((item) => item.request.lease.epoch),
    ]);
    const skipped = new Set(result.rows.filter((row) => row.skipped).map((row) => row.run_id));
    const retried: QueuedRelease[] = [];
    for (const item of batch) {
      if (skipped.has(item.request.runId)) retried.push(item);
      else item.resolve();
    }
    await Promise.all(retried.map((item) => this.writeReleases([item], true).catch((error: unknown) => item.reject(error))));
  }

  /**
   * Gives a waiting run's lease back until it is due again (see {@link ParkRequest}): the run
   * keeps no worker, no memory and no timer while it waits.
   *
   * @remarks
   * Parks of one turn share a statement. A parked run has a `wake_at` (database clock) and no
   * lease; `claim` hands it out once due, from an index of parked runs by due time, so that any
   * number of them costs a claim nothing. A signal or cancel request clears `wake_at` and wakes
   * the workers.
   *
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached, or another client
   * held the run's row for longer than `lockTimeoutMs`.
   * @throws `TypeError` (rejects) when `wakeInMs` is neither `null` nor a number >= 0.
   */
  park(request: ParkRequest): Promise<ParkResult> {
    try {
      this.assertOpen();
      const { runId, wakeInMs } = request;
      if (wakeInMs !== null && !(typeof wakeInMs === 'number' && wakeInMs >= 0 && Number.isFinite(wakeInMs))) {
        throw new TypeError(`Park of run ${runId}: wakeInMs must be null or a finite number >= 0, got ${String(wakeInMs)}.`);
      }
      if (!isStorableRunId(runId)) return Promise.resolve('lost');
      const appending = this.appending.get(runId);
      if (appending === undefined) return this.parks.enqueue(request);
      // After the run's last append, as for a release.
      const after = (): Promise<ParkResult> => this.parks.enqueue(request);
      return appending.then(after, after);
    } catch (error) {
      return rejectWith(error);
    }
  }

  private async writeParks(batch: readonly QueuedPark[], wait: boolean): Promise<void> {
    const operation = batchOperation('park of', batch.map((item) => item.request.runId));
    if (operation === undefined) return;
    const result = await this.query<{ run_id: string; parked: boolean; requeued: boolean; skipped: boolean }>(operation, wait ? this.sql.parkWaiting : this.sql.parkSkipping, [
      batch.map((item) => item.request.runId),
      batch.map((item) => item.request.lease.owner),
      batch.map((item) => item.request.lease.epoch),
      batch.map((item) => item.request.wakeInMs),
      batch.map((item) => JSON.stringify(item.request.handledSignals)),
    ]);
    const byRun = new Map(result.rows.map((row) => [row.run_id, row]));
    const retried: QueuedPark[] = [];
    for (const item of batch) {
      const row = byRun.get(item.request.runId);
      if (row?.skipped === true) retried.push(item);
      else item.resolve(row?.parked !== true ? 'lost' : row.requeued ? 'requeued' : 'parked');
    }
    await Promise.all(retried.map((item) => this.writeParks([item], true).catch((error: unknown) => item.reject(error))));
  }

  /**
   * Records a cancellation for the run's owner to act on, in one statement that also wakes it.
   *
   * @remarks
   * The first reason is kept when cancellation is requested twice. Requests for a settled run
   * are ignored (there is nothing to stop). A request is cleared when the run settles.
   *
   * @throws `RunNotFoundError` (rejects) when no such run exists.
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached, or another client
   * held the run's row for longer than `lockTimeoutMs` (nothing was recorded: retry).
   */
  async requestCancel(runId: string, reason: string): Promise<void> {
    this.assertOpen();
    assertStorableRunId(runId, 'Cancel request');
    checkReason(runId, reason);
    const result = await this.query<{ found: boolean }>(`cancel request for run ${runId}`, this.sql.requestCancel, [runId, reason]);
    if (result.rows[0]?.found !== true) throw new RunNotFoundError(runId);
  }

  /**
   * Records a signal for the run's owner (a worker or an orchestrator) to deliver, and wakes the
   * owner as a cancel request does, in one statement.
   *
   * @remarks
   * Kept on the run until an append journals its `signal.received` (or the run settles); the
   * owner receives it with every heartbeat and on takeover or claim, and journals it once (by
   * `signalId`). One request per `signalId` is kept; a request for a settled run is ignored. A
   * parked run becomes claimable at once, and the workers are woken instead of an owner.
   *
   * @throws `RunNotFoundError` (rejects) when no such run exists.
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached.
   */
  async requestSignal(request: SignalRequest): Promise<void> {
    this.assertOpen();
    assertStorableRunId(request.runId, 'Signal request');
    assertStorableText(request.signalId, `Signal request for run ${request.runId}: the signalId`);
    const result = await this.query<{ found: boolean }>(`signal request for run ${request.runId}`, this.sql.requestSignal, [request.runId, storableSignalRequest(request)]);
    if (result.rows[0]?.found !== true) throw new RunNotFoundError(request.runId);
  }

  /**
   * The run's lease as the database sees it now; `undefined` when nobody holds it.
   *
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached.
   */
  async leaseOf(runId: string): Promise<LeaseInfo | undefined> {
    this.assertOpen();
    assertStorableRunId(runId, 'Lease lookup');
    const result = await this.query<{ lease_owner: string; lease_epoch: number; live: boolean; expires_at: number; remaining_ms: number }>(
      `lease lookup of run ${runId}`,
      this.sql.leaseOf,
      [runId],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : { owner: row.lease_owner, epoch: row.lease_epoch, live: row.live, expiresAt: row.expires_at, remainingMs: Math.max(0, row.remaining_ms) };
  }

  /**
   * Deletes settled runs last written before `olderThan` (by their last event's `at`), oldest
   * first, with their journals; one statement.
   *
   * @remarks
   * Rows another client holds right now are skipped (pruned by a later call). Served by an index
   * of the settled runs by their last write; prune a large backlog in slices with `limit`. The
   * journals go with their runs (a trigger on the runs table deletes them in the same statement,
   * as it does for any `DELETE` of runs).
   *
   * @throws `TypeError` (rejects) when `statuses` names an unfinished status or `limit` is not an integer >= 0.
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached.
   */
  async prune(options: PruneOptions): Promise<number> {
    this.assertOpen();
    const { olderThan, statuses, limit } = pruneCriteria(options);
    if (limit === 0) return 0;
    const result = await this.query(
      'prune',
      // Found by settled_at (indexed); updated_at < olderThan too, which every write of this schema
      // makes true of a run settled before olderThan: a process of schema 5 still running against
      // the upgraded schema redrives and settles runs without moving settled_at, and such a run,
      // written since, is kept (it is not "last written before olderThan"). A settled run under a
      // live lease was taken over to be redriven or compensated, and is about to be written: kept.
      `WITH doomed AS (
         SELECT run_id FROM ${this.t.runs} WHERE status = ANY($1::text[]) AND settled_at < $2 AND updated_at < $2
           AND (lease_owner IS NULL OR lease_expires_at <= now())
         ORDER BY settled_at, run_id LIMIT $3
         FOR UPDATE SKIP LOCKED
       )
       DELETE FROM ${this.t.runs} AS runs USING doomed WHERE runs.run_id = doomed.run_id`,
      [statuses, olderThan, limit ?? null],
    );
    return result.rowCount ?? 0;
  }

  /**
   * Asks for an `appended` wake-up on every append to the run for the next `forMs` milliseconds
   * (database clock); `orchestrator.watch` renews it while it follows the run.
   *
   * @remarks
   * Only watched runs notify on append: `NOTIFY` makes committing transactions take turns, a cost
   * that every run should not pay for the few that someone watches. Does nothing for an unknown run.
   *
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached.
   */
  async watchRun(runId: string, forMs: number): Promise<void> {
    this.assertOpen();
    await this.query(
      `watch of run ${runId}`,
      `UPDATE ${this.t.runs} SET watched_until = GREATEST(COALESCE(watched_until, now()), now() + $2 * interval '1 millisecond') WHERE run_id = $1`,
      [runId, forMs],
    );
  }

  /**
   * Calls `listener` when work may be claimable or a cancel was requested; resolves to an unsubscribe function.
   *
   * @remarks
   * All listeners of a store share one dedicated `LISTEN` connection, opened by the first
   * subscription and closed after the last unsubscribe or by {@link PostgresStore.close}. When it
   * drops, it reconnects with backoff and then sends a `reconnected` signal.
   *
   * @throws `StoreUnavailableError` (rejects) when the listening connection cannot be opened.
   */
  async onWork(listener: (signal: WorkSignal) => void): Promise<() => Promise<void>> {
    this.assertOpen();
    await this.ensureReady();
    try {
      return await this.listener.subscribe(listener);
    } catch (error) {
      throw toStoreError(withReadTimeout(error, this.listener.answerTimeoutMs), this.description, 'listening for work');
    }
  }

  /**
   * Releases the store's connections. Idempotent.
   *
   * @remarks
   * Ends the pool only when the store created it from a connection string; a pool passed in is
   * left to its owner. Later calls on the store fail with `StoreUnavailableError`.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // Writes already asked for go out and finish (their retries, and releases waiting for an
      // append, included) before the pool ends.
      for (;;) {
        this.creates.flush();
        this.appends.flush();
        this.releases.flush();
        this.parks.flush();
        if (this.inFlight.size === 0) break;
        await Promise.allSettled(this.inFlight);
      }
      this.ended = true;
      await this.listener.close();
      if (this.ownsPool) {
        await this.pool.end();
      } else {
        this.pool.off('error', ignoreIdleClientError);
      }
    })();
    return this.closing;
  }

  private async query<TRow extends pg.QueryResultRow>(operation: string, statement: string | NamedStatement, values: unknown[]): Promise<pg.QueryResult<TRow>> {
    if (this.ended) throw this.closedError();
    await this.ensureReady();
    const query: pg.QueryConfig & { readonly query_timeout?: number } = {
      ...(typeof statement === 'string' ? { text: statement } : statement),
      values,
      ...(this.answerTimeoutMs === undefined ? {} : { query_timeout: this.answerTimeoutMs }),
    };
    try {
      return await this.pool.query<TRow>(query);
    } catch (error) {
      // A read timeout is pg's words for a silent server; the pool has dropped that connection.
      throw toStoreError(withReadTimeout(error, this.answerTimeoutMs), this.description, operation);
    }
  }

  private async connect(operation: string): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw toStoreError(error, this.description, operation);
    }
  }

  private ensureReady(): Promise<void> {
    this.ready ??= (async () => {
      const client = await this.connect(`creating the tables in schema ${this.schema}`);
      let connectionError: unknown;
      const onError = (error: unknown): void => {
        connectionError = error;
      };
      client.on('error', onError);
      try {
        await ensureSchema(client, this.schema, this.description, this.answerTimeoutMs);
      } catch (error) {
        // A statement with no answer in time is a lost connection too: released with it, the client is dropped.
        if (isConnectionError(error)) connectionError ??= error;
        throw toStoreError(withReadTimeout(error, this.answerTimeoutMs), this.description, `creating the tables in schema ${this.schema}`);
      } finally {
        client.off('error', onError);
        client.release(connectionError === undefined ? undefined : toError(connectionError));
      }
    })().catch((error: unknown) => {
      // Let the next call try again, e.g. once the server is back.
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  /** Refuses new calls once `close()` was called (writes asked for before it still finish). */
  private assertOpen(): void {
    if (this.closing !== undefined) throw this.closedError();
  }

  private closedError(): StoreUnavailableError {
    return new StoreUnavailableError(this.description, 'this PostgresStore was closed; create a new one to keep using the database', { closed: true });
  }

  /** Counts a batch write as in flight until it settles, so that `close()` can wait for it. */
  private track(write: Promise<void>): Promise<void> {
    this.inFlight.add(write);
    const done = (): void => {
      this.inFlight.delete(write);
    };
    write.then(done, done);
    return write;
  }
}


/** The append statement's parameters: one array per column, one element per run. */
function appendColumns(batch: readonly QueuedAppend[]): unknown[][] {
  const columns: unknown[][] = Array.from({ length: 11 }, () => []);
  for (const { request } of batch) {
    const values = [
      request.runId,
      request.expectedSeq,
      JSON.stringify(request.events),
      request.events.length,
      request.status,
      request.events[request.events.length - 1]?.at ?? null,
      shapeHashAfter(request.events) ?? null,
      request.lease?.owner ?? null,
      request.lease?.epoch ?? null,
      !isActiveStatus(request.status),
      isActiveStatus(request.status),
    ];
    for (let index = 0; index < values.length; index++) columns[index]?.push(values[index]);
  }
  return columns;
}

/** Why the statement did not append: the store's rules applied to the row as it was locked. */
function refusalOf(request: AppendRequest, row: AppendRow | undefined): Error {
  const length = row?.next_seq ?? undefined;
  return (
    appendRefusal(request, length, row?.lease_owner, row?.lease_epoch ?? 0, row?.lease_live === true) ??
    // The row allowed it, yet nothing was written: the statement and the rules disagree.
    new StoreUnavailableError('PostgreSQL', `the append to run ${request.runId} was not applied for no reason the store knows: reload the run and retry`)
  );
}

/** What a batch statement does, for messages: `append to run r1`, `append to runs r1 and 4 more`. */
function batchOperation(what: string, runIds: readonly string[]): string | undefined {
  const [first] = runIds;
  if (first === undefined) return undefined;
  return runIds.length === 1 ? `${what} run ${first}` : `${what} runs ${first} and ${runIds.length - 1} more`;
}

function checkTimeout(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new TypeError(`PostgresStore \`${name}\` must be an integer >= 0 (milliseconds), not ${String(value)}.`);
  return value;
}

function ignoreIdleClientError(): void {
  // See the constructor: the pool already dropped the client.
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
