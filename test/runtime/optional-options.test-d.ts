import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  createOrchestrator,
  createWorker,
  defineSaga,
  MemoryStore,
  type CloseOptions,
  type CompensationPolicy,
  type ContinueOptions,
  type ListRunsQuery,
  type PruneOptions,
  type RetryPolicy,
  type SagaPolicies,
  type OrchestratorOptions,
  type SagaStore,
  type SignalOptions,
  type StartOptions,
  type WatchOptions,
  type WorkerOptions,
  type WorkerRetryOptions,
  type WorkerStopOptions,
} from 'sagaflow';
import { PostgresStore, type PostgresStoreSettings } from 'sagaflow/postgres';
import { SqliteStore, type SqliteStoreOptions } from 'sagaflow/sqlite';
import { createSagaTest, createVirtualClock, delayStage, failCompensation, failStage } from 'sagaflow/testing';
import { openTelemetry } from 'sagaflow/otel';
import { createInspector } from 'sagaflow/inspector';

// Users with `exactOptionalPropertyTypes` write `{ store: durable ? store : undefined }`: every
// optional property of the options the public API takes must accept `undefined` explicitly.
// This file is checked by tsconfig.json (`npm run typecheck`, and vitest's typecheck), which sets
// `exactOptionalPropertyTypes: true`; the first test fails to compile if that ever stops.

const saga = defineSaga({ name: 'options', input: z.object({}) })
  .stage('a', { execute: async () => 1 })
  .build();
declare const durable: boolean;
declare const maybeStore: SagaStore | undefined;
declare const maybeString: string | undefined;
declare const maybeNumber: number | undefined;
declare const maybeSignal: AbortSignal | undefined;

describe('optional options under exactOptionalPropertyTypes', () => {
  it('is checked with exactOptionalPropertyTypes on', () => {
    // @ts-expect-error only an error with exactOptionalPropertyTypes: an optional property without `| undefined`
    const strict: { readonly a?: string } = { a: maybeString };
    void strict;
  });

  it('accepts undefined for every optional orchestrator, start, continue, close, watch and signal option', async () => {
    const orchestrator = createOrchestrator({
      store: durable ? new MemoryStore() : undefined,
      sagas: undefined,
      scheduler: undefined,
      random: undefined,
      leaseMs: maybeNumber,
      ownerId: maybeString,
      instrumentation: undefined,
      onError: undefined,
    });
    createOrchestrator({ store: maybeStore });
    orchestrator.start(saga, {}, { runId: maybeString, signal: maybeSignal });
    await orchestrator.submit(saga, {}, { runId: maybeString });
    orchestrator.resume('run-1', { saga: durable ? saga : undefined });
    orchestrator.redrive('run-1', { saga: undefined });
    orchestrator.compensate('run-1', { saga: undefined });
    orchestrator.watch('run-1', { pollIntervalMs: maybeNumber });
    await orchestrator.signal('run-1', 'approved', {}, { signalId: maybeString });
    await orchestrator.close({ timeoutMs: maybeNumber });
    expectTypeOf<{ readonly store: undefined }>().toExtend<OrchestratorOptions>();
    expectTypeOf<{ readonly runId: undefined; readonly signal: undefined }>().toExtend<StartOptions>();
    expectTypeOf<{ readonly saga: undefined }>().toExtend<ContinueOptions>();
    expectTypeOf<{ readonly timeoutMs: undefined }>().toExtend<CloseOptions>();
    expectTypeOf<{ readonly pollIntervalMs: undefined }>().toExtend<WatchOptions>();
    expectTypeOf<{ readonly signalId: undefined }>().toExtend<SignalOptions>();
  });

  it('accepts undefined for every optional worker option', async () => {
    const worker = createWorker({
      store: new PostgresStore({ connectionString: 'postgres://127.0.0.1:1/none' }),
      sagas: [saga],
      concurrency: maybeNumber,
      leaseMs: undefined,
      pollIntervalMs: undefined,
      workerId: maybeString,
      retry: durable ? { initialDelayMs: maybeNumber, maxDelayMs: undefined } : undefined,
      scheduler: undefined,
      instrumentation: undefined,
      onError: undefined,
    });
    await worker.stop({ timeoutMs: maybeNumber });
    expectTypeOf<{ readonly concurrency: undefined; readonly retry: undefined }>().toExtend<Pick<WorkerOptions, 'concurrency' | 'retry'>>();
    expectTypeOf<{ readonly initialDelayMs: undefined; readonly maxDelayMs: undefined }>().toExtend<WorkerRetryOptions>();
    expectTypeOf<{ readonly timeoutMs: undefined }>().toExtend<WorkerStopOptions>();
  });

  it('accepts undefined for every optional saga, stage, policy and wait field', () => {
    const policies: SagaPolicies = { concurrency: maybeNumber, onFailure: undefined, onCancel: undefined, compensation: undefined };
    const retry: RetryPolicy = { maxAttempts: maybeNumber, initialDelayMs: undefined, backoffFactor: undefined, maxDelayMs: undefined, jitter: undefined, retryable: undefined };
    const compensation: CompensationPolicy = { retry: durable ? retry : undefined, timeoutMs: maybeNumber };
    defineSaga({ name: 'all-undefined', input: z.object({}), version: maybeString, redactError: undefined, ...policies })
      .stage('a', { execute: async () => 1, compensate: undefined, output: undefined, retry: undefined, timeoutMs: maybeNumber, compensation, compensateOnFailure: undefined })
      .waitForSignal('w', { signal: 'go', schema: z.object({}), timeoutMs: maybeNumber, onTimeout: undefined })
      .sleep('s', { durationMs: 1, until: undefined })
      .build();
  });

  it('accepts undefined for every optional store setting and store query', async () => {
    const settings: PostgresStoreSettings = {
      schema: maybeString,
      maxConnections: maybeNumber,
      connectionTimeoutMs: undefined,
      applicationName: undefined,
      listenerPingMs: undefined,
      lockTimeoutMs: undefined,
      statementTimeoutMs: undefined,
    };
    const postgres = new PostgresStore({ connectionString: 'postgres://127.0.0.1:1/none', pool: undefined, ...settings });
    const sqliteOptions: SqliteStoreOptions = { path: ':memory:', durability: undefined, busyTimeoutMs: maybeNumber, createDirectory: undefined };
    const sqlite = new SqliteStore(sqliteOptions);
    const memory = new MemoryStore({ maxSettledRuns: maybeNumber, now: undefined });
    const query: ListRunsQuery = { status: undefined, saga: maybeString, limit: maybeNumber, afterRunId: maybeString, runIdPrefix: undefined, order: undefined };
    const prune: PruneOptions = { olderThan: 0, statuses: undefined, limit: maybeNumber };
    await memory.listRuns(query);
    await memory.countRuns({ saga: maybeString });
    await memory.prune(prune);
    await sqlite.close();
    await postgres.close();
  });

  it('accepts undefined for every optional option of the test kit, OpenTelemetry and the inspector', async () => {
    const clock = createVirtualClock({ now: maybeNumber, autoAdvance: undefined, idleTurns: undefined });
    const kit = createSagaTest({ sagas: undefined, store: undefined, clock: durable ? clock : undefined, faults: [failStage('a', { times: maybeNumber, error: undefined }), delayStage('a', 1, { times: undefined }), failCompensation('a', { times: undefined, error: undefined })], random: undefined });
    void kit;
    openTelemetry({ tracerProvider: undefined, meterProvider: undefined, propagator: undefined, attributes: undefined });
    const inspector = createInspector({ store: new MemoryStore(), sagas: undefined, readOnly: undefined, token: maybeString, allowedHosts: undefined, onError: undefined });
    await inspector.close({ timeoutMs: maybeNumber });
  });
});

describe('after given as undefined', () => {
  it('is a chain, as when left out: the stage reads the previous stage\'s result', () => {
    defineSaga({ name: 'chained', input: z.object({}) })
      .stage('a', { execute: async () => ({ id: 'a' }) })
      .stage('b', {
        after: undefined,
        execute: async ({ results }) => {
          expectTypeOf(results.a).toEqualTypeOf<{ readonly id: string }>();
          return results.a.id;
        },
      })
      .build();
  });
});
