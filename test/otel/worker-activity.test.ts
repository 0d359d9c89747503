// The worker's generic hook (Instrumentation.worker) and what sagaflow/otel counts from it.
import { afterEach, describe, expect, it } from 'vitest';
import { createWorker, type Instrumentation, type WorkerActivity } from 'sagaflow';
import { openTelemetry } from 'sagaflow/otel';
import { PostgresStore } from 'sagaflow/postgres';
import { deferred } from '../support/deferred.js';
import { booking } from './sagas.js';
import { count, testTelemetry, type TestTelemetry } from './support.js';

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
});
