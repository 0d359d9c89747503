// One trace per run across processes: a run resumed by a new process after a SIGKILL, and a run
// submitted here and driven by a PostgreSQL worker in another process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createOrchestrator } from 'sagaflow';
import { openTelemetry } from 'sagaflow/otel';
import { PostgresStore } from 'sagaflow/postgres';
import { runChild, type ChildResult } from '../durable/child-process.js';
import { dropSchemas, postgresForTests, uniqueSchema } from '../support/postgres.js';
import type { OtelChildConfig, OtelChildMessage } from './otel-child.js';
import { booking } from './sagas.js';
import { childrenOf, count, only, testTelemetry, useAsyncContext, type SpanRecord } from './support.js';

// Fails the run in CI when PostgreSQL is unreachable; elsewhere skips its tests with a loud warning.
const url = await postgresForTests();
const childFile = fileURLToPath(new URL('./otel-child.ts', import.meta.url));
const child = (config: OtelChildConfig): Promise<ChildResult<OtelChildMessage>> => runChild<OtelChildMessage>(childFile, config, 45_000);
const spansOf = (result: ChildResult<OtelChildMessage>): SpanRecord[] => result.messages.flatMap((message) => (message.type === 'span' ? [message.span] : []));
const label = (span: SpanRecord): string => `${span.name}${span.attributes['sagaflow.attempt.number'] === undefined ? '' : ` #${String(span.attributes['sagaflow.attempt.number'])}`}`;

let restoreContext: () => void;
beforeAll(() => {
  restoreContext = useAsyncContext();
});
afterAll(() => restoreContext());

describe('sagaflow/otel across processes', { timeout: 90_000 }, () => {
  const directories: string[] = [];
  afterEach(() => {
    for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
  });

  it('continues one trace in the process that resumes a run after a SIGKILL: a new saga.run, child of the start and linked to it', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'sagaflow-otel-'));
    directories.push(directory);
    const databasePath = join(directory, 'sagas.db');

    const killed = await child({ mode: 'start', databasePath });
    expect(killed.signal, killed.output).toBe('SIGKILL');
    const resumed = await child({ mode: 'resume', databasePath });
    expect(resumed.code, resumed.output).toBe(0);
    const outcome = resumed.messages.find((message) => message.type === 'outcome')?.outcome;
    expect(outcome?.status).toBe('completed');
    const runId = killed.messages.find((message) => message.type === 'started')?.runId;
    expect(outcome?.runId).toBe(runId);

    // What the killed process exported: everything that ended before the kill. Its saga.run and
    // the charge attempt in flight never ended.
    const first = spansOf(killed);
    expect(first.map(label).sort()).toEqual(['request', 'saga.stage reserve #1', 'saga.start crash-order']);
    const request = only(first, 'request');
    const start = only(first, 'saga.start crash-order');
    expect(start.parentSpanId).toBe(request.spanId);
    const firstRunSpanId = only(first, 'saga.stage reserve').parentSpanId;

    const second = spansOf(resumed);
    expect(second.map(label).sort()).toEqual(['saga.run crash-order', 'saga.stage charge #2', 'saga.stage ship #1']);
    // One trace id across both processes.
    expect(new Set([...first, ...second].map((span) => span.traceId))).toEqual(new Set([request.traceId]));
    const run = only(second, 'saga.run crash-order');
    expect(run.parentSpanId).toBe(start.spanId);
    expect(run.spanId).not.toBe(firstRunSpanId);
    expect(run.attributes).toMatchObject({ 'sagaflow.drive.reason': 'resume', 'sagaflow.run.id': runId, 'sagaflow.run.status': 'completed' });
    expect(run.links).toEqual([{ traceId: request.traceId, spanId: start.spanId, attributes: { 'sagaflow.link': 'run.started' } }]);
    expect(run.events.map((event) => event.name)).toEqual(['sagaflow.run.resumed']);
    // The stage that was in flight runs again as attempt 2, under the new drive.
    expect(childrenOf(second, run).map(label)).toEqual(['saga.stage charge #2', 'saga.stage ship #1']);
  });

  describe.skipIf(url === undefined)('a run submitted to a PostgreSQL worker in another process', () => {
    const schema = uniqueSchema('otel');
    afterAll(async () => {
      if (url !== undefined) await dropSchemas(url, schema);
    });

    it('is traced by the worker under the submit span (a producer), as a consumer linked to it, with the worker\u2019s metrics', async () => {
      if (url === undefined) return;
      const telemetry = testTelemetry();
      const store = new PostgresStore({ connectionString: url, schema, maxConnections: 2 });
      try {
        const orchestrator = createOrchestrator({ store, instrumentation: openTelemetry({ tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider }) });
        const tracer = telemetry.tracerProvider.getTracer('test-app');
        const runId = await tracer.startActiveSpan('request', async (span) => {
          try {
            return await orchestrator.submit(booking, { trip: 'lisbon' });
          } finally {
            span.end();
          }
        });
        expect(count(await telemetry.metrics(), 'sagaflow.runs.submitted', { 'sagaflow.saga.name': 'otel-booking' })).toBe(1);

        const worker = await child({ mode: 'worker', url, schema, runId });
        expect(worker.code, worker.output).toBe(0);
        expect(worker.messages.find((message) => message.type === 'outcome')?.outcome.status).toBe('compensated');

        const here = telemetry.spans();
        const request = only(here, 'request');
        const submit = only(here, 'saga.submit otel-booking');
        expect(submit.parentSpanId).toBe(request.spanId);
        expect(submit.kind).toBe(SpanKind.PRODUCER);
        expect(submit.attributes).toEqual({ 'sagaflow.saga.name': 'otel-booking', 'sagaflow.saga.version': '1', 'sagaflow.run.id': runId });

        const there = spansOf(worker);
        expect(new Set(there.map((span) => span.traceId))).toEqual(new Set([request.traceId]));
        const run = only(there, 'saga.run otel-booking');
        expect(run.kind).toBe(SpanKind.CONSUMER);
        expect(run.parentSpanId).toBe(submit.spanId);
        expect(run.links).toEqual([{ traceId: request.traceId, spanId: submit.spanId, attributes: { 'sagaflow.link': 'run.started' } }]);
        expect(run.attributes).toMatchObject({ 'sagaflow.drive.reason': 'claim', 'sagaflow.run.status': 'compensated' });
        expect(run.status).toEqual({ code: SpanStatusCode.ERROR, message: "stage 'pay' failed: the card was refused" });
        expect(childrenOf(there, run).map(label)).toEqual(['saga.stage book #1', 'saga.stage pay #1', 'saga.rollback otel-booking']);
        const pay = only(there, 'saga.stage pay');
        expect(pay.attributes).toMatchObject({ 'sagaflow.attempt.outcome': 'failed', 'error.type': 'NON_RETRYABLE' });
        expect(pay.events[0]?.attributes).toMatchObject({ 'exception.type': 'NonRetryableError', 'exception.message': 'the card was refused' });
        expect(childrenOf(there, only(there, 'saga.rollback otel-booking')).map(label)).toEqual(['saga.compensate book #1']);

        const metrics = worker.messages.find((message) => message.type === 'metrics')?.metrics ?? {};
        expect(count(metrics, 'sagaflow.worker.claims', { 'sagaflow.saga.name': 'otel-booking', 'sagaflow.claim.resumed': false })).toBe(1);
        expect(count(metrics, 'sagaflow.runs.started', { 'sagaflow.saga.name': 'otel-booking' })).toBe(1);
        expect(count(metrics, 'sagaflow.runs.ended', { 'sagaflow.run.status': 'compensated' })).toBe(1);
        expect(count(metrics, 'sagaflow.worker.errors')).toBe(0);
        await orchestrator.close();
      } finally {
        await store.close();
        await telemetry.shutdown();
      }
    });
  });
});
