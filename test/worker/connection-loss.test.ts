// The database goes away in the middle of a load (every connection cut, new ones refused) and
// comes back: workers retry with backoff, hand back the runs whose appends failed, and finish.
import pg from 'pg';
import { createOrchestrator, createWorker, defineSaga, foldJournal, StoreUnavailableError, type Worker, type WorkerErrorContext } from 'sagaflow';
import { z } from 'zod';
import { PostgresStore } from 'sagaflow/postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { dropSchemas, postgresForTests, uniqueSchema } from '../support/postgres.js';
import { proxyTo } from '../support/tcp-proxy.js';
import { createLedger, ledgerSaga } from './fixtures/ledger.js';
import { expectSoundJournal, waitFor, waitForSettled } from './support.js';

const url = await postgresForTests();
const schema = uniqueSchema('worker_conn');
const cleanup: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  if (url !== undefined) await dropSchemas(url, schema);
});

describe.skipIf(url === undefined)('connection loss', { timeout: 60_000 }, () => {
  it('finishes every run when the database drops all connections mid-load and comes back', async () => {
    await createLedger(url ?? '', schema);
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    cleanup.push(() => pool.end());
    const direct = new PostgresStore({ connectionString: url ?? '', schema, maxConnections: 2 });
    cleanup.push(() => direct.close());

    const { proxy, url: proxied } = await proxyTo(url ?? '');
    cleanup.push(() => proxy.down());

    const errors: Array<{ error: Error; context: WorkerErrorContext }> = [];
    const workers: Worker[] = [];
    for (const id of ['cut-1', 'cut-2']) {
      // Workers reach the database through the proxy; the ledger (the outside system) does not.
      const store = new PostgresStore({ connectionString: proxied, schema, maxConnections: 4, connectionTimeoutMs: 1_000 });
      const worker = createWorker({
        store,
        sagas: [ledgerSaga(pool, schema, id)],
        workerId: id,
        concurrency: 8,
        leaseMs: 1_500,
        pollIntervalMs: 100,
        retry: { initialDelayMs: 50, maxDelayMs: 500 },
        onError: (error, context) => errors.push({ error, context }),
      });
      await worker.start();
      workers.push(worker);
      cleanup.push(async () => {
        await worker.stop({ timeoutMs: 1_000 });
        await store.close();
      });
    }

    const orchestrator = createOrchestrator({ store: direct });
    const saga = ledgerSaga(pool, schema, 'submitter');
    const runIds: string[] = [];
    for (let index = 0; index < 40; index++) {
      runIds.push(await orchestrator.submit(saga, { delayMs: 30, ...(index % 5 === 4 ? { failAt: 'd' as const } : {}) }));
    }
    await waitFor('a few runs to complete', async () => (await direct.listRuns({ status: ['completed', 'compensated'] })).length >= 5);
    await proxy.down();
    await waitFor('the workers to notice', () => errors.some((entry) => entry.error instanceof StoreUnavailableError && entry.context.operation !== 'listen'));
    await proxy.up();

    const journals = await waitForSettled(direct, runIds, 45_000);
    for (const [index, runId] of runIds.entries()) {
      const journal = journals.get(runId) ?? [];
      expectSoundJournal(journal);
      const state = foldJournal(journal);
      expect(state.status).toBe(index % 5 === 4 ? 'compensated' : 'completed');
      if (state.status === 'compensated') expect(state.compensationOrder).toEqual(['c', 'b', 'a']);
    }
    const duplicates = await pool.query(
      `SELECT run_id, stage, kind FROM "${schema}".calls WHERE run_id = ANY($1::text[]) GROUP BY 1, 2, 3 HAVING count(DISTINCT idempotency_key) > 1`,
      [runIds],
    );
    expect(duplicates.rows).toEqual([]);
    const effects = await pool.query(`SELECT count(*) AS n FROM "${schema}".ledger WHERE run_id = ANY($1::text[])`, [runIds]);
    expect(Number(effects.rows[0].n)).toBe(32 * 5 + 8 * (3 + 3));
    await orchestrator.close();
  });
});

/**
 * A store through a proxy that can silence the server (with the store's default timeouts: a
 * statement with no answer is given up after 20 s, a release tried 7 times), a direct store to
 * check on it, and a saga held in its second stage until its signal is aborted.
 */
async function silenceable(sagaName: string) {
  const { proxy, url: proxied } = await proxyTo(url ?? '');
  const store = new PostgresStore({ connectionString: proxied, schema });
  cleanup.push(() => store.close());
  // Cut first (cleanup runs backwards), so that closing the store does not wait on the silence.
  cleanup.push(() => proxy.down());
  const direct = new PostgresStore({ connectionString: url ?? '', schema });
  cleanup.push(() => direct.close());
  const saga = defineSaga({ name: sagaName, input: z.object({}) })
    .stage('book', { execute: () => 'booked', compensate: () => undefined })
    .stage('hold', { execute: ({ signal }) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error))) })
    .build();
  const holding = (runId: string) =>
    waitFor('the run to start the held stage', async () => ((await direct.load(runId)) ?? []).some((event) => event.type === 'stage.started' && event.stage === 'hold'));
  // Nothing was lost: the journal stands where the run was, and its lease, not given back, expires.
  const leftInPlace = async (runId: string, owner?: string) => {
    expect(((await direct.load(runId)) ?? []).at(-1)).toMatchObject({ type: 'stage.started', stage: 'hold' });
    expect(await direct.leaseOf(runId)).toMatchObject({ ...(owner === undefined ? {} : { owner }), live: true });
  };
  return { proxy, store, direct, saga, holding, leftInPlace };
}

describe.skipIf(url === undefined)('a server gone silent', () => {
  it('lets worker.stop({ timeoutMs }) resolve while the server driving its run is silent (black-holed), leaving the lease to expire', { timeout: 15_000 }, async () => {
    const { proxy, store, direct, saga, holding, leftInPlace } = await silenceable('held-by-silent-server');
    const worker = createWorker({ store, sagas: [saga], workerId: 'silenced', pollIntervalMs: 100, onError: () => undefined });
    await worker.start();
    const runId = await createOrchestrator({ store: direct }).submit(saga, {});
    await holding(runId);
    proxy.blackhole();
    await worker.stop({ timeoutMs: 50 });
    await leftInPlace(runId, 'silenced');
  });

  it('lets orchestrator.close({ timeoutMs: 0 }) resolve while the server driving its run is silent, leaving the lease to expire', { timeout: 15_000 }, async () => {
    const { proxy, store, saga, holding, leftInPlace } = await silenceable('driven-into-silence');
    const orchestrator = createOrchestrator({ store, sagas: [saga], onError: () => undefined });
    const run = orchestrator.start(saga, {});
    await holding(run.runId);
    proxy.blackhole();
    await orchestrator.close({ timeoutMs: 0 });
    await expect(run.outcome).rejects.toThrow(/still active when close\(\) timed out/);
    await leftInPlace(run.runId);
  });
});
