/**
 * How sagaflow's cost grows with work, on MemoryStore: µs per stage as a saga grows from 10 to
 * 10,000 stages (a chain, and a wide fan-out: one root, N − 2 parallel stages, one join), and as
 * concurrent runs of a 5-stage saga grow from 1 to 10,000; plus heap per in-flight run.
 *
 * Run alone: `node --expose-gc --import tsx bench/scaling.ts [--quick] [--rounds=N] [--runs-only] [--gc-pauses]`
 * (`--runs-only`: the concurrent-runs curves and their heap, not the stage curves; `--gc-pauses`:
 * the collector's pauses in every sample, meaningful with `node --single-threaded-gc`).
 * From the runner: {@link benchmarkScaling}.
 *
 * Method: each size runs until about `stagesPerSample` stages have executed (at least one run),
 * after one warm-up sample; sizes are visited in a rotating order over the rounds (the chain's and
 * the fan-out's sizes in the same rounds, as `stagesRatio` divides one by the other), and the
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
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, type AnySaga, type Orchestrator } from '../dist/index.js';
import { journaledEvents, runHandWrittenJournaled, runHandWrittenStages } from './lib/hand-written-journaled.js';
import { looseSaga } from './lib/loose-builder.js';
import { numberArgument } from './lib/sqlite-bench.js';
import { cpuStopwatch, gcPauseStopwatch, median, medianOfRatios } from './lib/stats.js';
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
  /**
   * Measure the collector's pauses in every sample (`gcUsPerStage`, `lessGcPauses`). Default
   * false: they mean the collector's CPU only when it runs on the main thread alone, as in
   * {@link benchmarkScalingSingleThreadedGc}.
   */
  readonly gcPauses?: boolean;
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
  /**
   * The garbage collector's pauses, µs per stage, the median over the rounds (wall time of the
   * main thread's pauses, see `gcPauseStopwatch`); only when asked for (`ScalingBenchOptions.gcPauses`).
   * The pauses are what varies most between samples, so the split is taken over medians, not
   * from the fastest sample (which is the one the collector disturbed least).
   */
  readonly gcUsPerStage?: number;
  /** CPU µs per stage less the collector's pauses in the same sample, the median over the rounds (with {@link ScalingPoint.gcUsPerStage}). */
  readonly restUsPerStage?: number;
  /**
   * Every round's sample, CPU µs per stage, in round order (`samples[r]` of every point of one
   * call of `curves` are the same round's): the raw data, for any other statistic. Absent in
   * results saved before it.
   */
  readonly samples?: readonly number[];
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
  /**
   * `stagesRatio`, `runsRatio` and their hand-written references over each point's µs per stage
   * less the collector's pauses (`restUsPerStage`, medians): how much of each spread is the
   * collector's. Only when the pauses were measured (`ScalingBenchOptions.gcPauses`).
   */
  readonly lessGcPauses?: {
    readonly stagesRatio: number;
    readonly runsRatio: number;
    readonly stagesRatioHandWrittenJournaled: number | null;
    readonly runsRatioHandWrittenJournaled: number | null;
  };
  /** Whether heap figures were taken after a forced GC. */
  readonly heapExact: boolean;
  /**
   * The same curves measured again in a child process whose collector runs on the main thread
   * alone (`--single-threaded-gc`), with the collector's pauses in every sample: there the pauses
   * are the collector's CPU time, and the rest is sagaflow's (and the baseline's) own. Reported,
   * not a target (see {@link benchmarkScalingSingleThreadedGc}); absent in results saved before it.
   */
  readonly singleThreadedGc?: ScalingBenchResult;
}

const run = promisify(execFile);
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

/** One sample: CPU µs per stage, and the collector's pauses in it, µs per stage (when measured). */
interface Sample {
  readonly us: number;
  readonly gcUs?: number;
}

/** Whether the samples measure the collector's pauses (set by {@link benchmarkScaling}). */
let measurePauses = false;

/** Times `work`, which executes `stages` stages: CPU µs, and the collector's pauses, per stage. */
async function timed(stages: () => number, work: () => Promise<void>): Promise<Sample> {
  const pauses = measurePauses ? gcPauseStopwatch() : undefined;
  const elapsed = cpuStopwatch();
  await work();
  const us = elapsed() / stages();
  if (pauses === undefined) return { us };
  return { us, gcUs: (await pauses()) / stages() };
}

/** µs per stage of running `runsPerSample` batches of `concurrent` runs of `saga`. */
async function sample(saga: AnySaga, concurrent: number, stagesPerSample: number): Promise<Sample> {
  // A fresh store per sample: MemoryStore keeps every journal, which would otherwise grow.
  const orchestrator = createOrchestrator({ store: new MemoryStore() });
  const stagesPerBatch = saga.stages.length * concurrent;
  const batches = Math.max(1, Math.round(stagesPerSample / stagesPerBatch));
  try {
    return await timed(
      () => batches * stagesPerBatch,
      async () => {
        for (let batch = 0; batch < batches; batch++) await runOnce(orchestrator, saga, concurrent);
      },
    );
  } finally {
    await orchestrator.close();
  }
}

/** A point of a curve to sample: its size, and whatever else tells its sampler what to run (a saga's shape). */
interface CurvePoint {
  readonly size: number;
}

/** One implementation's cost at a point: CPU µs per stage of one sample. */
type Sampler<P extends CurvePoint> = (point: P) => Promise<Sample>;

/**
 * Samples every implementation at every point over the rounds, interleaved: each point's samplers
 * next to each other, the whole list visited in a rotating order so that none always runs first.
 * One curve per sampler, its points in the order given; `samples[round]` of a point are the same
 * round's for every sampler. Points that are compared with one another must be sampled in one
 * call: the two saga shapes' points are, because `stagesRatio` divides one shape's cost by the
 * other's, and a shape sampled minutes after the other would carry the machine's drift between
 * them into the ratio.
 */
async function curves<P extends CurvePoint>(points: readonly P[], samplers: readonly Sampler<P>[], rounds: number): Promise<Array<Array<ScalingPoint & { readonly samples: readonly number[] }>>> {
  const cases = points.flatMap((point) => samplers.map((sampler, which) => ({ point, which, sampler, samples: [] as Sample[] })));
  for (const entry of cases) await entry.sampler(entry.point); // warm-up
  for (let round = 0; round < rounds; round++) {
    for (let index = 0; index < cases.length; index++) {
      const entry = cases[(index + round) % cases.length];
      if (entry !== undefined) entry.samples.push(await entry.sampler(entry.point));
    }
  }
  return samplers.map((_, which) =>
    cases
      .filter((entry) => entry.which === which)
      .map((entry) => {
        const samples = entry.samples.map((sample) => sample.us);
        const fastest = entry.samples.reduce((best, sample) => (sample.us < best.us ? sample : best));
        const split = measurePauses
          ? { gcUsPerStage: median(entry.samples.map((sample) => sample.gcUs ?? 0)), restUsPerStage: median(entry.samples.map((sample) => sample.us - (sample.gcUs ?? 0))) }
          : {};
        return { size: entry.point.size, usPerStage: fastest.us, usPerStageMedian: median(samples), ...split, samples };
      }),
  );
}

/** The trivial async call of each stage of the hand-written baseline, as the saga's `async () => 1`. */
const NO_EFFECTS: SagaEffects = { execute: async () => undefined, compensate: async () => undefined };

/** µs per stage of the hand-written journaled chain, `concurrent` runs at once, in batches as {@link sample}. */
async function sampleHandWritten(concurrent: number, stagesPerSample: number): Promise<Sample> {
  const stagesPerBatch = STEP_COUNT * concurrent;
  const batches = Math.max(1, Math.round(stagesPerSample / stagesPerBatch));
  // Every run's journal is kept until the sample ends, as the sample's MemoryStore keeps sagaflow's.
  const journals: object[][] = [];
  const start = (): Promise<void> => {
    const journal: object[] = [];
    journals.push(journal);
    return runHandWrittenJournaled(NO_EFFECTS, false, journal);
  };
  const result = await timed(
    () => batches * stagesPerBatch,
    async () => {
      for (let batch = 0; batch < batches; batch++) await Promise.all(Array.from({ length: concurrent }, start));
    },
  );
  if (journals.length !== batches * concurrent || journals[journals.length - 1]?.length !== journaledEvents(false)) throw new Error('hand-written+journal: a run is missing');
  return result;
}

/** µs per stage of the hand-written journaled saga of `size` stages, run one after the other until about `stagesPerSample` stages, as {@link sample}. */
async function sampleHandWrittenStages(shape: 'chain' | 'fan-out', size: number, stagesPerSample: number): Promise<Sample> {
  const runs = Math.max(1, Math.round(stagesPerSample / size));
  // Every run's journal is kept until the sample ends, as the sample's MemoryStore keeps sagaflow's.
  const journals: object[][] = [];
  const result = await timed(
    () => runs * size,
    async () => {
      for (let run = 0; run < runs; run++) {
        const journal: object[] = [];
        journals.push(journal);
        await runHandWrittenStages(shape, size, journal);
      }
    },
  );
  if (journals.length !== runs) throw new Error(`hand-written ${shape}: a run is missing`);
  return result;
}

function spread(points: readonly ScalingPoint[]): number {
  const costs = points.map((point) => point.usPerStage);
  return Math.max(...costs) / Math.min(...costs);
}

/** {@link spread} of each point's µs per stage less the collector's pauses ({@link ScalingPoint.restUsPerStage}). */
function spreadLessGcPauses(points: readonly ScalingPoint[]): number {
  return spread(points.map((point) => ({ size: point.size, usPerStage: point.restUsPerStage ?? Number.NaN })));
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
  measurePauses = options.gcPauses === true;
  /** Both shapes' curves, sagaflow's and the hand-written ones, in the same rounds (see {@link curves}). */
  const stageCurves = async (): Promise<Record<'chain' | 'chainHand' | 'fanOut' | 'fanOutHand', ScalingPoint[]>> => {
    if (options.stageCurves === false) return { chain: [], chainHand: [], fanOut: [], fanOutHand: [] };
    const shapes = { chain: chainSaga, 'fan-out': fanOutSaga } as const;
    const points = stageCounts.flatMap((size) => (['chain', 'fan-out'] as const).map((shape) => ({ shape, size, saga: shapes[shape](size) })));
    const [sagaflowPoints = [], handPoints = []] = await curves(
      points,
      [({ saga }) => sample(saga, 1, stagesPerSample), ({ shape, size }) => sampleHandWrittenStages(shape, size, stagesPerSample)],
      rounds,
    );
    const ofShape = (curve: readonly ScalingPoint[], shape: 'chain' | 'fan-out'): ScalingPoint[] => curve.filter((_, index) => points[index]?.shape === shape);
    return { chain: ofShape(sagaflowPoints, 'chain'), chainHand: ofShape(handPoints, 'chain'), fanOut: ofShape(sagaflowPoints, 'fan-out'), fanOutHand: ofShape(handPoints, 'fan-out') };
  };
  const { chain, chainHand, fanOut, fanOutHand } = await stageCurves();
  const five = chainSaga(5);
  const runsPerSample = Math.max(stagesPerSample, 5 * Math.max(...runCounts));
  const [runsCurve = [], handCurve = []] = await curves(
    runCounts.map((size) => ({ size })),
    [({ size }) => sample(five, size, runsPerSample), ({ size }) => sampleHandWritten(size, runsPerSample)],
    rounds,
  );
  await sagaflowHeapPerRun(100); // warm-up: code and caches the first measurement would count
  await handWrittenHeapPerRun(100);
  const runs = [];
  const runsHandWrittenJournaled: HandWrittenRunsPoint[] = [];
  for (const [index, point] of runsCurve.entries()) {
    const hand = handCurve[index];
    if (hand === undefined) continue;
    const held = point.size >= 100;
    runs.push({ ...point, heapKBPerRun: held ? await sagaflowHeapPerRun(point.size) : null });
    runsHandWrittenJournaled.push({
      ...hand,
      heapKBPerRun: held ? await handWrittenHeapPerRun(point.size) : null,
      sagaflowRatio: medianOfRatios(point.samples, hand.samples),
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
    ...(measurePauses
      ? {
          lessGcPauses: {
            stagesRatio: spreadLessGcPauses([...chain, ...fanOut]),
            runsRatio: spreadLessGcPauses(runs),
            stagesRatioHandWrittenJournaled: chainHand.length === 0 ? null : spreadLessGcPauses([...chainHand, ...fanOutHand]),
            runsRatioHandWrittenJournaled: spreadLessGcPauses(runsHandWrittenJournaled),
          },
        }
      : {}),
    heapExact: gc !== undefined,
  };
}

/**
 * {@link benchmarkScaling} in a child process whose garbage collector runs on the main thread
 * alone (`node --single-threaded-gc`: no parallel scavenge, no concurrent marking or sweeping),
 * with the collector's pauses measured in every sample. There a pause is the collector's CPU
 * time (but for incremental marking steps, which run inside allocations and stay in the rest),
 * so each curve splits into the collector's part and the rest: what the sizes cost the collector,
 * and what they cost the code itself. The absolute figures are not the main run's (a collector
 * on one thread is slower); the split is what it is for.
 */
export async function benchmarkScalingSingleThreadedGc(options: Omit<ScalingBenchOptions, 'gcPauses'> = {}): Promise<ScalingBenchResult> {
  const script = fileURLToPath(import.meta.url);
  const { stdout } = await run(process.execPath, [...process.execArgv, '--single-threaded-gc', script, '--child', JSON.stringify(options)], { maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as ScalingBenchResult;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const child = process.argv.indexOf('--child');
  if (child !== -1) {
    const options = JSON.parse(process.argv[child + 1] ?? '{}') as ScalingBenchOptions;
    process.stdout.write(JSON.stringify(await benchmarkScaling({ ...options, gcPauses: true })));
  } else {
    const quick = process.argv.includes('--quick');
    const sizes: ScalingBenchOptions = quick ? { rounds: 2, stagesPerSample: 5_000, stageCounts: [10, 100, 1_000], runCounts: [1, 10, 100, 1_000] } : {};
    console.dir(
      await benchmarkScaling({ ...sizes, rounds: numberArgument('rounds', sizes.rounds ?? 5), stageCurves: !process.argv.includes('--runs-only'), gcPauses: process.argv.includes('--gc-pauses') }),
      { depth: 4 },
    );
  }
}
