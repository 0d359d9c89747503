// A run halted by a PostgreSQL outage with a call of user code still in flight: its lease is
// heartbeated until the call lands, through the outage (the beats that fail are retried) and past
// the lease's first expiry, and given back once the call has landed. The database is cut off by a
// TCP proxy in front of it (every connection cut, new ones refused), as a restart would, without
// touching the server other test files share.
import { createOrchestrator, defineSaga, StoreUnavailableError, type OrchestratorErrorContext } from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { deferred } from '../support/deferred.js';
import { dropSchemas, postgresForTests, uniqueSchema } from '../support/postgres.js';
import { proxyTo } from '../support/tcp-proxy.js';
import { waitFor } from '../worker/support.js';

const url = await postgresForTests();
const schema = uniqueSchema('halted_outage');
const cleanup: Array<() => Promise<void>> = [];
/** Short, so that the call outlasts several leases in a few seconds. */
const LEASE_MS = 1_500;

afterAll(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
  if (url !== undefined) await dropSchemas(url, schema);
});

/** A store reaching PostgreSQL through a proxy the test cuts, and one reaching it directly (a rival's, or the test's own view). */
async function storesThroughProxy() {
  const direct = new PostgresStore({ connectionString: url ?? '', schema, maxConnections: 2 });
  cleanup.push(() => direct.close());
  const { proxy, url: proxied } = await proxyTo(url ?? '');
  cleanup.push(() => proxy.down());
  const store = new PostgresStore({ connectionString: proxied, schema, maxConnections: 2, connectionTimeoutMs: 1_000 });
  cleanup.push(() => store.close());
  return { direct, proxy, store };
}

/** An orchestrator reaching PostgreSQL through a proxy the test cuts, its run halted by the cut with 'charge' in flight; a rival reaching it directly. */
async function haltedByOutage(label: string) {
  const { direct, proxy, store } = await storesThroughProxy();

  const charging = deferred();
  const lands = deferred();
  const notifying = deferred();
  const notify = deferred();
  const counts = { charges: 0 };
  const saga = defineSaga({ name: `halted-outage-${label}`, input: z.object({ order: z.string() }) })
    .stage('charge', {
      after: [],
      // A charge that ignores its signal: it goes on after the run halts here, until it lands.
      execute: async () => {
        counts.charges++;
        if (counts.charges === 1) {
          charging.resolve();
          await lands.promise;
        }
        return 'charged';
      },
    })
    .stage('notify', {
      after: [],
      execute: async () => {
        notifying.resolve();
        await notify.promise;
        return 'notified';
      },
    })
    .build();
  const errors: Array<{ error: Error; context: OrchestratorErrorContext }> = [];
  const owner = createOrchestrator({ store, sagas: [saga], leaseMs: LEASE_MS, ownerId: `halting-${label}`, onError: (error, context) => errors.push({ error, context }) });
  cleanup.push(() => owner.close({ timeoutMs: 1_000 }));
  const rival = createOrchestrator({ store: direct, sagas: [saga], leaseMs: LEASE_MS, ownerId: `rival-${label}`, onError: () => undefined });
  cleanup.push(() => rival.close({ timeoutMs: 1_000 }));

  const run = owner.start(saga, { order: 'o-1' });
  await Promise.all([charging.promise, notifying.promise]);
  // The server goes away with the charge in flight; notify's completion cannot be written: the run halts here.
  await proxy.down();
  notify.resolve();
  await expect(run.outcome).rejects.toBeInstanceOf(StoreUnavailableError);
  await waitFor('a heartbeat to fail', () => errors.some((entry) => entry.context.operation === 'heartbeat'));
  return { direct, proxy, rival, run, lands, counts, errors, owner: `halting-${label}` };
}

describe.skipIf(url === undefined)('a run halted by a database outage with a call in flight', { timeout: 60_000 }, () => {
  it('keeps its lease beaten through the outage and past its expiry until the call lands, then gives it back', async () => {
    const { direct, proxy, rival, run, lands, counts, owner } = await haltedByOutage('short');
    await proxy.up();

    // Past the lease the halt began with, twice over: the charge is still in flight, and its lease beaten.
    const first = await direct.leaseOf(run.runId);
    expect(first).toMatchObject({ owner, live: true });
    await waitFor('the first lease to have expired', () => Date.now() > (first?.expiresAt ?? 0) + LEASE_MS, 10_000);
    expect(await direct.leaseOf(run.runId)).toMatchObject({ owner, epoch: first?.epoch, live: true });
    const during = await rival.recover();
    expect(during.map((recovered) => recovered.runId)).toEqual([]);
    expect(during.skipped.map((skipped) => [skipped.runId, skipped.reason])).toContainEqual([run.runId, 'owned']);

    // The charge lands: the lease is given back at once, not left to expire.
    lands.resolve();
    await waitFor('the lease to be given back', async () => (await direct.leaseOf(run.runId)) === undefined, LEASE_MS - 500);
    const [recovered] = await rival.recover();
    expect(recovered?.runId).toBe(run.runId);
    expect((await recovered?.outcome)?.status).toBe('completed');
    expect(counts.charges).toBe(2);
  });

  it('renews the lease that expired during an outage longer than it (nobody took the run meanwhile), and keeps it until the call lands', async () => {
    const { direct, proxy, rival, run, lands, counts, owner } = await haltedByOutage('long');
    const before = await direct.leaseOf(run.runId);
    await waitFor('the lease to expire while the server is away', async () => (await direct.leaseOf(run.runId))?.live === false, 10_000);
    await proxy.up();
    // The next beat renews it: same owner, same epoch, live again.
    await waitFor('a beat after the outage', async () => (await direct.leaseOf(run.runId))?.live === true, LEASE_MS);
    expect(await direct.leaseOf(run.runId)).toMatchObject({ owner, epoch: before?.epoch });
    const during = await rival.recover();
    expect(during.skipped.map((skipped) => [skipped.runId, skipped.reason])).toContainEqual([run.runId, 'owned']);
    lands.resolve();
    await waitFor('the lease to be given back', async () => (await direct.leaseOf(run.runId)) === undefined, LEASE_MS - 500);
    const [recovered] = await rival.recover();
    expect((await recovered?.outcome)?.status).toBe('completed');
    expect(counts.charges).toBe(2);
  });

  it('gives the lease back once the server is back when the call landed during the outage: the release is retried, not left to expire', async () => {
    // One release was tried, and its failure reported: the lease stayed this process's until it
    // expired (a worker retries its releases), and the run was never given back, only left.
    const { direct, proxy, rival, run, lands, counts, errors, owner } = await haltedByOutage('landed-away');
    lands.resolve();
    await waitFor('a release to fail', () => errors.some((entry) => entry.context.operation === 'release'));
    await proxy.up();
    await waitFor('the lease to be given back', async () => (await direct.leaseOf(run.runId)) === undefined, 10_000);
    const [recovered] = await rival.recover();
    expect((await recovered?.outcome)?.status).toBe('completed');
    expect({ charges: counts.charges, owner }).toEqual({ charges: 2, owner: 'halting-landed-away' });
  });

  it('keeps the lease of a run halted by the outage while a timed-out charge that ignores its signal lingers, until it lands: nobody charges beside it', async () => {
    const { direct, proxy, store } = await storesThroughProxy();
    const charging = deferred();
    const lands = deferred();
    const counts = { charges: 0, running: 0, most: 0 };
    // The charge times out after 4 s and is retried only after a minute; its first call ignores its
    // signal and goes on until it lands. It lingers for at most one more timeout (see lingering-calls.test.ts).
    const saga = defineSaga({ name: 'halted-outage-lingering', input: z.object({ order: z.string() }) })
      .stage('charge', {
        timeoutMs: 4_000,
        retry: { maxAttempts: 2, initialDelayMs: 60_000, jitter: false },
        execute: async ({ attempt }) => {
          counts.charges++;
          counts.running++;
          counts.most = Math.max(counts.most, counts.running);
          if (attempt === 1) {
            charging.resolve();
            await lands.promise;
          }
          counts.running--;
          return 'charged';
        },
      })
      .build();
    const owner = createOrchestrator({ store, sagas: [saga], leaseMs: LEASE_MS, ownerId: 'halting-lingering', onError: () => undefined });
    cleanup.push(() => owner.close({ timeoutMs: 1_000 }));
    const rival = createOrchestrator({ store: direct, sagas: [saga], leaseMs: LEASE_MS, ownerId: 'rival-lingering', onError: () => undefined });
    cleanup.push(() => rival.close({ timeoutMs: 1_000 }));

    const run = owner.start(saga, { order: 'o-1' });
    await charging.promise;
    // The server goes away with the charge in flight; at its timeout the retry cannot be written: the run halts here.
    await proxy.down();
    await expect(run.outcome).rejects.toBeInstanceOf(StoreUnavailableError);
    await proxy.up();
    // The call still lingers: the lease stays the halted owner's, beaten, and the rival passes the run over.
    await waitFor('the halted owner to beat its lease again', async () => (await direct.leaseOf(run.runId))?.live === true, LEASE_MS);
    expect(await direct.leaseOf(run.runId)).toMatchObject({ owner: 'halting-lingering', live: true });
    const during = await rival.recover();
    expect(during.map((recovered) => recovered.runId)).toEqual([]);
    expect(during.skipped.map((skipped) => [skipped.runId, skipped.reason])).toContainEqual([run.runId, 'owned']);

    lands.resolve();
    await waitFor('the lease to be given back', async () => (await direct.leaseOf(run.runId)) === undefined, LEASE_MS);
    const [recovered] = await rival.recover();
    expect((await recovered?.outcome)?.status).toBe('completed');
    expect(counts).toMatchObject({ charges: 2, most: 1 });
  });
});
