/**
 * In-memory overhead: the benchmark saga (5 stages, stage 5 fails, 4 compensations in reverse)
 * on sagaflow with MemoryStore, by hand with async/await and try/catch, and on node-sagas.
 *
 * Run alone: `npx tsx bench/memory.ts [--rounds=7] [--count=5000]`
 * From the runner: {@link benchmarkMemory}.
 *
 * Method: every round runs `count` sagas one after the other (concurrency 1) on each
 * implementation, in a rotating order so that none always runs first; the ratio is taken per
 * round, and the results are medians over the rounds. Each implementation is warmed up first.
 * sagaflow journals every event in the MemoryStore and streams it on `orchestrator.events$`
 * (the benchmark subscribes and counts); the hand-written saga does neither, so a fourth
 * variant, hand-written plus an in-memory journal of the same 21 events, shows what journaling
 * alone costs.
 */
import { pathToFileURL } from 'node:url';
import { createOrchestrator, MemoryStore, type Orchestrator } from '../dist/index.js';
import { createBenchSaga } from './lib/bench-saga.js';
import { loadPeer, type SagaPeer } from './peers/index.js';
import { CountingEffects, FAILING_STEP, STEP_COUNT, StepFailure, type SagaEffects } from './peers/peer.js';
import { runHandWrittenSaga } from './peers/hand-written.js';
import { numberArgument } from './lib/sqlite-bench.js';
import { median, medianOfRatios } from './lib/stats.js';

/** Options of {@link benchmarkMemory}. */
export interface MemoryBenchOptions {
  /** Interleaved rounds; results are medians. Default 7. */
  readonly rounds?: number;
  /** Sagas per implementation per round. Default 5,000. */
  readonly count?: number;
  /** Measure node-sagas too (needs `bench/peers` installed). Default true. */
  readonly nodeSagas?: boolean;
}

/** What {@link benchmarkMemory} measured: µs per failing saga (medians) and per-round ratios (medians). */
export interface MemoryBenchResult {
  readonly rounds: number;
  readonly count: number;
  readonly usSagaflow: number;
  readonly usHandWritten: number;
  readonly usHandWrittenJournaled: number;
  readonly usNodeSagas: number | null;
  /** sagaflow ÷ hand-written (target ≤ 2.5). */
  readonly ratioVsHandWritten: number;
  /** sagaflow ÷ hand-written with an in-memory journal of the same events. */
  readonly ratioVsHandWrittenJournaled: number;
  /** sagaflow ÷ node-sagas (below 1 is faster); null when node-sagas cannot run. */
  readonly ratioVsNodeSagas: number | null;
  /** node-sagas ÷ hand-written, measured in the same rounds. */
  readonly nodeSagasVsHandWritten: number | null;
  readonly reason?: string;
}

/** The hand-written saga, plus a journal of the same events sagaflow writes (21 for a failing run). */
async function runHandWrittenJournaled(effects: SagaEffects, fail: boolean, journal: object[]): Promise<void> {
  const runId = 'r';
  let seq = 0;
  const record = (event: Record<string, unknown>): void => {
    journal.push(Object.freeze({ ...event, runId, seq: seq++, at: Date.now() }));
  };
  record({ type: 'run.started', input: { fail } });
  let done = 0;
  try {
    while (done < STEP_COUNT) {
      const step = done + 1;
      record({ type: 'stage.started', stage: `s${step}`, attempt: 1 });
      await effects.execute(step);
      if (fail && step === FAILING_STEP) throw new StepFailure(step);
      record({ type: 'stage.completed', stage: `s${step}`, output: step });
      done = step;
    }
    record({ type: 'run.completed' });
  } catch (error) {
    record({ type: 'stage.failed', stage: `s${done + 1}`, error: { message: (error as Error).message } });
    record({ type: 'run.compensating' });
    for (let step = done; step >= 1; step--) {
      record({ type: 'compensation.started', stage: `s${step}`, attempt: 1 });
      await effects.compensate(step);
      record({ type: 'compensation.completed', stage: `s${step}` });
    }
    record({ type: 'run.compensated' });
  }
}

type Variant = 'sagaflow' | 'hand-written' | 'hand-written+journal' | 'node-sagas';

/** Measures the four variants, interleaved; see the module comment. */
export async function benchmarkMemory(options: MemoryBenchOptions = {}): Promise<MemoryBenchResult> {
  const rounds = options.rounds ?? 7;
  const count = options.count ?? 5_000;
  const effects = new CountingEffects();
  const saga = createBenchSaga(effects);
  const orchestrator: Orchestrator = createOrchestrator({ store: new MemoryStore() });
  let streamed = 0;
  const subscription = orchestrator.events$.subscribe(() => void streamed++);

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

  const runners: Record<Variant, (() => Promise<void>) | undefined> = {
    sagaflow: async () => {
      for (let i = 0; i < count; i++) {
        const outcome = await orchestrator.start(saga, { fail: true }).outcome;
        if (outcome.status !== 'compensated') throw new Error(`sagaflow: the run ended ${outcome.status}, expected compensated`);
      }
    },
    'hand-written': async () => {
      for (let i = 0; i < count; i++) await runHandWrittenSaga(effects, true);
    },
    'hand-written+journal': async () => {
      for (let i = 0; i < count; i++) await runHandWrittenJournaled(effects, true, []);
    },
    'node-sagas': nodeSagas === undefined ? undefined : () => nodeSagas.runBatch({ count, concurrency: 1, fail: true }),
  };
  const variants = (Object.keys(runners) as Variant[]).filter((variant) => runners[variant] !== undefined);
  const us: Record<Variant, number[]> = { sagaflow: [], 'hand-written': [], 'hand-written+journal': [], 'node-sagas': [] };

  try {
    for (const variant of variants) await runners[variant]?.(); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (let index = 0; index < variants.length; index++) {
        const variant = variants[(index + round) % variants.length] as Variant;
        const started = performance.now();
        await runners[variant]?.();
        us[variant].push(((performance.now() - started) * 1_000) / count);
      }
    }
  } finally {
    subscription.unsubscribe();
    await orchestrator.close();
    await nodeSagas?.teardown();
  }
  if (streamed !== 21 * count * (rounds + 1)) throw new Error(`sagaflow streamed ${streamed} events, expected ${21 * count * (rounds + 1)}`);

  const perRound = (numerator: Variant, denominator: Variant): number | null => medianOfRatios(us[numerator], us[denominator]);
  return {
    rounds,
    count,
    usSagaflow: median(us.sagaflow),
    usHandWritten: median(us['hand-written']),
    usHandWrittenJournaled: median(us['hand-written+journal']),
    usNodeSagas: us['node-sagas'].length === 0 ? null : median(us['node-sagas']),
    ratioVsHandWritten: perRound('sagaflow', 'hand-written') ?? NaN,
    ratioVsHandWrittenJournaled: perRound('sagaflow', 'hand-written+journal') ?? NaN,
    ratioVsNodeSagas: perRound('sagaflow', 'node-sagas'),
    nodeSagasVsHandWritten: perRound('node-sagas', 'hand-written'),
    ...(reason === undefined ? {} : { reason }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await benchmarkMemory({ rounds: numberArgument('rounds', 7), count: numberArgument('count', 5_000) }));
}
