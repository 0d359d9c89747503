import pg from 'pg';
import { filter, firstValueFrom, lastValueFrom, takeWhile, toArray } from 'rxjs';
import {
  createOrchestrator,
  createWorker,
  defineSaga,
  foldJournal,
  MemoryStore,
  RunStateError,
  StoreUnavailableError,
  StoreUnsupportedError,
  type SagaEvent,
  type Orchestrator,
  type Worker,
  type WorkerErrorContext,
  type ClaimRequest,
  type LeaseToken,
  type WorkSignal,
} from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { createVirtualClock } from 'sagaflow/testing';
import { SqliteStore } from 'sagaflow/sqlite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { trace } from '../support/collect.js';
import { deferred } from '../support/deferred.js';
import { dropSchemas, postgresForTests, uniqueSchema } from '../support/postgres.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { createLedger, ledgerSaga } from './fixtures/ledger.js';
import { expectSoundJournal, waitFor, waitForSettled } from './support.js';

const url = await postgresForTests();
const schema = uniqueSchema('worker');
const stores: PostgresStore[] = [];
const workers: Worker[] = [];
let pool: pg.Pool;

function open(connectionString = url ?? ''): PostgresStore {
  const store = new PostgresStore({ connectionString, schema, maxConnections: 4 });
  stores.push(store);
  return store;
}

function worker(options: {
  store?: PostgresStore;
  leaseMs?: number;
  pollIntervalMs?: number;
  concurrency?: number;
  id: string;
  errors?: Array<{ error: Error; context: WorkerErrorContext }>;
}): Worker {
  const made = createWorker({
    store: options.store ?? open(),
    sagas: [ledgerSaga(pool, schema, options.id)],
    workerId: options.id,
    concurrency: options.concurrency,
    leaseMs: options.leaseMs ?? 5_000,
    pollIntervalMs: options.pollIntervalMs ?? 100,
    retry: { initialDelayMs: 50, maxDelayMs: 400 },
    onError: (error, context) => options.errors?.push({ error, context }),
  });
  workers.push(made);
  return made;
}

async function ledgerRows(runId: string): Promise<Array<{ stage: string; kind: string; idempotency_key: string }>> {
  return (await pool.query(`SELECT stage, kind, idempotency_key FROM "${schema}".ledger WHERE run_id = $1 ORDER BY position`, [runId])).rows;
}

async function calls(runId: string, stage: string): Promise<number> {
  return Number((await pool.query(`SELECT count(*) AS n FROM "${schema}".calls WHERE run_id = $1 AND stage = $2 AND kind = 'execute'`, [runId, stage])).rows[0].n);
}

/**
 * A submitted ledger run whose journal was damaged so (found by fuzzing journals): a compensation
 * of a stage that never ran, then a rollback with nothing left to do — seq 1 to 6, valid events
 * the fold accepts, that leave the run nothing to do.
 */
async function submitStalled(): Promise<{ client: PostgresStore; orchestrator: Orchestrator; runId: string }> {
  const client = open();
  const orchestrator = createOrchestrator({ store: client });
  const runId = await orchestrator.submit(ledgerSaga(pool, schema, 'client'), {});
  const event = { runId, saga: 'ledger' };
  const damage = [
    { ...event, type: 'compensation.started', seq: 1, at: 2, stage: 'a', attempt: 1 },
    { ...event, type: 'stage.started', seq: 2, at: 3, stage: 'b', attempt: 1 },
    { ...event, type: 'stage.cancelled', seq: 3, at: 4, stage: 'b', reason: 'r' },
    { ...event, type: 'stage.cancelled', seq: 4, at: 5, stage: 'a', reason: 'r' },
    { ...event, type: 'run.compensating', seq: 5, at: 6, cause: { kind: 'failed', stage: 'b', error: { name: 'Error', message: 'x' } } },
    { ...event, type: 'compensation.completed', seq: 6, at: 7, stage: 'a', attempt: 1, durationMs: 1 },
  ];
  for (const damaged of damage) await pool.query(`INSERT INTO "${schema}".events (run_id, seq, event) VALUES ($1, $2, $3)`, [runId, damaged.seq, JSON.stringify(damaged)]);
  await pool.query(`UPDATE "${schema}".runs SET next_seq = 7 WHERE run_id = $1`, [runId]);
  return { client, orchestrator, runId };
}

beforeAll(async () => {
  if (url === undefined) return;
  await createLedger(url, schema);
  pool = new pg.Pool({ connectionString: url, max: 4 });
});

// Every test's workers stop with it, so that none claims the next test's runs.
afterEach(async () => {
  await Promise.all(workers.splice(0).map((made) => made.stop({ timeoutMs: 1_000 })));
});

afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await pool?.end();
  if (url !== undefined) await dropSchemas(url, schema, `${schema}_burst`);
});

describe('createWorker: bad input', () => {
  it('refuses a store that cannot share runs between processes, saying what to use', () => {
    const saga = ledgerSaga(new pg.Pool(), 'unused', 'w');
    for (const store of [new MemoryStore(), new SqliteStore({ path: ':memory:' })]) {
      let error: unknown;
      try {
        createWorker({ store, sagas: [saga] });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(StoreUnsupportedError);
      expect((error as Error).message).toMatch(/^(memory:|sqlite:.*) does not support workers \(createWorker\): .*PostgresStore/);
    }
  });

  it('refuses a stop() timeoutMs that is not a number >= 0, naming the worker', async () => {
    const store = new PostgresStore({ connectionString: 'postgres://127.0.0.1:1/none' });
    const made = createWorker({ store, sagas: [ledgerSaga(new pg.Pool(), 'unused', 'w')], workerId: 'w-bad-stop' });
    await expect(made.stop({ timeoutMs: Number.NaN })).rejects.toThrow(/^worker w-bad-stop: stop\(\): timeoutMs must be a number of milliseconds >= 0 .*got NaN; nothing was stopped\.$/);
    await expect(made.stop({ timeoutMs: -1 })).rejects.toBeInstanceOf(TypeError);
    await made.stop();
    await store.close();
  });

  it('refuses options out of range', async () => {
    const store = new PostgresStore({ connectionString: 'postgres://127.0.0.1:1/none' });
    const saga = ledgerSaga(new pg.Pool(), 'unused', 'w');
    expect(() => createWorker({ store, sagas: [saga], concurrency: 0 })).toThrow(/concurrency must be a positive integer, got 0/);
    expect(() => createWorker({ store, sagas: [saga], leaseMs: 1.5 })).toThrow(/leaseMs must be a positive integer/);
    expect(() => createWorker({ store, sagas: [saga], parkThresholdMs: -1 })).toThrow(/parkThresholdMs must be a number >= 0 \(Infinity: never park\), got -1/);
    expect(() => createWorker({ store, sagas: [saga], parkThresholdMs: Number.NaN })).toThrow(/parkThresholdMs must be a number >= 0/);
    expect(() => createWorker({ store, sagas: [] })).toThrow(/at least one saga/);
    await store.close();
  });

  it('refuses a workerId no store can keep as a lease owner, as createOrchestrator refuses such an ownerId', async () => {
    // A NUL was taken: the worker started, and every claim failed with PostgreSQL's 'invalid byte
    // sequence for encoding "UTF8": 0x00', its runs queued for ever.
    const store = new PostgresStore({ connectionString: 'postgres://127.0.0.1:1/none' });
    const saga = ledgerSaga(new pg.Pool(), 'unused', 'w');
    expect(() => createWorker({ store, sagas: [saga], workerId: 'w\u0000x' })).toThrow(/^createWorker: workerId must not contain NUL/);
    expect(() => createWorker({ store, sagas: [saga], workerId: 'w\ud800' })).toThrow(/^createWorker: workerId must be well-formed Unicode/);
    expect(() => createWorker({ store, sagas: [saga], workerId: ' ' })).toThrow(/^createWorker: workerId must be a non-empty string/);
    expect(() => createWorker({ store, sagas: [saga], workerId: 'w'.repeat(201) })).toThrow(/^createWorker: workerId must be at most 200 characters/);
    await store.close();
  });
});

describe.skipIf(url === undefined)('workers on PostgreSQL', () => {
  it('a hook that throws a value that cannot be read (a revoked Proxy) is reported, and the worker goes on: its run completes', async () => {
    // Reporting it read its prototype (instanceof Error): a worker hook's made an uncaught exception
    // in the host process, a drive hook's failed the claim, and the run stayed queued.
    const unreadable = (): never => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      throw proxy;
    };
    const saga = defineSaga({ name: 'hostile-hooks', input: z.object({}) })
      .stage('a', { execute: () => 'A' })
      .build();
    const errors: Array<{ error: Error; context: WorkerErrorContext }> = [];
    const made = createWorker({
      store: open(),
      sagas: [saga],
      workerId: 'hostile-hooks',
      pollIntervalMs: 50,
      instrumentation: { worker: unreadable, drive: unreadable },
      onError: (error, context) => errors.push({ error, context }),
    });
    workers.push(made);
    await made.start();
    const client = createOrchestrator({ store: open() });
    const runId = await client.submit(saga, {});
    await waitFor('the run to complete', async () => (await client.inspect(runId)).status === 'completed', 10_000);
    expect(errors.filter((entry) => entry.context.operation === 'instrumentation').map((entry) => entry.error.message)).toContain('A value that is not an Error was thrown: a Proxy object');
    await client.close();
  });

  it('makes one claim for a burst of wake-ups, not one for the first and another for the rest, and loses none that come as a claim ends', async () => {
    // A schema of its own: nothing to claim, so every claim returns empty and only wake-ups cause them.
    const quiet = new PostgresStore({ connectionString: url ?? '', schema: `${schema}_burst`, maxConnections: 2 });
    stores.push(quiet);
    let wake: ((signal: WorkSignal) => void) | undefined;
    const claims: Array<Promise<unknown>> = [];
    const spy = new Proxy(quiet, {
      get(target, key) {
        if (key === 'onWork') {
          return (listener: (signal: WorkSignal) => void) => {
            wake = listener;
            return target.onWork(listener);
          };
        }
        if (key === 'claim') {
          return (request: Parameters<PostgresStore['claim']>[0]) => {
            const claimed = target.claim(request);
            claims.push(claimed);
            // Three wake-ups in one turn, as a batch of submits announced by one commit arrives,
            // at the worst moment: just after the worker's claim went on from this result (its
            // continuation is queued before this microtask), before its claim round has ended.
            if (claims.length === 1) {
              void claimed.then(() => queueMicrotask(() => { for (let index = 0; index < 3; index++) wake?.({ kind: 'submitted' }); }));
            }
            return claimed;
          };
        }
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const made = createWorker({ store: spy, sagas: [ledgerSaga(pool, schema, 'burst')], workerId: 'burst', pollIntervalMs: 600_000 });
    workers.push(made);
    await made.start();
    // Polling is out of the picture (600 s): only the first claim and the wake-ups cause claims.
    await waitFor('a claim for the wake-ups', () => claims.length >= 2);
    await claims[1];
    await new Promise((resolve) => setImmediate(resolve));
    await made.stop();
    expect(claims).toHaveLength(2);
  });

  it('runs a submitted run: queued until claimed, then driven by a worker; watch() follows it from another store', async () => {
    const client = open();
    const orchestrator = createOrchestrator({ store: client, sagas: [ledgerSaga(pool, schema, 'client')] });
    const local: SagaEvent[] = [];
    orchestrator.events$.subscribe((event) => local.push(event));
    const saga = ledgerSaga(pool, schema, 'client');
    const runId = await orchestrator.submit(saga, { delayMs: 5 });
    expect((await orchestrator.inspect(runId)).status).toBe('queued');
    expect(await client.leaseOf(runId)).toBeUndefined();

    const watched = firstValueFrom(orchestrator.watch(runId).pipe(toArray()));
    const w1 = worker({ id: 'w-basic' });
    // What the worker emits for the run, up to its settling event: awaited as such, not read at
    // whatever moment the watch above happens to finish.
    const workerEvents = firstValueFrom(
      w1.events$.pipe(
        filter((event) => event.runId === runId),
        takeWhile((event) => event.type !== 'run.completed', true),
        toArray(),
      ),
    );
    await w1.start();
    const events = await watched;
    const journal = (await client.load(runId)) ?? [];
    expect(events).toEqual(journal);
    expect(trace(events)).toEqual([
      'run.started',
      ...['a', 'b', 'c', 'd', 'e'].flatMap((stage) => [`stage.started:${stage}`, `stage.completed:${stage}`]),
      'run.completed',
    ]);
    expect(await workerEvents).toEqual(journal.slice(1));
    // This process only submitted: it drove nothing, so its events$ saw nothing.
    expect(local).toEqual([]);
    expect((await orchestrator.inspect(runId)).status).toBe('completed');
    // The settling append ended the lease in the same statement: released as soon as the run settled.
    expect(await client.leaseOf(runId)).toBeUndefined();
    await orchestrator.close();
  });

  it('runs on the scheduler it is given: a retry ten virtual minutes away comes at once on a virtual clock', async () => {
    const clock = createVirtualClock();
    const flaky = defineSaga({ name: 'worker-virtual-time', input: z.object({}) })
      .stage('call', {
        retry: { maxAttempts: 2, initialDelayMs: 600_000, maxDelayMs: 600_000, jitter: false },
        execute: ({ attempt }) => {
          if (attempt === 1) throw new Error('busy, try again in ten minutes');
          return 'done';
        },
      })
      .build();
    const client = open();
    const orchestrator = createOrchestrator({ store: client, sagas: [flaky] });
    const runId = await orchestrator.submit(flaky, {});
    const virtual = createWorker({ store: open(), sagas: [flaky], workerId: 'w-virtual', scheduler: clock, onError: () => undefined });
    workers.push(virtual);
    const begun = clock.now();
    await virtual.start();
    const journal = (await waitForSettled(client, [runId])).get(runId) ?? [];
    expect(foldJournal(journal).status).toBe('completed');
    const retrying = journal.find((event) => event.type === 'stage.retrying');
    expect(retrying).toMatchObject({ delayMs: 600_000 });
    // The events are stamped on the worker's clock: ten virtual minutes between the attempts.
    const starts = journal.filter((event) => event.type === 'stage.started').map((event) => event.at);
    expect((starts[1] ?? 0) - (starts[0] ?? 0)).toBeGreaterThanOrEqual(600_000);
    expect(clock.now() - begun).toBeGreaterThanOrEqual(600_000);
    await orchestrator.close();
  });

  it('watch() follows a run live on the store\'s notifications, not on its polling', async () => {
    const client = open();
    const orchestrator = createOrchestrator({ store: client });
    const runId = await orchestrator.submit(ledgerSaga(pool, schema, 'client'), { delayMs: 20 });
    // A poll a minute apart: only append notifications can deliver this run's events in time.
    const watched = firstValueFrom(orchestrator.watch(runId, { pollIntervalMs: 60_000 }).pipe(toArray()));
    await waitFor('the watch to be registered', async () =>
      Number((await pool.query(`SELECT count(*) AS n FROM "${schema}".runs WHERE run_id = $1 AND watched_until > now()`, [runId])).rows[0].n) === 1,
    );
    const w1 = worker({ id: 'w-watched' });
    await w1.start();
    const events = await watched;
    expect(events).toEqual(await client.load(runId));
    expect(events.at(-1)?.type).toBe('run.completed');
    await orchestrator.close();
  });

  it('keeps its lease through heartbeats while a stage outlives it: no takeover, no second execution', async () => {
    const client = open();
    const orchestrator = createOrchestrator({ store: client });
    const holder = worker({ id: 'w-holder', leaseMs: 1_200 });
    await holder.start();
    const runId = await orchestrator.submit(ledgerSaga(pool, schema, 'client'), { slowStage: 'b', slowMs: 3_000 });
    await waitFor('the holder to start stage b', async () => (await client.load(runId))?.some((event) => event.type === 'stage.started' && event.stage === 'b') === true);
    // A rival that polls often and would take the run over the moment its lease lapsed.
    const rival = worker({ id: 'w-rival', leaseMs: 1_200, pollIntervalMs: 20 });
    await rival.start();
    const journal = (await waitForSettled(client, [runId])).get(runId) ?? [];
    expectSoundJournal(journal);
    expect(foldJournal(journal).status).toBe('completed');
    expect(journal.filter((event) => event.type === 'run.resumed')).toEqual([]);
    expect(journal.filter((event) => event.type === 'stage.started').map((event) => event.type === 'stage.started' && event.attempt)).toEqual([1, 1, 1, 1, 1]);
    expect(await calls(runId, 'b')).toBe(1);
    expect(new Set((await ledgerRows(runId)).map((row) => row.kind))).toEqual(new Set(['execute']));
    await orchestrator.close();
  });

  describe('a run whose lease lapsed while its own worker still drives it', () => {
    // The lease runs out on the database clock while the worker is inside stage b: what a worker
    // whose event loop was blocked for longer than its lease sees. Its heartbeat comes only every
    // 10 s, its claims every 20 ms, so the next claim is made before the lease is renewed.
    async function lapseWhileDriving(claimStore: (store: PostgresStore) => PostgresStore) {
      const executed: string[] = [];
      let reachedB!: () => void;
      const inB = new Promise<void>((resolve) => (reachedB = resolve));
      let finishB!: () => void;
      const bMayFinish = new Promise<void>((resolve) => (finishB = resolve));
      const saga = defineSaga({ name: 'own-lapsed-lease', input: z.object({}) })
        .stage('a', { execute: () => executed.push('a') })
        .stage('b', {
          execute: async () => {
            executed.push('b');
            reachedB();
            await bMayFinish;
          },
        })
        .stage('c', { execute: () => executed.push('c') })
        .build();
      const client = open();
      const orchestrator = createOrchestrator({ store: client, sagas: [saga] });
      const errors: Array<{ error: Error; context: WorkerErrorContext }> = [];
      let claims = 0;
      const counted = claimStore(open());
      const counting = new Proxy(counted, {
        get: (target, key, receiver) =>
          key === 'claim' ? (request: ClaimRequest) => target.claim(request).finally(() => claims++) : (Reflect.get(target, key, receiver) as unknown),
      });
      const made = createWorker({
        store: counting,
        sagas: [saga],
        workerId: 'w-lapsed',
        leaseMs: 30_000,
        pollIntervalMs: 20,
        onError: (error, context) => errors.push({ error, context }),
      });
      workers.push(made);
      await made.start();
      const runId = await orchestrator.submit(saga, {});
      await inB;
      await pool.query(`UPDATE "${schema}".runs SET lease_expires_at = now() - interval '1 second' WHERE run_id = $1`, [runId]);
      // Two claims made wholly after the lapse: a claim that took the run again would start stage b again.
      const before = claims;
      await waitFor('two claims after the lease lapsed', () => claims >= before + 2);
      finishB();
      const journal = (await waitForSettled(client, [runId])).get(runId) ?? [];
      await orchestrator.close();
      return { runId, journal, executed, errors };
    }

    it('is not claimed again by that worker: its next heartbeat renews it, stage b runs once', async () => {
      const { journal, executed, errors } = await lapseWhileDriving((store) => store);
      expectSoundJournal(journal);
      expect(foldJournal(journal).status).toBe('completed');
      expect(journal.filter((event) => event.type === 'run.resumed')).toEqual([]);
      expect(executed).toEqual(['a', 'b', 'c']);
      expect(errors).toEqual([]);
    });

    it('on a store that claims it anyway, the old driver stops before the new one starts: one run.resumed, nothing journaled twice', async () => {
      // A store that ignores `holding`, as a third-party WorkQueueStore written before it might.
      const released: number[] = [];
      const ignoring = (store: PostgresStore): PostgresStore =>
        new Proxy(store, {
          get: (target, key, receiver) => {
            if (key === 'claim') return (request: ClaimRequest) => target.claim({ ...request, holding: undefined });
            if (key === 'release') return (runId: string, lease: LeaseToken) => (released.push(lease.epoch), target.release(runId, lease));
            return Reflect.get(target, key, receiver) as unknown;
          },
        });
      const { runId, journal, executed, errors } = await lapseWhileDriving(ignoring);
      // The superseded driver gives nothing back: the run is held again here, under the new lease.
      expect(released).toEqual([]);
      expectSoundJournal(journal);
      expect(foldJournal(journal).status).toBe('completed');
      expect(journal.filter((event) => event.type === 'run.resumed')).toHaveLength(1);
      // At least once: the takeover runs the stage that was in flight again, after the first driver stopped.
      expect(executed).toEqual(['a', 'b', 'b', 'c']);
      expect(journal.filter((event) => event.type === 'stage.completed').map((event) => event.type === 'stage.completed' && event.stage)).toEqual(['a', 'b', 'c']);
      // Reported, naming the run and what the store did.
      expect(errors).toHaveLength(1);
      expect(errors[0]?.context).toEqual({ operation: 'run', runId });
      expect(errors[0]?.error.message).toMatch(new RegExp(`store handed run ${runId} back to worker w-lapsed, which still drove it .*ignored ClaimRequest\\.holding`));
    });
  });

  it('leaves a run of a saga no worker knows queued, and keeps working', async () => {
    const client = open();
    const stranger = defineSaga({ name: 'nobody-runs-this', input: z.object({}) })
      .stage('x', { execute: async () => 'x' })
      .build();
    const orchestrator = createOrchestrator({ store: client });
    const orphan = await orchestrator.submit(stranger, {});
    const w1 = worker({ id: 'w-known' });
    await w1.start();
    // Claims go in run-id order: once this later run is done, the orphan was passed over.
    const later = await orchestrator.submit(ledgerSaga(pool, schema, 'client'), {});
    await waitForSettled(client, [later]);
    expect((await orchestrator.inspect(orphan)).status).toBe('queued');
    expect(await client.leaseOf(orphan)).toBeUndefined();
    expect((await client.listRuns({ status: 'queued', saga: 'nobody-runs-this' })).map((run) => run.runId)).toEqual([orphan]);
    await orchestrator.close();
  });

  describe('a claimed run whose journal is damaged', () => {
    /** A submitted run of the ledger saga, then `damage` (SQL, the run id as $1) done to its journal by hand: a bad restore, an edit. */
    async function damagedRun(damage: string): Promise<{ client: PostgresStore; runId: string; orchestrator: ReturnType<typeof createOrchestrator> }> {
      const client = open();
      const orchestrator = createOrchestrator({ store: client });
      const runId = await orchestrator.submit(ledgerSaga(pool, schema, 'client'), {});
      await pool.query(damage, [runId]);
      await pool.query(`UPDATE "${schema}".runs SET next_seq = (SELECT count(*) FROM "${schema}".events WHERE run_id = $1) WHERE run_id = $1`, [runId]);
      return { client, runId, orchestrator };
    }

    it.each([
      ['an event that is not a valid event', `INSERT INTO "${schema}".events (run_id, seq, event) SELECT run_id, 1, '{"type":"stage.started","seq":1}' FROM "${schema}".runs WHERE run_id = $1`],
      [
        'a stage.completed with no stage.started before it',
        `INSERT INTO "${schema}".events (run_id, seq, event) SELECT run_id, 1, json_build_object('type', 'stage.completed', 'runId', run_id, 'saga', saga, 'seq', 1, 'at', 1, 'stage', 'a', 'attempt', 1, 'durationMs', 1, 'output', 'A') FROM "${schema}".runs WHERE run_id = $1`,
      ],
      [
        'a run.started of another shape than its row says',
        `UPDATE "${schema}".events SET event = (event::jsonb || '{"shapeHash":"edited"}'::jsonb)::json WHERE run_id = $1 AND seq = 0`,
      ],
    ])('(%s) is reported once, naming the run, not driven, and not claimed again while its lease lasts; the worker goes on', async (_damage, damage) => {
      const { client, runId, orchestrator } = await damagedRun(damage);
      const store = open();
      const claims: string[][] = [];
      const counting = Object.assign(Object.create(store) as PostgresStore, {
        claim: async (request: ClaimRequest) => {
          const claimed = await store.claim(request);
          claims.push(claimed.map((run) => run.runId));
          return claimed;
        },
      });
      const errors: Array<{ error: Error; context: WorkerErrorContext }> = [];
      // One run at a time, polling every 20 ms: a worker that gave the run back would claim it again and again.
      const w = worker({ id: 'w-damaged', store: counting, concurrency: 1, leaseMs: 60_000, pollIntervalMs: 20, errors });
      await w.start();
      const later = await orchestrator.submit(ledgerSaga(pool, schema, 'client'), {});
      await waitForSettled(client, [later]);
      const settledAt = claims.length;
      await waitFor('ten more claims', () => claims.length >= settledAt + 10);
      expect(errors.map(({ error, context }) => [error.constructor.name, context.operation, context.runId])).toEqual([['StoreCorruptionError', 'run', runId]]);
      expect(errors[0]?.error.message).toContain(runId);
      expect(await client.leaseOf(runId)).toMatchObject({ owner: 'w-damaged', live: true });
      expect(claims.flat().filter((claimed) => claimed === runId).length).toBeLessThanOrEqual(1);
      expect((await client.load(runId).catch(() => undefined))?.some((event) => event.type === 'run.resumed')).not.toBe(true);
      await orchestrator.close();
    });

    it('(valid events in an order no run writes: a compensation before any rollback) is refused when claimed: reported each time it comes back, never resumed', async () => {
      const { client, orchestrator, runId } = await submitStalled();
      const errors: Array<{ error: Error; context: WorkerErrorContext }> = [];
      const w = worker({ id: 'w-stalled', leaseMs: 400, pollIntervalMs: 20, errors });
      await w.start();
      // Three claims of it, one lease apart.
      await waitFor('three reports', () => errors.length >= 3);
      expect(errors.slice(0, 3).map(({ error, context }) => [error.constructor.name, context.operation, context.runId])).toEqual(
        Array.from({ length: 3 }, () => ['StoreCorruptionError', 'run', runId]),
      );
      expect(errors[0]?.error.message).toContain("corrupt at seq 1: compensation.started of stage 'a' while the run is running (no run.compensating before it)");
      const journal = (await client.load(runId)) ?? [];
      expect(journal.filter((written) => written.type === 'run.resumed')).toHaveLength(0);
      expect(journal).toHaveLength(7);
      await orchestrator.close();
    });

    it('(valid events in an order no run writes) repaired in place, the same number of rows, is driven again at its next claim', async () => {
      const { client, orchestrator, runId } = await submitStalled();
      const event = { runId, saga: 'ledger' };
      const errors: Array<{ error: Error; context: WorkerErrorContext }> = [];
      const w = worker({ id: 'w-repaired', leaseMs: 400, pollIntervalMs: 20, errors });
      await w.start();
      await waitFor('a report', () => errors.length >= 1);
      expect(errors[0]?.error.name).toBe('StoreCorruptionError');
      // An operator repairs the six rows in place (a, b and c done): still eight rows, run.resumed last.
      const repair = ['a', 'b', 'c'].flatMap((stage, index) => [
        { ...event, type: 'stage.started', seq: 1 + 2 * index, at: 2 + 2 * index, stage, attempt: 1 },
        { ...event, type: 'stage.completed', seq: 2 + 2 * index, at: 3 + 2 * index, stage, attempt: 1, output: { key: `repaired-${stage}`, worker: 'operator' }, durationMs: 1 },
      ]);
      for (const repaired of repair) await pool.query(`UPDATE "${schema}".events SET event = $3 WHERE run_id = $1 AND seq = $2`, [runId, repaired.seq, JSON.stringify(repaired)]);
      const journal = (await waitForSettled(client, [runId], 10_000)).get(runId) ?? [];
      expect(journal.at(-1)?.type).toBe('run.completed');
      expect(await calls(runId, 'd')).toBe(1);
      await orchestrator.close();
    });
  });

  it('cancel() of a submitted run no stage of which has started cancels it at once, with no worker: nothing to undo, and perhaps no worker with its saga', async () => {
    const client = open();
    const orchestrator = createOrchestrator({ store: client });
    // A saga no worker registers (retired, say): without this, the run would wait for ever.
    const retired = defineSaga({ name: 'retired-saga', input: z.object({}) })
      .stage('charge', { execute: () => 'charged', compensate: () => undefined })
      .build();
    const runId = await orchestrator.submit(retired, {});
    await orchestrator.cancel(runId, 'saga retired');
    const journal = (await client.load(runId)) ?? [];
    expect(trace(journal)).toEqual(['run.started', 'run.cancelling', 'run.cancelled']);
    expect(await orchestrator.inspect(runId)).toMatchObject({ status: 'cancelled', cancellation: { reason: 'saga retired', by: 'external' } });
    expect((await client.listRuns({ status: 'queued' })).map((run) => run.runId)).not.toContain(runId);
    await expect(orchestrator.cancel(runId)).rejects.toBeInstanceOf(RunStateError);
    await orchestrator.close();
  });

  it('cancel() of such a run that a worker claims at that very moment leaves the cancel to that worker: the store refuses the write, the request is recorded', async () => {
    const client = open();
    const retired = defineSaga({ name: 'claimed-meanwhile', input: z.object({}) })
      .stage('charge', { execute: () => 'charged', compensate: () => undefined })
      .build();
    const runId = await createOrchestrator({ store: client }).submit(retired, {});
    // A worker claims the run after cancel() looked at its lease (which this store says is free) and before it writes.
    const claimed = await client.acquire({ runId, owner: 'claimer', leaseMs: 60_000 });
    if (!claimed.acquired) throw new Error('the claim failed');
    const late = new Proxy(client, {
      get(target, key) {
        if (key === 'leaseOf') return async () => undefined;
        const value: unknown = Reflect.get(target, key, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const orchestrator = createOrchestrator({ store: late });
    await orchestrator.cancel(runId, 'claimed meanwhile');
    // Nothing written past the worker's lease; the worker finds the request when it next takes the run.
    expect(trace((await client.load(runId)) ?? [])).toEqual(['run.started']);
    await client.release(runId, claimed.lease);
    const next = await client.acquire({ runId, owner: 'next', leaseMs: 60_000 });
    expect(next).toMatchObject({ acquired: true, cancelRequest: { reason: 'claimed meanwhile' } });
    await orchestrator.close();
  });

  it('acts on a cancel requested before the claim: no stage runs', async () => {
    const client = open();
    const orchestrator = createOrchestrator({ store: client });
    const runId = await orchestrator.submit(ledgerSaga(pool, schema, 'client'), {});
    // Recorded for the worker that claims the run (as cancel() does once a worker holds it).
    await client.requestCancel(runId, 'customer changed their mind');
    const w1 = worker({ id: 'w-cancel-early' });
    await w1.start();
    const journal = (await waitForSettled(client, [runId])).get(runId) ?? [];
    expect(trace(journal)).toEqual(['run.started', 'run.cancelling', 'run.compensating', 'run.cancelled']);
    const outcome = await orchestrator.inspect(runId);
    expect(outcome).toMatchObject({ status: 'cancelled', cancellation: { reason: 'customer changed their mind', by: 'external' } });
    await expect(orchestrator.cancel(runId)).rejects.toBeInstanceOf(RunStateError);
    await orchestrator.close();
  });

  it('hands a paused submitted run back to the queue on redrive and compensate; the handles follow it to the end', async () => {
    const client = open();
    const broken = new Set(['pay']);
    const executed: string[] = [];
    const compensated: string[] = [];
    const pausing = defineSaga({ name: 'pausing-order', input: z.object({ order: z.string() }), onFailure: 'pause' })
      .stage('reserve', {
        execute: async ({ input }) => {
          executed.push(`reserve:${input.order}`);
          return { hold: input.order };
        },
        compensate: async ({ input }) => {
          compensated.push(`reserve:${input.order}`);
        },
      })
      .stage('pay', {
        execute: async ({ input }) => {
          executed.push(`pay:${input.order}`);
          if (broken.has('pay')) throw new Error('the payment provider is down');
          return { paid: true };
        },
      })
      .build();
    const w1 = createWorker({ store: open(), sagas: [pausing], workerId: 'w-pausing', pollIntervalMs: 100, onError: () => undefined });
    workers.push(w1);
    await w1.start();
    const orchestrator = createOrchestrator({ store: client });
    const [first, second] = [await orchestrator.submit(pausing, { order: 'o-1' }), await orchestrator.submit(pausing, { order: 'o-2' })];
    await waitForSettled(client, [first, second]);
    expect((await orchestrator.inspect(first)).status).toBe('paused');

    broken.clear();
    // An operator's orchestrator needs no definition of the saga to hand a run back.
    const operator = createOrchestrator({ store: open() });
    const redriven = operator.redrive(first);
    const compensating = operator.compensate(second);
    const [redrive, compensate] = await Promise.all([redriven.outcome, compensating.outcome]);
    expect(redrive).toMatchObject({ status: 'completed', outputs: { reserve: { hold: 'o-1' }, pay: { paid: true } } });
    expect(compensate).toMatchObject({ status: 'compensated', compensationOrder: ['reserve'] });
    expect(executed.filter((entry) => entry.endsWith('o-1'))).toEqual(['reserve:o-1', 'pay:o-1', 'pay:o-1']);
    expect(compensated).toEqual(['reserve:o-2']);
    const events = await firstValueFrom(redriven.events$.pipe(toArray()));
    expect(events).toEqual(await client.load(first));
    expect(trace(events).slice(-5)).toEqual(['run.resumed', 'run.resumed', 'stage.started:pay', 'stage.completed:pay', 'run.completed']);
    await operator.close();
    await orchestrator.close();
  });

  it('recover() and resume() leave submitted runs to the workers; resume() follows one to its end', async () => {
    const client = open();
    const saga = ledgerSaga(pool, schema, 'client');
    const orchestrator = createOrchestrator({ store: client, sagas: [saga] });
    const w1 = worker({ id: 'w-owner' });
    await w1.start();
    const runId = await orchestrator.submit(saga, { slowStage: 'b', slowMs: 600 });
    await waitFor('the worker to hold the run', async () => (await client.leaseOf(runId))?.live === true);
    const recovered = await orchestrator.recover();
    expect(recovered.map((run) => run.runId)).not.toContain(runId);
    const followed = orchestrator.resume(runId);
    const outcome = await followed.outcome;
    expect(outcome.status).toBe('completed');
    const journal = (await client.load(runId)) ?? [];
    expect(journal.filter((event) => event.type === 'run.resumed')).toEqual([]);
    expect(await calls(runId, 'b')).toBe(1);
    await orchestrator.close();
  });

  it('stops by itself, reporting it once, when its store is closed under it: no claim retried for ever, nothing keeps the process alive', async () => {
    const errors: Array<{ error: Error; context: WorkerErrorContext }> = [];
    const store = open();
    const careless = worker({ id: 'w-store-closed', store, pollIntervalMs: 20, errors });
    await careless.start();
    const ended = lastValueFrom(careless.events$, { defaultValue: undefined });
    // Against the documented order (worker.stop(), then store.close()).
    await store.close();
    await ended;
    await careless.stop();
    expect(errors).toHaveLength(1);
    expect(errors[0]?.context).toEqual({ operation: 'claim' });
    expect(errors[0]?.error).toMatchObject({ constructor: StoreUnavailableError, closed: true });
    expect(careless.activeRuns).toEqual([]);
  });

  it('stop({ timeoutMs }) releases the runs it still holds; another worker resumes them (rule 7)', async () => {
    const client = open();
    const orchestrator = createOrchestrator({ store: client });
    const leaving = worker({ id: 'w-leaving', leaseMs: 60_000 });
    await leaving.start();
    const runId = await orchestrator.submit(ledgerSaga(pool, schema, 'client'), { slowStage: 'c', slowMs: 30_000, abortable: true, slowOn: 'w-leaving' });
    await waitFor('stage c to start', async () => (await client.load(runId))?.some((event) => event.type === 'stage.started' && event.stage === 'c') === true);
    await leaving.stop({ timeoutMs: 50 });
    expect(leaving.activeRuns).toEqual([]);
    // Released, not expired: claimable at once although the lease was a minute long.
    expect(await client.leaseOf(runId)).toBeUndefined();

    const taker = worker({ id: 'w-taker' });
    await taker.start();
    const journal = (await waitForSettled(client, [runId])).get(runId) ?? [];
    expectSoundJournal(journal);
    expect(foldJournal(journal).status).toBe('completed');
    const resumedAt = journal.findIndex((event) => event.type === 'run.resumed');
    expect(journal[resumedAt]).toMatchObject({ mode: 'resume' });
    expect(trace(journal.slice(resumedAt))).toEqual(['run.resumed', 'stage.started:c', 'stage.completed:c', 'stage.started:d', 'stage.completed:d', 'stage.started:e', 'stage.completed:e', 'run.completed']);
    // Re-executed at least once, under the same key: the ledger holds one effect per stage.
    expect(await calls(runId, 'c')).toBe(2);
    const rows = await ledgerRows(runId);
    expect(rows.map((row) => row.stage)).toEqual(['a', 'b', 'c', 'd', 'e']);
    await orchestrator.close();
  });

  it('stop({ timeoutMs }) with a stage still executing that ignores its signal keeps that run\'s lease until it expires: no other worker runs the stage beside it', async () => {
    const client = open();
    const orchestrator = createOrchestrator({ store: client });
    const leaving = worker({ id: 'w-stubborn', leaseMs: 3_000 });
    await leaving.start();
    const runId = await orchestrator.submit(ledgerSaga(pool, schema, 'client'), { slowStage: 'c', slowMs: 1_200, abortable: false, slowOn: 'w-stubborn' });
    await waitFor('stage c to start', async () => (await client.load(runId))?.some((event) => event.type === 'stage.started' && event.stage === 'c') === true);
    await leaving.stop({ timeoutMs: 50 });
    expect(leaving.activeRuns).toEqual([]);
    // Not released: stage c still runs in the stopped worker's process.
    expect(await client.leaseOf(runId)).toMatchObject({ owner: 'w-stubborn', live: true });

    const taker = worker({ id: 'w-after' });
    await taker.start();
    const journal = (await waitForSettled(client, [runId])).get(runId) ?? [];
    expectSoundJournal(journal);
    expect(foldJournal(journal).status).toBe('completed');
    expect(await calls(runId, 'c')).toBe(2);
    expect((await ledgerRows(runId)).map((row) => row.stage)).toEqual(['a', 'b', 'c', 'd', 'e']);
    await orchestrator.close();
  });

  it('stop({ timeoutMs }) after a stage timed out while its call ignores the signal keeps the lease until that call lands: nobody charges beside it', async () => {
    const counts = { calls: 0, running: 0, most: 0 };
    const timedOut = deferred();
    const lands = deferred();
    const saga = defineSaga({ name: 'lingering-charge', input: z.object({}) })
      .stage('charge', {
        timeoutMs: 1_000,
        retry: { maxAttempts: 2, initialDelayMs: 2_000, jitter: false },
        // The first call ignores its signal (it only notes the timeout) and settles when told to.
        execute: async ({ attempt, signal }) => {
          counts.calls++;
          counts.running++;
          counts.most = Math.max(counts.most, counts.running);
          if (attempt === 1) {
            signal.addEventListener('abort', () => timedOut.resolve(), { once: true });
            await lands.promise;
          }
          counts.running--;
          return 'C';
        },
      })
      .build();
    const client = open();
    const orchestrator = createOrchestrator({ store: client });
    const leaving = createWorker({ store: open(), sagas: [saga], workerId: 'w-lingering', leaseMs: 5_000, pollIntervalMs: 100, onError: () => undefined });
    workers.push(leaving);
    await leaving.start();
    const runId = await orchestrator.submit(saga, {});
    // Timed out: the retry waits 2 s, the first call is still on its way. The worker stops.
    await timedOut.promise;
    await leaving.stop({ timeoutMs: 50 });
    expect(await client.leaseOf(runId)).toMatchObject({ owner: 'w-lingering', live: true });

    const taker = createWorker({ store: open(), sagas: [saga], workerId: 'w-taker', leaseMs: 5_000, pollIntervalMs: 100 });
    workers.push(taker);
    await taker.start();
    lands.resolve();
    const journal = (await waitForSettled(client, [runId])).get(runId) ?? [];
    expect(foldJournal(journal).status).toBe('completed');
    expect(counts).toMatchObject({ calls: 2, most: 1 });
    await orchestrator.close();
  });

  it('keeps retrying an unreachable store with backoff, and starts working once it answers', async () => {
    const target = new URL(url ?? '');
    const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    await proxy.up();
    await proxy.down();
    const proxied = new URL(target.href);
    proxied.port = String(proxy.listenPort);
    const errors: Array<{ error: Error; context: WorkerErrorContext }> = [];
    const remote = new PostgresStore({ connectionString: proxied.href, schema, connectionTimeoutMs: 1_000 });
    stores.push(remote);
    const w1 = worker({ id: 'w-unreachable', store: remote, errors });
    try {
      await w1.start();
      await waitFor('claims to be retried', () => errors.filter((entry) => entry.context.operation === 'claim').length >= 3);
      const claimErrors = errors.filter((entry) => entry.context.operation === 'claim');
      expect(claimErrors[0]?.error).toBeInstanceOf(StoreUnavailableError);
      expect(claimErrors[0]?.error.message).toContain('could not connect to the PostgreSQL server');
      expect(claimErrors.map((entry) => entry.context.retryCount).slice(0, 3)).toEqual([1, 2, 3]);
      expect(errors.some((entry) => entry.context.operation === 'listen' && entry.error instanceof StoreUnavailableError)).toBe(true);

      await proxy.up();
      const client = open();
      const runId = await createOrchestrator({ store: client }).submit(ledgerSaga(pool, schema, 'client'), {});
      await waitForSettled(client, [runId]);
      expect((await client.load(runId))?.some((event) => event.type === 'run.completed')).toBe(true);
    } finally {
      await w1.stop();
      await proxy.down();
    }
  });
});
