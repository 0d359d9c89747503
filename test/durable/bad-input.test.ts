import { writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createOrchestrator,
  defineSaga,
  RunNotFoundError,
  RunStateError,
  StoreCorruptionError,
  StoreUnavailableError,
  type Orchestrator,
} from 'sagaflow';
import { SqliteStore, type SqliteStoreOptions } from 'sagaflow/sqlite';
import { collect } from '../support/collect.js';
import { aborted, deferred, type Deferred } from '../support/deferred.js';
import { tempDatabase } from '../stores/sqlite-temp.js';

/** A three-stage saga whose stage `b` can be held open, recording every call. */
function recordingSaga(calls: string[], hold?: { invoked: Deferred; readonly release: Promise<void> }) {
  return defineSaga({ name: 'bad-input', input: z.object({ id: z.string() }) })
    .stage('a', {
      execute: async ({ attempt, idempotencyKey }) => {
        calls.push(`a:${attempt}:${idempotencyKey}`);
        return 'A';
      },
    })
    .stage('b', {
      execute: async ({ attempt, idempotencyKey, signal }) => {
        calls.push(`b:${attempt}:${idempotencyKey}`);
        if (hold !== undefined && attempt === 1) {
          hold.invoked.resolve();
          // Honours its signal: a process that stops here hands the run over at once.
          await Promise.race([hold.release, aborted(signal).then((reason) => Promise.reject(reason as Error))]);
        }
        return 'B';
      },
    })
    .stage('c', {
      execute: async ({ attempt, idempotencyKey }) => {
        calls.push(`c:${attempt}:${idempotencyKey}`);
        return 'C';
      },
    })
    .build();
}

/** `stage:attempt` of each call, dropping the keys. */
const attempts = (calls: readonly string[]): string[] => calls.map((call) => call.split(':').slice(0, 2).join(':'));

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('bad input and unavailable stores, through the orchestrator on SqliteStore', () => {
  const disposers: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const dispose of disposers.splice(0).reverse()) await dispose();
  });

  function temp(): string {
    const database = tempDatabase();
    disposers.push(database.remove);
    return database.path;
  }

  /** A store and its orchestrator, as one process would open them; closed after the test. */
  function open(options: SqliteStoreOptions, calls: string[], hold?: Parameters<typeof recordingSaga>[1]): { store: SqliteStore; orchestrator: Orchestrator; saga: ReturnType<typeof recordingSaga> } {
    const store = new SqliteStore(options);
    const saga = recordingSaga(calls, hold);
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    disposers.push(async () => {
      await orchestrator.close({ timeoutMs: 0 });
      await store.close();
    });
    return { store, orchestrator, saga };
  }

  function rawConnection(path: string): Database.Database {
    const db = new Database(path);
    disposers.push(() => {
      if (db.open) db.close();
    });
    return db;
  }

  it('refuses an unknown run id with RunNotFoundError from inspect, resume, redrive and compensate, and writes nothing', async () => {
    const { store, orchestrator } = open({ path: temp() }, []);

    await expect(orchestrator.inspect('no-such-run')).rejects.toBeInstanceOf(RunNotFoundError);
    for (const operation of ['resume', 'redrive', 'compensate'] as const) {
      const run = orchestrator[operation]('no-such-run');
      const error = await rejection(run.outcome);
      expect(error).toBeInstanceOf(RunNotFoundError);
      expect(error).toMatchObject({ runId: 'no-such-run', message: 'No saga run with id no-such-run exists in this store.' });
      expect(await collect(run.events$)).toEqual([]);
    }
    expect(await store.listRuns()).toEqual([]);
  });

  it('after a restart, refuses to redrive, compensate or resume a completed run with RunStateError, and leaves its journal as it was', async () => {
    const path = temp();
    const calls: string[] = [];
    const first = open({ path }, calls);
    const done = await first.orchestrator.start(first.saga, { id: '1' }).outcome;
    expect(done.status).toBe('completed');
    await first.store.close();

    const { store, orchestrator } = open({ path }, calls);
    const journal = await store.load(done.runId);
    for (const operation of ['redrive', 'compensate', 'resume'] as const) {
      const run = orchestrator[operation](done.runId);
      const error = await rejection(run.outcome);
      expect(error).toBeInstanceOf(RunStateError);
      expect(error).toMatchObject({ runId: done.runId, operation, status: 'completed' });
      expect((error as Error).message).toContain(`Cannot ${operation} run ${done.runId} of saga 'bad-input': it is completed`);
    }
    expect(await store.load(done.runId)).toEqual(journal);
    expect(await orchestrator.inspect(done.runId)).toEqual(done);
    expect(attempts(calls)).toEqual(['a:1', 'b:1', 'c:1']);
  });

  it('surfaces a corrupted journal row as StoreCorruptionError naming run and seq, from inspect, resume and recover; other runs carry on', async () => {
    const path = temp();
    const calls: string[] = [];
    // A process that stopped with two runs in flight in stage b (close with a timeout leaves them in place).
    const hold = { invoked: deferred(), release: new Promise<void>(() => undefined) };
    const first = open({ path }, calls, hold);
    const damaged = first.orchestrator.start(first.saga, { id: 'damaged' });
    await hold.invoked.promise;
    hold.invoked = deferred();
    const healthy = first.orchestrator.start(first.saga, { id: 'healthy' });
    await hold.invoked.promise;
    await first.orchestrator.close({ timeoutMs: 0 });
    await expect(damaged.outcome).rejects.toThrow(/left in place/);
    await first.store.close();

    // seq 2 is stage.completed of a; give it an attempt that is not a number.
    rawConnection(path)
      .prepare("UPDATE sagaflow_events SET body = json_set(body, '$.attempt', 'one') WHERE run_id = ? AND seq = 2")
      .run(damaged.runId);
    const rows = rawConnection(path).prepare('SELECT count(*) FROM sagaflow_events WHERE run_id = ?').pluck();
    const damagedRows = rows.get(damaged.runId);

    const { store, orchestrator, saga } = open({ path }, calls);
    const inspected = await rejection(orchestrator.inspect(damaged.runId));
    expect(inspected).toBeInstanceOf(StoreCorruptionError);
    expect(inspected).toMatchObject({ runId: damaged.runId, seq: 2 });
    expect((inspected as Error).message).toMatch(new RegExp(`^The journal of run ${damaged.runId} is corrupt at seq 2: the row is not a valid event .*attempt`));
    const resumed = await rejection(orchestrator.resume(damaged.runId).outcome);
    expect(resumed).toBeInstanceOf(StoreCorruptionError);
    expect(resumed).toMatchObject({ runId: damaged.runId, seq: 2 });

    // recover() passes the damaged run over and says why; it resumes the healthy one.
    const recovered = await orchestrator.recover();
    expect(recovered.map((run) => run.runId)).toEqual([healthy.runId]);
    expect(recovered.skipped).toEqual([
      expect.objectContaining({ runId: damaged.runId, reason: 'unreadable', detail: expect.stringMatching(/is corrupt at seq 2/) as unknown }),
    ]);
    const outcomeOf = (runId: string) => recovered.find((run) => run.runId === runId)?.outcome ?? Promise.reject(new Error(`${runId} was not recovered`));
    expect((await outcomeOf(healthy.runId)).status).toBe('completed');
    expect((await orchestrator.start(saga, { id: 'new' }).outcome).status).toBe('completed');
    // Nothing was written to the damaged run.
    expect(rows.get(damaged.runId)).toBe(damagedRows);
    expect((await store.listRuns({ status: 'running' })).map((run) => run.runId)).toEqual([damaged.runId]);
  });

  it('halts a run with StoreUnavailableError while another connection holds the write lock; once released, resume finishes it, re-running only the interrupted stage', async () => {
    const path = temp();
    const calls: string[] = [];
    const release = deferred();
    const hold = { invoked: deferred(), release: release.promise };
    const { orchestrator, saga } = open({ path, busyTimeoutMs: 20 }, calls, hold);
    const run = orchestrator.start(saga, { id: 'locked' });
    await hold.invoked.promise;

    const other = rawConnection(path);
    other.exec('BEGIN EXCLUSIVE');
    release.resolve();
    const error = await rejection(run.outcome);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/is unavailable: the database is locked by another connection.*busyTimeoutMs \(20 ms\)/);
    // WAL: the journal stays readable, and ends where the lock stopped it.
    const stopped = await orchestrator.inspect(run.runId);
    expect(stopped).toMatchObject({ status: 'running', completionOrder: ['a'] });
    expect(stopped.stages.b?.status).toBe('running');

    other.exec('ROLLBACK');
    const outcome = await orchestrator.resume(run.runId).outcome;
    expect(outcome).toMatchObject({ status: 'completed', completionOrder: ['a', 'b', 'c'], outputs: { a: 'A', b: 'B', c: 'C' } });
    expect(attempts(calls)).toEqual(['a:1', 'b:1', 'b:2', 'c:1']);
    const keysOfB = new Set(calls.filter((call) => call.startsWith('b:')).map((call) => call.split(':')[2]));
    expect(keysOfB.size).toBe(1);
  });

  it('refuses a run started while the database is locked before any stage runs; nothing is stored', async () => {
    const path = temp();
    const calls: string[] = [];
    const { store, orchestrator, saga } = open({ path, busyTimeoutMs: 20 }, calls);
    await store.open();
    const other = rawConnection(path);
    other.exec('BEGIN EXCLUSIVE');

    const run = orchestrator.start(saga, { id: 'never' });
    const error = await rejection(run.outcome);
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toMatch(/locked/);
    expect(calls).toEqual([]);

    other.exec('ROLLBACK');
    await expect(orchestrator.inspect(run.runId)).rejects.toBeInstanceOf(RunNotFoundError);
    expect((await orchestrator.start(saga, { id: 'later' }).outcome).status).toBe('completed');
  });

  it('reports a file that is not a database as StoreUnavailableError from recover, inspect and start; no stage runs', async () => {
    const path = temp();
    writeFileSync(path, 'not a database\n'.repeat(300));
    const calls: string[] = [];
    const { orchestrator, saga } = open({ path }, calls);

    const recovered = await rejection(orchestrator.recover());
    expect(recovered).toBeInstanceOf(StoreUnavailableError);
    expect((recovered as Error).message).toBe(
      `The saga store sqlite:${path} is unavailable: the file is not a SQLite database: point \`path\` at a sagaflow database or at a file that does not exist yet.`,
    );
    await expect(orchestrator.inspect('any')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(orchestrator.start(saga, { id: '1' }).outcome).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(calls).toEqual([]);
  });
  it('lets only one of two orchestrators recovering the same file at once drive each run; the other passes it over as owned', async () => {
    const path = temp();
    const calls: string[] = [];
    // A process that stopped with three runs in stage b.
    const hold = { invoked: deferred(), release: new Promise<void>(() => undefined) };
    const first = open({ path }, calls, hold);
    for (let index = 0; index < 3; index++) {
      first.orchestrator.start(first.saga, { id: String(index) });
      await hold.invoked.promise;
      hold.invoked = deferred();
    }
    await first.orchestrator.close({ timeoutMs: 0 });

    const [left, right] = [open({ path }, calls), open({ path }, calls)];
    const [fromLeft, fromRight] = await Promise.all([left.orchestrator.recover(), right.orchestrator.recover()]);
    // Each run is taken over by exactly one of them (its lease); the other says it passed it over.
    expect([...fromLeft, ...fromRight].map((run) => run.runId).sort()).toHaveLength(3);
    expect(new Set([...fromLeft, ...fromRight].map((run) => run.runId)).size).toBe(3);
    const passedOver = [...fromLeft.skipped, ...fromRight.skipped];
    expect(passedOver.map((skipped) => skipped.reason)).toEqual(Array.from({ length: 3 }, () => 'owned'));
    expect(new Set(passedOver.map((skipped) => skipped.runId))).toEqual(new Set([...fromLeft, ...fromRight].map((run) => run.runId)));
    const results = await Promise.allSettled([...fromLeft, ...fromRight].map((run) => run.outcome));
    const completed = results.filter((result) => result.status === 'fulfilled' && result.value.status === 'completed');
    expect(completed).toHaveLength(3);
    // The refused side wrote nothing and called nothing: each stage ran once more, in one process.
    expect(attempts(calls).sort()).toEqual(['a:1', 'a:1', 'a:1', 'b:1', 'b:1', 'b:1', 'b:2', 'b:2', 'b:2', 'c:1', 'c:1', 'c:1']);
  });
});
