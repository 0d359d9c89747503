import { diag, DiagLogLevel, SpanKind, SpanStatusCode, trace, TraceFlags, type TextMapPropagator } from '@opentelemetry/api';
import { AlwaysOffSampler, BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, type Instrumentation, type OrchestratorErrorContext, type RunStartedEvent } from 'sagaflow';
import { openTelemetry } from 'sagaflow/otel';
import { deferred } from '../support/deferred.js';
import { pausingSaga, refundSaga, shipment } from './sagas.js';
import { childrenOf, count, only, testTelemetry, useAsyncContext, type SpanRecord, type TestTelemetry } from './support.js';

let restoreContext: () => void;
let telemetry: TestTelemetry;

beforeAll(() => {
  restoreContext = useAsyncContext();
});
afterAll(() => restoreContext());

beforeEach(() => {
  telemetry = testTelemetry();
  // The global provider is the default of openTelemetry(), and what the stages' own "client" uses.
  trace.setGlobalTracerProvider(telemetry.tracerProvider);
});
afterEach(async () => {
  trace.disable();
  await telemetry.shutdown();
});

// OpenTelemetry JS anchors each span's clock on Date.now() (whole milliseconds): spans of one
// process may disagree by up to a millisecond, so time comparisons between spans allow that much.
const CLOCK_SLACK_MS = 1.5;
const within = (span: SpanRecord, parent: SpanRecord): boolean => span.startMs >= parent.startMs - CLOCK_SLACK_MS && span.endMs <= parent.endMs + CLOCK_SLACK_MS;
const before = (earlier: SpanRecord | undefined, later: SpanRecord | undefined): boolean =>
  earlier !== undefined && later !== undefined && earlier.endMs <= later.startMs + CLOCK_SLACK_MS;

/** Runs `work` inside an active `request` span, as an HTTP handler would, and ends it. */
function inRequest<T>(work: () => T): { result: T; request: () => SpanRecord } {
  const tracer = telemetry.tracerProvider.getTracer('test-app');
  const result = tracer.startActiveSpan('request', (span) => {
    try {
      return work();
    } finally {
      span.end();
    }
  });
  return { result, request: () => only(telemetry.spans(), 'request') };
}

describe('sagaflow/otel: a completed run', () => {
  it('traces start → run → one span per stage, under the caller, with sagaflow.* attributes and metrics', async () => {
    const orchestrator = createOrchestrator({ instrumentation: openTelemetry({ meterProvider: telemetry.meterProvider }) });
    const { result: run, request } = inRequest(() => orchestrator.start(shipment, { orderId: 'o-7' }));
    const outcome = await run.outcome;
    expect(outcome.status).toBe('completed');
    await orchestrator.close();

    const spans = telemetry.spans();
    const start = only(spans, 'saga.start shipment');
    const runSpan = only(spans, 'saga.run shipment');
    expect(start.parentSpanId).toBe(request().spanId);
    expect(start.kind).toBe(SpanKind.INTERNAL);
    expect(runSpan.parentSpanId).toBe(start.spanId);
    expect(new Set(spans.map((span) => span.traceId))).toEqual(new Set([request().traceId]));
    expect(runSpan.attributes).toEqual({
      'sagaflow.saga.name': 'shipment',
      'sagaflow.saga.version': '3',
      'sagaflow.run.id': run.runId,
      'sagaflow.drive.reason': 'start',
      'sagaflow.run.status': 'completed',
    });
    // The first drive is the start's own child: nothing to link.
    expect(runSpan.links).toEqual([]);
    expect(runSpan.status).toEqual({ code: SpanStatusCode.UNSET });

    const stages = childrenOf(spans, runSpan);
    expect(stages.map((span) => span.name)).toEqual(['saga.stage reserve', 'saga.stage label']);
    expect(stages[1]?.attributes).toEqual({
      'sagaflow.saga.name': 'shipment',
      'sagaflow.saga.version': '3',
      'sagaflow.run.id': run.runId,
      'sagaflow.stage.name': 'label',
      'sagaflow.attempt.phase': 'execute',
      'sagaflow.attempt.number': 1,
      // The key the stage itself saw.
      'sagaflow.idempotency_key': outcome.status === 'completed' ? outcome.outputs.label.key : 'not completed',
      'sagaflow.attempt.outcome': 'completed',
    });
    expect(stages.every((span) => span.status.code === SpanStatusCode.UNSET && within(span, runSpan))).toBe(true);

    const metrics = await telemetry.metrics();
    expect(count(metrics, 'sagaflow.runs.started', { 'sagaflow.saga.name': 'shipment' })).toBe(1);
    expect(count(metrics, 'sagaflow.runs.ended', { 'sagaflow.saga.name': 'shipment', 'sagaflow.run.status': 'completed' })).toBe(1);
    expect(count(metrics, 'sagaflow.stage.attempts', { 'sagaflow.stage.name': 'reserve', 'sagaflow.attempt.outcome': 'completed' })).toBe(1);
    expect(count(metrics, 'sagaflow.stage.attempts', { 'sagaflow.attempt.outcome': 'completed' })).toBe(2);
    expect(count(metrics, 'sagaflow.stage.duration')).toBe(2);
    expect(count(metrics, 'sagaflow.run.duration', { 'sagaflow.run.status': 'completed' })).toBe(1);
    expect(count(metrics, 'sagaflow.runs.active')).toBe(0);
    expect(metrics['sagaflow.run.duration']?.unit).toBe('s');
    expect(metrics['sagaflow.stage.duration']?.unit).toBe('s');
    expect(metrics['sagaflow.runs.started']?.unit).toBe('{run}');
  });

  it('journals the start span\u2019s W3C trace context on run.started', async () => {
    const store = new MemoryStore();
    const orchestrator = createOrchestrator({ store, instrumentation: openTelemetry({ meterProvider: telemetry.meterProvider }) });
    const { result: run } = inRequest(() => orchestrator.start(shipment, { orderId: 'o-8' }));
    await run.outcome;
    await orchestrator.close();
    const started = (await store.load(run.runId))?.[0] as RunStartedEvent;
    const start = only(telemetry.spans(), 'saga.start shipment');
    expect(started.context).toEqual({ traceparent: `00-${start.traceId}-${start.spanId}-01` });
  });

  it('makes the attempt\u2019s span the active context inside execute: a span the stage starts is its child', async () => {
    const orchestrator = createOrchestrator({ instrumentation: openTelemetry({ meterProvider: telemetry.meterProvider }) });
    await orchestrator.run(shipment, { orderId: 'o-9' });
    await orchestrator.close();
    const spans = telemetry.spans();
    const client = only(spans, 'http.client POST /reservations');
    const attempt = only(spans, 'saga.stage reserve');
    expect(client.parentSpanId).toBe(attempt.spanId);
    expect(client.traceId).toBe(attempt.traceId);
    // …and nothing of the run leaks into the caller's context afterwards.
    expect(trace.getActiveSpan()).toBeUndefined();
  });

  it('adds the attributes hook\u2019s attributes to every span, never over the sagaflow.* ones', async () => {
    const targets: string[] = [];
    const orchestrator = createOrchestrator({
      instrumentation: openTelemetry({
        meterProvider: telemetry.meterProvider,
        attributes: (target) => {
          targets.push(`${target.name}${target.stage === undefined ? '' : ` ${target.stage}#${target.attempt ?? 0}`}`);
          return { 'app.order': (target.input as { orderId: string }).orderId, 'sagaflow.run.id': 'forged' };
        },
      }),
    });
    const runId = (await orchestrator.start(shipment, { orderId: 'o-10' }).outcome).runId;
    await orchestrator.close();
    expect(targets).toEqual(['saga.start', 'saga.run', 'saga.stage reserve#1', 'saga.stage label#1']);
    for (const span of telemetry.spans().filter((span) => span.name.startsWith('saga.'))) {
      expect(span.attributes['app.order']).toBe('o-10');
      expect(span.attributes['sagaflow.run.id']).toBe(runId);
    }
  });
});

describe('sagaflow/otel: an attributes hook that misbehaves', () => {
  it('a hook that throws (an unprintable value) or returns a non-object costs its attributes only: every span, the trace and the metrics are kept, and diag says why', async () => {
    const logged: string[] = [];
    diag.setLogger({ error: (message: string) => void logged.push(message), warn: () => undefined, info: () => undefined, debug: () => undefined, verbose: () => undefined }, DiagLogLevel.ERROR);
    const unprintable = { toString: () => { throw new Error('toString threw'); } };
    let calls = 0;
    const reports: string[] = [];
    try {
      const orchestrator = createOrchestrator({
        onError: (error) => void reports.push(error.message),
        instrumentation: openTelemetry({
          meterProvider: telemetry.meterProvider,
          attributes: () => {
            calls++;
            if (calls % 2 === 0) return 'not attributes' as never;
            throw unprintable;
          },
        }),
      });
      const outcome = await orchestrator.start(shipment, { orderId: 'o-11' }).outcome;
      await orchestrator.close();
      expect(outcome.status).toBe('completed');
      const names = telemetry.spans().filter((span) => span.name.startsWith('saga.')).map((span) => span.name);
      expect(names.sort()).toEqual(['saga.run shipment', 'saga.stage label', 'saga.stage reserve', 'saga.start shipment'].sort());
      expect(new Set(telemetry.spans().filter((span) => span.name.startsWith('saga.')).map((span) => span.traceId)).size).toBe(1);
      expect(logged.some((line) => line.includes('the attributes hook threw'))).toBe(true);
      expect(logged.some((line) => line.includes('returned string, not an object'))).toBe(true);
      expect(reports).toEqual([]);
    } finally {
      diag.disable();
    }
  });
});

describe('sagaflow/otel: a compensated run with retries', () => {
  it('makes each retry its own span, the rollback a span over the compensations, and marks failures', async () => {
    const attempts = { hold: 0 };
    const saga = refundSaga(attempts);
    const orchestrator = createOrchestrator({ instrumentation: openTelemetry({ meterProvider: telemetry.meterProvider }) });
    const outcome = await orchestrator.start(saga, { cents: 100 }).outcome;
    expect(outcome.status).toBe('compensated');
    await orchestrator.close();

    const spans = telemetry.spans();
    const runSpan = only(spans, 'saga.run refund');
    expect(runSpan.status).toEqual({ code: SpanStatusCode.ERROR, message: "stage 'charge' failed: card declined" });
    expect(runSpan.attributes['sagaflow.run.status']).toBe('compensated');

    const children = childrenOf(spans, runSpan);
    expect(children.map((span) => `${span.name} #${String(span.attributes['sagaflow.attempt.number'] ?? '-')} ${String(span.attributes['sagaflow.attempt.outcome'] ?? '')}`)).toEqual([
      'saga.stage debit #1 completed',
      'saga.stage hold #1 completed',
      'saga.stage charge #1 retrying',
      'saga.stage charge #2 retrying',
      'saga.stage charge #3 failed',
      'saga.rollback refund #- ',
    ]);
    const [first, , last] = children.filter((span) => span.name === 'saga.stage charge');
    expect(first?.attributes['sagaflow.retry.delay_ms']).toBe(1);
    expect(last?.attributes['sagaflow.retry.delay_ms']).toBeUndefined();
    for (const failed of children.filter((span) => span.name === 'saga.stage charge')) {
      expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'Error: card declined' });
      expect(failed.attributes['error.type']).toBe('CARD_DECLINED');
      expect(failed.attributes['sagaflow.error.code']).toBe('CARD_DECLINED');
      expect(failed.events).toEqual([
        {
          name: 'exception',
          attributes: { 'exception.type': 'Error', 'exception.message': 'card declined', 'exception.stacktrace': expect.stringContaining('card declined') as unknown },
        },
      ]);
    }
    // Each attempt's span is its own: attempts follow each other in time.
    expect(before(first, last)).toBe(true);

    const rollback = only(spans, 'saga.rollback refund');
    expect(rollback.attributes).toMatchObject({ 'sagaflow.rollback.cause': 'failed', 'sagaflow.failure.stage': 'charge', 'sagaflow.run.id': outcome.runId });
    expect(rollback.status.code).toBe(SpanStatusCode.UNSET);
    const compensations = childrenOf(spans, rollback);
    expect(compensations.map((span) => `${span.name} #${String(span.attributes['sagaflow.attempt.number'])} ${String(span.attributes['sagaflow.attempt.outcome'])}`)).toEqual([
      'saga.compensate hold #1 retrying',
      'saga.compensate hold #2 completed',
      'saga.compensate debit #1 completed',
    ]);
    expect(compensations[0]?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'Error: the ledger is busy' });
    expect(compensations[0]?.attributes['sagaflow.attempt.phase']).toBe('compensate');
    // The rollback begins after the last execute attempt, and ends with the run.
    expect(before(last, rollback)).toBe(true);
    expect(compensations.every((span) => within(span, rollback))).toBe(true);

    const metrics = await telemetry.metrics();
    expect(count(metrics, 'sagaflow.stage.attempts', { 'sagaflow.stage.name': 'charge', 'sagaflow.attempt.outcome': 'retrying' })).toBe(2);
    expect(count(metrics, 'sagaflow.stage.attempts', { 'sagaflow.stage.name': 'charge', 'sagaflow.attempt.outcome': 'failed' })).toBe(1);
    expect(count(metrics, 'sagaflow.compensation.attempts', { 'sagaflow.stage.name': 'hold', 'sagaflow.attempt.outcome': 'retrying' })).toBe(1);
    expect(count(metrics, 'sagaflow.compensation.attempts', { 'sagaflow.attempt.outcome': 'completed' })).toBe(2);
    expect(count(metrics, 'sagaflow.compensation.duration')).toBe(3);
    expect(count(metrics, 'sagaflow.runs.ended', { 'sagaflow.run.status': 'compensated' })).toBe(1);
    expect(count(metrics, 'sagaflow.runs.active')).toBe(0);
  });
});

describe('sagaflow/otel: a paused run redriven by an operator in the same process', () => {
  it('opens a second saga.run in the same trace, linked to the start, to the paused drive and to the operator\u2019s request', async () => {
    const provider = { down: true };
    const saga = pausingSaga(provider);
    const orchestrator = createOrchestrator({ sagas: [saga], instrumentation: openTelemetry({ meterProvider: telemetry.meterProvider }) });
    const paused = await orchestrator.start(saga, { id: 'p-1' }).outcome;
    expect(paused.status).toBe('paused');
    provider.down = false;
    const { result: redriven, request } = inRequest(() => orchestrator.redrive(paused.runId));
    expect((await redriven.outcome).status).toBe('completed');
    await orchestrator.close();

    const spans = telemetry.spans();
    const start = only(spans, 'saga.start pausing');
    const [first, second] = spans.filter((span) => span.name === 'saga.run pausing').sort((a, b) => a.startMs - b.startMs);
    expect(first?.attributes).toMatchObject({ 'sagaflow.drive.reason': 'start', 'sagaflow.run.status': 'paused' });
    expect(first?.status).toEqual({ code: SpanStatusCode.ERROR, message: "stage 'confirm' failed: the provider is down" });
    expect(first?.events.map((event) => event.name)).toEqual(['sagaflow.run.paused']);
    expect(second?.attributes).toMatchObject({ 'sagaflow.drive.reason': 'redrive', 'sagaflow.run.status': 'completed' });
    // Same trace as the start, not the operator's request's: the request is a link.
    expect(second?.traceId).toBe(start.traceId);
    expect(second?.parentSpanId).toBe(start.spanId);
    expect(second?.links).toEqual([
      { traceId: start.traceId, spanId: start.spanId, attributes: { 'sagaflow.link': 'run.started' } },
      { traceId: start.traceId, spanId: first?.spanId, attributes: { 'sagaflow.link': 'previous_drive' } },
      { traceId: request().traceId, spanId: request().spanId, attributes: { 'sagaflow.link': 'caller' } },
    ]);
    expect(childrenOf(spans, second as SpanRecord).map((span) => `${span.name} #${String(span.attributes['sagaflow.attempt.number'])}`)).toEqual(['saga.stage confirm #2']);

    const metrics = await telemetry.metrics();
    expect(count(metrics, 'sagaflow.runs.started')).toBe(1);
    expect(count(metrics, 'sagaflow.runs.ended', { 'sagaflow.run.status': 'paused' })).toBe(1);
    expect(count(metrics, 'sagaflow.runs.ended', { 'sagaflow.run.status': 'completed' })).toBe(1);
  });
});

describe('sagaflow/otel: a drive that stops without settling its run', () => {
  it('ends the attempt in flight as interrupted and the run span as halted; a graceful hand-over is no error', async () => {
    const release = deferred<void>();
    const saga = defineSaga({ name: 'slow', input: z.object({}) })
      .stage('wait', { execute: () => release.promise })
      .build();
    const orchestrator = createOrchestrator({ instrumentation: openTelemetry({ meterProvider: telemetry.meterProvider }) });
    const run = orchestrator.start(saga, {});
    await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'stage.started')));
    await orchestrator.close({ timeoutMs: 1 });
    release.resolve();

    const spans = telemetry.spans();
    const runSpan = only(spans, 'saga.run slow');
    expect(runSpan.attributes['sagaflow.drive.halted']).toBe(true);
    expect(runSpan.attributes['sagaflow.run.status']).toBeUndefined();
    expect(runSpan.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(runSpan.events.map((event) => [event.name, event.attributes['exception.type']])).toEqual([['exception', 'OrchestratorClosedError']]);
    const attempt = only(spans, 'saga.stage wait');
    expect(attempt.parentSpanId).toBe(runSpan.spanId);
    expect(attempt.attributes['sagaflow.attempt.outcome']).toBe('interrupted');
    const metrics = await telemetry.metrics();
    expect(count(metrics, 'sagaflow.runs.halted', { 'sagaflow.saga.name': 'slow', 'error.type': 'ORCHESTRATOR_CLOSED' })).toBe(1);
    expect(count(metrics, 'sagaflow.stage.attempts', { 'sagaflow.attempt.outcome': 'interrupted' })).toBe(1);
    expect(count(metrics, 'sagaflow.runs.active')).toBe(0);
    expect(count(metrics, 'sagaflow.runs.ended')).toBe(0);
  });
});

describe('sagaflow/otel: zero cost and no harm', () => {
  it('journals no context and makes no span without instrumentation', async () => {
    const store = new MemoryStore();
    const orchestrator = createOrchestrator({ store });
    const { result: run } = inRequest(() => orchestrator.start(shipment, { orderId: 'o-11' }));
    await run.outcome;
    await orchestrator.close();
    expect('context' in ((await store.load(run.runId))?.[0] ?? {})).toBe(false);
    expect(telemetry.spans().filter((span) => span.name.startsWith('saga.'))).toEqual([]);
  });

  it('makes no span for a run that is not sampled, journals the decision, and still records its metrics', async () => {
    const store = new MemoryStore();
    const unsampled = new BasicTracerProvider({ sampler: new AlwaysOffSampler(), spanProcessors: [new SimpleSpanProcessor(telemetry.spanExporter)] });
    const orchestrator = createOrchestrator({ store, instrumentation: openTelemetry({ tracerProvider: unsampled, meterProvider: telemetry.meterProvider }) });
    const run = orchestrator.start(refundSaga({ hold: 1 }), { cents: 1 });
    expect((await run.outcome).status).toBe('compensated');
    await orchestrator.close();
    expect(telemetry.spans()).toEqual([]);
    // The sampling decision (flags 00) travels with the run, so every later drive makes the same one.
    expect(((await store.load(run.runId))?.[0] as RunStartedEvent).context?.['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    const metrics = await telemetry.metrics();
    expect(count(metrics, 'sagaflow.stage.attempts', { 'sagaflow.stage.name': 'charge', 'sagaflow.attempt.outcome': 'retrying' })).toBe(2);
    expect(count(metrics, 'sagaflow.compensation.attempts', { 'sagaflow.attempt.outcome': 'completed' })).toBe(2);
    expect(count(metrics, 'sagaflow.runs.ended', { 'sagaflow.run.status': 'compensated' })).toBe(1);
  });

  it('reports a carrier hook that returns anything but strings to onError, and journals nothing', async () => {
    const store = new MemoryStore();
    const problems: Array<[string, OrchestratorErrorContext]> = [];
    const instrumentation: Instrumentation = { carrier: () => ({ traceparent: 42 }) as unknown as Record<string, string> };
    const orchestrator = createOrchestrator({ store, instrumentation, onError: (error, where) => problems.push([error.message, where]) });
    const run = orchestrator.start(shipment, { orderId: 'o-12' });
    expect((await run.outcome).status).toBe('completed');
    await orchestrator.close();
    expect(problems).toEqual([["Instrumentation.carrier returned a non-string field 'traceparent' (number).", { operation: 'instrumentation', runId: run.runId }]]);
    expect('context' in ((await store.load(run.runId))?.[0] ?? {})).toBe(false);
  });

  it('journals what the propagator it is given writes, and reads it back with it', async () => {
    const store = new MemoryStore();
    const propagator: TextMapPropagator = {
      inject: (active, carrier, setter) => {
        const span = trace.getSpanContext(active);
        if (span !== undefined) setter.set(carrier, 'x-trace', `${span.traceId}:${span.spanId}`);
      },
      extract: (active, carrier, getter) => {
        const [traceId = '', spanId = ''] = String(getter.get(carrier, 'x-trace') ?? '').split(':');
        return trace.setSpanContext(active, { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
      },
      fields: () => ['x-trace'],
    };
    const orchestrator = createOrchestrator({ store, instrumentation: openTelemetry({ meterProvider: telemetry.meterProvider, propagator }) });
    const run = orchestrator.start(shipment, { orderId: 'o-13' });
    await run.outcome;
    await orchestrator.close();
    const spans = telemetry.spans();
    const start = only(spans, 'saga.start shipment');
    expect(((await store.load(run.runId))?.[0] as RunStartedEvent).context).toEqual({ 'x-trace': `${start.traceId}:${start.spanId}` });
    expect(only(spans, 'saga.run shipment').parentSpanId).toBe(start.spanId);
  });
});
