/**
 * Draws the trace of one real compensated run, as docs/observability.md shows it: runs a trip
 * booking saga with `sagaflow/otel` on the OpenTelemetry SDK (in-memory exporter, AsyncLocalStorage
 * context), whose payment fails after a retry and whose rollback retries one compensation, then
 * renders the exported spans as a Gantt chart: docs/observability-trace.svg, and a text version
 * between the `trace` markers of docs/observability.md.
 *
 * Usage: `npx tsx scripts/trace-picture.ts` (timings vary a little from one run to the next).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { context, SpanStatusCode, trace, type HrTime } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import { createOrchestrator, defineSaga, NonRetryableError } from 'sagaflow';
import { openTelemetry } from 'sagaflow/otel';

const docs = (file: string): string => fileURLToPath(new URL(`../docs/${file}`, import.meta.url));

/** A supplier call, as an instrumented HTTP client would trace it: a child of the attempt's span. */
async function call(name: string, ms: number, fails?: string): Promise<void> {
  await trace.getTracer('http-client').startActiveSpan(name, { attributes: { 'http.request.method': name.split(' ')[0] ?? 'POST' } }, async (span) => {
    await sleep(ms);
    if (fails !== undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: fails });
      span.end();
      throw fails === 'card declined' ? new NonRetryableError(fails) : new Error(fails);
    }
    span.end();
  });
}

let paymentAttempts = 0;
let hotelCancels = 0;
const trip = defineSaga({ name: 'trip-booking', input: z.object({ traveller: z.string() }) })
  .stage('flight', { execute: () => call('POST /flights', 30), compensate: () => call('DELETE /flights', 15) })
  .stage('hotel', {
    after: ['flight'],
    execute: () => call('POST /hotels', 45),
    compensate: async () => {
      hotelCancels++;
      await call('DELETE /hotels', 20, hotelCancels === 1 ? 'hotel API: 503 Service Unavailable' : undefined);
    },
    compensation: { retry: { maxAttempts: 3, initialDelayMs: 25, jitter: false } },
  })
  .stage('car', { after: ['flight'], execute: () => call('POST /cars', 25), compensate: () => call('DELETE /cars', 10) })
  .stage('payment', {
    after: ['hotel', 'car'],
    execute: async () => {
      paymentAttempts++;
      await call('POST /payments', 20, paymentAttempts === 1 ? 'payment gateway timeout' : 'card declined');
    },
    retry: { maxAttempts: 3, initialDelayMs: 30, jitter: false },
  })
  .build();

const manager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(manager);
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
trace.setGlobalTracerProvider(provider);
const orchestrator = createOrchestrator({ sagas: [trip], instrumentation: openTelemetry() });
const run = trace.getTracer('app').startActiveSpan('POST /trips', (span) => {
  const started = orchestrator.start(trip, { traveller: 'Ada' });
  span.end();
  return started;
});
const outcome = await run.outcome;
await orchestrator.close();
if (outcome.status !== 'compensated') throw new Error(`the run ended ${outcome.status}, expected compensated`);
const spans = exporter.getFinishedSpans();
await provider.shutdown();
context.disable();

// -----------------------------------------------------------------------------------------------
// The spans as a tree, children in start order.

const ms = ([seconds, nanos]: HrTime): number => seconds * 1_000 + nanos / 1e6;
interface Row {
  readonly span: ReadableSpan;
  readonly depth: number;
  readonly last: boolean[];
}
const byParent = new Map<string | undefined, ReadableSpan[]>();
const ids = new Set(spans.map((span) => span.spanContext().spanId));
for (const span of spans) {
  const parent = span.parentSpanContext?.spanId;
  const key = parent !== undefined && ids.has(parent) ? parent : undefined;
  byParent.set(key, [...(byParent.get(key) ?? []), span]);
}
for (const list of byParent.values()) list.sort((a, b) => ms(a.startTime) - ms(b.startTime));
const rows: Row[] = [];
const walk = (parent: string | undefined, depth: number, last: boolean[]): void => {
  const children = byParent.get(parent) ?? [];
  children.forEach((span, index) => {
    const trail = [...last, index === children.length - 1];
    rows.push({ span, depth, last: trail });
    walk(span.spanContext().spanId, depth + 1, trail);
  });
};
walk(undefined, 0, []);
const t0 = Math.min(...spans.map((span) => ms(span.startTime)));
const t1 = Math.max(...spans.map((span) => ms(span.endTime)));
const total = t1 - t0;

const label = (span: ReadableSpan): string => {
  const attempt = span.attributes['sagaflow.attempt.number'];
  return attempt === undefined ? span.name : `${span.name} #${String(attempt)}`;
};
const note = (span: ReadableSpan): string => {
  const notes: string[] = [];
  const outcome = span.attributes['sagaflow.attempt.outcome'];
  if (outcome !== undefined) notes.push(String(outcome));
  const status = span.attributes['sagaflow.run.status'];
  if (status !== undefined) notes.push(String(status));
  if (span.status.code === SpanStatusCode.ERROR) notes.push(`error: ${span.status.message ?? ''}`);
  return notes.join(', ');
};

// -----------------------------------------------------------------------------------------------
// Text.

const WIDTH = 48;
const prefix = (row: Row): string => {
  if (row.depth === 0) return '';
  const trail = row.last.slice(1, -1).map((last) => (last ? '  ' : '│ ')).join('');
  return `${trail}${row.last[row.last.length - 1] === true ? '└ ' : '├ '}`;
};
const names = rows.map((row) => `${prefix(row)}${label(row.span)}`);
const nameWidth = Math.max(...names.map((name) => name.length));
const lines = rows.map((row, index) => {
  const from = Math.floor(((ms(row.span.startTime) - t0) / total) * WIDTH);
  const to = Math.max(from + 1, Math.round(((ms(row.span.endTime) - t0) / total) * WIDTH));
  const bar = `${' '.repeat(from)}${(row.span.status.code === SpanStatusCode.ERROR ? '▒' : '█').repeat(to - from)}`.padEnd(WIDTH);
  const duration = `${Math.round(ms(row.span.endTime) - ms(row.span.startTime))} ms`.padStart(7);
  return `${(names[index] ?? '').padEnd(nameWidth)} │${bar}│${duration}  ${note(row.span)}`.trimEnd();
});
const header = `${'span'.padEnd(nameWidth)} │${'0 ms'.padEnd(WIDTH - 8)}${`${Math.round(total)} ms`.padStart(8)}│`;
const text = [header, ...lines].join('\n');

const markdownPath = docs('observability.md');
const markdown = readFileSync(markdownPath, 'utf8');
const start = '<!-- trace:start (generated by scripts/trace-picture.ts) -->';
const end = '<!-- trace:end -->';
const from = markdown.indexOf(start);
const to = markdown.indexOf(end);
if (from < 0 || to < from) throw new Error(`docs/observability.md has no "${start}" … "${end}" section`);
writeFileSync(markdownPath, `${markdown.slice(0, from + start.length)}\n\n\`\`\`text\n${text}\n\`\`\`\n\n${markdown.slice(to)}`);

// -----------------------------------------------------------------------------------------------
// SVG.

const escape = (value: string): string => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const ROW = 22;
/** Width of a character of the 12 px monospace font, with a little to spare. */
const CHAR = 7.4;
const noteOf = (span: ReadableSpan): string => `${Math.round(ms(span.endTime) - ms(span.startTime))} ms ${note(span)}`.trim();
const LEFT = 12 + nameWidth * CHAR + 16;
const CHART = 620;
const NOTE = 16 + Math.max(...rows.map((row) => noteOf(row.span).length)) * CHAR;
const height = 44 + rows.length * ROW + 40;
const colour = (span: ReadableSpan): string => {
  if (span.status.code === SpanStatusCode.ERROR) return '#d62728';
  if (span.name.startsWith('saga.run')) return '#1f77b4';
  if (span.name.startsWith('saga.rollback')) return '#9467bd';
  if (span.name.startsWith('saga.compensate')) return '#ff7f0e';
  if (span.name.startsWith('saga.stage')) return '#2ca02c';
  if (span.name.startsWith('saga.')) return '#17becf';
  return '#7f7f7f';
};
function legend(left: number, y: number): string {
  const entries: Array<[string, string]> = [
    ['#17becf', 'saga.start'],
    ['#1f77b4', 'saga.run'],
    ['#2ca02c', 'saga.stage'],
    ['#9467bd', 'saga.rollback'],
    ['#ff7f0e', 'saga.compensate'],
    ['#7f7f7f', 'the stages\u2019 own calls'],
    ['#d62728', 'error status'],
  ];
  let at = left;
  return entries
    .map(([fill, text]) => {
      const entry = `<rect x="${at.toFixed(1)}" y="${y - 10}" width="12" height="12" rx="2" fill="${fill}"/><text x="${(at + 16).toFixed(1)}" y="${y}" fill="#444">${escape(text)}</text>`;
      at += 16 + text.length * CHAR + 18;
      return entry;
    })
    .join('');
}
const x = (time: number): number => LEFT + ((time - t0) / total) * CHART;
const svg = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.ceil(LEFT + CHART + NOTE)}" height="${height}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="12">`,
  `<rect width="100%" height="100%" fill="#ffffff"/>`,
  `<text x="12" y="20" font-size="13" font-weight="bold">${escape(`One compensated run of trip-booking, as exported by sagaflow/otel (${Math.round(total)} ms)`)}</text>`,
  ...[0, 0.25, 0.5, 0.75, 1].map((part) => {
    const at = LEFT + part * CHART;
    return `<line x1="${at.toFixed(1)}" y1="30" x2="${at.toFixed(1)}" y2="${height - 10}" stroke="#e0e0e0"/><text x="${at.toFixed(1)}" y="40" fill="#666" text-anchor="middle">${Math.round(part * total)} ms</text>`;
  }),
  ...rows.map((row, index) => {
    const y = 48 + index * ROW;
    const left = x(ms(row.span.startTime));
    const width = Math.max(2, x(ms(row.span.endTime)) - left);
    return [
      `<text x="12" y="${y + 14}" fill="#222" xml:space="preserve">${escape(names[index] ?? '')}</text>`,
      `<rect x="${left.toFixed(1)}" y="${y + 3}" width="${width.toFixed(1)}" height="${ROW - 7}" rx="2" fill="${colour(row.span)}"/>`,
      `<text x="${(LEFT + CHART + 8).toFixed(1)}" y="${y + 14}" fill="#444">${escape(noteOf(row.span))}</text>`,
    ].join('');
  }),
  legend(12, height - 14),
  '</svg>',
  '',
].join('\n');
writeFileSync(docs('observability-trace.svg'), svg);
console.log(`${text}\n\nwrote docs/observability-trace.svg and the trace section of docs/observability.md`);
