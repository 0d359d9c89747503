import {
  createOrchestrator,
  defineSaga,
  LeaseLostError,
  RunAlreadyExistsError,
  RunLeasedError,
  RunNotFoundError,
  StoreConflictError,
  StoreCorruptionError,
  StoreUnavailableError,
  type AppendRequest,
  type LeaseToken,
  type RunStartedEvent,
  type RunStatus,
  type SagaEvent,
  type WorkSignal,
} from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import pg from 'pg';
import { filter, firstValueFrom } from 'rxjs';
import { z } from 'zod';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresStatements } from '../../src/stores/postgres-statements.js';
import { dropSchemas, postgresForTests, uniqueSchema, withAdminClient } from '../support/postgres.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { StoreProcess } from './store-process.js';

const url = await postgresForTests();
const schema = uniqueSchema('pg_store');
const extraSchemas: string[] = [];
const stores: PostgresStore[] = [];

function open(options: { schema?: string; applicationName?: string; connectionString?: string; lockTimeoutMs?: number } = {}): PostgresStore {
  const store = new PostgresStore({
    connectionString: options.connectionString ?? url ?? '',
    schema: options.schema ?? schema,
    ...(options.applicationName === undefined ? {} : { applicationName: options.applicationName }),
    ...(options.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.lockTimeoutMs }),
  });
  stores.push(store);
  return store;
}

afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  if (url !== undefined) await dropSchemas(url, schema, ...extraSchemas);
});

const SAGA = 'transfer';
const SHAPE = 'shape-1';

function started(runId: string, options: { saga?: string; shapeHash?: string; submitted?: boolean } = {}): RunStartedEvent {
  return {
    type: 'run.started',
    runId,
    saga: options.saga ?? SAGA,
    seq: 0,
    at: 1_000,
    version: '1',
    shapeHash: options.shapeHash ?? SHAPE,
    input: { cents: 5, note: 'nul \u0000 and ünïcödé' },
    stages: ['debit', 'credit'],
    ...(options.submitted === true ? { submitted: true } : {}),
  };
}

function stageStarted(runId: string, seq: number, saga = SAGA): SagaEvent {
  return { type: 'stage.started', runId, saga, seq, at: 1_000 + seq, stage: 'debit', attempt: 1 };
}

/** The lease of runs the tests create with {@link createOwned}. */
const APP: LeaseToken = { owner: 'app', epoch: 1 };

/** An append request; in-process runs carry {@link APP}'s lease unless `extra` says otherwise. */
function request(runId: string, expectedSeq: number, events: SagaEvent[], status: RunStatus, extra: Partial<AppendRequest> = {}): AppendRequest {
  return { runId, saga: events[0]?.saga ?? SAGA, expectedSeq, events, status, ...extra };
}

/** An append request under {@link APP}'s lease. */
function owned(runId: string, expectedSeq: number, events: SagaEvent[], status: RunStatus = 'running'): AppendRequest {
  return request(runId, expectedSeq, events, status, { lease: APP });
}

/** Creates a run owned by {@link APP}, as an orchestrator's start does. */
/** Undoes migration 6, leaving the schema as version 5 made it. */
async function backToVersion5(client: pg.ClientBase, name: string): Promise<void> {
  const s = `"${name}"`;
  await client.query(`DROP TRIGGER runs_delete_events ON ${s}.runs`);
  await client.query(`DROP FUNCTION ${s}.delete_events_of_deleted_runs()`);
  await client.query(`ALTER TABLE ${s}.events ADD CONSTRAINT events_run_id_fkey FOREIGN KEY (run_id) REFERENCES ${s}.runs (run_id) ON DELETE CASCADE`);
  await client.query(`DROP INDEX ${s}.runs_settled_idx`);
  await client.query(`ALTER TABLE ${s}.runs DROP COLUMN settled_at`);
  await client.query(`CREATE INDEX runs_age_idx ON ${s}.runs (updated_at, status)`);
  await client.query(`ALTER TABLE ${s}.runs RESET (fillfactor)`);
  await client.query(`DELETE FROM ${s}.schema_version WHERE version = 6`);
}

function createOwned(store: PostgresStore, runId: string, options: { saga?: string; shapeHash?: string } = {}): Promise<void> {
  return store.create({ event: started(runId, options), owner: { owner: APP.owner, leaseMs: 60_000 } });
}

async function submitRun(store: PostgresStore, options: { saga?: string; shapeHash?: string } = {}): Promise<string> {
  const runId = uuidv7();
  await store.submit({ event: started(runId, { ...options, submitted: true }) });
  return runId;
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A store that reaches the test server through a {@link TcpProxy} the test can black-hole, with
 * short statement and connection limits, so that a silent server is given up in well under a second.
 */
/**
 * Listens on `store`, lets `silence` cut its listening connection off, heals the network, and
 * expects the listener to reconnect and then to hear a run submitted through a direct store.
 */
async function expectListenerBack(store: PostgresStore, proxy: TcpProxy, silence: () => void): Promise<void> {
  const direct = open();
  const signals: WorkSignal[] = [];
  await store.onWork((signal) => signals.push(signal));
  silence();
  proxy.heal();
  await nextSignal(signals, (signal) => signal.kind === 'reconnected');
  const submitted = await submitRun(direct);
  await nextSignal(signals, (signal) => signal.runId === submitted);
}

async function storeThroughProxy(extra: { readonly listenerPingMs?: number } = {}): Promise<{ readonly proxy: TcpProxy; readonly store: PostgresStore }> {
  const target = new URL(url ?? '');
  const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
  await proxy.up();
  const proxied = new URL(target.href);
  proxied.port = String(proxy.listenPort);
  return { proxy, store: new PostgresStore({ connectionString: proxied.href, schema, statementTimeoutMs: 300, connectionTimeoutMs: 300, ...extra }) };
}

/** Resolves with the first signal matching `match`, from a listener subscribed before `act` runs. */
function nextSignal(signals: WorkSignal[], match: (signal: WorkSignal) => boolean): Promise<WorkSignal> {
  return (async () => {
    let found: WorkSignal | undefined;
    await waitFor('a work signal', () => (found = signals.find(match)) !== undefined);
    return found as WorkSignal;
  })();
}

describe('PostgresStore configuration', () => {
  it('refuses a schema that is not a plain SQL identifier, naming it', () => {
    for (const bad of ['Sagas', 'bad-name', '1abc', 'x'.repeat(64), 'a b', 'sagas;drop table x', '', 'pg_sagas']) {
      expect(() => new PostgresStore({ connectionString: 'postgres://localhost/db', schema: bad })).toThrow(
        new RegExp(`schema ${JSON.stringify(bad).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
      );
    }
    for (const good of ['a', '_x1', 'sagaflow', 'x'.repeat(63), 'select']) {
      expect(new PostgresStore({ connectionString: 'postgres://localhost/db', schema: good }).schema).toBe(good);
    }
  });

  it('masks the password in its description', () => {
    expect(new PostgresStore({ connectionString: 'postgres://app:s3cret@db:5432/app' }).description).toBe('postgres://app:***@db:5432/app');
    expect(new PostgresStore({ connectionString: 'host=db user=app password=s3cret dbname=app' }).description).toBe(
      'host=db user=app password=*** dbname=app',
    );
    expect(new PostgresStore({ connectionString: 'postgres://db/app?password=s3cret' }).description).not.toContain('s3cret');
  });

  it('names a schema other than the default in its description, so that two schemas of one database are told apart', () => {
    expect(new PostgresStore({ connectionString: 'postgres://app:s3cret@db:5432/app', schema: 'orders' }).description).toBe('postgres://app:***@db:5432/app (schema orders)');
    expect(new PostgresStore({ connectionString: 'postgres://app@db:5432/app', schema: 'sagaflow' }).description).toBe('postgres://app@db:5432/app');
    const pool = new pg.Pool({ host: 'db', database: 'app', user: 'app' });
    expect(new PostgresStore({ pool, schema: 'orders' }).description).toMatch(/ \(schema orders\)$/);
    void pool.end();
  });

  it('fails with a clear StoreUnavailableError when the server cannot be reached, from the refused connection itself (not a timeout)', async () => {
    // A connection timeout longer than the test's: the error must be the refusal, not the timeout.
    const store = new PostgresStore({ connectionString: 'postgres://app:s3cret@127.0.0.1:1/app', connectionTimeoutMs: 120_000 });
    const error: unknown = await store.load('some-run').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    const unavailable = error as StoreUnavailableError;
    expect(unavailable.message).toMatch(/^The saga store postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/app is unavailable: /);
    expect(unavailable.message).toContain('ECONNREFUSED');
    expect(unavailable.message).toContain('check that the server is running and reachable');
    expect(unavailable.message).not.toContain('s3cret');
    expect(unavailable.cause).toBeInstanceOf(Error);
    await expect(store.onWork(() => undefined)).rejects.toBeInstanceOf(StoreUnavailableError);
    await store.close();
    await store.close();
    await expect(store.load('some-run')).rejects.toThrow(/was closed/);
    // Closed, not unreachable: nothing retries it.
    await expect(store.load('some-run')).rejects.toMatchObject({ constructor: StoreUnavailableError, closed: true });
  });
});

describe.skipIf(url === undefined)('PostgresStore on a real server', () => {
  it('creates its tables once when several stores race on first use', async () => {
    const raceSchema = `${schema}_race`;
    extraSchemas.push(raceSchema);
    const racers = Array.from({ length: 4 }, () => open({ schema: raceSchema }));
    const runIds = racers.map(() => uuidv7());
    await Promise.all(racers.map((store, index) => createOwned(store, runIds[index] ?? '')));
    const versions = await withAdminClient(url ?? '', async (client) => (await client.query(`SELECT version FROM "${raceSchema}".schema_version ORDER BY version`)).rows);
    expect(versions).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }, { version: 5 }, { version: 6 }]);
    expect((await racers[0]?.listRuns())?.map((run) => run.runId)).toEqual([...runIds].sort());
  });

  it('upgrades a version-4 schema in place: its queued runs stay claimable, and parking works after the upgrade', async () => {
    const oldSchema = uniqueSchema('pg_v4');
    extraSchemas.push(oldSchema);
    const first = open({ schema: oldSchema });
    const runId = await submitRun(first);
    await first.close();
    // Back to what version 4 made: no wake_at, the one claim index.
    await withAdminClient(url ?? '', async (client) => {
      await backToVersion5(client, oldSchema);
      await client.query(`ALTER TABLE "${oldSchema}".runs DROP COLUMN wake_at`);
      await client.query(`CREATE INDEX runs_claimable_idx ON "${oldSchema}".runs (saga, shape_hash, run_id) WHERE submitted AND status IN ('queued', 'running', 'compensating')`);
      await client.query(`DELETE FROM "${oldSchema}".schema_version WHERE version = 5`);
    });
    const upgraded = open({ schema: oldSchema });
    const [claimed] = await upgraded.claim({ owner: 'after-upgrade', sagas: [{ name: SAGA, shapeHash: SHAPE }], limit: 5, leaseMs: 30_000 });
    expect(claimed?.runId).toBe(runId);
    await expect(upgraded.park({ runId, lease: claimed?.lease ?? { owner: '', epoch: 0 }, wakeInMs: 0, handledSignals: [] })).resolves.toBe('parked');
    // Due at once: the next claim hands it out again.
    const [again] = await upgraded.claim({ owner: 'after-park', sagas: [{ name: SAGA, shapeHash: SHAPE }], limit: 5, leaseMs: 30_000 });
    expect(again).toMatchObject({ runId, lease: { owner: 'after-park', epoch: (claimed?.lease.epoch ?? 0) + 1 } });
    const indexes = await withAdminClient(url ?? '', async (client) => (await client.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`, [oldSchema])).rows.map((row) => row.indexname));
    expect(indexes).toEqual(expect.arrayContaining(['runs_ready_idx', 'runs_wake_idx']));
    expect(indexes).not.toContain('runs_claimable_idx');
  });

  it('upgrades a version-5 schema in place: settled runs are pruned with their journals, active runs go on', async () => {
    const oldSchema = uniqueSchema('pg_v5');
    extraSchemas.push(oldSchema);
    const first = open({ schema: oldSchema });
    const [settled, active] = [uuidv7(), uuidv7()];
    await createOwned(first, settled);
    await first.append(owned(settled, 1, [stageStarted(settled, 1)], 'completed'));
    await createOwned(first, active);
    await first.close();
    await withAdminClient(url ?? '', (client) => backToVersion5(client, oldSchema));

    const upgraded = open({ schema: oldSchema });
    await upgraded.append(owned(active, 1, [stageStarted(active, 1)]));
    const schemaOf = await withAdminClient(url ?? '', async (client) => ({
      versions: (await client.query<{ version: number }>(`SELECT version FROM "${oldSchema}".schema_version ORDER BY version`)).rows.map((row) => row.version),
      foreignKeys: (await client.query<{ count: number }>(`SELECT count(*)::integer AS count FROM pg_constraint WHERE conrelid = '"${oldSchema}".events'::regclass AND contype = 'f'`)).rows[0]?.count,
      settledAt: (await client.query<{ run_id: string; settled_at: number | null }>(`SELECT run_id, settled_at FROM "${oldSchema}".runs ORDER BY run_id`)).rows,
      options: (await client.query<{ reloptions: string[] }>(`SELECT reloptions FROM pg_class WHERE oid = '"${oldSchema}".runs'::regclass`)).rows[0]?.reloptions,
    }));
    expect(schemaOf.versions).toEqual([1, 2, 3, 4, 5, 6]);
    expect(schemaOf.foreignKeys).toBe(0);
    expect(schemaOf.options).toContain('fillfactor=70');
    // The settled run's settled_at is its last write (the stage event's at); the active run has none.
    expect(schemaOf.settledAt).toEqual([
      { run_id: settled, settled_at: 1_001 },
      { run_id: active, settled_at: null },
    ].sort((left, right) => (left.run_id < right.run_id ? -1 : 1)));
    await expect(upgraded.prune({ olderThan: Number.MAX_SAFE_INTEGER })).resolves.toBe(1);
    expect(await upgraded.load(settled)).toBeUndefined();
    // The journal went with its run, as the foreign key's cascade had it.
    const orphans = await withAdminClient(url ?? '', async (client) => (await client.query(`SELECT seq FROM "${oldSchema}".events WHERE run_id = $1`, [settled])).rows);
    expect(orphans).toEqual([]);
    // The active run settles after the upgrade and is pruned then.
    await upgraded.append(owned(active, 2, [stageStarted(active, 2)], 'completed'));
    await expect(upgraded.prune({ olderThan: Number.MAX_SAFE_INTEGER })).resolves.toBe(1);
    expect(await upgraded.load(active)).toBeUndefined();
  });

  it('prune never deletes a run written after olderThan, even when a sagaflow of schema 5 still running against the upgraded schema redrove and settled it without dating it', async () => {
    const schema = uniqueSchema('pg_mixed');
    extraSchemas.push(schema);
    const store = open({ schema });
    const runId = uuidv7();
    await createOwned(store, runId);
    await store.append(owned(runId, 1, [stageStarted(runId, 1)], 'completed'));
    // A version 5 process (its statements prepared before the upgrade) redrives it at 5,000 and
    // settles it again at 6,000: it moves status and updated_at, never settled_at.
    await withAdminClient(url ?? '', async (client) => {
      await client.query(`UPDATE "${schema}".runs SET status = 'running', updated_at = 5000 WHERE run_id = $1`, [runId]);
      await client.query(`UPDATE "${schema}".runs SET status = 'completed', updated_at = 6000 WHERE run_id = $1`, [runId]);
    });
    await expect(store.prune({ olderThan: 3_000 })).resolves.toBe(0);
    expect(await store.load(runId)).toHaveLength(2);
    await expect(store.prune({ olderThan: 7_000 })).resolves.toBe(1);
  });

  it('deletes a run\'s journal with the run, whoever deletes it', async () => {
    const store = open();
    const [gone, kept] = [uuidv7(), uuidv7()];
    await createOwned(store, gone);
    await createOwned(store, kept);
    await store.append(owned(gone, 1, [stageStarted(gone, 1)]));
    await store.append(owned(kept, 1, [stageStarted(kept, 1)]));
    const left = await withAdminClient(url ?? '', async (client) => {
      await client.query(`DELETE FROM "${schema}".runs WHERE run_id = $1`, [gone]);
      return (await client.query<{ run_id: string; seq: number }>(`SELECT run_id, seq FROM "${schema}".events WHERE run_id = ANY($1::text[]) ORDER BY run_id, seq`, [[gone, kept]])).rows;
    });
    expect(left).toEqual([
      { run_id: kept, seq: 0 },
      { run_id: kept, seq: 1 },
    ]);
    expect(await store.load(kept)).toEqual([started(kept), stageStarted(kept, 1)]);
  });

  it('deletes the journals of a slice of runs by events_pkey, never scanning every journal', async () => {
    const sliceSchema = `${schema}_slice`;
    extraSchemas.push(sliceSchema);
    await open({ schema: sliceSchema }).listRuns({ limit: 1 });
    const { plans, left } = await withAdminClient(url ?? '', async (client) => {
      await client.query(
        `INSERT INTO "${sliceSchema}".runs (run_id, saga, shape_hash, status, next_seq, created_at, updated_at, settled_at, submitted)
         SELECT 'r' || lpad(g::text, 6, '0'), '${SAGA}', '${SHAPE}', 'completed', 10, g, g, g, true FROM generate_series(1, 5000) AS g`,
      );
      await client.query(`INSERT INTO "${sliceSchema}".events (run_id, seq, event) SELECT run_id, seq, '{}' FROM "${sliceSchema}".runs, generate_series(0, 9) AS seq`);
      const logged: string[] = [];
      client.on('notice', (notice) => logged.push(String(notice.message)));
      await client.query("LOAD 'auto_explain'");
      await client.query('SET auto_explain.log_min_duration = 0');
      await client.query('SET auto_explain.log_nested_statements = on');
      await client.query('SET client_min_messages = log');
      await client.query(`DELETE FROM "${sliceSchema}".runs WHERE run_id <= 'r000020'`);
      await client.query('SET client_min_messages = notice');
      const rows = await client.query<{ count: number }>(`SELECT count(*)::integer AS count FROM "${sliceSchema}".events WHERE run_id <= 'r000020'`);
      return { plans: logged.filter((message) => message.includes('Delete on events')), left: rows.rows[0]?.count };
    });
    expect(left).toBe(0);
    expect(plans).toHaveLength(1);
    expect(plans[0]).toContain('events_pkey');
    expect(plans[0]).not.toContain('Seq Scan');
  });

  it('appends, loads in seq order, and refuses a stale expectedSeq', async () => {
    const store = open();
    const runId = uuidv7();
    await createOwned(store, runId);
    await store.append(owned(runId, 1, [stageStarted(runId, 1), stageStarted(runId, 2)]));
    expect(await store.load(runId)).toEqual([started(runId), stageStarted(runId, 1), stageStarted(runId, 2)]);
    expect(await store.load(uuidv7())).toBeUndefined();

    await expect(store.append(owned(runId, 1, [stageStarted(runId, 1)]))).rejects.toMatchObject({
      constructor: StoreConflictError,
      runId,
      expectedSeq: 1,
      actualSeq: 3,
    });
    const fresh = uuidv7();
    await expect(store.append(owned(fresh, 2, [stageStarted(fresh, 2)]))).rejects.toMatchObject({ constructor: RunNotFoundError, runId: fresh });
    await expect(store.append(owned(runId, 3, [stageStarted(runId, 4)]))).rejects.toBeInstanceOf(TypeError);
  });

  it('lets exactly one of two concurrent creators of a run win', async () => {
    const [first, second] = [open(), open()];
    const runId = uuidv7();
    const results = await Promise.allSettled([first, second].map((store) => createOwned(store, runId)));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((result) => result.status === 'rejected');
    expect(rejected?.reason).toBeInstanceOf(RunAlreadyExistsError);
    expect(rejected?.reason).toMatchObject({ runId, status: 'running' });
    expect(await first.load(runId)).toHaveLength(1);
  });

  it('appends all or nothing', async () => {
    const store = open();
    const runId = uuidv7();
    await createOwned(store, runId);
    // A trigger that fails on the second event of a batch, after the first was inserted.
    await withAdminClient(url ?? '', async (client) => {
      await client.query(`CREATE FUNCTION "${schema}".explode() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.event->>'stage' = 'explode' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$`);
      await client.query(`CREATE TRIGGER explode BEFORE INSERT ON "${schema}".events FOR EACH ROW EXECUTE FUNCTION "${schema}".explode()`);
    });
    try {
      const exploding: SagaEvent = { type: 'stage.started', runId, saga: SAGA, seq: 2, at: 2, stage: 'explode', attempt: 1 };
      await expect(store.append(owned(runId, 1, [stageStarted(runId, 1), exploding]))).rejects.toThrow(/boom/);
      expect(await store.load(runId)).toHaveLength(1);
      expect((await store.listRuns({ afterRunId: runId.slice(0, -1), limit: 1 }))[0]).toMatchObject({ runId, events: 1 });
      await store.append(owned(runId, 1, [stageStarted(runId, 1)]));
    } finally {
      await withAdminClient(url ?? '', (client) => client.query(`DROP TRIGGER explode ON "${schema}".events`));
    }
  });

  it('lists runs by status, saga, limit and afterRunId, in id order, using its indexes', async () => {
    const listSchema = `${schema}_list`;
    extraSchemas.push(listSchema);
    const store = open({ schema: listSchema });
    const made: Array<{ runId: string; saga: string; status: RunStatus }> = [];
    for (const [saga, status] of [
      ['a', 'running'],
      ['b', 'completed'],
      ['a', 'paused'],
      ['b', 'running'],
      ['a', 'completed'],
    ] as const) {
      const runId = uuidv7();
      await createOwned(store, runId, { saga });
      await store.append(request(runId, 1, [stageStarted(runId, 1, saga)], status, { saga, lease: APP }));
      made.push({ runId, saga, status });
    }
    const ids = (filter: (run: (typeof made)[number]) => boolean) => made.filter(filter).map((run) => run.runId);
    expect((await store.listRuns()).map((run) => run.runId)).toEqual(ids(() => true));
    expect((await store.listRuns({ status: 'running' })).map((run) => run.runId)).toEqual(ids((run) => run.status === 'running'));
    expect((await store.listRuns({ status: ['paused', 'completed'], saga: 'a' })).map((run) => run.runId)).toEqual(
      ids((run) => run.saga === 'a' && run.status !== 'running'),
    );
    expect(await store.listRuns({ status: [] })).toEqual([]);
    const page = await store.listRuns({ limit: 2, afterRunId: made[1]?.runId ?? '' });
    expect(page.map((run) => run.runId)).toEqual(ids(() => true).slice(2, 4));
    expect(page[0]).toEqual({ runId: made[2]?.runId, saga: 'a', status: 'paused', events: 2, createdAt: 1_000, updatedAt: 1_001, submitted: false });

    const plans = await withAdminClient(url ?? '', async (client) => {
      await client.query('SET enable_seqscan = off');
      const plan = async (where: string) =>
        (await client.query(`EXPLAIN SELECT run_id FROM "${listSchema}".runs WHERE ${where} ORDER BY run_id LIMIT 10`)).rows
          .map((row: Record<string, string>) => Object.values(row).join(''))
          .join('\n');
      // On a table this small a bitmap scan of runs_status_idx costs less; prune's own index must serve once it does not.
      await client.query('SET enable_bitmapscan = off');
      const prune = (
        await client.query(
          `EXPLAIN SELECT run_id FROM "${listSchema}".runs WHERE status = ANY('{completed,cancelled}') AND settled_at < 5000 AND updated_at < 5000 ORDER BY settled_at, run_id LIMIT 10`,
        )
      ).rows
        .map((row: Record<string, string>) => Object.values(row).join(''))
        .join('\n');
      return { status: await plan(`status = 'running'`), saga: await plan(`saga = 'a'`), prune };
    });
    expect(plans.status).toContain('runs_status_idx');
    expect(plans.saga).toContain('runs_saga_idx');
    expect(plans.prune).toContain('runs_settled_idx');
  });

  it('finishes the writes asked for before close, then refuses every call', async () => {
    const store = new PostgresStore({ connectionString: url ?? '', schema });
    const [runId, next] = [uuidv7(), uuidv7()];
    await createOwned(store, runId);
    const written = Promise.all([store.append(owned(runId, 1, [stageStarted(runId, 1)])), createOwned(store, next), store.release(runId, APP)]);
    await store.close();
    await written;
    await expect(store.load(runId)).rejects.toThrow(/was closed/);
    await expect(store.append(owned(next, 1, [stageStarted(next, 1)]))).rejects.toBeInstanceOf(StoreUnavailableError);
    const reader = open();
    expect(await reader.load(runId)).toEqual([started(runId), stageStarted(runId, 1)]);
    expect(await reader.leaseOf(runId)).toBeUndefined();
    expect(await reader.load(next)).toEqual([started(next)]);
  });

  it('reports a corrupt row as StoreCorruptionError naming run and seq, while other runs still load', async () => {
    const store = open();
    const [bad, good] = [uuidv7(), uuidv7()];
    for (const runId of [bad, good]) {
      await createOwned(store, runId);
      await store.append(owned(runId, 1, [stageStarted(runId, 1), stageStarted(runId, 2)]));
    }
    await withAdminClient(url ?? '', (client) =>
      client.query(`UPDATE "${schema}".events SET event = '{"type":"stage.started","seq":1}' WHERE run_id = $1 AND seq = 1`, [bad]),
    );
    const error: unknown = await store.load(bad).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreCorruptionError);
    expect(error).toMatchObject({ runId: bad, seq: 1 });
    expect((error as Error).message).toContain(`run ${bad} is corrupt at seq 1`);
    expect(await store.load(good)).toHaveLength(3);

    await withAdminClient(url ?? '', (client) => client.query(`DELETE FROM "${schema}".events WHERE run_id = $1 AND seq = 1`, [good]));
    await expect(store.load(good)).rejects.toMatchObject({ constructor: StoreCorruptionError, runId: good, seq: 1 });
  });

  describe('work queue', () => {
    it('submits a queued run that a worker claims with epoch 1 and its journal', async () => {
      const store = open();
      const runId = await submitRun(store);
      expect((await store.listRuns({ afterRunId: runId.slice(0, -1), limit: 1 }))[0]).toMatchObject({ runId, status: 'queued' });
      expect(await store.leaseOf(runId)).toBeUndefined();
      await expect(store.submit({ event: started(runId) })).rejects.toBeInstanceOf(TypeError);
      await expect(store.submit({ event: started(runId, { submitted: true }), owner: { owner: 'app', leaseMs: 1_000 } })).rejects.toBeInstanceOf(TypeError);

      const claimed = await store.claim({ owner: 'w1', sagas: [{ name: SAGA, shapeHash: SHAPE }], limit: 100, leaseMs: 60_000 });
      const mine = claimed.find((run) => run.runId === runId);
      expect(mine).toEqual({ runId, lease: { owner: 'w1', epoch: 1 }, events: [started(runId, { submitted: true })] });
      expect(await store.leaseOf(runId)).toMatchObject({ owner: 'w1', epoch: 1, live: true });
      await expect(store.submit({ event: started(runId, { submitted: true }) })).rejects.toMatchObject({
        constructor: RunAlreadyExistsError,
        runId,
        status: 'queued',
      });
    });

    it('claims only the registered saga name and shape hash, leaving the others queued', async () => {
      const queueSchema = `${schema}_shapes`;
      extraSchemas.push(queueSchema);
      const store = open({ schema: queueSchema });
      const wanted = await submitRun(store, { saga: 'a', shapeHash: 'h1' });
      const otherShape = await submitRun(store, { saga: 'a', shapeHash: 'h2' });
      const otherSaga = await submitRun(store, { saga: 'b', shapeHash: 'h1' });
      const notSubmitted = uuidv7();
      await createOwned(store, notSubmitted, { saga: 'a', shapeHash: 'h1' });
      // Its owner lets it go: still not the workers' to claim.
      await store.release(notSubmitted, APP);

      const claimed = await store.claim({ owner: 'w1', sagas: [{ name: 'a', shapeHash: 'h1' }, { name: 'a', shapeHash: 'h1' }], limit: 10, leaseMs: 60_000 });
      expect(claimed.map((run) => run.runId)).toEqual([wanted]);
      for (const runId of [otherShape, otherSaga, notSubmitted]) expect(await store.leaseOf(runId)).toBeUndefined();
      // Claiming leaves the status to the journal: the worker's first append moves it to running.
      expect((await store.listRuns({ status: 'queued' })).map((run) => run.runId)).toEqual([wanted, otherShape, otherSaga]);
      expect(await store.claim({ owner: 'w1', sagas: [], limit: 10, leaseMs: 60_000 })).toEqual([]);
    });

    it('claims from a cached generic plan that stays on the queue indexes, however many runs are parked, ready or due', async () => {
      // The claim is a named statement: after a few calls a connection runs it from one generic
      // plan, made with whatever statistics there were. No state of the queue may turn that plan
      // into a walk of runs_pkey past every parked run, or a sequential scan of runs or events.
      const planSchema = `${schema}_plan`;
      extraSchemas.push(planSchema);
      await open({ schema: planSchema }).listRuns({ limit: 1 });
      const { text } = postgresStatements({ runs: `"${planSchema}".runs`, events: `"${planSchema}".events` }, 'sagaflow_plan_test').claim;
      const insert = (prefix: string, count: number, status: string, wakeAt: string): string =>
        `INSERT INTO "${planSchema}".runs (run_id, saga, shape_hash, status, next_seq, created_at, updated_at, submitted, wake_at)
         SELECT '${prefix}' || lpad(g::text, 6, '0'), '${SAGA}', '${SHAPE}', '${status}', 1, 0, 0, true, ${wakeAt} FROM generate_series(1, ${count}) AS g`;
      const plans = await withAdminClient(url ?? '', async (client) => {
        const generic = async (): Promise<string> => {
          await client.query('BEGIN');
          try {
            await client.query('SET LOCAL plan_cache_mode = force_generic_plan');
            await client.query(`PREPARE plan_test_claim (text[], text[], integer, text, double precision, text[]) AS ${text}`);
            const explained = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE plan_test_claim ('{${SAGA}}', '{${SHAPE}}', 16, 'w', 30000, '{q000001,q000002}')`);
            return explained.rows.map((row) => row['QUERY PLAN']).join('\n');
          } finally {
            await client.query('ROLLBACK');
            await client.query('DEALLOCATE ALL');
          }
        };
        const seen: string[] = [];
        // Never analyzed (autovacuum may be off), then analyzed while empty and grown without a new ANALYZE.
        seen.push(await generic());
        await client.query(`ANALYZE "${planSchema}".runs`);
        await client.query(insert('p', 5_000, 'running', "'infinity'"));
        await client.query(`INSERT INTO "${planSchema}".events (run_id, seq, event) SELECT run_id, 0, '{}' FROM "${planSchema}".runs`);
        seen.push(await generic());
        // Analyzed with thousands parked, then with a backlog of ready and due runs.
        await client.query(`ANALYZE "${planSchema}".runs`);
        seen.push(await generic());
        await client.query(insert('q', 5_000, 'queued', 'NULL'));
        await client.query(insert('d', 5_000, 'running', "now() - interval '1 minute'"));
        await client.query(`ANALYZE "${planSchema}".runs`);
        seen.push(await generic());
        return seen;
      });
      for (const plan of plans) {
        expect(plan).toContain('runs_ready_idx');
        expect(plan).toContain('runs_wake_idx');
        expect(plan).toContain('events_pkey');
        expect(plan).not.toMatch(/Seq Scan|Index Scan using runs_pkey on runs (?!runs_)/);
      }
    });

    it('appends and creates from cached generic plans that probe runs_pkey per run, never scanning every run', async () => {
      // Named statements too, planned for a batch of unknown size: a join of the batch to runs
      // must not become a hash join over a sequential scan of runs, a cost every batch would pay.
      const planSchema = `${schema}_batchplan`;
      extraSchemas.push(planSchema);
      await open({ schema: planSchema }).listRuns({ limit: 1 });
      const statements = postgresStatements({ runs: `"${planSchema}".runs`, events: `"${planSchema}".events` }, 'sagaflow_plan_test');
      const plans = await withAdminClient(url ?? '', async (client) => {
        const generic = async (): Promise<string[]> => {
          const explained: string[] = [];
          for (const kind of ['appendSkipping', 'appendWaiting', 'create'] as const) {
            const { text } = statements[kind];
            const parameters = Math.max(...[...text.matchAll(/\$(\d+)/g)].map((match) => Number(match[1])));
            await client.query('BEGIN');
            try {
              await client.query('SET LOCAL plan_cache_mode = force_generic_plan');
              await client.query(`PREPARE plan_test_batch AS ${text}`);
              const rows = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE plan_test_batch (${Array.from({ length: parameters }, () => 'NULL').join(', ')})`);
              explained.push(`${kind}\n${rows.rows.map((row) => row['QUERY PLAN']).join('\n')}`);
            } finally {
              await client.query('ROLLBACK');
              await client.query('DEALLOCATE ALL');
            }
          }
          return explained;
        };
        const seen: string[] = [];
        // Never analyzed, then grown to thousands of runs without an ANALYZE, then analyzed.
        seen.push(...(await generic()));
        await client.query(
          `INSERT INTO "${planSchema}".runs (run_id, saga, shape_hash, status, next_seq, created_at, updated_at, submitted)
           SELECT 'r' || lpad(g::text, 6, '0'), '${SAGA}', '${SHAPE}', 'running', 1, 0, 0, true FROM generate_series(1, 5000) AS g`,
        );
        seen.push(...(await generic()));
        await client.query(`ANALYZE "${planSchema}".runs`);
        seen.push(...(await generic()));
        return seen;
      });
      expect(plans).toHaveLength(9);
      for (const plan of plans) {
        expect(plan).toContain('runs_pkey');
        expect(plan).not.toMatch(/Seq Scan on runs/);
      }
    });

    it('never hands the same run to two concurrent claimers, and skips rows locked by others', async () => {
      const queueSchema = `${schema}_skip`;
      extraSchemas.push(queueSchema);
      const [first, second] = [open({ schema: queueSchema }), open({ schema: queueSchema })];
      const submitted = new Set<string>();
      for (let index = 0; index < 30; index++) submitted.add(await submitRun(first));

      const claimAll = async (store: PostgresStore, owner: string): Promise<string[]> => {
        const mine: string[] = [];
        for (;;) {
          const batch = await store.claim({ owner, sagas: [{ name: SAGA, shapeHash: SHAPE }], limit: 3, leaseMs: 60_000 });
          if (batch.length === 0) return mine;
          mine.push(...batch.map((run) => run.runId));
        }
      };
      const [a, b] = await Promise.all([claimAll(first, 'w1'), claimAll(second, 'w2')]);
      expect(new Set([...a, ...b]).size).toBe(a.length + b.length);
      expect(new Set([...a, ...b])).toEqual(submitted);

      // A run whose row another transaction holds is skipped, not waited for.
      const [locked, free] = [await submitRun(first), await submitRun(first)];
      await withAdminClient(url ?? '', async (client) => {
        await client.query('BEGIN');
        await client.query(`SELECT 1 FROM "${queueSchema}".runs WHERE run_id = $1 FOR UPDATE`, [locked]);
        const claimed = await first.claim({ owner: 'w3', sagas: [{ name: SAGA, shapeHash: SHAPE }], limit: 10, leaseMs: 60_000 });
        expect(claimed.map((run) => run.runId)).toEqual([free]);
        await client.query('ROLLBACK');
      });
    });

    it('passes over the runs a claimer says it holds, lapsed or not: its heartbeat renews them; another worker may still take them', async () => {
      const store = open();
      const runId = await submitRun(store);
      const sagas = [{ name: SAGA, shapeHash: SHAPE }];
      expect((await store.claim({ owner: 'w1', sagas, limit: 1000, leaseMs: 100 })).map((run) => run.runId)).toContain(runId);
      await waitFor('the lease to expire', async () => (await store.leaseOf(runId))?.live === false);
      expect((await store.claim({ owner: 'w1', sagas, limit: 1000, leaseMs: 60_000, holding: [runId] })).map((run) => run.runId)).not.toContain(runId);
      expect(await store.heartbeat('w1', [{ runId, lease: { owner: 'w1', epoch: 1 } }], 100)).toEqual({ lost: [], cancelRequests: [] });
      expect(await store.leaseOf(runId)).toMatchObject({ owner: 'w1', epoch: 1, live: true });
      // Only the claimer's own claims pass it over: lapsed again, another worker takes it.
      await waitFor('the lease to expire', async () => (await store.leaseOf(runId))?.live === false);
      expect((await store.claim({ owner: 'w2', sagas, limit: 1000, leaseMs: 60_000 })).find((run) => run.runId === runId)?.lease).toEqual({ owner: 'w2', epoch: 2 });
    });

    it('lets another worker take over an expired lease by the database clock, and fences the old one out', async () => {
      const store = open();
      const runId = await submitRun(store);
      const sagas = [{ name: SAGA, shapeHash: SHAPE }];
      const [old] = (await store.claim({ owner: 'w1', sagas, limit: 1000, leaseMs: 150 })).filter((run) => run.runId === runId);
      expect(old?.lease).toEqual({ owner: 'w1', epoch: 1 });
      await expect(store.append(request(runId, 1, [stageStarted(runId, 1)], 'running'))).rejects.toBeInstanceOf(RunLeasedError);

      await waitFor('the lease to expire', async () => (await store.leaseOf(runId))?.live === false);
      const takeover = (await store.claim({ owner: 'w2', sagas, limit: 1000, leaseMs: 60_000 })).find((run) => run.runId === runId);
      expect(takeover?.lease).toEqual({ owner: 'w2', epoch: 2 });
      expect(takeover?.events).toHaveLength(1);

      // The same worker re-claiming after its lease expired gets a new epoch; the old one is dead.
      const again = await submitRun(store);
      await store.claim({ owner: 'w1', sagas, limit: 1000, leaseMs: 100 });
      await waitFor('the lease to expire', async () => (await store.leaseOf(again))?.live === false);
      const reclaimed = (await store.claim({ owner: 'w1', sagas, limit: 1000, leaseMs: 60_000 })).find((run) => run.runId === again);
      expect(reclaimed?.lease).toEqual({ owner: 'w1', epoch: 2 });
      await expect(store.append(request(again, 1, [stageStarted(again, 1)], 'running', { lease: { owner: 'w1', epoch: 1 } }))).rejects.toBeInstanceOf(
        LeaseLostError,
      );
      expect(await store.heartbeat('w1', [{ runId: again, lease: { owner: 'w1', epoch: 1 } }], 60_000)).toEqual({ lost: [again], cancelRequests: [] });

      // The old worker's next append would fit the journal (seq 1), yet its epoch is stale.
      await expect(store.append(request(runId, 1, [stageStarted(runId, 1)], 'running', { lease: { owner: 'w1', epoch: 1 } }))).rejects.toMatchObject({
        constructor: LeaseLostError,
        runId,
        owner: 'w1',
        epoch: 1,
      });
      await expect(store.append(request(runId, 1, [stageStarted(runId, 1)], 'running', { lease: { owner: 'w1', epoch: 2 } }))).rejects.toBeInstanceOf(
        LeaseLostError,
      );
      await expect(store.append(request(runId, 1, [stageStarted(runId, 1)], 'running'))).rejects.toMatchObject({
        constructor: RunLeasedError,
        owner: 'w2',
        epoch: 2,
      });
      await store.append(request(runId, 1, [stageStarted(runId, 1)], 'running', { lease: { owner: 'w2', epoch: 2 } }));
      expect(await store.heartbeat('w1', [{ runId, lease: { owner: 'w1', epoch: 1 } }], 60_000)).toEqual({ lost: [runId], cancelRequests: [] });

      // Settled runs are never claimed again, whatever their lease.
      const completed: SagaEvent = { type: 'run.completed', runId, saga: SAGA, seq: 2, at: 3_000 };
      await store.append(request(runId, 2, [completed], 'completed', { lease: { owner: 'w2', epoch: 2 } }));
      await store.release(runId, { owner: 'w2', epoch: 2 });
      expect(await store.leaseOf(runId)).toBeUndefined();
      expect((await store.claim({ owner: 'w3', sagas, limit: 1000, leaseMs: 60_000 })).map((run) => run.runId)).not.toContain(runId);
    });

    it('extends held leases on heartbeat and reports the lost ones', async () => {
      const store = open();
      const sagas = [{ name: SAGA, shapeHash: SHAPE }];
      const runId = await submitRun(store);
      const lease = (await store.claim({ owner: 'w1', sagas, limit: 1000, leaseMs: 1_000 })).find((run) => run.runId === runId)?.lease;
      expect(lease).toBeDefined();
      const expiry = () =>
        withAdminClient(url ?? '', async (client) =>
          Number((await client.query(`SELECT extract(epoch FROM lease_expires_at) AS at FROM "${schema}".runs WHERE run_id = $1`, [runId])).rows[0].at),
        );
      const before = await expiry();
      const held = { runId, lease: lease ?? { owner: 'w1', epoch: 1 } };
      const result = await store.heartbeat('w1', [held, { runId: 'no-such-run', lease: { owner: 'w1', epoch: 1 } }], 60_000);
      expect(result).toEqual({ lost: ['no-such-run'], cancelRequests: [] });
      expect((await expiry()) - before).toBeGreaterThan(50);
      expect(await store.heartbeat('w2', [held], 60_000)).toEqual({ lost: [runId], cancelRequests: [] });
      expect(await store.heartbeat('w1', [{ runId, lease: { owner: 'w1', epoch: 99 } }], 60_000)).toEqual({ lost: [runId], cancelRequests: [] });
      expect(await store.heartbeat('w1', [], 60_000)).toEqual({ lost: [], cancelRequests: [] });
    });

    it('hands cancel requests to the claimer and to the holder on heartbeat, until the run settles', async () => {
      const store = open();
      const sagas = [{ name: SAGA, shapeHash: SHAPE }];
      const early = await submitRun(store);
      await store.requestCancel(early, 'customer changed their mind');
      await store.requestCancel(early, 'second reason is ignored');
      const claimed = (await store.claim({ owner: 'w1', sagas, limit: 1000, leaseMs: 60_000 })).find((run) => run.runId === early);
      expect(claimed?.cancelRequest).toEqual({ runId: early, reason: 'customer changed their mind' });

      const late = await submitRun(store);
      const lease = (await store.claim({ owner: 'w1', sagas, limit: 1000, leaseMs: 60_000 })).find((run) => run.runId === late)?.lease;
      expect(lease).toBeDefined();
      const held = { runId: late, lease: lease ?? { owner: 'w1', epoch: 0 } };
      expect((await store.heartbeat('w1', [held], 60_000)).cancelRequests).toEqual([]);
      await store.requestCancel(late, 'stop');
      expect(await store.heartbeat('w1', [held], 60_000)).toEqual({ lost: [], cancelRequests: [{ runId: late, reason: 'stop' }] });

      const cancelled: SagaEvent = { type: 'run.cancelled', runId: late, saga: SAGA, seq: 1, at: 2_000 };
      await store.append(request(late, 1, [cancelled], 'cancelled', { lease: held.lease }));
      expect((await store.heartbeat('w1', [held], 60_000)).cancelRequests).toEqual([]);
      await store.requestCancel(late, 'too late');
      expect((await store.heartbeat('w1', [held], 60_000)).cancelRequests).toEqual([]);
      await expect(store.requestCancel(uuidv7(), 'x')).rejects.toBeInstanceOf(RunNotFoundError);
    });

    it('wakes onWork listeners on submit, cancel requests and re-queues, and stops after unsubscribe', async () => {
      const [worker, client] = [open(), open()];
      const signals: WorkSignal[] = [];
      const other: WorkSignal[] = [];
      const unsubscribe = await worker.onWork((signal) => signals.push(signal));
      const unsubscribeOther = await worker.onWork((signal) => other.push(signal));

      const runId = await submitRun(client);
      expect(await nextSignal(signals, (signal) => signal.runId === runId)).toEqual({ kind: 'submitted', runId });

      await client.requestCancel(runId, 'stop');
      await nextSignal(signals, (signal) => signal.kind === 'cancel_requested' && signal.runId === runId);

      // A worker that stops with the run unfinished hands it back to the queue.
      const sagas = [{ name: SAGA, shapeHash: SHAPE }];
      const lease = (await worker.claim({ owner: 'w1', sagas, limit: 1000, leaseMs: 60_000 })).find((run) => run.runId === runId)?.lease;
      await worker.release(runId, lease ?? { owner: 'w1', epoch: 0 });
      await nextSignal(signals, (signal) => signal.kind === 'requeued' && signal.runId === runId);

      // An operator's redrive of a paused submitted run (an append without a lease) re-queues it too.
      const paused = await submitRun(client);
      const pausedEvent: SagaEvent = {
        type: 'run.paused',
        runId: paused,
        saga: SAGA,
        seq: 1,
        at: 2_000,
        failure: { stage: 'debit', error: { name: 'Error', message: 'down' } },
      };
      await client.append(request(paused, 1, [pausedEvent], 'paused'));
      const redrive: SagaEvent = { type: 'run.resumed', runId: paused, saga: SAGA, seq: 2, at: 3_000, mode: 'redrive' };
      await client.append(request(paused, 2, [redrive], 'running'));
      await nextSignal(signals, (signal) => signal.kind === 'requeued' && signal.runId === paused);

      await unsubscribe();
      await unsubscribe();
      const count = signals.length;
      const last = await submitRun(client);
      await nextSignal(other, (signal) => signal.runId === last);
      expect(signals).toHaveLength(count);
      await unsubscribeOther();
    });

    it('claims a run whose journal is corrupt as such (no events, the StoreCorruptionError for the worker to report), leaving it leased', async () => {
      const queueSchema = `${schema}_corrupt`;
      extraSchemas.push(queueSchema);
      const store = open({ schema: queueSchema });
      const [bad, good] = [await submitRun(store), await submitRun(store)];
      await withAdminClient(url ?? '', (client) => client.query(`UPDATE "${queueSchema}".events SET event = '{}' WHERE run_id = $1`, [bad]));
      const claimed = await store.claim({ owner: 'w1', sagas: [{ name: SAGA, shapeHash: SHAPE }], limit: 10, leaseMs: 60_000 });
      expect(claimed.map((run) => run.runId)).toEqual([bad, good].sort());
      const damaged = claimed.find((run) => run.runId === bad);
      expect(damaged?.events).toEqual([]);
      expect(damaged?.corruption).toBeInstanceOf(StoreCorruptionError);
      expect(damaged?.corruption).toMatchObject({ runId: bad, seq: 0 });
      expect(claimed.find((run) => run.runId === good)?.corruption).toBeUndefined();
      expect(await store.leaseOf(bad)).toMatchObject({ owner: 'w1', live: true });
    });
  });

  describe("another client's row locks", () => {
    /** Holds `runId`'s row locked, as a client frozen inside a transaction would, while `work` runs. */
    async function whileLocked<T>(runId: string, work: () => Promise<T>): Promise<T> {
      return withAdminClient(url ?? '', async (admin) => {
        await admin.query('BEGIN');
        await admin.query(`SELECT 1 FROM "${schema}".runs WHERE run_id = $1 FOR UPDATE`, [runId]);
        try {
          return await work();
        } finally {
          await admin.query('ROLLBACK');
        }
      });
    }

    it('lets heartbeats, batched appends, releases and cancel requests of other runs proceed, and neither renews nor loses the locked run', async () => {
      // A lock wait would last a minute: everything below that resolves while the lock is held did not wait.
      const store = open({ lockTimeoutMs: 60_000 });
      const [held, free, other, released] = [uuidv7(), uuidv7(), uuidv7(), uuidv7()];
      for (const runId of [held, free, other, released]) await createOwned(store, runId);
      const heldExpiry = (await store.leaseOf(held))?.expiresAt ?? 0;

      let heldAppended = false;
      const { heldAppend } = await whileLocked(held, async () => {
        const beat = await store.heartbeat('app', [held, free, other].map((runId) => ({ runId, lease: APP })), 600_000);
        expect(beat).toEqual({ lost: [], cancelRequests: [] });
        expect((await store.leaseOf(held))?.expiresAt).toBe(heldExpiry);
        expect((await store.leaseOf(free))?.expiresAt).toBeGreaterThan(heldExpiry + 300_000);

        // One turn: one statement for the three appends and one for the two releases; the locked run waits alone.
        const appended = store.append(owned(held, 1, [stageStarted(held, 1)])).then(() => {
          heldAppended = true;
        });
        await Promise.all([
          store.append(owned(free, 1, [stageStarted(free, 1)])),
          store.append(owned(other, 1, [stageStarted(other, 1)])),
          store.release(released, APP),
          store.requestCancel(other, 'stop'),
        ]);
        expect(heldAppended).toBe(false);
        expect(await store.leaseOf(released)).toBeUndefined();
        expect(await store.heartbeat('app', [{ runId: other, lease: APP }], 60_000)).toEqual({ lost: [], cancelRequests: [{ runId: other, reason: 'stop' }] });
        // Wrapped: returning the promise itself would wait for it, inside the lock.
        return { heldAppend: appended };
      });
      await heldAppend;
      expect(heldAppended).toBe(true);
      expect(await store.load(held)).toEqual([started(held), stageStarted(held, 1)]);
      expect(await store.heartbeat('app', [{ runId: held, lease: APP }], 60_000)).toEqual({ lost: [], cancelRequests: [] });
    });

    it('fails a write about one run whose row stays locked past lockTimeoutMs with a StoreUnavailableError that says so, writing nothing', async () => {
      const store = open({ lockTimeoutMs: 150 });
      const runId = uuidv7();
      await createOwned(store, runId);

      await whileLocked(runId, async () => {
        for (const write of [
          () => store.append(owned(runId, 1, [stageStarted(runId, 1)])),
          () => store.requestCancel(runId, 'stop'),
          () => store.acquire({ runId, owner: 'other', leaseMs: 1_000 }),
        ]) {
          const error: unknown = await write().then(
            () => undefined,
            (caught: unknown) => caught,
          );
          expect(error).toBeInstanceOf(StoreUnavailableError);
          expect((error as Error).message).toMatch(/waited longer than its lock_timeout for a row another client holds .*nothing was written: retry/);
          expect((error as Error).cause).toMatchObject({ code: '55P03' });
        }
      });
      expect(await store.load(runId)).toEqual([started(runId)]);
      expect(await store.leaseOf(runId)).toMatchObject({ owner: 'app', epoch: 1 });
      await store.append(owned(runId, 1, [stageStarted(runId, 1)]));
      await store.requestCancel(runId, 'stop');
    });

    it('leaves no row lock behind when a process calling requestCancel freezes, wherever it freezes', async () => {
      const store = open({ lockTimeoutMs: 500 });
      const runId = uuidv7();
      await createOwned(store, runId);
      for (let trial = 0; trial < 6; trial++) {
        const canceller = new StoreProcess({ postgres: url ?? '', schema });
        try {
          await canceller.ok('leaseOf', runId);
          const answered = canceller.replies;
          // Not awaited: the process is killed with most of them unanswered.
          for (let index = 0; index < 3_000; index++) canceller.call('requestCancel', runId, `reason ${trial}.${index}`).catch(() => undefined);
          // Freeze it part-way through the requests, at a different point each trial.
          await waitFor('some requests to be answered', () => canceller.replies >= answered + 20 + trial * 17, 20_000);
          process.kill(canceller.pid, 'SIGSTOP');
          expect(canceller.replies).toBeLessThan(answered + 3_000);
          // The owner still writes to the run: no lock outlived a statement of the frozen process.
          await store.append(owned(runId, 1 + trial, [stageStarted(runId, 1 + trial)]));
          // (A statement the frozen process sent may still be running on the server: a heartbeat
          // that finds the row locked skips it, but never reports it lost.)
          expect((await store.heartbeat('app', [{ runId, lease: APP }], 60_000)).lost).toEqual([]);
        } finally {
          await canceller.kill();
        }
      }
      expect(await store.heartbeat('app', [{ runId, lease: APP }], 60_000)).toEqual({ lost: [], cancelRequests: [{ runId, reason: 'reason 0.0' }] });
    });
  });

  it('never queues a query behind another on one pg client (no pg deprecation warning) under concurrent load', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      if (warning.name === 'DeprecationWarning') warnings.push(warning.message);
    };
    process.on('warning', onWarning);
    const store = open();
    const unsubscribe = await store.onWork(() => undefined);
    try {
      const runIds = Array.from({ length: 60 }, () => uuidv7());
      const submitted = await Promise.all(Array.from({ length: 20 }, () => submitRun(store)));
      await Promise.all(runIds.map((runId) => createOwned(store, runId)));
      await Promise.all([
        ...runIds.map((runId) => store.append(owned(runId, 1, [stageStarted(runId, 1)]))),
        store.heartbeat('app', runIds.map((runId) => ({ runId, lease: APP })), 60_000),
        store.claim({ owner: 'w', sagas: [{ name: SAGA, shapeHash: SHAPE }], limit: 10, leaseMs: 60_000 }),
        ...submitted.map((runId) => store.requestCancel(runId, 'stop')),
        ...runIds.slice(0, 10).map((runId) => store.acquire({ runId, owner: 'other', leaseMs: 1_000 })),
        ...runIds.slice(10, 20).map((runId) => store.leaseOf(runId)),
        store.listRuns({ limit: 10 }),
        store.countRuns(),
        store.prune({ olderThan: 0 }),
      ]);
      await Promise.all(runIds.map((runId) => store.release(runId, APP)));
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await unsubscribe();
    }
  });

  describe('connection loss', () => {
    it('turns a dropped server into StoreUnavailableError and recovers when it is back, listener included', async () => {
      const target = new URL(url ?? '');
      const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
      await proxy.up();
      const proxied = new URL(target.href);
      proxied.port = String(proxy.listenPort);
      // A pool of our own, so the test can see its idle clients die; the store must guard it.
      const applicationName = `proxied_${schema}`.slice(0, 60);
      const pool = new pg.Pool({ connectionString: proxied.href, max: 3, application_name: applicationName });
      const store = new PostgresStore({ pool, schema });
      const direct = open();
      try {
        const runId = uuidv7();
        await createOwned(store, runId);
        const signals: WorkSignal[] = [];
        await store.onWork((signal) => signals.push(signal));
        await Promise.all([store.listRuns(), store.listRuns()]);
        expect(pool.idleCount).toBe(2);

        // The server goes away while one pooled client is inside a transaction (waiting on a
        // row lock), one is idle, and the listener is listening: no crash, a clear error.
        await withAdminClient(url ?? '', async (admin) => {
          await admin.query('BEGIN');
          await admin.query(`SELECT 1 FROM "${schema}".runs WHERE run_id = $1 FOR UPDATE`, [runId]);
          const blocked = store.append(owned(runId, 1, [stageStarted(runId, 1)])).catch((caught: unknown) => caught);
          await waitFor('the append to wait on the row lock', async () => {
            const rows = await admin.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [applicationName]);
            return rows.rowCount === 1;
          });
          await proxy.down();
          const lost = await blocked;
          expect(lost).toBeInstanceOf(StoreUnavailableError);
          // Unreachable, not closed: whatever retries (a watch, a worker's claims) asks again.
          expect(lost).toMatchObject({ closed: false });
          expect((lost as Error).message).toContain(`the connection to the PostgreSQL server was lost during append to run ${runId}`);
          await admin.query('ROLLBACK');
        });
        await waitFor('the idle client to notice', () => pool.idleCount === 0);
        const error: unknown = await store.append(owned(runId, 1, [stageStarted(runId, 1)])).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect(error).toMatchObject({ closed: false });
        expect((error as Error).message).toMatch(new RegExp(`append to run ${runId} could not connect to the PostgreSQL server \\(.*ECONNREFUSED`));
        expect((error as Error).cause).toBeInstanceOf(Error);
        await expect(store.listRuns()).rejects.toBeInstanceOf(StoreUnavailableError);

        await proxy.up();
        // The cut append is one statement: its backend, not knowing the client left, may have
        // applied it once the lock was free. As the error says: reload, then go on.
        await withAdminClient(url ?? '', (admin) =>
          waitFor('the orphaned append to finish', async () => {
            const rows = await admin.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'`, [applicationName]);
            return rows.rowCount === 0;
          }),
        );
        const reloaded = (await store.load(runId)) ?? [];
        expect(reloaded.length === 1 || reloaded.length === 2).toBe(true);
        if (reloaded.length === 1) await store.append(owned(runId, 1, [stageStarted(runId, 1)]));
        expect(await store.load(runId)).toHaveLength(2);
        await nextSignal(signals, (signal) => signal.kind === 'reconnected');
        const submitted = await submitRun(direct);
        await nextSignal(signals, (signal) => signal.runId === submitted);
      } finally {
        await store.close();
        // A pool passed in stays its owner's: not ended, and the store's error handler removed.
        expect(pool.ended).toBe(false);
        expect(pool.listenerCount('error')).toBe(0);
        await pool.end();
        await proxy.down();
      }
    });

    it('gives up a statement the server never answers (a host gone silent) after its statement limit, with a StoreUnavailableError, and goes on once the network heals', async () => {
      const { proxy, store } = await storeThroughProxy();
      try {
        const runId = uuidv7();
        await createOwned(store, runId);
        // The pooled connection is kept, and goes silent: no error, no close, no answer. The
        // server's statement_timeout cannot help; only the client can tell.
        proxy.blackhole();
        const error = await store.release(runId, APP).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect((error as Error).message).toContain(`the connection to the PostgreSQL server was lost during release of run ${runId} (Query read timeout: the server did not answer within 600 ms)`);
        proxy.heal();
        // The silent connection was dropped, not handed out again: the next call gets a new one.
        await store.release(runId, APP);
        expect((await store.leaseOf(runId))?.live ?? false).toBe(false);
      } finally {
        await store.close();
        await proxy.down();
      }
    });

    it('lets orchestrator.close({ timeoutMs: 0 }) resolve while the server is silent: the lease it cannot give back is left to expire, and the run stays resumable', async () => {
      const { proxy, store } = await storeThroughProxy();
      // A stage that honours its aborted signal: the run is given back (its lease released) at once.
      const saga = defineSaga({ name: 'held-in-outage', input: z.object({}) })
        .stage('book', { execute: () => 'booked', compensate: () => undefined })
        .stage('hold', { execute: ({ signal }) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error))) })
        .build();
      const orchestrator = createOrchestrator({ store, sagas: [saga], onError: () => undefined });
      try {
        const run = orchestrator.start(saga, {});
        await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'stage.started' && event.stage === 'hold')));
        proxy.blackhole();
        await orchestrator.close({ timeoutMs: 0 });
        await expect(run.outcome).rejects.toThrow(/still active when close\(\) timed out/);
        const journal = (await open().load(run.runId)) ?? [];
        expect(journal.at(-1)).toMatchObject({ type: 'stage.started', stage: 'hold' });
      } finally {
        await store.close();
        await proxy.down();
      }
    });

    it('fails a subscription whose LISTEN the server never answers with a StoreUnavailableError within the statement limit, and subscribes once the network heals', { timeout: 15_000 }, async () => {
      const { proxy, store } = await storeThroughProxy();
      const direct = open();
      try {
        await store.listRuns();
        // The listening connection is made, then the server goes silent just as LISTEN is sent.
        proxy.blackholeOnce('LISTEN');
        const error = await store.onWork(() => undefined).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect((error as Error).message).toContain('the connection to the PostgreSQL server was lost during listening for work (Query read timeout: the server did not answer within 600 ms)');
        const signals: WorkSignal[] = [];
        await store.onWork((signal) => signals.push(signal));
        const submitted = await submitRun(direct);
        await nextSignal(signals, (signal) => signal.runId === submitted);
      } finally {
        await store.close();
        await proxy.down();
      }
    });

    it('keeps reconnecting a LISTEN connection whose new LISTEN the server never answers, until the network heals', { timeout: 15_000 }, async () => {
      const { proxy, store } = await storeThroughProxy({ listenerPingMs: 150 });
      try {
        // The listening connection goes silent (its ping tells); the reconnect's LISTEN gets no answer either.
        await expectListenerBack(store, proxy, () => {
          proxy.blackholeOnce('LISTEN');
          proxy.blackhole();
        });
      } finally {
        await store.close();
        await proxy.down();
      }
    });

    it("fails the first call whose schema check the server never answers with a StoreUnavailableError within the statement limit, and goes on once the network heals", { timeout: 15_000 }, async () => {
      const { proxy, store } = await storeThroughProxy();
      try {
        // The store's first call checks the schema's version on a pooled connection that goes silent.
        proxy.blackholeOnce('to_regclass');
        const error = await store.listRuns().catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect((error as Error).message).toContain(`the connection to the PostgreSQL server was lost during creating the tables in schema ${schema} (Query read timeout: the server did not answer within 600 ms)`);
        await store.listRuns();
      } finally {
        await store.close();
        await proxy.down();
      }
    });

    it('replaces a LISTEN connection that silently stops answering', async () => {
      const target = new URL(url ?? '');
      const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
      await proxy.up();
      const proxied = new URL(target.href);
      proxied.port = String(proxy.listenPort);
      const store = new PostgresStore({ connectionString: proxied.href, schema, listenerPingMs: 150, connectionTimeoutMs: 1_000 });
      try {
        // Like a firewall dropping an idle connection: no error, no close, just silence. Only the
        // listener's ping can tell; after it, the listener reconnects through the healed network.
        await expectListenerBack(store, proxy, () => proxy.blackhole());
      } finally {
        await store.close();
        await proxy.down();
      }
    });

    it('survives its backend being terminated in the middle of a transaction', async () => {
      const applicationName = `sagaflow_${schema}`.slice(0, 60);
      // A long lock_timeout: the append must still be waiting when its backend is terminated.
      const store = open({ applicationName, lockTimeoutMs: 60_000 });
      const runId = uuidv7();
      await createOwned(store, runId);
      await withAdminClient(url ?? '', async (admin) => {
        await admin.query('BEGIN');
        await admin.query(`SELECT 1 FROM "${schema}".runs WHERE run_id = $1 FOR UPDATE`, [runId]);
        const blocked = store.append(owned(runId, 1, [stageStarted(runId, 1)])).catch((caught: unknown) => caught);
        let pid: number | undefined;
        await waitFor('the append to wait on the row lock', async () => {
          const rows = await admin.query(`SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [applicationName]);
          pid = rows.rows[0]?.pid as number | undefined;
          return pid !== undefined;
        });
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        const error = await blocked;
        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect((error as Error).message).toContain('was lost during append to run');
        await admin.query('ROLLBACK');
      });
      await store.append(owned(runId, 1, [stageStarted(runId, 1)]));
      expect(await store.load(runId)).toHaveLength(2);
    });
  });
});
