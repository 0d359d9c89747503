import { createOrchestrator, createWorker, defineSaga } from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

// Options passed as `undefined` (as users with exactOptionalPropertyTypes write them) are absent:
// every default applies. See optional-options.test-d.ts for the types.
const saga = defineSaga({ name: 'options', input: z.object({}) })
  .stage('a', { execute: async () => 1 })
  .build();

describe('options given as undefined', () => {
  it('take their defaults in the orchestrator, start and close', async () => {
    const orchestrator = createOrchestrator({
      store: undefined,
      sagas: undefined,
      scheduler: undefined,
      random: undefined,
      leaseMs: undefined,
      ownerId: undefined,
      instrumentation: undefined,
      onError: undefined,
    });
    const run = orchestrator.start(saga, {}, { runId: undefined, signal: undefined });
    expect(run.runId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
    expect(await run.outcome).toMatchObject({ status: 'completed', outputs: { a: 1 } });
    expect((await orchestrator.inspect(run.runId)).status).toBe('completed');
    await orchestrator.close({ timeoutMs: undefined });
  });

  it('take their defaults in a worker', async () => {
    const store = new PostgresStore({ connectionString: 'postgres://127.0.0.1:1/none' });
    const worker = createWorker({
      store,
      sagas: [saga],
      concurrency: undefined,
      leaseMs: undefined,
      pollIntervalMs: undefined,
      workerId: undefined,
      retry: { initialDelayMs: undefined, maxDelayMs: undefined },
      scheduler: undefined,
      instrumentation: undefined,
      onError: undefined,
    });
    expect(worker.id).toMatch(/^.+:\d+:[0-9a-f]{6}$/);
    await worker.stop({ timeoutMs: undefined });
    await store.close();
  });
});
