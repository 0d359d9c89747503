import type pg from 'pg';
import { StoreUnavailableError } from '../errors/store-errors.js';
import { isConnectionError } from './postgres-connection.js';
import { ACTIVE_RUN_STATUSES } from '../journal/outcome.js';

// The claim index's predicate: migration 1 spelled these out, and must keep meaning what it meant.
const activeList = ACTIVE_RUN_STATUSES.map((status) => `'${status}'`).join(', ');

/**
 * The schema's migrations, in order; entry `i` brings the schema to version `i + 1`.
 *
 * @remarks
 * Never edit a shipped migration: append a new one. A store refuses to use a schema whose
 * version is newer than the migrations it knows.
 */
function migrations(schema: string): ReadonlyArray<readonly string[]> {
  const s = `"${schema}"`;
  return [
    [
      // One row per run: the listing columns, the queue entry (submitted + status) and the lease.
      // run_id and saga sort by code point ("C") so paging matches every other store.
      `CREATE TABLE ${s}.runs (
        run_id text COLLATE "C" PRIMARY KEY,
        saga text COLLATE "C" NOT NULL,
        shape_hash text COLLATE "C",
        status text NOT NULL CHECK (status IN ('completed', 'compensated', 'cancelled', 'compensation_failed', 'paused', 'queued', 'running', 'compensating')),
        next_seq integer NOT NULL CHECK (next_seq >= 0),
        created_at double precision NOT NULL,
        updated_at double precision NOT NULL,
        submitted boolean NOT NULL DEFAULT false,
        lease_owner text,
        lease_epoch integer NOT NULL DEFAULT 0,
        lease_expires_at timestamptz,
        cancel_reason text,
        cancel_requested_at timestamptz,
        CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
      )`,
      // json, not jsonb: the journal keeps each event exactly as written (key order, and strings
      // holding \u0000, which jsonb refuses).
      `CREATE TABLE ${s}.events (
        run_id text COLLATE "C" NOT NULL REFERENCES ${s}.runs (run_id) ON DELETE CASCADE,
        seq integer NOT NULL CHECK (seq >= 0),
        event json NOT NULL,
        PRIMARY KEY (run_id, seq)
      )`,
      `CREATE INDEX runs_status_idx ON ${s}.runs (status, run_id)`,
      `CREATE INDEX runs_saga_idx ON ${s}.runs (saga, status, run_id)`,
      // The queue: only submitted runs that a worker may have to pick up.
      `CREATE INDEX runs_claimable_idx ON ${s}.runs (saga, shape_hash, run_id) WHERE submitted AND status IN (${activeList})`,
    ],
    [
      // Until when someone follows the run (orchestrator.watch): appends to it NOTIFY then.
      `ALTER TABLE ${s}.runs ADD COLUMN watched_until timestamptz`,
    ],
    [
      // prune: runs by age (not led by status, which would lure listings by status away from runs_status_idx).
      `CREATE INDEX runs_age_idx ON ${s}.runs (updated_at, status)`,
      // Every run is owned now, and a settled status ends its lease in the same write: end the
      // leases that settled runs kept before.
      `UPDATE ${s}.runs SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner IS NOT NULL AND status NOT IN (${activeList})`,
    ],
    [
      // Durable waits: signals sent through the store while the run is active, for its owner to deliver.
      `ALTER TABLE ${s}.runs ADD COLUMN signal_requests jsonb`,
    ],
    [
      // Parked runs: waiting, with no lease, until wake_at ('infinity': until a signal or a cancel).
      `ALTER TABLE ${s}.runs ADD COLUMN wake_at timestamptz`,
      // The queue splits in two: runs ready now, and parked runs by due time, so that claims never
      // walk past the parked ones, however many wait.
      `CREATE INDEX runs_ready_idx ON ${s}.runs (saga, shape_hash, run_id) WHERE submitted AND status IN (${activeList}) AND wake_at IS NULL`,
      `CREATE INDEX runs_wake_idx ON ${s}.runs (wake_at) WHERE wake_at IS NOT NULL`,
      `DROP INDEX ${s}.runs_claimable_idx`,
      // Every park leaves the run's earlier row versions behind in the ready index, and a claim
      // walks them until a vacuum removes them (measured: ~1 page per 7 parked runs right after a
      // burst of parks, 3 pages after a vacuum). Vacuum this table once 1 % of it changed, not the
      // default 20 %, so that a burst of parks is cleaned up within a minute or so.
      `ALTER TABLE ${s}.runs SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000, autovacuum_analyze_scale_factor = 0.02)`,
    ],
    [
      // Cheap appends. A run's row is rewritten by every append; PostgreSQL can do that in place
      // (a heap-only tuple: no new entry in any index) only when no indexed column changes and the
      // page has room. updated_at changed at every append and runs_age_idx indexed it, so every
      // append added an entry to each of the five indexes. Prune now reads settled_at, which is
      // updated_at while the run is settled and NULL while it is active, so only an append that
      // changes the status (and so the indexes anyway) touches it; and each page keeps room for
      // the new versions of its rows.
      `ALTER TABLE ${s}.runs SET (fillfactor = 70)`,
      `ALTER TABLE ${s}.runs ADD COLUMN settled_at double precision`,
      `UPDATE ${s}.runs SET settled_at = updated_at WHERE status NOT IN (${activeList})`,
      `CREATE INDEX runs_settled_idx ON ${s}.runs (settled_at, status) WHERE settled_at IS NOT NULL`,
      `DROP INDEX ${s}.runs_age_idx`,
      // The foreign key checked every journaled event with a query of its own (a trigger per row).
      // Events are only ever inserted by statements that hold the run's row (append) or have just
      // inserted it (create), so the check can never fail; what the key also did, deleting a run's
      // events with the run (prune, or an operator's DELETE), a trigger per DELETE statement does.
      // Its runs go through an array so that events_pkey serves it (a join with the deleted rows
      // was planned as a sequential scan of every event, at every prune).
      `ALTER TABLE ${s}.events DROP CONSTRAINT events_run_id_fkey`,
      `CREATE FUNCTION ${s}.delete_events_of_deleted_runs() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          DELETE FROM ${s}.events WHERE run_id = ANY (ARRAY(SELECT run_id FROM deleted));
          RETURN NULL;
        END
      $$`,
      `CREATE TRIGGER runs_delete_events AFTER DELETE ON ${s}.runs REFERENCING OLD TABLE AS deleted
        FOR EACH STATEMENT EXECUTE FUNCTION ${s}.delete_events_of_deleted_runs()`,
    ],
  ];
}

/** The schema version this code writes and reads. @internal */
export const SCHEMA_VERSION = 6;

// "SAGA": the first key of the two-int advisory lock, so ours cannot collide with an app's lock.
const ADVISORY_LOCK_CLASS = 0x53414741;

/**
 * Creates or upgrades the store's tables, once, even when several processes start together.
 * Internal to the PostgreSQL store.
 *
 * @remarks
 * A quick unlocked read skips everything when the schema is current, so a runtime user without
 * CREATE privileges can use a schema an administrator prepared. Otherwise DDL runs in one
 * transaction under an advisory lock: a second process waits, then sees the tables made.
 *
 * @param answerTimeoutMs - how long a statement may go without an answer (pg's `query_timeout`),
 * as the store's own statements; lock waits get `lock_timeout` more, migration steps no limit.
 * @throws StoreUnavailableError when the schema was created by a newer sagaflow.
 * @throws pg's `Query read timeout` error when a statement got no answer in time: drop the client.
 *
 * @internal
 */
export async function ensureSchema(client: pg.ClientBase, schema: string, store: string, answerTimeoutMs?: number): Promise<void> {
  // Every statement but a migration's own gets a client-side limit (pg's query_timeout), which
  // a server gone silent cannot escape: the quick ones the store's, the ones that may wait for
  // a lock also the lock_timeout set below. A migration step (an index built on a big table) has
  // no limit, as on the server (statement_timeout 0).
  const quick = timeoutConfig(answerTimeoutMs);
  const locking = timeoutConfig(answerTimeoutMs === undefined ? undefined : MIGRATION_LOCK_TIMEOUT_MS + answerTimeoutMs);
  const current = await readVersion(client, schema, quick);
  if (current === SCHEMA_VERSION) return;
  if (current !== undefined && current > SCHEMA_VERSION) throw newerSchema(store, schema, current);

  await client.query({ text: 'BEGIN', ...quick });
  try {
    // DDL waits for other sessions (the advisory lock of a concurrent migration, running
    // statements on the tables): the store's short lock and statement timeouts are for its runs.
    await client.query({ text: `SET LOCAL lock_timeout = '${MIGRATION_LOCK_TIMEOUT_MS}ms'`, ...quick });
    await client.query({ text: 'SET LOCAL statement_timeout = 0', ...quick });
    await client.query({ text: 'SELECT pg_advisory_xact_lock($1, hashtext($2))', values: [ADVISORY_LOCK_CLASS, schema], ...locking });
    await client.query({ text: `CREATE SCHEMA IF NOT EXISTS "${schema}"`, ...locking });
    await client.query({
      text: `CREATE TABLE IF NOT EXISTS "${schema}".schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
      ...locking,
    });
    const locked = (await readVersion(client, schema, locking)) ?? 0;
    if (locked > SCHEMA_VERSION) throw newerSchema(store, schema, locked);
    const steps = migrations(schema);
    for (let version = locked + 1; version <= SCHEMA_VERSION; version++) {
      for (const statement of steps[version - 1] ?? []) await client.query(statement);
      await client.query({ text: `INSERT INTO "${schema}".schema_version (version) VALUES ($1)`, values: [version], ...locking });
    }
    await client.query({ text: 'COMMIT', ...locking });
  } catch (error) {
    // A connection that failed or went silent is dropped by the caller, which rolls back; a
    // ROLLBACK sent on it would only queue behind the statement that got no answer.
    if (!isConnectionError(error)) await client.query({ text: 'ROLLBACK', ...quick }).catch(() => undefined);
    throw error;
  }
}

/** How long a migration's statements wait for a lock another session holds (lock_timeout). */
const MIGRATION_LOCK_TIMEOUT_MS = 60_000;

/** pg's client-side query_timeout, when there is one. */
function timeoutConfig(ms: number | undefined): { readonly query_timeout?: number } {
  return ms === undefined ? {} : { query_timeout: ms };
}

async function readVersion(client: pg.ClientBase, schema: string, timeout: { readonly query_timeout?: number }): Promise<number | undefined> {
  const table = await client.query<{ exists: boolean }>({ text: 'SELECT to_regclass($1) IS NOT NULL AS exists', values: [`"${schema}".schema_version`], ...timeout });
  if (table.rows[0]?.exists !== true) return undefined;
  const result = await client.query<{ version: number | null }>({ text: `SELECT max(version) AS version FROM "${schema}".schema_version`, ...timeout });
  return result.rows[0]?.version ?? undefined;
}

function newerSchema(store: string, schema: string, version: number): StoreUnavailableError {
  return new StoreUnavailableError(
    store,
    `schema ${schema} is at version ${version}, written by a newer sagaflow than this one (which knows version ${SCHEMA_VERSION}); upgrade sagaflow in this process`,
  );
}
