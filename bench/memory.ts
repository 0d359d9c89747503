/**
 * In-memory overhead: the benchmark saga (5 stages, stage 5 fails, 4 compensations in reverse)
 * on sagaflow with MemoryStore, by hand with async/await and try/catch, and on node-sagas.
 *
 * Run alone: `npx tsx bench/memory.ts [--rounds=7] [--count=5000]`
 * From the runner: {@link benchmarkMemory}.
 *
 * Method: every round runs `count` sagas one after the other (concurrency 1) on each
 * implementation, in a rotating order so that none always runs first; the ratio is taken per
 * round, and the results are medians over the rounds, timed in CPU time (see `cpuStopwatch` in
 * lib/stats.ts). Each implementation is warmed up first.
 * sagaflow journals every event in the MemoryStore and streams it on `orchestrator.events$`
 * (the benchmark subscribes and counts); the hand-written saga does neither, so two more
 * variants, hand-written plus an in-memory journal of the same 21 events written as plain
 * literals (each saga's journal dropped after it; and kept until the batch ends, as MemoryStore
 * keeps sagaflow's until pruned), show what journaling alone costs; a fifth, the same kept journal
 * written ahead (each decision's events appended with one awaited call before the saga goes on) and
 * streamed to a listener, is the least of sagaflow's contract written by hand: the lower bound of
 * the ratios to the others. The store is pruned between batches, untimed. Afterwards, every
 * variant's allocations per saga are counted.
 */
import { Session } from 'node:inspector/promises';
import { pathToFileURL } from 'node:url';
import { createOrchestrator, MemoryStore, type Orchestrator } from '../dist/index.js';
import { createBenchSaga } from './lib/bench-saga.js';
import { loadPeer, type SagaPeer } from './peers/index.js';
import { CountingEffects } from './peers/peer.js';
import { runHandWrittenSaga } from './peers/hand-written.js';
import { runHandWrittenJournaled, runHandWrittenWriteAhead } from './lib/hand-written-journaled.js';
import { numberArgument } from './lib/sqlite-bench.js';
import { cpuStopwatch, median, medianOfRatios, withoutSourceMaps } from './lib/stats.js';

/** Options of {@link benchmarkMemory}. */
export interface MemoryBenchOptions {
  /** Interleaved rounds; results are medians. Default 7. */
  readonly rounds?: number;
  /** Sagas per implementation per round. Default 5,000. */
  readonly count?: number;
  /** Measure node-sagas too (needs `bench/peers` installed). Default true. */
  readonly nodeSagas?: boolean;
}

/** What {@link benchmarkMemory} measured: CPU µs per failing saga (medians; see `cpuStopwatch`) and per-round ratios (medians). */
export interface MemoryBenchResult {
  readonly rounds: number;
  readonly count: number;
  readonly usSagaflow: number;
  readonly usHandWritten: number;
  readonly usHandWrittenJournaled: number;
  /** The journaled hand-written saga keeping every journal until the batch ends (absent in older results). */
  readonly usHandWrittenJournalKept?: number;
  readonly usNodeSagas: number | null;
  /** sagaflow ÷ hand-written (target ≤ 2.5). */
  readonly ratioVsHandWritten: number;
  /**
   * sagaflow ÷ hand-written with an in-memory journal of the same 21 events, written as plain
   * literals, the failing error's stack read, each saga's journal dropped after it (target ≤ 1.5).
   */
  readonly ratioVsHandWrittenJournaled: number;
  /** sagaflow ÷ the same journaled saga keeping its journals until the batch ends, as MemoryStore does (absent in older results). */
  readonly ratioVsHandWrittenJournalKept?: number;
  /** sagaflow ÷ node-sagas (below 1 is faster); null when node-sagas cannot run. */
  readonly ratioVsNodeSagas: number | null;
  /**
   * The hand-written saga doing the least of what a journal-first, streamed engine must
   * (`runHandWrittenWriteAhead`: each decision's events appended with one awaited call before
   * the saga goes on, kept, and handed to a listener): CPU µs per saga. Absent in older results.
   */
  readonly usHandWrittenWriteAhead?: number;
  /** sagaflow ÷ that write-ahead saga (absent in older results). */
  readonly ratioVsHandWrittenWriteAhead?: number;
  /**
   * The write-ahead saga ÷ the efficient journaled one, in the same rounds: the lower bound of
   * `ratioVsHandWrittenJournaled` for an engine that writes ahead through an asynchronous store
   * (absent in older results).
   */
  readonly writeAheadVsHandWrittenJournaled?: number;
  /** The write-ahead saga ÷ hand-written, same rounds: the lower bound of `ratioVsHandWritten` (absent in older results). */
  readonly writeAheadVsHandWritten?: number;
  /** The write-ahead saga ÷ node-sagas, same rounds: the lower bound of `ratioVsNodeSagas` (absent in older results, null without node-sagas). */
  readonly writeAheadVsNodeSagas?: number | null;
  /** node-sagas ÷ hand-written, measured in the same rounds. */
  readonly nodeSagasVsHandWritten: number | null;
  /**
   * Heap allocations per failing saga, by variant (after the timed rounds, warm): objects and
   * bytes, counted by V8's sampling heap profiler at a 1-byte interval (every allocation,
   * including those a scavenge later frees). Absent in results saved before it was measured.
   */
  readonly allocations?: Record<Variant, { readonly objects: number; readonly bytes: number } | null>;
  readonly reason?: string;
}

/** Sagas per variant whose allocations are counted (every allocation is sampled: slow). */
const ALLOCATION_SAGAS = 200;

type Variant = 'sagaflow' | 'hand-written' | 'hand-written+journal' | 'hand-written+kept journal' | 'hand-written write-ahead' | 'node-sagas';

/** Measures the variants, interleaved; see the module comment. */
export async function benchmarkMemory(options: MemoryBenchOptions = {}): Promise<MemoryBenchResult> {
  return withoutSourceMaps(() => measureMemory(options)); // as `node app.js` runs: see withoutSourceMaps
}

async function measureMemory(options: MemoryBenchOptions): Promise<MemoryBenchResult> {
  const rounds = options.rounds ?? 7;
  const count = options.count ?? 5_000;
  const effects = new CountingEffects();
  const saga = createBenchSaga(effects);
  const store = new MemoryStore();
  const orchestrator: Orchestrator = createOrchestrator({ store });
  let streamed = 0;
  const subscription = orchestrator.events$.subscribe(() => void streamed++);
  let listened = 0;
  const listener = (): void => void listened++;

  let nodeSagas: SagaPeer | undefined;
  let reason: string | undefined;
  if (options.nodeSagas === false) reason = 'node-sagas was not measured: bench/peers is not installed (npm ci --prefix bench/peers)';
  else {
    try {
      nodeSagas = await loadPeer('node-sagas');
      await nodeSagas.setup();
    } catch (error) {
      reason = `node-sagas cannot run: ${error instanceof Error ? error.message : String(error)}`;
    }
  }

  const runners: Record<Variant, ((count: number) => Promise<void>) | undefined> = {
    sagaflow: async (count) => {
      for (let i = 0; i < count; i++) {
        const outcome = await orchestrator.start(saga, { fail: true }).outcome;
        if (outcome.status !== 'compensated') throw new Error(`sagaflow: the run ended ${outcome.status}, expected compensated`);
      }
    },
    'hand-written': async (count) => {
      for (let i = 0; i < count; i++) await runHandWrittenSaga(effects, true);
    },
    'hand-written+journal': async (count) => {
      for (let i = 0; i < count; i++) await runHandWrittenJournaled(effects, true, []);
    },
    'hand-written+kept journal': async (count) => {
      // Every saga's journal is kept until the batch ends, as MemoryStore keeps sagaflow's (the
      // store is pruned between batches, outside the timing): the events outlive a scavenge and
      // are promoted, which the journal dropped after each saga does not pay.
      const journals: object[][] = [];
      for (let i = 0; i < count; i++) {
        const journal: object[] = [];
        await runHandWrittenJournaled(effects, true, journal);
        journals.push(journal);
      }
    },
    'hand-written write-ahead': async (count) => {
      // Kept until the batch ends and streamed to a listener, as MemoryStore and events$ do.
      const journals: object[][] = [];
      for (let i = 0; i < count; i++) {
        const journal: object[] = [];
        await runHandWrittenWriteAhead(effects, true, journal, listener);
        journals.push(journal);
      }
    },
    'node-sagas': nodeSagas === undefined ? undefined : (count) => nodeSagas.runBatch({ count, concurrency: 1, fail: true }),
  };
  const variants = (Object.keys(runners) as Variant[]).filter((variant) => runners[variant] !== undefined);
  const us: Record<Variant, number[]> = { sagaflow: [], 'hand-written': [], 'hand-written+journal': [], 'hand-written+kept journal': [], 'hand-written write-ahead': [], 'node-sagas': [] };
  let allocations: MemoryBenchResult['allocations'];

  try {
    // MemoryStore keeps every run's journal until pruned: prune after each batch, untimed, so
    // that every batch starts from the same heap (and a full run's 7 × 5,000 runs do not pile up).
    const prune = (): Promise<number> => store.prune({ olderThan: Date.now() + 1 });
    for (const variant of variants) {
      await runners[variant]?.(count); // warm-up
      await prune();
    }
    for (let round = 0; round < rounds; round++) {
      for (let index = 0; index < variants.length; index++) {
        const variant = variants[(index + round) % variants.length] as Variant;
        const elapsed = cpuStopwatch();
        await runners[variant]?.(count);
        us[variant].push(elapsed() / count);
        if (variant === 'sagaflow') await prune();
      }
    }
    allocations = await countAllocations(variants, (variant) => runners[variant]?.(ALLOCATION_SAGAS), ALLOCATION_SAGAS);
    await prune();
  } finally {
    subscription.unsubscribe();
    await orchestrator.close();
    await nodeSagas?.teardown();
  }
  const expected = 21 * (count * (rounds + 1) + ALLOCATION_SAGAS);
  if (streamed !== expected) throw new Error(`sagaflow streamed ${streamed} events, expected ${expected}`);
  if (listened !== expected) throw new Error(`the write-ahead saga streamed ${listened} events, expected ${expected}`);

  const perRound = (numerator: Variant, denominator: Variant): number | null => medianOfRatios(us[numerator], us[denominator]);
  return {
    rounds,
    count,
    usSagaflow: median(us.sagaflow),
    usHandWritten: median(us['hand-written']),
    usHandWrittenJournaled: median(us['hand-written+journal']),
    usHandWrittenJournalKept: median(us['hand-written+kept journal']),
    usNodeSagas: us['node-sagas'].length === 0 ? null : median(us['node-sagas']),
    ratioVsHandWritten: perRound('sagaflow', 'hand-written') ?? NaN,
    ratioVsHandWrittenJournaled: perRound('sagaflow', 'hand-written+journal') ?? NaN,
    ratioVsHandWrittenJournalKept: perRound('sagaflow', 'hand-written+kept journal') ?? NaN,
    usHandWrittenWriteAhead: median(us['hand-written write-ahead']),
    ratioVsHandWrittenWriteAhead: perRound('sagaflow', 'hand-written write-ahead') ?? NaN,
    writeAheadVsHandWrittenJournaled: perRound('hand-written write-ahead', 'hand-written+journal') ?? NaN,
    writeAheadVsHandWritten: perRound('hand-written write-ahead', 'hand-written') ?? NaN,
    writeAheadVsNodeSagas: perRound('hand-written write-ahead', 'node-sagas'),
    ratioVsNodeSagas: perRound('sagaflow', 'node-sagas'),
    nodeSagasVsHandWritten: perRound('node-sagas', 'hand-written'),
    ...(allocations === undefined ? {} : { allocations }),
    ...(reason === undefined ? {} : { reason }),
  };
}

/**
 * Objects and bytes allocated per saga by each variant, counted with V8's sampling heap profiler
 * at a 1-byte sampling interval (so every allocation is a sample), including objects a later
 * scavenge or mark-compact frees. Runs one batch of `count` sagas per variant, warm.
 */
async function countAllocations(variants: readonly Variant[], run: (variant: Variant) => Promise<void> | undefined, count: number): Promise<Record<Variant, { objects: number; bytes: number } | null>> {
  const counts: Record<Variant, { objects: number; bytes: number } | null> = { sagaflow: null, 'hand-written': null, 'hand-written+journal': null, 'hand-written+kept journal': null, 'hand-written write-ahead': null, 'node-sagas': null };
  const session = new Session();
  session.connect();
  try {
    for (const variant of variants) {
      await session.post('HeapProfiler.startSampling', { samplingInterval: 1, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as { samplingInterval: number });
      await run(variant);
      const { profile } = await session.post('HeapProfiler.stopSampling');
      // `samples` (one per allocation here) is in V8's profile but not in @types/node's.
      const samples = (profile as { samples?: ReadonlyArray<{ readonly size: number }> }).samples ?? [];
      let bytes = 0;
      for (const sample of samples) bytes += sample.size;
      counts[variant] = { objects: samples.length / count, bytes: bytes / count };
    }
  } finally {
    session.disconnect();
  }
  return counts;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await benchmarkMemory({ rounds: numberArgument('rounds', 7), count: numberArgument('count', 5_000) }));
}
