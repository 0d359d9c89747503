/**
 * What OpenTelemetry instrumentation costs: the in-memory benchmark saga (5 stages, stage 5
 * fails, 4 compensations: 21 events, 9 attempt spans, a start, run and rollback span) on
 * `MemoryStore`, with no instrumentation, with `openTelemetry()` on the API's no-op providers
 * (installed but no SDK registered), and with `openTelemetry()` on a real SDK (sdk-trace-base with
 * a SimpleSpanProcessor into an InMemorySpanExporter, sdk-metrics with an in-memory reader, and
 * the AsyncLocalStorage context manager a Node service registers).
 *
 * Run alone: `npx tsx bench/otel.ts [--rounds=7] [--count=2000]` (after `npm run build`).
 * From the runner: {@link benchmarkOtel}.
 *
 * Method: as bench/memory.ts: every round runs `count` sagas one after the other on each variant,
 * in a rotating order; the cost is the median over rounds of each round's ratio to the variant
 * without instrumentation. The SDK's context manager is enabled only around the SDK variant
 * (AsyncLocalStorage's promise hooks slow every promise of the process once enabled, which the
 * other variants must not pay); the exporter and the metrics are reset after each of its rounds,
 * and each variant's store is pruned after each of its batches (untimed), as in bench/memory.ts.
 */
import { pathToFileURL } from 'node:url';
import { context, metrics as metricsApi, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createOrchestrator, MemoryStore, type AnySaga, type Instrumentation, type Orchestrator } from '../dist/index.js';
import { openTelemetry } from '../dist/otel-runtime.js';
import { createBenchSaga } from './lib/bench-saga.js';
import { numberArgument } from './lib/sqlite-bench.js';
import { cpuStopwatch, median, medianOfRatios, withoutSourceMaps } from './lib/stats.js';

/** Options of {@link benchmarkOtel}. */
export interface OtelBenchOptions {
  /** Interleaved rounds; results are medians. Default 7. */
  readonly rounds?: number;
  /** Sagas per variant per round. Default 2,000. */
  readonly count?: number;
}

/** Sizes per runner mode (bench/run.ts): the full set, the reduced set, a smoke test's. */
export const OTEL_SIZES = {
  full: { rounds: 7, count: 2_000 },
  quick: { rounds: 5, count: 2_000 },
  smoke: { rounds: 1, count: 50 },
} as const satisfies Record<string, OtelBenchOptions>;

/** What {@link benchmarkOtel} measured: µs per saga (medians) and per-round ratios to no instrumentation (medians). */
export interface OtelBenchResult {
  readonly rounds: number;
  readonly count: number;
  readonly usOff: number;
  readonly usNoop: number;
  readonly usSdk: number;
  /** With `openTelemetry()` on no-op providers ÷ without instrumentation. */
  readonly ratioNoop: number;
  /** With `openTelemetry()` on the SDK (in-memory exporter) ÷ without instrumentation. */
  readonly ratioSdk: number;
  /** Spans the SDK variant exported per saga (checks that it traced what it should). */
  readonly spansPerSaga: number;
}

type Variant = 'off' | 'noop' | 'sdk';

/** Measures the three variants, interleaved; see the module comment. */
export async function benchmarkOtel(options: OtelBenchOptions = {}): Promise<OtelBenchResult> {
  return withoutSourceMaps(() => measureOtel(options)); // as `node app.js` runs: see withoutSourceMaps
}

async function measureOtel(options: OtelBenchOptions): Promise<OtelBenchResult> {
  const rounds = options.rounds ?? 7;
  const count = options.count ?? 2_000;
  const saga = createBenchSaga();

  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  const metricReader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [metricReader] });
  const contextManager = new AsyncLocalStorageContextManager();

  const stores: Record<Variant, MemoryStore> = { off: new MemoryStore(), noop: new MemoryStore(), sdk: new MemoryStore() };
  const orchestrators: Record<Variant, Orchestrator> = {
    off: createOrchestrator({ store: stores.off }),
    // Nothing registered: the API's globals are no-ops.
    noop: createOrchestrator({ store: stores.noop, instrumentation: openTelemetry({ tracerProvider: trace.getTracerProvider(), meterProvider: metricsApi.getMeterProvider() }) }),
    sdk: createOrchestrator({ store: stores.sdk, instrumentation: openTelemetry({ tracerProvider, meterProvider }) satisfies Instrumentation }),
  };
  let spans = 0;
  const runBatch = async (variant: Variant): Promise<void> => {
    if (variant === 'sdk') context.setGlobalContextManager(contextManager.enable());
    try {
      await runSagas(orchestrators[variant], saga, count);
    } finally {
      if (variant === 'sdk') {
        context.disable();
        contextManager.disable();
        spans = spanExporter.getFinishedSpans().length;
        spanExporter.reset();
      }
    }
  };

  const variants: Variant[] = ['off', 'noop', 'sdk'];
  const us: Record<Variant, number[]> = { off: [], noop: [], sdk: [] };
  try {
    for (const variant of variants) {
      await runBatch(variant); // warm-up
      await stores[variant].prune({ olderThan: Date.now() + 1 });
    }
    for (let round = 0; round < rounds; round++) {
      for (let index = 0; index < variants.length; index++) {
        const variant = variants[(index + round) % variants.length] as Variant;
        const elapsed = cpuStopwatch();
        await runBatch(variant);
        us[variant].push(elapsed() / count);
        // As bench/memory.ts: MemoryStore keeps every journal until pruned; pruned after each batch,
        // untimed, so every batch starts from the same heap and later rounds do not pay for earlier ones.
        await stores[variant].prune({ olderThan: Date.now() + 1 });
      }
    }
  } finally {
    await Promise.all(variants.map((variant) => orchestrators[variant].close()));
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
  }
  return {
    rounds,
    count,
    usOff: median(us.off),
    usNoop: median(us.noop),
    usSdk: median(us.sdk),
    ratioNoop: medianOfRatios(us.noop, us.off) ?? Number.NaN,
    ratioSdk: medianOfRatios(us.sdk, us.off) ?? Number.NaN,
    spansPerSaga: spans / count,
  };
}

async function runSagas(orchestrator: Orchestrator, saga: AnySaga, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const outcome = await orchestrator.start(saga, { fail: true }).outcome;
    if (outcome.status !== 'compensated') throw new Error(`the run ended ${outcome.status}, expected compensated`);
  }
}


if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await benchmarkOtel({ rounds: numberArgument('rounds', 7), count: numberArgument('count', 2_000) }));
}
