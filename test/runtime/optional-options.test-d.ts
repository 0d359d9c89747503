import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  createOrchestrator,
  createWorker,
  defineSaga,
  MemoryStore,
  type CloseOptions,
  type ContinueOptions,
  type OrchestratorOptions,
  type SagaStore,
  type SignalOptions,
  type StartOptions,
  type WatchOptions,
  type WorkerOptions,
  type WorkerRetryOptions,
  type WorkerStopOptions,
} from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';

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
});
