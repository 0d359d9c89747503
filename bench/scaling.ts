/**
 * How sagaflow's cost grows with work, on MemoryStore: µs per stage as a saga grows from 10 to
 * 10,000 stages (a chain, and a wide fan-out: one root, N − 2 parallel stages, one join), and as
 * concurrent runs of a 5-stage saga grow from 1 to 10,000; plus heap per in-flight run.
 *
 * Run alone: `node --expose-gc --import tsx bench/scaling.ts [--quick] [--rounds=N] [--runs-only]`
 * (`--runs-only`: the concurrent-runs curves and their heap, not the stage curves).
 * From the runner: {@link benchmarkScaling}.
 *
 * Method: each size runs until about `stagesPerSample` stages have executed (at least one run),
 * after one warm-up sample; sizes are visited in a rotating order over the rounds, and the
 * per-stage cost of a size is its fastest sample over the rounds (the median is reported too). The ratio is the largest per-stage
 * cost over the smallest across a range: 1 means flat; a quadratic term would make it grow with
 * the range (×1000 from 10 to 10,000). Heap per in-flight run: every run is held inside its
 * first stage (a gate), the heap is measured after a full GC (`--expose-gc`; without it, the
 * figure is an estimate) and compared with the heap before the runs started.
 *
 * Hand-written references of the stage curves and of the concurrent-runs curve are measured in the
 * same rounds, interleaved with sagaflow's: for the stage curves, the same chain and fan-out by hand
 * with a kept journal of the same events (`runHandWrittenStages`); for the concurrent runs
 * (each size's two samples next to each other), the same 5-stage chain by hand with
 * async/await, the same trivial async call per stage, and a journal of the same 12 events per run
 * written as plain literals (bench/lib/hand-written-journaled.ts), started the same way (N at once,
 * awaited together), every journal kept until the sample ends as the sample's MemoryStore keeps
 * sagaflow's. Their own largest ÷ smallest is what the sizes cost any implementation that keeps
 * such a journal on this machine (the collector and the caches). They are references, not lower
 * bounds of sagaflow's ratios: a cost added per stage spreads less than the baseline's; sagaflow's
 * own part is its cost less the baseline's, size by size (bench/lib/report.ts).
 */
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, type AnySaga, type Orchestrator } from '../dist/index.js';
import { journaledEvents, runHandWrittenJournaled, runHandWrittenStages } from './lib/hand-written-journaled.js';
import { looseSaga } from './lib/loose-builder.js';
import { numberArgument } from './lib/sqlite-bench.js';
import { cpuStopwatch, median, medianOfRatios } from './lib/stats.js';
import { STEP_COUNT, type SagaEffects } from './peers/peer.js';

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
  /** Measure the stage curves (chain, fan-out); when false they are empty and their ratios NaN. Default true. */
  readonly stageCurves?: boolean;
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

/** A point of the hand-written baseline's concurrent-runs curve. */
export interface HandWrittenRunsPoint extends ScalingPoint {
  /** Heap per run with every run held inside its first stage, as sagaflow's `heapKBPerRun` (null below 100 runs). */
  readonly heapKBPerRun: number | null;
  /** sagaflow's µs per stage ÷ the baseline's, same size, median of per-round ratios. */
  readonly sagaflowRatio: number | null;
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
  /**
   * The hand-written reference of the concurrent-runs curve, measured in the same rounds, interleaved with
   * sagaflow's: the 5-stage chain by hand with a journal of the same 12 events per run, kept until
   * the sample ends (see the module comment). `sagaflowRatio`: sagaflow's µs per stage ÷ this
   * baseline's at the same size, the median of per-round ratios. Absent in results saved before it.
   */
  readonly runsHandWrittenJournaled?: readonly HandWrittenRunsPoint[];
  /**
   * The hand-written reference of the stage curves, measured in the same rounds, interleaved with sagaflow's
   * (each size's two samples next to each other): the same chain and fan-out by hand, each stage
   * the same trivial async call, with a journal of the same 2 × size + 2 events as plain literals
   * kept until the sample ends (`runHandWrittenStages`). Absent in results saved before it.
   */
  readonly chainHandWrittenJournaled?: readonly ScalingPoint[];
  readonly fanOutHandWrittenJournaled?: readonly ScalingPoint[];
  /** Largest ÷ smallest µs per stage over both hand-written stage curves (reported: a reference for `stagesRatio`, not a bound). */
  readonly stagesRatioHandWrittenJournaled?: number;
  /** Largest ÷ smallest µs per stage of {@link ScalingBenchResult.runsHandWrittenJournaled} (reported: a reference for `runsRatio`, not a bound). */
  readonly runsRatioHandWrittenJournaled?: number;
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

/** One implementation's cost at a size: CPU µs per stage of one sample. */
type Sampler = (size: number) => Promise<number>;

/**
 * Samples every implementation at every size over the rounds, interleaved: each size's samplers
 * next to each other, the whole list visited in a rotating order so that none always runs first.
 * One curve per sampler; `samples[round]` of a size are the same round's for every sampler.
 */
async function curves(sizes: readonly number[], samplers: readonly Sampler[], rounds: number): Promise<Array<Array<ScalingPoint & { samples: number[] }>>> {
  const cases = sizes.flatMap((size) => samplers.map((sampler, which) => ({ size, which, sampler, samples: [] as number[] })));
  for (const entry of cases) await entry.sampler(entry.size); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (let index = 0; index < cases.length; index++) {
      const entry = cases[(index + round) % cases.length];
      if (entry !== undefined) entry.samples.push(await entry.sampler(entry.size));
    }
  }
  return samplers.map((_, which) =>
    cases
      .filter((entry) => entry.which === which)
      .map((entry) => ({ size: entry.size, usPerStage: Math.min(...entry.samples), usPerStageMedian: median(entry.samples), samples: entry.samples })),
  );
}

/** The trivial async call of each stage of the hand-written baseline, as the saga's `async () => 1`. */
const NO_EFFECTS: SagaEffects = { execute: async () => undefined, compensate: async () => undefined };

/** µs per stage of the hand-written journaled chain, `concurrent` runs at once, in batches as {@link sample}. */
async function sampleHandWritten(concurrent: number, stagesPerSample: number): Promise<number> {
  const stagesPerBatch = STEP_COUNT * concurrent;
  const batches = Math.max(1, Math.round(stagesPerSample / stagesPerBatch));
  // Every run's journal is kept until the sample ends, as the sample's MemoryStore keeps sagaflow's.
  const journals: object[][] = [];
  const start = (): Promise<void> => {
    const journal: object[] = [];
    journals.push(journal);
    return runHandWrittenJournaled(NO_EFFECTS, false, journal);
  };
  const elapsed = cpuStopwatch();
  for (let batch = 0; batch < batches; batch++) await Promise.all(Array.from({ length: concurrent }, start));
  const us = elapsed() / (batches * stagesPerBatch);
  if (journals.length !== batches * concurrent || journals[journals.length - 1]?.length !== journaledEvents(false)) throw new Error('hand-written+journal: a run is missing');
  return us;
}

/** µs per stage of the hand-written journaled saga of `size` stages, run one after the other until about `stagesPerSample` stages, as {@link sample}. */
async function sampleHandWrittenStages(shape: 'chain' | 'fan-out', size: number, stagesPerSample: number): Promise<number> {
  const runs = Math.max(1, Math.round(stagesPerSample / size));
  // Every run's journal is kept until the sample ends, as the sample's MemoryStore keeps sagaflow's.
  const journals: object[][] = [];
  const elapsed = cpuStopwatch();
  for (let run = 0; run < runs; run++) {
    const journal: object[] = [];
    journals.push(journal);
    await runHandWrittenStages(shape, size, journal);
  }
  const us = elapsed() / (runs * size);
  if (journals.length !== runs) throw new Error(`hand-written ${shape}: a run is missing`);
  return us;
}

function spread(points: readonly ScalingPoint[]): number {
  const costs = points.map((point) => point.usPerStage);
  return Math.max(...costs) / Math.min(...costs);
}

/**
 * Heap per run with `concurrent` runs held inside their first stage, in KB: `start` starts one run
 * whose first stage awaits what `atGate` returns (the gate, once every run has entered it).
 */
async function heapPerRun(concurrent: number, start: (atGate: () => Promise<void>) => Promise<unknown>): Promise<number> {
  let entered = 0;
  let allIn: () => void = () => undefined;
  const everyoneIn = new Promise<void>((resolve) => (allIn = resolve));
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const atGate = (): Promise<void> => {
    if (++entered === concurrent) allIn();
    return gate;
  };
  gc?.();
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const ends = Array.from({ length: concurrent }, () => start(atGate));
  await everyoneIn;
  gc?.();
  gc?.();
  const during = process.memoryUsage().heapUsed;
  open();
  await Promise.all(ends);
  return (during - before) / 1_024 / concurrent;
}

/** {@link heapPerRun} of sagaflow's 5-stage chain on a MemoryStore. */
async function sagaflowHeapPerRun(concurrent: number): Promise<number> {
  let atGate: () => Promise<void> = () => Promise.resolve();
  const saga = defineSaga({ name: 'held', input: noInput })
    .stage('s0', {
      execute: async () => {
        await atGate();
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
  try {
    return await heapPerRun(concurrent, (gate) => {
      atGate = gate;
      return orchestrator.start(saga, {}).outcome;
    });
  } finally {
    await orchestrator.close();
  }
}

/** {@link heapPerRun} of the hand-written journaled chain, its journals kept. */
async function handWrittenHeapPerRun(concurrent: number): Promise<number> {
  const journals: object[][] = [];
  let atGate: () => Promise<void> = () => Promise.resolve();
  // One for every run, as sagaflow's runs share their saga's stages.
  const effects: SagaEffects = {
    execute: async (step) => {
      if (step === 1) await atGate();
    },
    compensate: NO_EFFECTS.compensate,
  };
  return heapPerRun(concurrent, (gate) => {
    atGate = gate;
    const journal: object[] = [];
    journals.push(journal);
    return runHandWrittenJournaled(effects, false, journal);
  });
}

/** Measures the three curves, and the hand-written references beside them; see the module comment. */
export async function benchmarkScaling(options: ScalingBenchOptions = {}): Promise<ScalingBenchResult> {
  const rounds = options.rounds ?? 5;
  const stagesPerSample = options.stagesPerSample ?? 20_000;
  const stageCounts = options.stageCounts ?? [10, 100, 1_000, 10_000];
  const runCounts = options.runCounts ?? [1, 10, 100, 1_000, 10_000];
  /** sagaflow's curve of one saga shape, and the hand-written one beside it (same rounds, interleaved). */
  const stageCurve = async (make: (size: number) => AnySaga, shape: 'chain' | 'fan-out'): Promise<[ScalingPoint[], ScalingPoint[]]> => {
    if (options.stageCurves === false) return [[], []];
    const sagas = new Map(stageCounts.map((size) => [size, make(size)]));
    const [points = [], hand = []] = await curves(
      stageCounts,
      [(size) => sample(sagas.get(size) as AnySaga, 1, stagesPerSample), (size) => sampleHandWrittenStages(shape, size, stagesPerSample)],
      rounds,
    );
    return [points.map(({ samples: _, ...point }) => point), hand.map(({ samples: _, ...point }) => point)];
  };
  const [chain, chainHand] = await stageCurve(chainSaga, 'chain');
  const [fanOut, fanOutHand] = await stageCurve(fanOutSaga, 'fan-out');
  const five = chainSaga(5);
  const runsPerSample = Math.max(stagesPerSample, 5 * Math.max(...runCounts));
  const [runsCurve = [], handCurve = []] = await curves(runCounts, [(size) => sample(five, size, runsPerSample), (size) => sampleHandWritten(size, runsPerSample)], rounds);
  await sagaflowHeapPerRun(100); // warm-up: code and caches the first measurement would count
  await handWrittenHeapPerRun(100);
  const runs = [];
  const runsHandWrittenJournaled: HandWrittenRunsPoint[] = [];
  for (const [index, { samples, ...point }] of runsCurve.entries()) {
    const handPoint = handCurve[index];
    if (handPoint === undefined) continue;
    const { samples: handSamples, ...hand } = handPoint;
    const held = point.size >= 100;
    runs.push({ ...point, heapKBPerRun: held ? await sagaflowHeapPerRun(point.size) : null });
    runsHandWrittenJournaled.push({
      ...hand,
      heapKBPerRun: held ? await handWrittenHeapPerRun(point.size) : null,
      sagaflowRatio: medianOfRatios(samples, handSamples),
    });
  }
  return {
    chain,
    fanOut,
    runs,
    stagesRatio: spread([...chain, ...fanOut]),
    ...(chainHand.length === 0 ? {} : { chainHandWrittenJournaled: chainHand, fanOutHandWrittenJournaled: fanOutHand, stagesRatioHandWrittenJournaled: spread([...chainHand, ...fanOutHand]) }),
    chainRatio: spread(chain),
    fanOutRatio: spread(fanOut),
    runsRatio: spread(runs),
    runsHandWrittenJournaled,
    runsRatioHandWrittenJournaled: spread(runsHandWrittenJournaled),
    heapExact: gc !== undefined,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick');
  const sizes: ScalingBenchOptions = quick ? { rounds: 2, stagesPerSample: 5_000, stageCounts: [10, 100, 1_000], runCounts: [1, 10, 100, 1_000] } : {};
  console.dir(await benchmarkScaling({ ...sizes, rounds: numberArgument('rounds', sizes.rounds ?? 5), stageCurves: !process.argv.includes('--runs-only') }), { depth: 4 });
}
