// The worker's generic hook (Instrumentation.worker) and what sagaflow/otel counts from it.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, createWorker, defineSaga, type Instrumentation, type WorkerActivity } from 'sagaflow';
import { openTelemetry } from 'sagaflow/otel';
import { PostgresStore } from 'sagaflow/postgres';
import { deferred } from '../support/deferred.js';
import { dropSchemas, postgresForTests, uniqueSchema } from '../support/postgres.js';
import { waitFor, waitForSettled } from '../worker/support.js';
import { booking } from './sagas.js';
import { count, testTelemetry, type TestTelemetry } from './support.js';

const url = await postgresForTests();
const schema = uniqueSchema('otel_park');
afterAll(async () => {
  if (url !== undefined) await dropSchemas(url, schema);
});

let telemetry: TestTelemetry | undefined;
afterEach(async () => {
  await telemetry?.shutdown();
  telemetry = undefined;
});

describe('Instrumentation.worker', () => {
  it('hears of every failed store call of a worker that cannot reach its database, and sagaflow/otel counts them by operation', async () => {
    telemetry = testTelemetry();
    const otel = openTelemetry({ tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider });
    const seen: WorkerActivity[] = [];
    const claimFailed = deferred();
    // The hooks are plain functions: spreading keeps them.
    const instrumentation: Instrumentation = {
      ...otel,
      worker: (activity) => {
        seen.push(activity);
        otel.worker?.(activity);
        if (activity.type === 'error' && activity.operation === 'claim') claimFailed.resolve();
      },
    };
    // Nothing listens on port 1: every connection is refused at once.
    const store = new PostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMs: 1_000 });
    const worker = createWorker({ store, sagas: [booking], instrumentation, workerId: 'cut-off', retry: { initialDelayMs: 5, maxDelayMs: 20 }, onError: () => undefined });
    try {
      await worker.start();
      await claimFailed.promise;
    } finally {
      await worker.stop();
      await store.close();
    }
    const listen = seen.find((activity) => activity.type === 'error' && activity.operation === 'listen');
    expect(listen).toMatchObject({ type: 'error', workerId: 'cut-off', operation: 'listen', retryCount: 1, error: expect.any(Error) as unknown });
    expect(seen.every((activity) => activity.type === 'error')).toBe(true);
    const metrics = await telemetry.metrics();
    expect(count(metrics, 'sagaflow.worker.errors', { 'sagaflow.worker.operation': 'claim' })).toBeGreaterThanOrEqual(1);
    expect(count(metrics, 'sagaflow.worker.errors', { 'sagaflow.worker.operation': 'listen' })).toBeGreaterThanOrEqual(1);
    expect(count(metrics, 'sagaflow.worker.claims')).toBe(0);
  });

  it('sagaflow/otel counts claims, lost leases and hand-backs', async () => {
    telemetry = testTelemetry();
    const { worker } = openTelemetry({ meterProvider: telemetry.meterProvider });
    worker?.({ type: 'claimed', workerId: 'w', runId: 'r1', saga: 'otel-booking', resumed: false });
    worker?.({ type: 'claimed', workerId: 'w', runId: 'r2', saga: 'otel-booking', resumed: true });
    worker?.({ type: 'lease_lost', workerId: 'w', runId: 'r2' });
    worker?.({ type: 'released', workerId: 'w', runId: 'r1' });
    const metrics = await telemetry.metrics();
    expect(count(metrics, 'sagaflow.worker.claims', { 'sagaflow.claim.resumed': false })).toBe(1);
    expect(count(metrics, 'sagaflow.worker.claims', { 'sagaflow.claim.resumed': true })).toBe(1);
    expect(count(metrics, 'sagaflow.worker.leases.lost')).toBe(1);
    expect(count(metrics, 'sagaflow.worker.releases')).toBe(1);
  });

  it.runIf(url !== undefined)('a parked run: the drive ends parked (no error, its due time), the worker counts the park, and the drive that claims it again links to it', async () => {
    telemetry = testTelemetry();
    const instrumentation = openTelemetry({ tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider });
    const approval = defineSaga({ name: 'otel-park', input: z.object({}) })
      .waitForSignal('approve', { signal: 'approved', schema: z.object({}), timeoutMs: 600_000 })
      .build();
    const store = new PostgresStore({ connectionString: url ?? '', schema, maxConnections: 3 });
    const orchestrator = createOrchestrator({ store, sagas: [approval], instrumentation });
    const worker = createWorker({ store, sagas: [approval], instrumentation, pollIntervalMs: 100 });
    try {
      await worker.start();
      const runId = await orchestrator.submit(approval, {});
      await waitFor('the run is parked', async () => count((await telemetry?.metrics()) ?? {}, 'sagaflow.worker.parks') === 1);
      await orchestrator.signal(runId, 'approved', {});
      await waitForSettled(store, [runId]);
    } finally {
      await worker.stop({ timeoutMs: 1_000 });
      await orchestrator.close();
      await store.close();
    }
    const drives = telemetry.spans().filter((span) => span.name === 'saga.run otel-park');
    const parked = drives.find((span) => span.attributes['sagaflow.drive.parked'] === true);
    expect(parked?.status.code).toBe(0);
    expect(Date.parse(String(parked?.attributes['sagaflow.drive.wake_at'])) - Date.now()).toBeGreaterThan(500_000);
    const woken = drives.find((span) => span !== parked && span.traceId === parked?.traceId && span.attributes['sagaflow.drive.parked'] === undefined);
    expect(woken?.links.map((link) => link.spanId)).toContain(parked?.spanId);
    expect(count(await telemetry.metrics(), 'sagaflow.worker.parks')).toBe(1);
  });
});
