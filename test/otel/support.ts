// What the OpenTelemetry tests share: an SDK wired to in-memory exporters, spans as plain JSON
// records (the same shape whether read in this process or printed by a child process), and the
// metrics collected as `name → data points`.
import { context, type Attributes, type HrTime, type SpanContext, type SpanKind, type SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type DataPoint,
  type Histogram,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';

/** One exported span, as the tests read it. */
export interface SpanRecord {
  readonly name: string;
  readonly kind: SpanKind;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly attributes: Attributes;
  readonly status: { readonly code: SpanStatusCode; readonly message?: string };
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: Attributes }>;
  readonly links: ReadonlyArray<{ readonly traceId: string; readonly spanId: string; readonly attributes: Attributes }>;
  /** Epoch milliseconds. */
  readonly startMs: number;
  readonly endMs: number;
}

const millis = ([seconds, nanos]: HrTime): number => seconds * 1_000 + nanos / 1e6;

export function spanRecord(span: ReadableSpan): SpanRecord {
  const link = (spanContext: SpanContext, attributes: Attributes | undefined) => ({ traceId: spanContext.traceId, spanId: spanContext.spanId, attributes: attributes ?? {} });
  return {
    name: span.name,
    kind: span.kind,
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    attributes: { ...span.attributes },
    status: span.status.message === undefined ? { code: span.status.code } : { code: span.status.code, message: span.status.message },
    events: span.events.map((event) => ({ name: event.name, attributes: { ...event.attributes } })),
    links: span.links.map((entry) => link(entry.context, entry.attributes)),
    startMs: millis(span.startTime),
    endMs: millis(span.endTime),
  };
}

/** Makes `AsyncLocalStorage` the context manager, as a Node service's SDK does; returns the undo. */
export function useAsyncContext(): () => void {
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  return () => {
    context.disable();
    manager.disable();
  };
}

/** A tracer provider whose spans land in memory, and a meter provider read on demand. */
export interface TestTelemetry {
  readonly tracerProvider: BasicTracerProvider;
  readonly meterProvider: MeterProvider;
  readonly spanExporter: InMemorySpanExporter;
  /** The spans ended so far. */
  spans(): SpanRecord[];
  /** Collects the metrics now. */
  metrics(): Promise<Metrics>;
  shutdown(): Promise<void>;
}

export function testTelemetry(exporter?: SpanExporter): TestTelemetry {
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(spanExporter), ...(exporter === undefined ? [] : [new SimpleSpanProcessor(exporter)])],
  });
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    tracerProvider,
    meterProvider,
    spanExporter,
    spans: () => spanExporter.getFinishedSpans().map(spanRecord),
    metrics: async () => {
      metricExporter.reset();
      await reader.forceFlush();
      return metricsOf(metricExporter);
    },
    shutdown: async () => {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** One data point: its attributes, and a number (counters) or a histogram's count and sum. */
export interface PointRecord {
  readonly attributes: Attributes;
  readonly value: number | { readonly count: number; readonly sum: number };
}

/** Every metric by name, with its unit and data points. */
export type Metrics = Record<string, { readonly unit: string; readonly points: PointRecord[] }>;

function metricsOf(exporter: InMemoryMetricExporter): Metrics {
  const result: Metrics = {};
  for (const resource of exporter.getMetrics()) {
    for (const scope of resource.scopeMetrics) {
      for (const metric of scope.metrics) {
        const points = (metric.dataPoints as Array<DataPoint<number | Histogram>>).map((point) => ({
          attributes: { ...point.attributes },
          value: typeof point.value === 'number' ? point.value : { count: point.value.count, sum: point.value.sum ?? 0 },
        }));
        result[metric.descriptor.name] = { unit: metric.descriptor.unit, points };
      }
    }
  }
  return result;
}

/** The value of a counter's data point with these attributes (0 when there is none). */
export function count(metrics: Metrics, name: string, attributes: Attributes = {}): number {
  let total = 0;
  for (const point of metrics[name]?.points ?? []) {
    if (Object.entries(attributes).every(([key, value]) => point.attributes[key] === value)) total += typeof point.value === 'number' ? point.value : point.value.count;
  }
  return total;
}

/** A span exporter that prints each span as a JSON line `{ "type": "span", "span": … }` (for child processes). */
export class StdoutSpanExporter implements SpanExporter {
  export(spans: ReadableSpan[], done: (result: { code: 0 }) => void): void {
    for (const span of spans) process.stdout.write(`${JSON.stringify({ type: 'span', span: spanRecord(span) })}\n`);
    done({ code: 0 });
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** The one span named `name` (fails the test, with every name, when there is not exactly one). */
export function only(spans: readonly SpanRecord[], name: string): SpanRecord {
  const found = spans.filter((span) => span.name === name);
  if (found.length !== 1) throw new Error(`expected one span '${name}', found ${found.length} among: ${spans.map((span) => span.name).join(', ')}`);
  return found[0] as SpanRecord;
}

/** The spans whose parent is `parent`, sorted by start. */
export function childrenOf(spans: readonly SpanRecord[], parent: SpanRecord): SpanRecord[] {
  return spans.filter((span) => span.parentSpanId === parent.spanId && span.traceId === parent.traceId).sort((a, b) => a.startMs - b.startMs);
}
