import { createHash } from 'node:crypto';
import pg from 'pg';
import { RunNotFoundError } from '../errors/run-errors.js';
import {
  LeaseLostError,
  RunLeasedError,
  StoreConflictError,
  StoreCorruptionError,
  StoreUnavailableError,
} from '../errors/store-errors.js';
import { isSettledStatus, type RunStatus } from '../journal/outcome.js';
import { sagaEventSchema, type SagaEvent } from '../journal/saga-event.js';
import { describePool, isConnectionError, maskConnectionString, toStoreError, validateSchemaName } from './postgres-connection.js';
import { WorkListener } from './postgres-listener.js';
import { ACTIVE_STATUSES, ensureSchema } from './postgres-schema.js';
import type { AppendRequest, LeaseToken, ListRunsQuery, RunSummary } from './saga-store.js';
import type {
  ClaimedRun,
  ClaimRequest,
  HeartbeatResult,
  LeaseInfo,
  WorkQueueStore,
  WorkSignal,
  WorkSignalKind,
} from './work-queue.js';

/**
 * Settings shared by both ways of connecting a {@link PostgresStore}.
 *
 * @remarks
 * Every setting has a default that suits a service with a few workers. With `onWork`
 * listeners, the store holds one connection more than its pool, for `LISTEN`.
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
  readonly schema?: string;
  /** Size of the pool the store creates from `connectionString`. Default 10. Ignored with `pool`. */
  readonly maxConnections?: number;
  /** How long to wait for a new connection before failing with `StoreUnavailableError`. Default 5 000 ms. */
  readonly connectionTimeoutMs?: number;
  /** `application_name` of the store's connections, shown in `pg_stat_activity`. Default `sagaflow`. */
  readonly applicationName?: string;
  /**
   * How often the `LISTEN` connection checks that the server still answers, reconnecting when it
   * does not within the same time (at most 10 s). Default 30 000 ms.
   */
  readonly listenerPingMs?: number;
}

/**
 * How to create a {@link PostgresStore}: a connection string (the store owns its pool) or a
 * `pg.Pool` you own.
 *
 * @remarks
 * With `pool`, the store never ends the pool; it opens one extra connection, with the pool's
 * settings, for `LISTEN` when workers subscribe to {@link PostgresStore.onWork}.
 * `connectionTimeoutMs` and `applicationName` then apply to that connection only.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import type { PostgresStoreOptions } from 'sagaflow/postgres';
 * const own: PostgresStoreOptions = { connectionString: 'postgres://app@db:5432/app' };
 * const shared: PostgresStoreOptions = { pool: new pg.Pool({ max: 5 }), schema: 'sagas' };
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
  readonly pool?: never;
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
  readonly connectionString?: never;
}

/** What the append statement reports per run: its row as locked, and whether the events went in. */
interface AppendRow {
  run_id: string;
  status: RunStatus;
  next_seq: number;
  lease_owner: string | null;
  lease_epoch: number;
  lease_live: boolean | null;
  appended: boolean;
}

interface PendingCreate {
  readonly request: AppendRequest;
  readonly resolve: (created: boolean) => void;
  readonly reject: (error: unknown) => void;
}

interface PendingAppend {
  readonly request: AppendRequest;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** One event of a claimed run, with the claim's columns repeated on each. */
interface ClaimRow extends EventRow {
  lease_epoch: number;
  cancel_reason: string | null;
}

interface EventRow {
  run_id: string;
  seq: number;
  event: unknown;
}

const ACTIVE: ReadonlySet<RunStatus> = new Set<RunStatus>(ACTIVE_STATUSES);
const ACTIVE_SQL = ACTIVE_STATUSES.map((status) => `'${status}'`).join(', ');

/**
 * Keeps journals in PostgreSQL and shares runs between worker processes: the distributed store.
 *
 * @remarks
 * Tables live in one schema (default `sagaflow`) and are created on first use, safely when many
 * processes start at once. Every append is one transaction that checks `expectedSeq`
 * (optimistic concurrency) and, for workers, the lease (fencing) under a row lock on the run.
 *
 * Workers: `submit` queues a run, `claim` takes queued runs and runs whose lease expired
 * (by the database clock) with `FOR UPDATE SKIP LOCKED`, bumping the run's epoch. Lease rules:
 * - An append carrying `lease` is accepted only when that owner and epoch hold the run's lease;
 *   an expired lease nobody took over is still held (the epoch, not the clock, is the fence).
 * - An append without `lease` to a queued, running or compensating run with a live lease is
 *   refused with `RunLeasedError`: a live lease means a worker owns the run. When the run has
 *   settled or the lease expired, such an append is accepted and clears the lease, so the
 *   former holder is fenced out.
 * - A cancel request stays on the run until the run settles.
 *
 * Connection failures become `StoreUnavailableError` (the pg error as `cause`); the pool
 * reconnects by itself when the server is back. Appends, claims and releases are single
 * statements (one round trip each), so one whose connection dropped while it was in flight may
 * still have been applied: reload the journal before trying again (the runtime does: a run
 * whose append failed is resumed from its stored journal).
 *
 * Group commit: appends (and new runs, and releases) to different runs made in the same turn of
 * the event loop share one statement, each run checked and appended or refused on its own. A
 * worker driving many runs, or a service submitting many, pays one round trip and one commit
 * for all of them; round trips, not the database, bound throughput on a busy host. A corrupt journal found by `claim` is left
 * leased, and skipped, until its lease expires, so it cannot take a worker's every claim; `load`
 * reports it as a `StoreCorruptionError`.
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
  /** The connection string with its password masked, e.g. `postgres://app:***@db:5432/app`. */
  readonly description: string;
  /** Marks the store as worker-capable. */
  readonly workQueue = true as const;
  /** The schema holding the store's tables. */
  readonly schema: string;

  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly listener: WorkListener;
  private readonly channel: string;
  private readonly t: { readonly runs: string; readonly events: string };
  private readonly sql: { readonly append: NamedStatement; readonly create: NamedStatement; readonly claim: NamedStatement; readonly release: NamedStatement };
  private ready: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly appendQueue: PendingAppend[] = [];
  private readonly createQueue: PendingCreate[] = [];
  private readonly releaseQueue: Array<{ runId: string; lease: LeaseToken; resolve: () => void; reject: (error: unknown) => void }> = [];
  private appendScheduled = false;

  /**
   * @param options - a connection string or a pool, and the schema.
   * @throws `TypeError` when `schema` is not a plain SQL identifier, or no connection is given.
   */
  constructor(options: PostgresStoreOptions) {
    this.schema = validateSchemaName(options.schema ?? 'sagaflow');
    this.t = { runs: `"${this.schema}".runs`, events: `"${this.schema}".events` };
    // One channel per schema; NOTIFY refuses names over 63 bytes, LISTEN would silently truncate.
    this.channel = `sagaflow_${this.schema}`.slice(0, 63);
    this.sql = statements(this.t, this.channel);
    const applicationName = options.applicationName ?? 'sagaflow';
    const connectionTimeoutMillis = options.connectionTimeoutMs ?? 5_000;

    let listenConfig: pg.ClientConfig;
    if (options.pool !== undefined) {
      this.pool = options.pool;
      this.ownsPool = false;
      this.description = describePool(options.pool.options);
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
      };
      this.pool = new pg.Pool(config);
      this.ownsPool = true;
      this.description = maskConnectionString(options.connectionString);
      listenConfig = config;
    }
    // Idle pooled clients report a dropped connection as a pool 'error' event, which would
    // crash the process unhandled. pg has already discarded the client; the next query opens a
    // fresh one, and a query that fails reports StoreUnavailableError.
    this.pool.on('error', ignoreIdleClientError);
    const pingIntervalMs = options.listenerPingMs ?? 30_000;
    this.listener = new WorkListener({
      clientConfig: { ...listenConfig, keepAlive: true },
      channel: this.channel,
      pingIntervalMs,
      pingTimeoutMs: Math.min(pingIntervalMs, 10_000),
    });
  }

  /**
   * Appends events to a run's journal, all or nothing; resolves once they are durable.
   *
   * @remarks
   * Appends to different runs made in the same turn of the event loop go out as one statement
   * (group commit, as `SqliteStore` does): a worker driving many runs pays one round trip for
   * all of them. Each run is still checked, and appended or refused, on its own.
   *
   * @throws `StoreConflictError` (rejects) when `expectedSeq` is not the journal's length.
   * @throws `LeaseLostError` (rejects) when `lease` no longer holds the run.
   * @throws `RunLeasedError` (rejects) when `lease` is absent and a worker holds a live lease on
   * the unfinished run.
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached, or the store is
   * closed; the append may or may not have been applied (reload the journal).
   * @throws `TypeError` (rejects) when the events are not contiguous from `expectedSeq` or belong
   * to another run.
   */
  async append(request: AppendRequest): Promise<void> {
    checkEvents(request);
    if (request.expectedSeq === 0 && request.lease === undefined && request.events.length > 0) {
      if (await this.createRun(request)) return;
    }
    return new Promise<void>((resolve, reject) => {
      this.appendQueue.push({ request, resolve, reject });
      if (!this.appendScheduled) {
        this.appendScheduled = true;
        // setImmediate, not a microtask: it waits for every I/O callback of this turn, so the
        // runs that a statement's results woke up all get into the next statement.
        setImmediate(() => this.flushAppends());
      }
    });
  }

  private flushAppends(): void {
    this.appendScheduled = false;
    const batch: PendingAppend[] = [];
    const later: PendingAppend[] = [];
    const runs = new Set<string>();
    for (const pending of this.appendQueue.splice(0)) {
      // Two appends to one run (two writers racing) cannot share a statement: the row lock orders them.
      if (runs.has(pending.request.runId)) later.push(pending);
      else {
        runs.add(pending.request.runId);
        batch.push(pending);
      }
    }
    if (later.length > 0) {
      this.appendQueue.push(...later);
      this.appendScheduled = true;
      setImmediate(() => this.flushAppends());
    }
    void this.writeAppends(batch);
  }

  private async writeAppends(batch: readonly PendingAppend[]): Promise<void> {
    const first = batch[0];
    if (first === undefined) return;
    const operation = batch.length === 1 ? `append to run ${first.request.runId}` : `append to runs ${first.request.runId} and ${batch.length - 1} more`;
    let rows: Map<string, AppendRow>;
    try {
      const result = await this.query<AppendRow>(operation, this.sql.append, appendColumns(batch.map(({ request }) => request)));
      rows = new Map(result.rows.map((row) => [row.run_id, row]));
    } catch (error) {
      if (batch.length > 1 && !(error instanceof StoreUnavailableError)) {
        // One run's bad request must not fail the others: write each on its own.
        await Promise.all(batch.map((pending) => this.writeAppends([pending])));
        return;
      }
      for (const pending of batch) pending.reject(error);
      return;
    }
    for (const { request, resolve, reject } of batch) {
      try {
        checkAppended(request, rows.get(request.runId));
        resolve();
      } catch (error) {
        reject(error);
      }
    }
  }

  /** Creates a run with its first events; resolves to false when the run already exists. */
  private createRun(request: AppendRequest): Promise<boolean> {
    // Grouped like appends: concurrent submits share a statement.
    return new Promise<boolean>((resolve, reject) => {
      this.createQueue.push({ request, resolve, reject });
      if (this.createQueue.length === 1) setImmediate(() => this.flushCreates());
    });
  }

  private flushCreates(): void {
    const batch: PendingCreate[] = [];
    const later: PendingCreate[] = [];
    const runs = new Set<string>();
    for (const pending of this.createQueue.splice(0)) {
      if (runs.has(pending.request.runId)) later.push(pending);
      else {
        runs.add(pending.request.runId);
        batch.push(pending);
      }
    }
    if (later.length > 0) {
      this.createQueue.push(...later);
      setImmediate(() => this.flushCreates());
    }
    void this.writeCreates(batch);
  }

  private async writeCreates(batch: readonly PendingCreate[]): Promise<void> {
    const first = batch[0];
    if (first === undefined) return;
    const operation = batch.length === 1 ? `append to run ${first.request.runId}` : `append to runs ${first.request.runId} and ${batch.length - 1} more`;
    const columns: unknown[][] = Array.from({ length: 10 }, () => []);
    for (const { request } of batch) {
      const head = request.events[0];
      const submitted = head?.type === 'run.started' && head.submitted === true;
      const values = [
        request.runId,
        request.saga,
        latestShapeHash(request.events) ?? null,
        request.status,
        request.expectedSeq + request.events.length,
        head?.at ?? 0,
        request.events[request.events.length - 1]?.at ?? 0,
        submitted,
        JSON.stringify(request.events),
        submitted && ACTIVE.has(request.status),
      ];
      for (const [index, value] of values.entries()) columns[index]?.push(value);
    }
    let created: Set<string>;
    try {
      const result = await this.query<{ run_id: string }>(operation, this.sql.create, columns);
      created = new Set(result.rows.map((row) => row.run_id));
    } catch (error) {
      if (batch.length > 1 && !(error instanceof StoreUnavailableError)) {
        // One run's bad request must not fail the others: write each on its own.
        await Promise.all(batch.map((pending) => this.writeCreates([pending])));
        return;
      }
      // Two creators raced and the loser's events collided: the run exists, go on as for one.
      if (isUniqueViolation(error)) for (const pending of batch) pending.resolve(false);
      else for (const pending of batch) pending.reject(error);
      return;
    }
    for (const pending of batch) pending.resolve(created.has(pending.request.runId));
  }

  /**
   * Appends a run's `run.started` (with `submitted: true`) and queues it in one transaction,
   * then wakes workers with `NOTIFY`.
   *
   * @throws `StoreConflictError` (rejects) when the run already exists.
   * @throws `TypeError` (rejects) when the request is not a submitted run's first event.
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached.
   */
  async submit(request: AppendRequest): Promise<void> {
    const first = request.events[0];
    if (request.expectedSeq !== 0 || first?.type !== 'run.started' || first.submitted !== true) {
      throw new TypeError(
        `Submit run ${request.runId}: a submission is the run's run.started event at seq 0 with submitted: true.`,
      );
    }
    await this.append(request);
  }

  /**
   * Loads a run's journal in `seq` order, validating every event; `undefined` for an unknown run.
   *
   * @throws `StoreCorruptionError` (rejects) naming the run and the seq of the first bad row (a
   * gap, an invalid event, an event of another run or position).
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached, or the store is
   * closed.
   */
  async load(runId: string): Promise<readonly SagaEvent[] | undefined> {
    const result = await this.query<EventRow>(`load run ${runId}`, `SELECT run_id, seq, event FROM ${this.t.events} WHERE run_id = $1 ORDER BY seq`, [
      runId,
    ]);
    if (result.rows.length === 0) return undefined;
    return parseJournal(runId, result.rows);
  }

  /**
   * Lists runs, filtered by status and saga, in run-id order.
   *
   * @throws `TypeError` (rejects) when `limit` is not an integer >= 0.
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached, or the store is
   * closed.
   */
  async listRuns(query: ListRunsQuery = {}): Promise<readonly RunSummary[]> {
    const conditions: string[] = [];
    const values: unknown[] = [];
    if (query.status !== undefined) {
      values.push(typeof query.status === 'string' ? [query.status] : [...query.status]);
      conditions.push(`status = ANY($${values.length}::text[])`);
    }
    if (query.saga !== undefined) {
      values.push(query.saga);
      conditions.push(`saga = $${values.length}`);
    }
    if (query.afterRunId !== undefined) {
      values.push(query.afterRunId);
      conditions.push(`run_id > $${values.length}`);
    }
    let limit = '';
    if (query.limit !== undefined) {
      if (!Number.isInteger(query.limit) || query.limit < 0) {
        throw new TypeError(`listRuns: limit must be a non-negative integer, got ${query.limit}.`);
      }
      values.push(query.limit);
      limit = ` LIMIT $${values.length}`;
    }
    const where = conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`;
    const result = await this.query<{
      run_id: string;
      saga: string;
      status: RunStatus;
      next_seq: number;
      created_at: number;
      updated_at: number;
    }>('list runs', `SELECT run_id, saga, status, next_seq, created_at, updated_at FROM ${this.t.runs}${where} ORDER BY run_id${limit}`, values);
    return result.rows.map((row) => ({
      runId: row.run_id,
      saga: row.saga,
      status: row.status,
      events: row.next_seq,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    }));
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
    if (request.limit <= 0 || request.sagas.length === 0) return [];
    const pairs = new Map(request.sagas.map((saga) => [`${saga.name}\u0000${saga.shapeHash}`, saga]));
    const names = [...pairs.values()].map((saga) => saga.name);
    const hashes = [...pairs.values()].map((saga) => saga.shapeHash);
    const result = await this.query<ClaimRow>(`claim runs for worker ${request.owner}`, this.sql.claim, [
      names,
      hashes,
      request.limit,
      request.owner,
      request.leaseMs,
    ]);
    if (result.rows.length === 0) return [];
    const runs: ClaimedRun[] = [];
    for (const [runId, rows] of groupByRun(result.rows)) {
      const claimed = rows[0] as ClaimRow;
      let journal: readonly SagaEvent[];
      try {
        journal = parseJournal(runId, rows);
      } catch (error) {
        if (error instanceof StoreCorruptionError) continue;
        throw error;
      }
      runs.push({
        runId,
        lease: { owner: request.owner, epoch: claimed.lease_epoch },
        events: journal,
        ...(claimed.cancel_reason === null ? {} : { cancelRequest: { runId, reason: claimed.cancel_reason } }),
      });
    }
    return runs.sort((left, right) => compareIds(left.runId, right.runId));
  }

  /**
   * Extends this worker's live leases; reports lost ones and pending cancel requests.
   *
   * @remarks
   * A lease is extended while `owner` and its epoch still hold it, even if it ran out and nobody
   * took the run over meanwhile; otherwise the run is reported `lost`.
   *
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached.
   */
  async heartbeat(
    owner: string,
    runs: ReadonlyArray<{ readonly runId: string; readonly lease: LeaseToken }>,
    leaseMs: number,
  ): Promise<HeartbeatResult> {
    if (runs.length === 0) return { lost: [], cancelRequests: [] };
    const result = await this.query<{ run_id: string; cancel_reason: string | null }>(
      `heartbeat of worker ${owner}`,
      // Rows are locked in run-id order, as appends lock them, so the two cannot deadlock.
      `WITH held AS (
         SELECT * FROM unnest($2::text[], $3::integer[]) AS held(run_id, epoch)
       ), locked AS (
         SELECT runs.run_id FROM ${this.t.runs} AS runs JOIN held ON held.run_id = runs.run_id
         WHERE runs.lease_owner = $1 AND runs.lease_epoch = held.epoch
         ORDER BY runs.run_id
         FOR UPDATE OF runs
       )
       UPDATE ${this.t.runs} AS runs SET lease_expires_at = now() + $4 * interval '1 millisecond'
       FROM locked WHERE runs.run_id = locked.run_id
       RETURNING runs.run_id, runs.cancel_reason`,
      [owner, runs.map((run) => run.runId), runs.map((run) => run.lease.epoch), leaseMs],
    );
    const held = new Map(result.rows.map((row) => [row.run_id, row.cancel_reason]));
    return {
      lost: runs.filter((run) => !held.has(run.runId)).map((run) => run.runId),
      cancelRequests: result.rows.flatMap((row) => (row.cancel_reason === null ? [] : [{ runId: row.run_id, reason: row.cancel_reason }])),
    };
  }

  /**
   * Gives a lease up if this owner and epoch still hold it.
   *
   * @remarks
   * Does nothing when the lease is no longer this one. Releasing an unfinished submitted run
   * (a worker stopping) makes it claimable at once and wakes the other workers.
   *
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached.
   */
  release(runId: string, lease: LeaseToken): Promise<void> {
    // Grouped like appends: a worker releasing many settled runs pays one round trip.
    return new Promise<void>((resolve, reject) => {
      this.releaseQueue.push({ runId, lease, resolve, reject });
      if (this.releaseQueue.length === 1) setImmediate(() => void this.flushReleases());
    });
  }

  private async flushReleases(): Promise<void> {
    const batch = this.releaseQueue.splice(0);
    const first = batch[0];
    if (first === undefined) return;
    const operation = batch.length === 1 ? `release of run ${first.runId}` : `release of runs ${first.runId} and ${batch.length - 1} more`;
    try {
      await this.query(operation, this.sql.release, [
        batch.map((pending) => pending.runId),
        batch.map((pending) => pending.lease.owner),
        batch.map((pending) => pending.lease.epoch),
      ]);
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    for (const pending of batch) pending.resolve();
  }

  /**
   * Records a cancellation for the run's owner to act on.
   *
   * @remarks
   * The first reason is kept when cancellation is requested twice. Requests for a settled run
   * are ignored (there is nothing to stop). A request is cleared when the run settles.
   *
   * @throws `RunNotFoundError` (rejects) when no such run exists.
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached.
   */
  async requestCancel(runId: string, reason: string): Promise<void> {
    await this.transaction(`cancel request for run ${runId}`, async (client) => {
      const updated = await client.query(
        `UPDATE ${this.t.runs} SET cancel_reason = COALESCE(cancel_reason, $2), cancel_requested_at = COALESCE(cancel_requested_at, now())
         WHERE run_id = $1 AND status IN (${ACTIVE_SQL})`,
        [runId, reason],
      );
      if (updated.rowCount !== 0) {
        await this.notify(client, 'cancel_requested', runId);
        return;
      }
      const exists = await client.query(`SELECT 1 FROM ${this.t.runs} WHERE run_id = $1`, [runId]);
      if (exists.rowCount === 0) throw new RunNotFoundError(runId);
    });
  }

  /**
   * The run's lease as the database sees it now; `undefined` when nobody holds it.
   *
   * @throws `StoreUnavailableError` (rejects) when the server cannot be reached.
   */
  async leaseOf(runId: string): Promise<LeaseInfo | undefined> {
    const result = await this.query<{ lease_owner: string; lease_epoch: number; live: boolean }>(
      `lease lookup of run ${runId}`,
      `SELECT lease_owner, lease_epoch, lease_expires_at > now() AS live FROM ${this.t.runs} WHERE run_id = $1 AND lease_owner IS NOT NULL`,
      [runId],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : { owner: row.lease_owner, epoch: row.lease_epoch, live: row.live };
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
      throw toStoreError(error, this.description, 'listening for work');
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
      await this.listener.close();
      if (this.ownsPool) {
        await this.pool.end();
      } else {
        this.pool.off('error', ignoreIdleClientError);
      }
    })();
    return this.closing;
  }

  private async notify(client: pg.PoolClient, kind: WorkSignalKind, runId: string): Promise<void> {
    // Delivered at commit, and not at all if the transaction rolls back.
    await client.query('SELECT pg_notify($1, $2)', [this.channel, JSON.stringify({ kind, runId })]);
  }

  private async query<TRow extends pg.QueryResultRow>(operation: string, statement: string | NamedStatement, values: unknown[]): Promise<pg.QueryResult<TRow>> {
    this.assertOpen();
    await this.ensureReady();
    try {
      return await this.pool.query<TRow>(typeof statement === 'string' ? { text: statement, values } : { ...statement, values });
    } catch (error) {
      throw toStoreError(error, this.description, operation);
    }
  }

  private async transaction<T>(operation: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    this.assertOpen();
    await this.ensureReady();
    const client = await this.connect(operation);
    let connectionError: unknown;
    // A checked-out client whose socket dies emits 'error' even while a query is pending; with
    // no listener that event would crash the process. The failing query reports it to us.
    const onError = (error: unknown): void => {
      connectionError = error;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      if (connectionError === undefined && !isConnectionError(error)) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          connectionError = rollbackError;
        });
      } else {
        connectionError ??= error;
      }
      throw toStoreError(error, this.description, operation);
    } finally {
      client.off('error', onError);
      // Releasing with an error makes the pool discard the client instead of reusing it.
      client.release(connectionError === undefined ? undefined : toError(connectionError));
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
        await ensureSchema(client, this.schema, this.description);
      } catch (error) {
        if (isConnectionError(error)) connectionError ??= error;
        throw toStoreError(error, this.description, `creating the tables in schema ${this.schema}`);
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

  private assertOpen(): void {
    if (this.closing !== undefined) {
      throw new StoreUnavailableError(this.description, 'this PostgresStore was closed; create a new one to keep using the database');
    }
  }
}

/**
 * The store's hot statements. Each does in one round trip what a transaction of four to six
 * statements would: on a busy host every round trip costs the client a system call and a
 * context switch, and those, not the database, bound throughput.
 */
function statements(t: { readonly runs: string; readonly events: string }, channel: string): {
  readonly append: NamedStatement;
  readonly create: NamedStatement;
  readonly claim: NamedStatement;
  readonly release: NamedStatement;
} {
  const notifyChannel = `'${channel}'`;
  const texts = {
    // $1…$11: one array per column (see appendColumns), one element per run, at most one per run.
    // Arrays rather than one JSON document: a JSON document's strings would be decoded, and
    // PostgreSQL refuses \u0000 in text; json[] elements keep each batch of events as written.
    // Row locks, taken in run-id order so that concurrent statements cannot deadlock, order the
    // appends to one run. Each run is checked on its own by the store's rules (fencing, expected
    // seq, a live lease owns the run), and the caller reports a refusal from the locked row it
    // gets back. A lease-less append clears the lease (fencing out a holder whose lease expired);
    // one that moves a settled submitted run back to an active status re-queues it and wakes the
    // workers. Appends to a watched run announce themselves (only those: NOTIFY serializes
    // committing transactions, a price every append should not pay).
    append: `
      WITH req AS (
        SELECT * FROM unnest($1::text[], $2::integer[], $3::json[], $4::integer[], $5::text[], $6::double precision[],
          $7::text[], $8::text[], $9::integer[], $10::boolean[], $11::boolean[])
          AS r(run_id, expected_seq, events, event_count, status, last_at, shape_hash, lease_owner, lease_epoch, settles, active)
      ), locked AS (
        SELECT runs.run_id, runs.status, runs.next_seq, runs.submitted, runs.lease_owner, runs.lease_epoch,
          runs.lease_expires_at > now() AS lease_live
        FROM ${t.runs} AS runs WHERE runs.run_id IN (SELECT run_id FROM req)
        ORDER BY runs.run_id
        FOR UPDATE
      ), accepted AS (
        SELECT locked.run_id, locked.submitted, locked.status AS previous_status, req.expected_seq, req.events,
          req.event_count, req.status, req.last_at, req.shape_hash, req.lease_owner AS writer, req.settles, req.active
        FROM locked JOIN req ON req.run_id = locked.run_id
        WHERE (req.lease_owner IS NULL OR (locked.lease_owner = req.lease_owner AND locked.lease_epoch = req.lease_epoch))
          AND locked.next_seq = req.expected_seq
          AND (req.lease_owner IS NOT NULL OR locked.lease_owner IS NULL OR locked.lease_live IS NOT TRUE OR locked.status NOT IN (${ACTIVE_SQL}))
          AND req.event_count > 0
      ), inserted AS (
        INSERT INTO ${t.events} (run_id, seq, event)
        SELECT accepted.run_id, accepted.expected_seq + position - 1, element
        FROM accepted, json_array_elements(accepted.events) WITH ORDINALITY AS batch(element, position)
        RETURNING 1
      ), updated AS (
        UPDATE ${t.runs} AS runs SET
          status = accepted.status, next_seq = accepted.expected_seq + accepted.event_count, updated_at = accepted.last_at,
          shape_hash = COALESCE(accepted.shape_hash, runs.shape_hash),
          lease_owner = CASE WHEN accepted.writer IS NULL THEN NULL ELSE runs.lease_owner END,
          lease_expires_at = CASE WHEN accepted.writer IS NULL THEN NULL ELSE runs.lease_expires_at END,
          cancel_reason = CASE WHEN accepted.settles THEN NULL ELSE runs.cancel_reason END,
          cancel_requested_at = CASE WHEN accepted.settles THEN NULL ELSE runs.cancel_requested_at END
        FROM accepted WHERE runs.run_id = accepted.run_id
        RETURNING runs.run_id,
          accepted.submitted AND accepted.writer IS NULL AND accepted.previous_status NOT IN (${ACTIVE_SQL}) AND accepted.active AS requeue,
          runs.watched_until > now() AS watched
      )
      SELECT locked.run_id, locked.status, locked.next_seq, locked.lease_owner, locked.lease_epoch, locked.lease_live,
        updated.run_id IS NOT NULL AS appended,
        CASE WHEN updated.requeue THEN pg_notify(${notifyChannel}, json_build_object('kind', 'requeued', 'runId', locked.run_id)::text) END AS requeued,
        CASE WHEN updated.watched THEN pg_notify(${notifyChannel}, json_build_object('kind', 'appended', 'runId', locked.run_id)::text) END AS announced
      FROM locked LEFT JOIN updated ON updated.run_id = locked.run_id`,
    // One array per column, one element per new run: $1 run, $2 saga, $3 shape hash, $4 status,
    // $5 next seq, $6 created at, $7 updated at, $8 submitted, $9 events, $10 wake the workers.
    // Returns the runs it created. ON CONFLICT waits for a concurrent creator of the same run; if
    // it committed, that run is not created here and the caller goes on as for an existing run.
    create: `
      WITH req AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::double precision[],
          $7::double precision[], $8::boolean[], $9::json[], $10::boolean[])
          AS req(run_id, saga, shape_hash, status, next_seq, created_at, updated_at, submitted, events, wake)
      ), created AS (
        INSERT INTO ${t.runs} (run_id, saga, shape_hash, status, next_seq, created_at, updated_at, submitted)
        SELECT run_id, saga, shape_hash, status, next_seq, created_at, updated_at, submitted FROM req ORDER BY run_id
        ON CONFLICT (run_id) DO NOTHING
        RETURNING run_id
      ), inserted AS (
        INSERT INTO ${t.events} (run_id, seq, event)
        SELECT req.run_id, position - 1, element
        FROM req JOIN created ON created.run_id = req.run_id, json_array_elements(req.events) WITH ORDINALITY AS batch(element, position)
        RETURNING 1
      )
      SELECT created.run_id,
        CASE WHEN req.wake THEN pg_notify(${notifyChannel}, json_build_object('kind', 'submitted', 'runId', created.run_id)::text) END AS notified
      FROM created JOIN req ON req.run_id = created.run_id`,
    // $1 saga names, $2 shape hashes, $3 limit, $4 owner, $5 lease ms.
    claim: `
      WITH candidates AS (
        SELECT run_id FROM ${t.runs}
        WHERE submitted AND status IN (${ACTIVE_SQL})
          -- The ANY() conditions let the planner use runs_claimable_idx; the pair check is exact.
          AND saga = ANY($1::text[]) AND shape_hash = ANY($2::text[])
          AND (saga, shape_hash) IN (SELECT * FROM unnest($1::text[], $2::text[]))
          AND (lease_expires_at IS NULL OR lease_expires_at <= now())
        ORDER BY run_id
        LIMIT $3
        FOR UPDATE SKIP LOCKED
      ), claimed AS (
        UPDATE ${t.runs} AS runs
        SET lease_owner = $4, lease_epoch = runs.lease_epoch + 1, lease_expires_at = now() + $5 * interval '1 millisecond'
        FROM candidates WHERE runs.run_id = candidates.run_id
        RETURNING runs.run_id, runs.lease_epoch, runs.cancel_reason
      )
      SELECT claimed.run_id, claimed.lease_epoch, claimed.cancel_reason, events.seq, events.event
      FROM claimed JOIN ${t.events} AS events ON events.run_id = claimed.run_id
      ORDER BY claimed.run_id, events.seq`,
    // $1 runs, $2 owners, $3 epochs. Rows are locked in run-id order, as appends lock them.
    // Releasing an unfinished submitted run makes it claimable at once: wake the workers.
    release: `
      WITH req AS (
        SELECT * FROM unnest($1::text[], $2::text[], $3::integer[]) AS req(run_id, owner, epoch)
      ), locked AS (
        SELECT runs.run_id FROM ${t.runs} AS runs JOIN req ON req.run_id = runs.run_id
        WHERE runs.lease_owner = req.owner AND runs.lease_epoch = req.epoch
        ORDER BY runs.run_id
        FOR UPDATE OF runs
      ), released AS (
        UPDATE ${t.runs} AS runs SET lease_owner = NULL, lease_expires_at = NULL
        FROM locked WHERE runs.run_id = locked.run_id
        RETURNING runs.run_id, runs.submitted AND runs.status IN (${ACTIVE_SQL}) AS requeued
      )
      SELECT pg_notify(${notifyChannel}, json_build_object('kind', 'requeued', 'runId', run_id)::text) FROM released WHERE requeued`,
  };
  // Named, so each connection parses and plans them once rather than on every call; the name
  // carries a hash of the text because two stores on different schemas share a pool's clients.
  const named = (kind: string, text: string): NamedStatement => ({
    name: `sagaflow_${kind}_${createHash('sha1').update(text).digest('hex').slice(0, 12)}`,
    text,
  });
  return {
    append: named('append', texts.append),
    create: named('create', texts.create),
    claim: named('claim', texts.claim),
    release: named('release', texts.release),
  };
}

/** A statement the pool's connections prepare once, by name. */
interface NamedStatement {
  readonly name: string;
  readonly text: string;
}

/** The append statement's parameters: one array per column, one element per run. */
function appendColumns(requests: readonly AppendRequest[]): unknown[][] {
  const columns: unknown[][] = Array.from({ length: 11 }, () => []);
  for (const request of requests) {
    const values = [
      request.runId,
      request.expectedSeq,
      JSON.stringify(request.events),
      request.events.length,
      request.status,
      request.events[request.events.length - 1]?.at ?? null,
      latestShapeHash(request.events) ?? null,
      request.lease?.owner ?? null,
      request.lease?.epoch ?? null,
      isSettledStatus(request.status),
      ACTIVE.has(request.status),
    ];
    for (const [index, value] of values.entries()) columns[index]?.push(value);
  }
  return columns;
}

/** Turns the statement's verdict on one run into success or the store's error for it. */
function checkAppended(request: AppendRequest, run: AppendRow | undefined): void {
  const { lease } = request;
  if (run === undefined) {
    // No such run: a lease cannot hold it, and its journal is empty.
    if (lease !== undefined) throw new LeaseLostError(request.runId, lease.owner, lease.epoch);
    if (request.expectedSeq !== 0 || request.events.length > 0) throw new StoreConflictError(request.runId, request.expectedSeq, 0);
    return;
  }
  if (run.appended) return;
  // Fencing first: a stale worker learns it lost the run even when its seq would still fit.
  if (lease !== undefined && (run.lease_owner !== lease.owner || run.lease_epoch !== lease.epoch)) {
    throw new LeaseLostError(request.runId, lease.owner, lease.epoch);
  }
  if (run.next_seq !== request.expectedSeq) throw new StoreConflictError(request.runId, request.expectedSeq, run.next_seq);
  if (lease === undefined && run.lease_owner !== null && run.lease_live === true && ACTIVE.has(run.status)) {
    throw new RunLeasedError(request.runId, run.lease_owner, run.lease_epoch);
  }
  // Accepted with nothing to write (an empty batch).
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === '23505';
}

function ignoreIdleClientError(): void {
  // See the constructor: the pool already dropped the client.
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function compareIds(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

function checkEvents(request: AppendRequest): void {
  for (const [offset, event] of request.events.entries()) {
    if (event.seq !== request.expectedSeq + offset || event.runId !== request.runId) {
      throw new TypeError(
        `Append to run ${request.runId}: event ${offset} has runId ${event.runId} and seq ${event.seq}, expected seq ${request.expectedSeq + offset}.`,
      );
    }
  }
}

/** The shape hash the run continues with after these events, if they change it. */
function latestShapeHash(events: readonly SagaEvent[]): string | undefined {
  for (let index = events.length - 1; index >= 0; index--) {
    const event = events[index];
    if (event?.type === 'run.started' || (event?.type === 'run.resumed' && event.shapeHash !== undefined)) return event.shapeHash;
  }
  return undefined;
}

function groupByRun(rows: readonly EventRow[]): Map<string, EventRow[]> {
  const journals = new Map<string, EventRow[]>();
  for (const row of rows) {
    const journal = journals.get(row.run_id);
    if (journal === undefined) journals.set(row.run_id, [row]);
    else journal.push(row);
  }
  return journals;
}

function parseJournal(runId: string, rows: readonly EventRow[]): SagaEvent[] {
  const journal: SagaEvent[] = [];
  for (const [index, row] of rows.entries()) {
    if (row.seq !== index) throw new StoreCorruptionError(runId, index, `the row for seq ${index} is missing (the next row has seq ${row.seq})`);
    const parsed = sagaEventSchema.safeParse(row.event);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
      throw new StoreCorruptionError(runId, row.seq, `the stored event is not a valid saga event (${issue?.message ?? 'invalid'}${where})`, {
        cause: parsed.error,
      });
    }
    if (parsed.data.runId !== runId || parsed.data.seq !== row.seq) {
      throw new StoreCorruptionError(
        runId,
        row.seq,
        `the stored event says it is run ${parsed.data.runId} seq ${parsed.data.seq}`,
      );
    }
    journal.push(parsed.data);
  }
  return journal;
}
