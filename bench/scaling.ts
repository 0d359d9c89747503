/**
 * How sagaflow's cost grows with work, on MemoryStore: µs per stage as a saga grows from 10 to
 * 10,000 stages (a chain, and a wide fan-out: one root, N − 2 parallel stages, one join), and as
 * concurrent runs of a 5-stage saga grow from 1 to 10,000; plus heap per in-flight run.
 *
 * Run alone: `node --expose-gc --import tsx bench/scaling.ts [--quick]`
 * From the runner: {@link benchmarkScaling}.
 *
 * Method: each size runs until about `stagesPerSample` stages have executed (at least one run),
 * after one warm-up sample; sizes are visited in a rotating order over the rounds, and the
 * per-stage cost of a size is its fastest sample over the rounds (the median is reported too). The ratio is the largest per-stage
 * cost over the smallest across a range: 1 means flat; a quadratic term would make it grow with
 * the range (×1000 from 10 to 10,000). Heap per in-flight run: every run is held inside its
 * first stage (a gate), the heap is measured after a full GC (`--expose-gc`; without it, the
 * figure is an estimate) and compared with the heap before the runs started.
 */
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, type AnySaga, type Orchestrator } from '../dist/index.js';
import { looseSaga } from './lib/loose-builder.js';
import { cpuStopwatch, median } from './lib/stats.js';

/** Options of {@link benchmarkScaling}. */
export interface ScalingBenchOptions {
  /** Saga sizes, in stages. Default 10, 100, 1,000, 10,000. */
  readonly stageCounts?: readonly number[];
  /** Concurrent runs. Default 1, 10, 100, 1,000, 10,000. */
  readonly runCounts?: readonly number[];
  /** Rounds; results are medians. Default 5. */
  readonly rounds?: number;
  /** Stages executed per sample (each sample runs at least one saga). Default 20,000. */
  readonly stagesPerSample?: number;
}

/** One point of a curve. */
export interface ScalingPoint {
  /** Stages per saga, or concurrent runs. */
  readonly size: number;
  /**
   * CPU µs per executed stage: the fastest of the rounds. Another process's load only ever adds
   * to a sample (on this shared machine even CPU time grows with it), and the sizes of a curve
   * cannot be interleaved within one sample, so the least disturbed sample is the estimate.
   */
  readonly usPerStage: number;
  /** The median over the rounds, for comparison (absent in results saved before it). */
  readonly usPerStageMedian?: number;
}

/** What {@link benchmarkScaling} measured. */
export interface ScalingBenchResult {
  readonly chain: readonly ScalingPoint[];
  readonly fanOut: readonly ScalingPoint[];
  /** `heapKBPerRun` is null below 100 runs, where a single run's heap is lost in the noise of a GC. */
  readonly runs: readonly (ScalingPoint & { readonly heapKBPerRun: number | null })[];
  /** Largest ÷ smallest µs per stage over both saga shapes' ranges (target ≤ 1.5). */
  readonly stagesRatio: number;
  readonly chainRatio: number;
  readonly fanOutRatio: number;
  /** Largest ÷ smallest µs per stage over the concurrent-runs range (target ≤ 1.5). */
  readonly runsRatio: number;
  /** Whether heap figures were taken after a forced GC. */
  readonly heapExact: boolean;
}

const noInput = z.object({});
const stage = { execute: async () => 1, compensate: async () => undefined };

/** A chain of `count` stages, each after the previous. */
export function chainSaga(count: number): AnySaga {
  let builder = looseSaga({ name: `chain-${count}`, input: noInput }).stage('s0', stage);
  for (let index = 1; index < count; index++) builder = builder.stage(`s${index}`, { ...stage, after: [`s${index - 1}`] });
  return builder.build();
}

/** One root, `count − 2` stages after it in parallel, and one join after all of them. */
export function fanOutSaga(count: number): AnySaga {
  let builder = looseSaga({ name: `fan-out-${count}`, input: noInput }).stage('root', stage);
  const wide: string[] = [];
  for (let index = 0; index < count - 2; index++) {
    builder = builder.stage(`w${index}`, { ...stage, after: ['root'] });
    wide.push(`w${index}`);
  }
  return builder.stage('join', { ...stage, after: wide }).build();
}

const gc = (globalThis as { gc?: () => void }).gc;

async function runOnce(orchestrator: Orchestrator, saga: AnySaga, concurrent: number): Promise<void> {
  const outcomes = await Promise.all(Array.from({ length: concurrent }, () => orchestrator.start(saga, {}).outcome));
  for (const outcome of outcomes) if (outcome.status !== 'completed') throw new Error(`${saga.name}: a run ended ${outcome.status}`);
}

/** µs per stage of running `runsPerSample` batches of `concurrent` runs of `saga`. */
async function sample(saga: AnySaga, concurrent: number, stagesPerSample: number): Promise<number> {
  // A fresh store per sample: MemoryStore keeps every journal, which would otherwise grow.
  const orchestrator = createOrchestrator({ store: new MemoryStore() });
  const stagesPerBatch = saga.stages.length * concurrent;
  const batches = Math.max(1, Math.round(stagesPerSample / stagesPerBatch));
  try {
    const elapsed = cpuStopwatch();
    for (let batch = 0; batch < batches; batch++) await runOnce(orchestrator, saga, concurrent);
    return elapsed() / (batches * stagesPerBatch);
  } finally {
    await orchestrator.close();
  }
}

async function curve(sizes: readonly number[], make: (size: number) => { saga: AnySaga; concurrent: number }, rounds: number, stagesPerSample: number): Promise<ScalingPoint[]> {
  const cases = sizes.map((size) => ({ size, ...make(size), samples: [] as number[] }));
  for (const entry of cases) await sample(entry.saga, entry.concurrent, stagesPerSample); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (let index = 0; index < cases.length; index++) {
      const entry = cases[(index + round) % cases.length];
      if (entry !== undefined) entry.samples.push(await sample(entry.saga, entry.concurrent, stagesPerSample));
    }
  }
  return cases.map((entry) => ({ size: entry.size, usPerStage: Math.min(...entry.samples), usPerStageMedian: median(entry.samples) }));
}

function spread(points: readonly ScalingPoint[]): number {
  const costs = points.map((point) => point.usPerStage);
  return Math.max(...costs) / Math.min(...costs);
}

/** Heap per run with `concurrent` runs held inside their first stage, in KB. */
async function heapPerRun(concurrent: number): Promise<number> {
  let entered = 0;
  let allIn: () => void = () => undefined;
  const everyoneIn = new Promise<void>((resolve) => (allIn = resolve));
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const saga = defineSaga({ name: 'held', input: noInput })
    .stage('s0', {
      execute: async () => {
        if (++entered === concurrent) allIn();
        await gate;
        return 1;
      },
      compensate: async () => undefined,
    })
    .stage('s1', { ...stage, after: ['s0'] })
    .stage('s2', { ...stage, after: ['s1'] })
    .stage('s3', { ...stage, after: ['s2'] })
    .stage('s4', { ...stage, after: ['s3'] })
    .build();
  const orchestrator = createOrchestrator({ store: new MemoryStore() });
  gc?.();
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const outcomes = Array.from({ length: concurrent }, () => orchestrator.start(saga, {}).outcome);
  await everyoneIn;
  gc?.();
  gc?.();
  const during = process.memoryUsage().heapUsed;
  open();
  await Promise.all(outcomes);
  await orchestrator.close();
  return (during - before) / 1_024 / concurrent;
}

/** Measures the three curves; see the module comment. */
export async function benchmarkScaling(options: ScalingBenchOptions = {}): Promise<ScalingBenchResult> {
  const rounds = options.rounds ?? 5;
  const stagesPerSample = options.stagesPerSample ?? 20_000;
  const stageCounts = options.stageCounts ?? [10, 100, 1_000, 10_000];
  const runCounts = options.runCounts ?? [1, 10, 100, 1_000, 10_000];
  const chain = await curve(stageCounts, (size) => ({ saga: chainSaga(size), concurrent: 1 }), rounds, stagesPerSample);
  const fanOut = await curve(stageCounts, (size) => ({ saga: fanOutSaga(size), concurrent: 1 }), rounds, stagesPerSample);
  const five = chainSaga(5);
  const runsCurve = await curve(runCounts, (size) => ({ saga: five, concurrent: size }), rounds, Math.max(stagesPerSample, 5 * Math.max(...runCounts)));
  await heapPerRun(100); // warm-up: code and caches the first measurement would count
  const runs = [];
  for (const point of runsCurve) runs.push({ ...point, heapKBPerRun: point.size < 100 ? null : await heapPerRun(point.size) });
  return {
    chain,
    fanOut,
    runs,
    stagesRatio: spread([...chain, ...fanOut]),
    chainRatio: spread(chain),
    fanOutRatio: spread(fanOut),
    runsRatio: spread(runsCurve),
    heapExact: gc !== undefined,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick');
  console.dir(await benchmarkScaling(quick ? { rounds: 2, stagesPerSample: 5_000, stageCounts: [10, 100, 1_000], runCounts: [1, 10, 100, 1_000] } : {}), { depth: 4 });
}
