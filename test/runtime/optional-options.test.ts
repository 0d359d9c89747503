import { createOrchestrator, createWorker, defineSaga, MemoryStore } from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { SqliteStore } from 'sagaflow/sqlite';
import { createSagaTest, delayStage, failCompensation, failStage } from 'sagaflow/testing';
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

  it('take their defaults in a saga, its stages, their policies and waits', () => {
    const given = defineSaga({ name: 'given', input: z.object({}), version: undefined, redactError: undefined, concurrency: undefined, onFailure: undefined, onCancel: undefined, compensation: undefined })
      .stage('a', { execute: async () => 1, compensate: undefined, output: undefined, retry: { maxAttempts: undefined, initialDelayMs: undefined, backoffFactor: undefined, maxDelayMs: undefined, jitter: undefined, retryable: undefined }, timeoutMs: undefined, compensation: { retry: undefined, timeoutMs: undefined }, compensateOnFailure: undefined })
      .waitForSignal('w', { signal: 'go', schema: z.object({}), timeoutMs: undefined, onTimeout: undefined })
      .sleep('s', { durationMs: 1, until: undefined })
      .stage('b', { after: undefined, execute: async () => 2 })
      .build();
    const omitted = defineSaga({ name: 'given', input: z.object({}) })
      .stage('a', { execute: async () => 1, retry: {}, compensation: {} })
      .waitForSignal('w', { signal: 'go', schema: z.object({}) })
      .sleep('s', { durationMs: 1 })
      .stage('b', { execute: async () => 2 })
      .build();
    expect(given.stages.map((stage) => stage.after)).toEqual([[], ['a'], ['w'], ['s']]);
    expect(given.policies).toEqual(omitted.policies);
    expect(given.version).toBe('1');
    expect(given.shapeHash).toBe(omitted.shapeHash);
    // What .build() resolved, functions and schemas aside (each definition has its own).
    const resolved = (stage: (typeof given.stages)[number]) => JSON.parse(JSON.stringify({ ...stage, wait: stage.wait === undefined ? undefined : { ...stage.wait, schema: undefined } })) as unknown;
    expect(given.stages.map(resolved)).toEqual(omitted.stages.map(resolved));
    expect(given.stages.map((stage) => stage.compensate)).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('take their defaults in the stores and the test kit', async () => {
    const postgres = new PostgresStore({ connectionString: 'postgres://127.0.0.1:1/none', pool: undefined, schema: undefined, maxConnections: undefined, connectionTimeoutMs: undefined, applicationName: undefined, listenerPingMs: undefined, lockTimeoutMs: undefined, statementTimeoutMs: undefined });
    expect(postgres.schema).toBe('sagaflow');
    await postgres.close();
    const sqlite = new SqliteStore({ path: ':memory:', durability: undefined, busyTimeoutMs: undefined, createDirectory: undefined });
    expect(await sqlite.readSettings()).toEqual(await new SqliteStore({ path: ':memory:' }).readSettings());
    await sqlite.close();
    const memory = new MemoryStore({ maxSettledRuns: undefined, now: undefined });
    expect(await memory.listRuns()).toEqual([]);

    expect(failStage('a', { times: undefined, error: undefined })).toMatchObject({ times: Infinity, error: expect.any(Function) });
    expect(failCompensation('a', { times: undefined, error: undefined })).toMatchObject({ times: Infinity, error: expect.any(Function) });
    expect(delayStage('a', 5, { times: undefined })).toEqual({ kind: 'delay-stage', stage: 'a', times: Infinity, delayMs: 5 });
    const kit = createSagaTest({ sagas: undefined, store: undefined, clock: undefined, faults: undefined, random: undefined });
    const result = await kit.run(saga, {}, { signals: undefined });
    expect(result.outcome.status).toBe('completed');
    await kit.close();
  });
});
