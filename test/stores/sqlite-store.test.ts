import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { v7 as uuidv7 } from 'uuid';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, RunNotFoundError, StoreConflictError, StoreCorruptionError, StoreUnavailableError, type RunStartedEvent, type SagaEvent } from 'sagaflow';
import { SqliteStore, type SqliteStoreOptions } from 'sagaflow/sqlite';
import { pruneSelectSql } from '../../src/stores/sqlite-store.js';
import { appendOf, createRun, describeStoreConformance, eventAt, eventsFrom, LEASE, runStarted, seedRun } from './store-conformance.js';
import { tempDatabase, type TempDatabase } from './sqlite-temp.js';
import { StoreProcess } from './store-process.js';

describeStoreConformance('SqliteStore', () => {
  const temp = tempDatabase();
  return Promise.resolve({
    store: new SqliteStore({ path: temp.path }),
    cleanup: temp.remove,
    openPeer: () => new SqliteStore({ path: temp.path }),
    corruptSummary: (runId: string) => {
      const db = new Database(temp.path);
      try {
        db.prepare("UPDATE sagaflow_runs SET status = 'exploded' WHERE run_id = ?").run(runId);
      } finally {
        db.close();
      }
      return Promise.resolve();
    },
  });
});

describe('SqliteStore', () => {
  const disposers: Array<() => Promise<void> | void> = [];

  afterEach(async () => {
    // Last opened, first closed: connections before the directories holding their files.
    for (const dispose of disposers.splice(0).reverse()) await dispose();
  });

  function temp(): TempDatabase {
    const database = tempDatabase();
    disposers.push(database.remove);
    return database;
  }

  function openStore(options: SqliteStoreOptions): SqliteStore {
    const store = new SqliteStore(options);
    disposers.push(() => store.close());
    return store;
  }

  /** A second, independent connection to the file, as another process would have. */
  function rawConnection(path: string): Database.Database {
    const db = new Database(path);
    disposers.push(() => {
      if (db.open) db.close();
    });
    return db;
  }

  describe('group commit', () => {
    it('commits 100 concurrent creates, then 100 concurrent appends, in far fewer than 200 transactions', async () => {
      const store = openStore({ path: temp().path });
      const runIds = Array.from({ length: 100 }, () => uuidv7());

      await Promise.all(runIds.map((runId) => createRun(store, runStarted(runId))));
      expect(store.stats).toMatchObject({ creates: 100, appends: 0, events: 100 });
      expect(store.stats.transactions).toBeLessThanOrEqual(5);
      await Promise.all(runIds.map((runId) => store.append(appendOf([eventAt(runId, 1)]))));

      expect(store.stats).toMatchObject({ creates: 100, appends: 100, events: 200 });
      expect(store.stats.transactions).toBeLessThanOrEqual(10);
      for (const runId of runIds) expect(await store.load(runId)).toEqual(eventsFrom(runId, 0, 2));
    });

    it('takes over 100 runs asked for in one turn in one transaction (a recover() pays one commit); a corrupt journal among them fails alone', async () => {
      const path = temp().path;
      const store = openStore({ path });
      const runIds = Array.from({ length: 100 }, () => uuidv7());
      await Promise.all(runIds.map((runId) => createRun(store, runStarted(runId))));
      await Promise.all(runIds.map((runId) => store.release(runId, LEASE)));
      rawConnection(path).prepare("UPDATE sagaflow_events SET body = '{\"type\": \"run.sta' WHERE run_id = ? AND seq = 0").run(runIds[7]);
      const before = store.stats.transactions;

      const results = await Promise.allSettled(runIds.map((runId) => store.acquire({ runId, owner: 'next-process', leaseMs: 60_000 })));

      expect(store.stats.transactions - before).toBe(1);
      expect(results[7]).toMatchObject({ status: 'rejected', reason: { constructor: StoreCorruptionError, runId: runIds[7] } });
      const taken = results.filter((result, index) => index !== 7);
      expect(taken.every((result) => result.status === 'fulfilled' && result.value.acquired && result.value.lease.epoch === LEASE.epoch + 1)).toBe(true);
      // The corrupt run's takeover was rolled back alone: nobody holds it.
      expect((await store.leaseOf(runIds[7] as string))?.owner).not.toBe('next-process');
    });

    it('fails a takeover whose pending signal requests cannot be read alone, leaving its lease untaken; the rest of its batch is taken over', async () => {
      const path = temp().path;
      const store = openStore({ path });
      const [damaged, healthy] = [uuidv7(), uuidv7()];
      for (const runId of [damaged, healthy]) {
        await createRun(store, runStarted(runId));
        await store.release(runId, LEASE);
      }
      rawConnection(path).prepare("UPDATE sagaflow_runs SET signal_requests = '[{' WHERE run_id = ?").run(damaged);

      const [refused, taken] = await Promise.allSettled([damaged, healthy].map((runId) => store.acquire({ runId, owner: 'next-process', leaseMs: 60_000, knownEvents: 1 })));

      expect(refused).toMatchObject({ status: 'rejected', reason: { constructor: StoreCorruptionError, runId: damaged } });
      expect(taken).toMatchObject({ status: 'fulfilled', value: { acquired: true, lease: { owner: 'next-process', epoch: 2 }, events: [] } });
      expect(await store.leaseOf(damaged)).toBeUndefined();
    });

    it('fails an append that meets a row past the recorded end of its journal alone, writing none of its events; the rest of its batch commits', async () => {
      const path = temp().path;
      const store = openStore({ path });
      const [damaged, healthy] = [uuidv7(), uuidv7()];
      await seedRun(store, damaged, 2);
      await seedRun(store, healthy, 2);
      // A stray row where the damaged run's append will put its second event.
      rawConnection(path).prepare("INSERT INTO sagaflow_events (run_id, seq, type, body) VALUES (?, 3, 'stage.started', '{}')").run(damaged);
      const before = store.stats.transactions;

      const [refused, accepted] = await Promise.allSettled([store.append(appendOf(eventsFrom(damaged, 2, 2))), store.append(appendOf([eventAt(healthy, 2)]))]);

      expect(store.stats.transactions - before).toBe(1);
      expect(refused).toMatchObject({ status: 'rejected', reason: { constructor: StoreCorruptionError, runId: damaged, seq: 2 } });
      expect(accepted.status).toBe('fulfilled');
      const rows = rawConnection(path).prepare('SELECT seq FROM sagaflow_events WHERE run_id = ? ORDER BY seq').pluck().all(damaged);
      expect(rows).toEqual([0, 1, 3]);
      expect((await store.listRuns()).find((run) => run.runId === damaged)?.events).toBe(2);
      expect(await store.load(healthy)).toEqual(eventsFrom(healthy, 0, 3));
    });

    it('batches runs that append one event at a time, awaiting each', async () => {
      const store = openStore({ path: temp().path });
      const appendsPerRun = 10;
      const runIds = Array.from({ length: 100 }, () => uuidv7());

      await Promise.all(
        runIds.map(async (runId) => {
          await createRun(store, runStarted(runId));
          for (let seq = 1; seq <= appendsPerRun; seq++) await store.append(appendOf([eventAt(runId, seq)]));
        }),
      );

      expect(store.stats.appends).toBe(1_000);
      expect(store.stats.transactions).toBeLessThan(110);
      for (const runId of runIds) expect(await store.load(runId)).toEqual(eventsFrom(runId, 0, appendsPerRun + 1));
    });

    it('batches appends made from separate callbacks of one event-loop phase', async () => {
      const store = openStore({ path: temp().path });
      const runIds = Array.from({ length: 100 }, () => uuidv7());

      // Each append comes from its own macrotask callback, as appends after stage I/O do; a
      // flush on a microtask would commit each one alone.
      await Promise.all(runIds.map((runId) => createRun(store, runStarted(runId))));
      const before = store.stats.transactions;
      await Promise.all(
        runIds.map(
          (runId) =>
            new Promise<void>((resolve, reject) => {
              setImmediate(() => {
                store.append(appendOf([eventAt(runId, 1)])).then(resolve, reject);
              });
            }),
        ),
      );

      expect(store.stats.appends).toBe(100);
      expect(store.stats.transactions - before).toBeLessThanOrEqual(5);
    });

    it('applies writes to one run in one batch in call order: create, appends, release', async () => {
      const store = openStore({ path: temp().path });
      const runId = uuidv7();

      await Promise.all([
        createRun(store, runStarted(runId)),
        store.append(appendOf(eventsFrom(runId, 1, 2))),
        store.append(appendOf([eventAt(runId, 3)])),
        store.release(runId, LEASE),
      ]);

      expect(store.stats.transactions).toBe(1);
      expect(await store.load(runId)).toEqual(eventsFrom(runId, 0, 4));
      expect(await store.leaseOf(runId)).toBeUndefined();
    });

    it('fails only the conflicting append of a batch', async () => {
      const store = openStore({ path: temp().path });
      const [first, second, third] = [uuidv7(), uuidv7(), uuidv7()];
      await seedRun(store, second, 3);
      const before = store.stats.transactions;

      const results = await Promise.allSettled([
        createRun(store, runStarted(first)),
        store.append(appendOf([eventAt(second, 1)])),
        createRun(store, runStarted(third)),
        store.append(appendOf([eventAt(uuidv7(), 1)])),
        createRun(store, runStarted(second)),
      ]);

      expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected']);
      expect(results[1]?.status === 'rejected' ? results[1].reason : undefined).toBeInstanceOf(StoreConflictError);
      expect(results[3]?.status === 'rejected' ? results[3].reason : undefined).toBeInstanceOf(RunNotFoundError);
      expect(results[4]?.status === 'rejected' ? results[4].reason : undefined).toMatchObject({ name: 'RunAlreadyExistsError', status: 'running' });
      expect(store.stats).toMatchObject({ transactions: before + 1, conflicts: 1 });
      expect(await store.load(first)).toHaveLength(1);
      expect(await store.load(second)).toHaveLength(3);
      expect(await store.load(third)).toHaveLength(1);
    });

    it('fails only the malformed append when others are requested in the same turn', async () => {
      const store = openStore({ path: temp().path });
      const [good, bad] = [uuidv7(), uuidv7()];
      const unserialisable: RunStartedEvent = { ...runStarted(bad), input: { amount: 10n } };

      const results = await Promise.allSettled([createRun(store, runStarted(good)), createRun(store, unserialisable)]);

      expect(results[0]?.status).toBe('fulfilled');
      expect(results[1]?.status === 'rejected' ? results[1].reason : undefined).toBeInstanceOf(TypeError);
      expect(await store.load(bad)).toBeUndefined();
      await expect(store.append({ runId: bad, saga: 's', expectedSeq: 0, events: [], status: 'running' })).rejects.toThrow(/no events/);
    });

    it('leaves no row of a leased append it refuses in a batch, and applies the others of the batch', async () => {
      const { path } = temp();
      const store = openStore({ path });
      const [runId, other] = [uuidv7(), uuidv7()];
      await seedRun(store, runId, 2);
      await seedRun(store, other, 2);
      // One turn, one transaction: a lost lease at free seqs, a stale length, then two that fit
      // (one changing the status, one of two events).
      const results = await Promise.allSettled([
        store.append(appendOf(eventsFrom(runId, 5, 2), 'running', { owner: LEASE.owner, epoch: 7 })),
        store.append(appendOf([eventAt(runId, 1)], 'running')),
        store.append(appendOf([eventAt(runId, 2)], 'compensating')),
        store.append(appendOf(eventsFrom(other, 2, 2))),
      ]);
      expect(results.map((result) => (result.status === 'rejected' ? (result.reason as Error).name : 'ok'))).toEqual(['LeaseLostError', 'StoreConflictError', 'ok', 'ok']);
      expect(await store.load(runId)).toEqual(eventsFrom(runId, 0, 3));
      expect(await store.load(other)).toEqual(eventsFrom(other, 0, 4));
      expect(await store.listRuns()).toEqual(
        expect.arrayContaining([expect.objectContaining({ runId, status: 'compensating', events: 3 }), expect.objectContaining({ runId: other, status: 'running', events: 4 })]),
      );
      const rows = rawConnection(path).prepare<[string], number>('SELECT count(*) FROM sagaflow_events WHERE run_id = ?').pluck();
      expect(rows.get(runId)).toBe(3);
    });

    it('held appends of one batch that conflict with each other: the first at a seq wins, the rest leave no row; chained ones all commit', async () => {
      const { path } = temp();
      const store = openStore({ path });
      const [runId, chained] = [uuidv7(), uuidv7()];
      await seedRun(store, runId, 2);
      await seedRun(store, chained, 2);
      const results = await Promise.allSettled([
        // Two writers at seq 2 under the same lease (a bug, or a replayed request): one wins.
        store.append(appendOf(eventsFrom(runId, 2, 2))),
        store.append(appendOf([{ ...eventAt(runId, 2), at: 99 }], 'compensating')),
        // Past the end of the journal (a gap): its rows go in, its checked UPDATE does not match.
        store.append(appendOf(eventsFrom(runId, 9, 2))),
        // Three in a row, each expecting the one before: all of them.
        store.append(appendOf(eventsFrom(chained, 2, 1))),
        store.append(appendOf(eventsFrom(chained, 3, 2))),
        store.append(appendOf(eventsFrom(chained, 5, 1))),
      ]);
      expect(results.map((result) => (result.status === 'rejected' ? (result.reason as Error).name : 'ok'))).toEqual(['ok', 'StoreConflictError', 'StoreConflictError', 'ok', 'ok', 'ok']);
      expect(await store.load(runId)).toEqual(eventsFrom(runId, 0, 4));
      expect(await store.load(chained)).toEqual(eventsFrom(chained, 0, 6));
      const reader = rawConnection(path);
      expect(reader.prepare<[string], number>('SELECT count(*) FROM sagaflow_events WHERE run_id = ?').pluck().get(runId)).toBe(4);
      expect(reader.prepare<[string], string>('SELECT status FROM sagaflow_runs WHERE run_id = ?').pluck().get(runId)).toBe('running');
    });

    it('a held append to a run another connection settled meanwhile (lease cleared) or changed the status of is refused, and leaves no row', async () => {
      const { path } = temp();
      const [store, peer] = [openStore({ path }), openStore({ path })];
      const [settled, rollingBack] = [uuidv7(), uuidv7()];
      await seedRun(store, settled, 2);
      await seedRun(store, rollingBack, 2);
      // The peer (a lease-less redrive/compensate of a run it thinks unowned) writes first.
      const db = rawConnection(path);
      db.prepare('UPDATE sagaflow_runs SET lease_expires_at = 0 WHERE run_id IN (?, ?)').run(settled, rollingBack);
      await peer.append(appendOf([eventAt(settled, 2)], 'completed', null));
      await peer.append(appendOf([eventAt(rollingBack, 2)], 'compensating', null));
      // The first owner, unaware, appends at the seq it expects, under its old lease.
      await expect(store.append(appendOf([eventAt(settled, 2)]))).rejects.toMatchObject({ name: 'LeaseLostError' });
      await expect(store.append(appendOf([eventAt(settled, 3)]))).rejects.toMatchObject({ name: 'LeaseLostError' });
      await expect(store.append(appendOf([eventAt(rollingBack, 3)], 'running'))).rejects.toMatchObject({ name: 'LeaseLostError' });
      expect(await store.load(settled)).toEqual(eventsFrom(settled, 0, 3));
      expect(await store.load(rollingBack)).toEqual(eventsFrom(rollingBack, 0, 3));
      expect(db.prepare<[string], number>('SELECT count(*) FROM sagaflow_events WHERE run_id = ?').pluck().get(settled)).toBe(3);
    });

    it('dates a run settled, redriven under a lease and settled again by its last settlement: settled_at is cleared while it runs, untouched by held appends', async () => {
      const { path } = temp();
      const store = openStore({ path });
      const runId = uuidv7();
      await seedRun(store, runId, 2);
      await store.append(appendOf([{ ...eventAt(runId, 2), at: 1_000 }], 'paused'));
      const settledAt = rawConnection(path).prepare<[string], number | null>('SELECT settled_at FROM sagaflow_runs WHERE run_id = ?').pluck();
      expect(settledAt.get(runId)).toBe(1_000);
      const taken = await store.acquire({ runId, owner: 'redriver', leaseMs: 60_000 });
      expect(taken).toMatchObject({ acquired: true, lease: { owner: 'redriver', epoch: 2 } });
      const lease = { owner: 'redriver', epoch: 2 };
      await store.append(appendOf([{ ...eventAt(runId, 3), at: 2_000 }], 'running', lease));
      expect(settledAt.get(runId)).toBeNull();
      await store.append(appendOf([{ ...eventAt(runId, 4), at: 3_000 }], 'running', lease));
      expect(settledAt.get(runId)).toBeNull();
      expect(await store.prune({ olderThan: 10_000, statuses: ['paused', 'completed'] })).toBe(0);
      await store.append(appendOf([{ ...eventAt(runId, 5), at: 5_000 }], 'completed', lease));
      expect(settledAt.get(runId)).toBe(5_000);
      expect(await store.prune({ olderThan: 4_000, statuses: ['paused', 'completed'] })).toBe(0);
      expect(await store.prune({ olderThan: 6_000, statuses: ['completed'] })).toBe(1);
    });

    it('prune never deletes a run written after olderThan, even when an older sagaflow still running on the upgraded file redrove and settled it without dating it', async () => {
      const { path } = temp();
      const store = openStore({ path });
      const runId = uuidv7();
      await seedRun(store, runId, 2);
      await store.append(appendOf([{ ...eventAt(runId, 2), at: 1_000 }], 'completed'));
      // A version 3 process (its statements prepared before the upgrade) redrives it at 5,000 and settles it at 6,000.
      const old = rawConnection(path);
      const insertEvent = old.prepare('INSERT INTO sagaflow_events (run_id, seq, type, body) VALUES (?, ?, ?, ?)');
      for (const seq of [3, 4]) insertEvent.run(runId, seq, eventAt(runId, seq).type, JSON.stringify({ ...eventAt(runId, seq), at: 2_000 + seq * 1_000 }));
      old.prepare("UPDATE sagaflow_runs SET status = 'running', events = 4, updated_at = 5000 WHERE run_id = ?").run(runId);
      old.prepare("UPDATE sagaflow_runs SET status = 'completed', events = 5, updated_at = 6000, lease_owner = NULL, lease_expires_at = NULL WHERE run_id = ?").run(runId);
      expect(await store.prune({ olderThan: 3_000 })).toBe(0);
      expect(await store.load(runId)).toHaveLength(5);
      expect(await store.prune({ olderThan: 7_000 })).toBe(1);
    });

    it("prune's slice query walks the settled_at index in order (not the status index, where every slice would read and sort every settled run)", async () => {
      const { path } = temp();
      const store = openStore({ path });
      const runIds = Array.from({ length: 60 }, () => uuidv7());
      for (const [index, runId] of runIds.entries()) {
        await seedRun(store, runId, 1);
        await store.append(appendOf([{ ...eventAt(runId, 1), at: 1_000 + index }], 'completed'));
      }
      const plan = rawConnection(path)
        .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${pruneSelectSql(3, true)}`)
        .all('completed', 'compensated', 'cancelled', 2_000, 2_000, 10)
        .map((row) => row.detail);
      expect(plan.join('\n')).toContain('USING INDEX sagaflow_runs_by_settled_at');
      expect(plan.join('\n')).not.toContain('sagaflow_runs_by_status');
      // And it deletes the oldest first, a slice at a time.
      expect(await store.prune({ olderThan: 1_030, limit: 10 })).toBe(10);
      expect(await store.prune({ olderThan: 1_030, limit: 100 })).toBe(20);
      expect((await store.listRuns()).map((run) => run.runId)).toEqual(runIds.slice(30));
    });

    it('resolves an append only once another connection can read it', async () => {
      const { path } = temp();
      const store = openStore({ path });
      await store.open();
      const reader = rawConnection(path);
      const count = reader.prepare<[string], number>('SELECT count(*) FROM sagaflow_events WHERE run_id = ?').pluck();
      const runId = uuidv7();

      await createRun(store, runStarted(runId));
      const appended = store.append(appendOf(eventsFrom(runId, 1, 3)));
      expect(count.get(runId)).toBe(1);
      await appended;
      expect(count.get(runId)).toBe(4);
    });
  });

  describe('corruption', () => {
    const damage: ReadonlyArray<{ name: string; seq: number; message: RegExp; corrupt: (db: Database.Database, runId: string) => void }> = [
      {
        name: 'a row that is not JSON',
        seq: 2,
        message: /not valid JSON/,
        corrupt: (db, runId) => db.prepare("UPDATE sagaflow_events SET body = '{\"type\": \"stage.compl' WHERE run_id = ? AND seq = 2").run(runId),
      },
      {
        name: 'a row that is not an event',
        seq: 3,
        message: /not a valid event/,
        corrupt: (db, runId) => db.prepare(`UPDATE sagaflow_events SET body = '{"type":"stage.exploded","seq":3}' WHERE run_id = ? AND seq = 3`).run(runId),
      },
      {
        name: 'an event with a field of the wrong type',
        seq: 1,
        message: /not a valid event.*attempt/,
        corrupt: (db, runId) =>
          db.prepare("UPDATE sagaflow_events SET body = json_set(body, '$.attempt', 'one') WHERE run_id = ? AND seq = 1").run(runId),
      },
      {
        name: 'a missing row (a seq gap)',
        seq: 2,
        message: /missing/,
        corrupt: (db, runId) => db.prepare('DELETE FROM sagaflow_events WHERE run_id = ? AND seq = 2').run(runId),
      },
      {
        name: 'a missing last row',
        seq: 4,
        message: /missing/,
        corrupt: (db, runId) => db.prepare('DELETE FROM sagaflow_events WHERE run_id = ? AND seq = 4').run(runId),
      },
      {
        name: "another run's event",
        seq: 1,
        message: /belongs to run other-run/,
        corrupt: (db, runId) =>
          db.prepare("UPDATE sagaflow_events SET body = json_set(body, '$.runId', 'other-run') WHERE run_id = ? AND seq = 1").run(runId),
      },
      {
        name: 'an event whose seq disagrees with its row',
        seq: 3,
        message: /says seq 7/,
        corrupt: (db, runId) => db.prepare("UPDATE sagaflow_events SET body = json_set(body, '$.seq', 7) WHERE run_id = ? AND seq = 3").run(runId),
      },
      {
        name: 'a body that is not text',
        seq: 0,
        message: /is a blob, not JSON text/,
        corrupt: (db, runId) => db.prepare("UPDATE sagaflow_events SET body = x'00ff' WHERE run_id = ? AND seq = 0").run(runId),
      },
    ];

    it.each(damage)('reports $name as StoreCorruptionError naming the run and seq; other runs still load', async ({ seq, message, corrupt }) => {
      const { path } = temp();
      const store = openStore({ path });
      const [damaged, healthy] = [uuidv7(), uuidv7()];
      await seedRun(store, damaged, 5);
      const healthyEvents = await seedRun(store, healthy, 5);

      corrupt(rawConnection(path), damaged);

      const error: unknown = await store.load(damaged).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(StoreCorruptionError);
      expect(error).toMatchObject({ runId: damaged, seq, code: 'STORE_CORRUPTION' });
      expect((error as Error).message).toContain(`run ${damaged}`);
      expect((error as Error).message).toContain(`seq ${seq}`);
      expect((error as Error).message).toMatch(message);
      expect(await store.load(healthy)).toEqual(healthyEvents);
      expect((await store.listRuns()).map((run) => run.runId)).toEqual([damaged, healthy]);
      await store.append(appendOf([eventAt(healthy, 5)]));
    });
  });

  describe('unavailable databases', () => {
    async function rejection(promise: Promise<unknown>): Promise<StoreUnavailableError> {
      const reason: unknown = await promise.then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(reason).toBeInstanceOf(StoreUnavailableError);
      return reason as StoreUnavailableError;
    }

    it('refuses a file that is not a database, from every method, chaining the driver error', async () => {
      const { path } = temp();
      writeFileSync(path, 'these are not the bytes of a SQLite database\n'.repeat(200));
      const store = openStore({ path });

      const error = await rejection(store.open());
      expect(error.message).toBe(
        `The saga store sqlite:${path} is unavailable: the file is not a SQLite database: point \`path\` at a sagaflow database or at a file that does not exist yet.`,
      );
      expect(error.cause).toMatchObject({ code: 'SQLITE_NOTADB' });
      await rejection(store.load(uuidv7()));
      await rejection(store.listRuns());
      await rejection(createRun(store, runStarted(uuidv7())));
      await rejection(store.append(appendOf([eventAt(uuidv7(), 1)])));
    });

    it('refuses a path that cannot be opened as a file', async () => {
      const { directory } = temp();
      const error = await rejection(openStore({ path: directory }).open());
      expect(error.message).toMatch(/cannot be opened.*check the path and its permissions\.$/);
      expect(error.cause).toMatchObject({ code: 'SQLITE_CANTOPEN' });
    });

    it('refuses a file it may not read (where permissions bind: not for root)', async () => {
      const { directory, path } = temp();
      await seedRun(openStore({ path }), uuidv7(), 1);
      chmodSync(path, 0o000);
      chmodSync(directory, 0o500);
      disposers.push(() => chmodSync(directory, 0o700));
      let rootCanReadAnyway = false;
      try {
        const probe = new Database(path);
        probe.prepare('SELECT 1 FROM sagaflow_runs').get();
        probe.close();
        rootCanReadAnyway = true;
      } catch {
        // Expected for an ordinary user: the store must say the same, in its words.
      }
      const outcome = openStore({ path }).listRuns();
      if (rootCanReadAnyway) {
        // As root, permissions do not apply; the store must then simply work.
        expect(await outcome).toHaveLength(1);
      } else {
        expect((await rejection(outcome)).message).toMatch(/permission/);
      }
    });

    it('creates missing parent directories by default', async () => {
      const { directory } = temp();
      const path = join(directory, 'nested', 'deeper', 'sagas.db');
      const store = openStore({ path });
      const events = await seedRun(store, uuidv7(), 2);
      expect(await store.load(events[0]?.runId ?? '')).toEqual(events);
    });

    it('refuses a missing directory when told not to create it', async () => {
      const { directory } = temp();
      const error = await rejection(openStore({ path: join(directory, 'absent', 'sagas.db'), createDirectory: false }).listRuns());
      expect(error.message).toMatch(/absent does not exist: create it/);
    });

    it('says when the directory is a file, or its path runs through one', async () => {
      const { directory } = temp();
      const file = join(directory, 'a-file');
      writeFileSync(file, '');

      const isFile = await rejection(openStore({ path: join(file, 'sagas.db') }).open());
      expect(isFile.message).toMatch(/a-file is a file, not a directory: choose a path in a directory\.$/);
      const throughFile = await rejection(openStore({ path: join(file, 'sub', 'sagas.db') }).open());
      expect(throughFile.message).toMatch(/runs through a file/);
      expect(throughFile.cause).toMatchObject({ code: 'ENOTDIR' });
    });

    it('refuses a database whose schema is newer than it knows', async () => {
      const { path } = temp();
      await openStore({ path }).open();
      rawConnection(path).prepare('UPDATE sagaflow_schema SET version = 99').run();

      const error = await rejection(openStore({ path }).open());
      expect(error.message).toMatch(/schema version 99, written by a newer sagaflow.*upgrade sagaflow/);
    });

    it('fails appends clearly while another connection holds the write lock, and loses nothing', async () => {
      const { path } = temp();
      const store = openStore({ path, busyTimeoutMs: 20 });
      const runId = uuidv7();
      const committed = await seedRun(store, runId, 3);
      const other = rawConnection(path);
      other.exec('BEGIN EXCLUSIVE');

      const next = eventsFrom(runId, 3, 2);
      const error = await rejection(store.append(appendOf(next)));
      expect(error.message).toMatch(/locked by another connection.*busyTimeoutMs \(20 ms\)/);
      expect(error.cause).toMatchObject({ code: 'SQLITE_BUSY' });
      // WAL: readers are not blocked by the writer.
      expect(await store.load(runId)).toEqual(committed);

      other.exec('ROLLBACK');
      await store.append(appendOf(next));
      expect(await store.load(runId)).toEqual([...committed, ...next]);
    });

    it('fails to open a database locked by another connection, and opens once it is released', async () => {
      const { path } = temp();
      const other = rawConnection(path);
      other.exec('CREATE TABLE unrelated (x); BEGIN EXCLUSIVE; INSERT INTO unrelated VALUES (1)');
      const store = openStore({ path, busyTimeoutMs: 20 });

      expect((await rejection(store.listRuns())).message).toMatch(/locked/);

      other.exec('COMMIT');
      expect(await store.listRuns()).toEqual([]);
      expect(other.prepare('SELECT count(*) FROM unrelated').pluck().get()).toBe(1);
    });
  });

  describe('settings and lifecycle', () => {
    it('runs in WAL mode with synchronous FULL by default', async () => {
      const { path } = temp();
      const store = openStore({ path });
      expect(store.description).toBe(`sqlite:${path}`);
      expect(await store.readSettings()).toEqual({ journalMode: 'wal', synchronous: 'full', busyTimeoutMs: 5_000, walAutocheckpointPages: 1_000, schemaVersion: 4 });
    });

    it('runs with synchronous NORMAL when durability is normal', async () => {
      const store = openStore({ path: temp().path, durability: 'normal', busyTimeoutMs: 250 });
      expect(await store.readSettings()).toMatchObject({ journalMode: 'wal', synchronous: 'normal', busyTimeoutMs: 250 });
    });

    it('refuses invalid options at construction', () => {
      expect(() => new SqliteStore({ path: '' })).toThrow(TypeError);
      expect(() => new SqliteStore({ path: 'x.db', durability: 'off' as 'full' })).toThrow(/durability/);
      expect(() => new SqliteStore({ path: 'x.db', busyTimeoutMs: -1 })).toThrow(/busyTimeoutMs/);
    });

    it('keeps everything across close and reopen', async () => {
      const { path } = temp();
      const first = openStore({ path });
      const [a, b] = [uuidv7(), uuidv7()];
      const aEvents = await seedRun(first, a, 4, 'completed', 'one');
      const bEvents = await seedRun(first, b, 2, 'running', 'two');
      const listing = await first.listRuns();
      await first.close();

      const second = openStore({ path });
      expect(await second.load(a)).toEqual(aEvents);
      expect(await second.load(b)).toEqual(bEvents);
      expect(await second.listRuns()).toEqual(listing);
      await second.append(appendOf([eventAt(b, 2)]));
      expect(await second.load(b)).toHaveLength(3);
    });

    it('keeps every resolved append when the process is killed without closing', async () => {
      const { path } = temp();
      const source = fileURLToPath(new URL('../../src/stores/sqlite-store.ts', import.meta.url));
      // The child resolves 20 runs × 5 appends, says so, then dies without closing the store.
      const script = `
        import { SqliteStore } from ${JSON.stringify(source)};
        const store = new SqliteStore({ path: ${JSON.stringify(path)} });
        await Promise.all(Array.from({ length: 20 }, async (_, run) => {
          const runId = 'run-' + String(run).padStart(2, '0');
          await store.create({ owner: { owner: 'child', leaseMs: 60000 },
            event: { type: 'run.started', runId, saga: 'crash', seq: 0, at: 0, version: '1', shapeHash: 'h', input: {}, stages: [] } });
          for (let seq = 1; seq < 5; seq++) {
            await store.append({ runId, saga: 'crash', expectedSeq: seq, status: 'running', lease: { owner: 'child', epoch: 1 },
              events: [{ type: 'stage.started', runId, saga: 'crash', seq, at: seq, stage: 'step-' + seq, attempt: 1 }] });
          }
        }));
        process.stdout.write('committed ' + (store.stats.creates + store.stats.appends) + '\\n');
        process.kill(process.pid, 'SIGKILL');
      `;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      const [, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];

      expect(signal).toBe('SIGKILL');
      expect(stdout).toBe('committed 100\n');
      const store = openStore({ path });
      const runs = await store.listRuns();
      expect(runs).toHaveLength(20);
      expect(runs.every((run) => run.events === 5)).toBe(true);
      expect((await store.load('run-07'))?.map((event) => event.seq)).toEqual([0, 1, 2, 3, 4]);
    });

    it('ends a watch() at once with the closed error when its store is closed under a live orchestrator, instead of polling on', async () => {
      const { path } = temp();
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const saga = defineSaga({ name: 'watched-elsewhere', input: z.object({}) }).stage('wait', { execute: () => held.then(() => 'done') }).build();
      const driver = createOrchestrator({ store: openStore({ path }) });
      const run = driver.start(saga, {});
      await new Promise<void>((resolve) => run.events$.subscribe((event) => event.type === 'stage.started' && resolve()));

      const watcherStore = openStore({ path });
      const watcher = createOrchestrator({ store: watcherStore });
      let following!: () => void;
      const followed = new Promise<void>((resolve) => (following = resolve));
      const ended = new Promise<unknown>((resolve) =>
        watcher.watch(run.runId, { pollIntervalMs: 5 }).subscribe({
          next: (event) => event.type === 'stage.started' && following(),
          error: resolve,
          complete: () => resolve('completed'),
        }),
      );
      await followed;
      // Against the documented order (orchestrator first, then its store), as a careless shutdown does.
      await watcherStore.close();
      const error = await ended;
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(error).toMatchObject({ closed: true, message: expect.stringMatching(/closed/) });
      await watcher.close();
      release();
      expect((await run.outcome).status).toBe('completed');
      await driver.close();
    });

    it('commits requested appends on close, then refuses further calls; close is idempotent', async () => {
      const { path } = temp();
      const store = openStore({ path });
      const runId = uuidv7();

      const appended = Promise.all([createRun(store, runStarted(runId)), store.append(appendOf(eventsFrom(runId, 1, 1)))]);
      await store.close();
      await appended;
      await store.close();

      const afterClose = store.append(appendOf([eventAt(runId, 2)]));
      await expect(afterClose).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(afterClose).rejects.toThrow(/closed/);
      // Closed, not unreachable: nothing retries it.
      await expect(afterClose).rejects.toMatchObject({ closed: true });
      await expect(store.load(runId)).rejects.toThrow(/closed/);
      await expect(store.listRuns()).rejects.toThrow(/closed/);
      await expect(store.acquire({ runId, owner: 'x', leaseMs: 1_000 })).rejects.toThrow(/closed/);
      await expect(store.release(runId, LEASE)).rejects.toThrow(/closed/);
      expect(await openStore({ path }).load(runId)).toEqual(eventsFrom(runId, 0, 2));
    });

    it('shares a file between two stores, as between two processes, with conflicts detected', async () => {
      const { path } = temp();
      const [left, right] = [openStore({ path }), openStore({ path })];
      const runId = uuidv7();
      await seedRun(left, runId, 2);

      await expect(right.append(appendOf([eventAt(runId, 1)]))).rejects.toMatchObject({ name: 'StoreConflictError', actualSeq: 2 });
      await right.append(appendOf([eventAt(runId, 2)]));
      await expect(left.append(appendOf([eventAt(runId, 2)]))).rejects.toBeInstanceOf(StoreConflictError);
      expect(await left.load(runId)).toEqual(eventsFrom(runId, 0, 3));
    });

    it('works in memory', async () => {
      const store = openStore({ path: ':memory:' });
      const events = await seedRun(store, uuidv7(), 3);
      expect(await store.load(events[0]?.runId ?? '')).toEqual(events);
      expect((await store.readSettings()).journalMode).toBe('memory');
    });

    it('creates its tables idempotently in a database that already has other tables', async () => {
      const { path } = temp();
      const app = rawConnection(path);
      app.exec("CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT); INSERT INTO events (what) VALUES ('app data')");
      await openStore({ path }).open();
      const store = openStore({ path });
      await seedRun(store, uuidv7(), 2);

      expect(app.prepare('SELECT what FROM events').pluck().all()).toEqual(['app data']);
      expect(app.prepare('SELECT version FROM sagaflow_schema').pluck().all()).toEqual([4]);
    });
  });

  describe('ownership between processes on one file', () => {
    it('fences a process whose lease ran out while it was frozen: the other takes the run over only then, and the frozen one writes nothing more', async () => {
      const { path } = temp();
      await openStore({ path }).open();
      const [a, b] = [new StoreProcess({ sqlite: path }), new StoreProcess({ sqlite: path })];
      disposers.push(() => a.stop(), () => b.stop());
      const runId = uuidv7();
      const leaseA = { owner: 'process-a', epoch: 1 };

      // A long lease while B is shown that it cannot take the run: a loaded machine must not let it lapse.
      await a.ok('create', { event: runStarted(runId), owner: { owner: 'process-a', leaseMs: 60_000 } });
      await a.ok('append', appendOf([eventAt(runId, 1)], 'running', leaseA));

      // While A's lease is live, B can neither take the run nor write to it.
      expect(await b.ok('acquire', { runId, owner: 'process-b', leaseMs: 60_000 })).toMatchObject({
        acquired: false,
        heldBy: { owner: 'process-a', epoch: 1, live: true },
      });
      expect(await b.call('append', appendOf([eventAt(runId, 2)], 'running', null))).toMatchObject({ error: { name: 'RunLeasedError', owner: 'process-a' } });
      expect(await b.call('append', appendOf([eventAt(runId, 2)], 'running', { owner: 'process-b', epoch: 1 }))).toMatchObject({
        error: { name: 'LeaseLostError' },
      });

      // A renews for a short lease, then freezes (a GC pause, a stopped container) past it, as SQLite's clock counts.
      expect(await a.ok('heartbeat', 'process-a', [{ runId, lease: leaseA }], 300)).toEqual({ lost: [], cancelRequests: [] });
      process.kill(a.pid, 'SIGSTOP');
      const reader = openStore({ path });
      for (let live = true; live; ) {
        live = (await reader.leaseOf(runId))?.live ?? false;
        if (live) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const takeover = await b.ok('acquire', { runId, owner: 'process-b', leaseMs: 60_000 });
      expect(takeover).toEqual({ acquired: true, lease: { owner: 'process-b', epoch: 2 }, events: eventsFrom(runId, 0, 2) });
      process.kill(a.pid, 'SIGCONT');

      // A wakes up and carries on where it was: its next append fits the journal, yet is refused.
      expect(await a.call('append', appendOf([eventAt(runId, 2)], 'running', leaseA))).toMatchObject({
        error: { name: 'LeaseLostError', runId, owner: 'process-a', epoch: 1 },
      });
      expect(await a.ok('heartbeat', 'process-a', [{ runId, lease: leaseA }], 60_000)).toEqual({ lost: [runId], cancelRequests: [] });
      expect(await a.call('acquire', { runId, owner: 'process-a', leaseMs: 60_000 })).toMatchObject({ result: { acquired: false, heldBy: { owner: 'process-b' } } });
      await b.ok('append', appendOf([eventAt(runId, 2)], 'running', { owner: 'process-b', epoch: 2 }));

      expect(await reader.load(runId)).toEqual(eventsFrom(runId, 0, 3));
      expect(await reader.leaseOf(runId)).toMatchObject({ owner: 'process-b', epoch: 2, live: true });
    });

    it('hands a cancel request from one process to the owner in another with its next heartbeat', async () => {
      const { path } = temp();
      await openStore({ path }).open();
      const [owner, canceller] = [new StoreProcess({ sqlite: path }), new StoreProcess({ sqlite: path })];
      disposers.push(() => owner.stop(), () => canceller.stop());
      const runId = uuidv7();
      const lease = { owner: 'owner', epoch: 1 };
      await owner.ok('create', { event: runStarted(runId), owner: { owner: 'owner', leaseMs: 60_000 } });

      await canceller.ok('requestCancel', runId, 'customer request');
      expect(await canceller.call('requestCancel', uuidv7(), 'x')).toMatchObject({ error: { name: 'RunNotFoundError' } });
      expect(await owner.ok('heartbeat', 'owner', [{ runId, lease }], 60_000)).toEqual({ lost: [], cancelRequests: [{ runId, reason: 'customer request' }] });
    });
  });

  /** The tables as schema version 1 made them (later versions altered them in place). */
  const VERSION_ONE_TABLES = `
    CREATE TABLE sagaflow_runs (run_id TEXT NOT NULL PRIMARY KEY, saga TEXT NOT NULL, status TEXT NOT NULL, events INTEGER NOT NULL,
      created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
    CREATE INDEX sagaflow_runs_by_status ON sagaflow_runs (status, run_id);
    CREATE INDEX sagaflow_runs_by_saga ON sagaflow_runs (saga, status, run_id);
    CREATE TABLE sagaflow_events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (run_id, seq));
  `;

  describe('schema upgrade', () => {
    it('upgrades a version 1 file in place: its runs load, are unowned, and can be acquired', async () => {
      const { path } = temp();
      const old = rawConnection(path);
      old.exec(`
        ${VERSION_ONE_TABLES}
        CREATE TABLE sagaflow_schema (version INTEGER NOT NULL);
        INSERT INTO sagaflow_schema (version) VALUES (1);
      `);
      const runId = uuidv7();
      const events = eventsFrom(runId, 0, 3);
      for (const event of events) old.prepare('INSERT INTO sagaflow_events VALUES (?, ?, ?, ?)').run(runId, event.seq, event.type, JSON.stringify(event));
      old.prepare("INSERT INTO sagaflow_runs VALUES (?, 'conformance', 'running', 3, ?, ?)").run(runId, events[0]?.at, events[2]?.at);
      old.close();

      const store = openStore({ path });
      expect((await store.readSettings()).schemaVersion).toBe(4);
      expect(await store.load(runId)).toEqual(events);
      expect(await store.listRuns()).toEqual([expect.objectContaining({ runId, status: 'running', events: 3, submitted: false })]);
      expect(await store.leaseOf(runId)).toBeUndefined();
      expect(await store.acquire({ runId, owner: 'recoverer', leaseMs: 60_000 })).toEqual({ acquired: true, lease: { owner: 'recoverer', epoch: 1 }, events });
    });
  });

  describe('schema upgrade from version 3', () => {
    /** A file as the version 3 schema left it: a run whose process died mid-saga, one settled long ago. */
    function versionThreeFile(path: string, running: string, settled: string): SagaEvent[] {
      const old = rawConnection(path);
      old.exec(`
        ${VERSION_ONE_TABLES}
        ALTER TABLE sagaflow_runs ADD COLUMN submitted INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sagaflow_runs ADD COLUMN lease_owner TEXT;
        ALTER TABLE sagaflow_runs ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sagaflow_runs ADD COLUMN lease_expires_at REAL;
        ALTER TABLE sagaflow_runs ADD COLUMN cancel_reason TEXT;
        CREATE INDEX sagaflow_runs_by_age ON sagaflow_runs (updated_at, status);
        ALTER TABLE sagaflow_runs ADD COLUMN signal_requests TEXT;
        CREATE TABLE sagaflow_schema (version INTEGER NOT NULL);
        INSERT INTO sagaflow_schema (version) VALUES (3);
      `);
      const events = eventsFrom(running, 0, 3);
      const insertEvent = old.prepare('INSERT INTO sagaflow_events VALUES (?, ?, ?, ?)');
      for (const event of events) insertEvent.run(running, event.seq, event.type, JSON.stringify(event));
      // Its owner's lease ran out long ago (epoch 1, expired at 1 ms).
      old.prepare("INSERT INTO sagaflow_runs (run_id, saga, status, events, created_at, updated_at, lease_owner, lease_epoch, lease_expires_at) VALUES (?, 'conformance', 'running', 3, ?, ?, 'dead', 1, 1)")
        .run(running, events[0]?.at, events[2]?.at);
      insertEvent.run(settled, 0, 'run.started', JSON.stringify(runStarted(settled)));
      old.prepare("INSERT INTO sagaflow_runs (run_id, saga, status, events, created_at, updated_at) VALUES (?, 'conformance', 'completed', 1, 10, 10)").run(settled);
      old.close();
      return events;
    }

    it('upgrades in place: the unfinished run is taken over and goes on, and prune still finds the settled run by age', async () => {
      const { path } = temp();
      const [running, settled] = [uuidv7(), uuidv7()];
      const events = versionThreeFile(path, running, settled);

      const store = openStore({ path });
      expect((await store.readSettings()).schemaVersion).toBe(4);
      expect(await store.load(running)).toEqual(events);
      expect(await store.listRuns({ status: 'running' })).toEqual([expect.objectContaining({ runId: running, events: 3 })]);
      expect(await store.acquire({ runId: running, owner: 'recoverer', leaseMs: 60_000 })).toEqual({ acquired: true, lease: { owner: 'recoverer', epoch: 2 }, events });
      await store.append(appendOf([eventAt(running, 3)], 'running', { owner: 'recoverer', epoch: 2 }));
      expect(await store.load(running)).toEqual(eventsFrom(running, 0, 4));

      const reader = rawConnection(path);
      const indexes = reader.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sagaflow_runs' AND sql IS NOT NULL ORDER BY name").pluck().all();
      expect(indexes).toEqual(['sagaflow_runs_by_saga', 'sagaflow_runs_by_settled_at', 'sagaflow_runs_by_status']);
      // Dated by the upgrade from updated_at: the settled run only.
      const settledAt = reader.prepare('SELECT settled_at FROM sagaflow_runs WHERE run_id = ?').pluck();
      expect([settledAt.get(running), settledAt.get(settled)]).toEqual([null, 10]);
      reader.close();
      expect(await store.prune({ olderThan: 1_000, statuses: ['completed'] })).toBe(1);
      expect(await store.load(settled)).toBeUndefined();
      expect(await store.load(running)).toEqual(eventsFrom(running, 0, 4));
    });
  });

  it('lists 10,000 runs by status and saga', async () => {
    const store = openStore({ path: temp().path, durability: 'normal' });
    const statuses = ['running', 'completed', 'compensating', 'paused'] as const;
    const runIds = Array.from({ length: 10_000 }, () => uuidv7());
    await Promise.all(runIds.map((runId, index) => createRun(store, runStarted(runId, `saga-${index % 5}`))));
    await Promise.all(
      runIds.map((runId, index) => store.append(appendOf([eventAt(runId, 1, `saga-${index % 5}`)], statuses[index % 4]))),
    );

    const unfinished = await store.listRuns({ status: ['running', 'compensating'] });
    expect(unfinished.map((run) => run.runId)).toEqual(runIds.filter((_, index) => index % 2 === 0));
    const pausedOfSaga = await store.listRuns({ saga: 'saga-3', status: 'paused', limit: 100 });
    expect(pausedOfSaga.map((run) => run.runId)).toEqual(runIds.filter((_, index) => index % 4 === 3 && index % 5 === 3).slice(0, 100));
  });
});
