/**
 * CLI processes stopped (SIGTERM) while their PostgreSQL store does not answer: a database host
 * gone silent, a network partition (a TCP proxy that stops moving bytes stands in for it; the real
 * server is shared with other tests). The process must still leave, with the run resumable.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { filter, firstValueFrom } from 'rxjs';
import { createOrchestrator, createWorker, type WorkerActivity } from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { dropSchemas, postgresForTests, uniqueSchema } from '../support/postgres.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { tmpdir } from 'node:os';
import { fixture, sagaflow } from './support/cli-process.js';
import { slow } from './fixtures/slow.mjs';

const postgresUrl = await postgresForTests();
const schema = uniqueSchema('cli_outage');

afterAll(async () => {
  if (postgresUrl !== undefined) await dropSchemas(postgresUrl, schema);
});

/** A store URL that reaches the test server through `proxy`. */
function throughProxy(proxy: TcpProxy): string {
  const url = new URL(postgresUrl ?? '');
  url.port = String(proxy.listenPort);
  url.searchParams.set('schema', schema);
  return url.href;
}

describe.skipIf(postgresUrl === undefined)('SIGTERM while the store does not answer (PostgreSQL)', () => {
  it('sagaflow start leaves (exit 143) instead of waiting forever to give its lease back; the run stays as it was, resumable once the lease expires', async () => {
    const proxy = new TcpProxy(new URL(postgresUrl ?? '').hostname, Number(new URL(postgresUrl ?? '').port || 5432));
    await proxy.up();
    const runId = 'left-in-outage';
    let output = '';
    let signalled = false;
    try {
      const result = await sagaflow(['start', 'slow', '--sagas', fixture('slow.mjs'), '--store', throughProxy(proxy), '--run-id', runId], {
        cwd: tmpdir(),
        onStdout: (chunk, child) => {
          output += chunk;
          if (!signalled && /hold +▸ running/.test(output)) {
            signalled = true;
            proxy.blackhole();
            child.kill('SIGTERM');
          }
        },
      });
      expect(result.code, result.stderr).toBe(143);
      expect(result.stderr).toContain(`SIGTERM: stopping; run ${runId} is left as it is`);
      expect(result.stderr).toContain(`the store did not answer within 5 s: run ${runId} keeps its lease until it expires, then 'npx sagaflow resume ${runId} --sagas <module>' continues it`);
    } finally {
      await proxy.down();
    }
    const store = new PostgresStore({ connectionString: postgresUrl ?? '', schema });
    try {
      // Nothing undone, nothing lost: the journal ends inside 'hold', as a crash would leave it.
      const journal = (await store.load(runId)) ?? [];
      expect(journal.map((event) => event.type)).toEqual(['run.started', 'stage.started', 'stage.completed', 'stage.started']);
      expect(journal.at(-1)).toMatchObject({ type: 'stage.started', stage: 'hold' });
      // The lease it could not give back runs out on its own, and then anyone may resume the run.
      const lease = await store.leaseOf(runId);
      expect(lease?.live).toBe(true);
      expect(lease?.remainingMs).toBeLessThanOrEqual(30_000);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('sagaflow worker leaves once its runs had their time to settle, instead of waiting forever to give their leases back; another worker takes them over once the leases expire', async () => {
    const target = new URL(postgresUrl ?? '');
    const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    await proxy.up();
    const store = new PostgresStore({ connectionString: postgresUrl ?? '', schema });
    const orchestrator = createOrchestrator({ store, sagas: [slow] });
    try {
      const runId = await orchestrator.submit(slow, {});
      const holding = firstValueFrom(orchestrator.watch(runId).pipe(filter((event) => event.type === 'stage.started' && event.stage === 'hold')));
      let signalled = false;
      const result = await sagaflow(['worker', '--sagas', fixture('slow.mjs'), '--store', throughProxy(proxy), '--lease-ms', '3000'], {
        cwd: tmpdir(),
        onStdout: (_chunk, child) => {
          if (signalled) return;
          signalled = true;
          // Once the worker drives the run: the database goes silent, then the supervisor stops the worker.
          void holding.then(() => {
            proxy.blackhole();
            child.kill('SIGTERM');
          });
        },
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain(`the store did not answer within 5 s of the stop: the leases of run ${runId} expire on their own, and other workers take the runs over then`);
      // Resumable: once the lease it could not give back expires, another worker claims the run.
      let onClaimed: () => void = () => undefined;
      const claimed = new Promise<void>((resolve) => (onClaimed = resolve));
      const onActivity = (activity: WorkerActivity): void => {
        if (activity.type === 'claimed' && activity.runId === runId) onClaimed();
      };
      const worker = createWorker({ store, sagas: [slow], pollIntervalMs: 100, instrumentation: { worker: onActivity } });
      await worker.start();
      await claimed;
      await orchestrator.cancel(runId, 'the test is done');
      await worker.stop();
      const outcome = await orchestrator.inspect(runId);
      expect(outcome.status).toBe('cancelled');
      expect(outcome.compensationOrder).toEqual(['book']);
    } finally {
      await orchestrator.close();
      await store.close();
      await proxy.down();
    }
  }, 90_000);
});
