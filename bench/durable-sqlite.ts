/**
 * Durable throughput of real saga runs on SqliteStore, and the cost of recover().
 *
 * Run alone: `npx tsx bench/durable-sqlite.ts [--duration=1500] [--rounds=3] [--recovery-runs=10000] [--recovery-repeats=3]`
 * From a runner: `const result = await runDurableSqliteBenchmark()` (numbers only, see
 * {@link DurableSqliteBenchmarkResult}).
 *
 * Throughput: 1, 10 and 100 lanes each run a 5-stage saga (12 events per run: run.started,
 * stage.started + stage.completed per stage, run.completed; one I/O turn per stage) back to
 * back for `duration` ms on a fresh SqliteStore file; events/s is what the store committed.
 * Every round first measures the raw rate of the same disk (one single-row INSERT per
 * commit, WAL, `synchronous = FULL`), then every configuration, so the ratio
 * `full, 100 runs / raw FULL` is taken per round; results are medians over the rounds.
 * Target: ≥ 5× at 100 concurrent runs.
 *
 * Recovery: 10,000 runs left unfinished (each in its third of five stages) in a file; a new
 * store and orchestrator call `recover()`. `recoveryMs10k` is the time from the call until
 * every run is picked up again: loaded, validated, folded and its `run.resumed` durable
 * (median of 3 repeats on copies of the file). Target: ≤ 2 s. On a shared machine wall times
 * swing with the load, so the main thread's CPU time is reported too: it is about what the
 * wall time would be with the cores to itself. Files live in bench/.work (git-ignored).
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { v7 as uuidv7 } from 'uuid';
import { z } from 'zod';
import { createOrchestrator, defineSaga, type AnySaga, type RunStartedEvent, type SagaEventDraft } from '../dist/index.js';
import { SqliteStore, type SqliteDurability } from '../dist/sqlite.js';
import { benchDatabasePath, formatNumber, numberArgument, printTable, rawCommitsPerSecond, removeDatabase } from './lib/sqlite-bench.js';
import { median } from './lib/stats.js';

/** Options of {@link runDurableSqliteBenchmark}. */
export interface DurableSqliteBenchmarkOptions {
  /** How long each throughput measurement runs. Default 1,500 ms. */
  readonly durationMs?: number;
  /** Rounds of every measurement, interleaved; results are medians. Default 3. */
  readonly rounds?: number;
  /** Unfinished runs recover() picks up. Default 10,000. */
  readonly recoveryRuns?: number;
  /** Repeats of the recovery measurement. Default 3. */
  readonly recoveryRepeats?: number;
  /** Progress and tables. Default: nothing. */
  readonly log?: (line: string) => void;
}

/** What {@link runDurableSqliteBenchmark} measured: medians over the rounds, all plain numbers. */
export interface DurableSqliteBenchmarkResult {
  /** Events/s at `durability: 'full'` with 100 concurrent runs ÷ raw single-row commits/s at FULL (target ≥ 5). */
  readonly groupCommitRatio: number;
  /** The same ratio at `durability: 'normal'`, against raw commits/s at NORMAL. */
  readonly groupCommitRatioNormal: number;
  readonly rawCommitsPerSecondFull: number;
  readonly rawCommitsPerSecondNormal: number;
  readonly eventsPerSecondFull1: number;
  readonly eventsPerSecondFull10: number;
  readonly eventsPerSecondFull100: number;
  readonly eventsPerSecondNormal1: number;
  readonly eventsPerSecondNormal10: number;
  readonly eventsPerSecondNormal100: number;
  /** Mean events per commit at `full` with 100 concurrent runs. */
  readonly eventsPerTransactionFull100: number;
  /** recover() over 10,000 unfinished runs, until every one is resumed: median of the repeats (target ≤ 2,000 ms). */
  readonly recoveryMs10k: number;
  /** The fastest repeat of {@link DurableSqliteBenchmarkResult.recoveryMs10k}. */
  readonly recoveryMs10kMin: number;
  /** Main-thread CPU time of that recovery: about its wall time on an idle machine (see {@link RecoveryResult}). */
  readonly recoveryMainThreadCpuMs10k: number;
  /** CPU time of the whole process over that recovery (GC helper threads included). */
  readonly recoveryProcessCpuMs10k: number;
  /** Until recover() itself resolved with the handles. */
  readonly recoverCallMs10k: number;
  /** Until every recovered run had settled (its remaining three stages run). */
  readonly recoverySettledMs10k: number;
  /** Heap in use with 10,000 runs live, in MB. */
  readonly recoveryHeapMB10k: number;
}

/** What {@link measureRecovery} measured: medians over the repeats unless said otherwise. */
export interface RecoveryResult {
  readonly runs: number;
  readonly repeats: number;
  /** From calling recover() until every run's `run.resumed` is durable. */
  readonly resumedMs: number;
  /** The fastest repeat of {@link RecoveryResult.resumedMs}: the least disturbed by other processes. */
  readonly resumedMsMin: number;
  /** From calling recover() until it resolved with the handles. */
  readonly recoverCallMs: number;
  /**
   * CPU time of the main thread over {@link RecoveryResult.resumedMs} (Linux; elsewhere the
   * process's CPU time): close to the wall time on an otherwise idle machine.
   */
  readonly mainThreadCpuMs: number;
  /** CPU time of the whole process (the main thread plus GC and I/O helper threads). */
  readonly processCpuMs: number;
  /** Heap in use once every run was resumed, in MB. */
  readonly heapMB: number;
  /** Last repeat only: from calling recover() until every run settled (its last three stages run). */
  readonly settledMs: number;
}

const STAGES = ['reserve', 'authorize', 'capture', 'ship', 'notify'] as const;

function benchSaga(): AnySaga {
  const stage = {
    // One I/O turn, as a call to another system would take, then a small output.
    execute: async ({ stage, attempt }: { stage: string; attempt: number }) => {
      await nextTurn();
      return { stage, attempt, reference: `${stage}-ok` };
    },
    compensate: async () => undefined,
  };
  return defineSaga({ name: 'bench-order', input: z.object({ orderId: z.string(), cents: z.number() }) })
    .stage('reserve', stage)
    .stage('authorize', stage)
    .stage('capture', stage)
    .stage('ship', stage)
    .stage('notify', stage)
    .build();
}

interface ThroughputSample {
  readonly eventsPerSecond: number;
  readonly eventsPerTransaction: number;
}

/** `lanes` runs in flight at all times, each lane starting its next run when one settles, for `durationMs`. */
async function sagaThroughput(durability: SqliteDurability, lanes: number, durationMs: number): Promise<ThroughputSample> {
  const path = benchDatabasePath(`durable-${durability}-${lanes}`);
  const store = await new SqliteStore({ path, durability }).open();
  const saga = benchSaga();
  const orchestrator = createOrchestrator({ store, sagas: [saga] });
  const started = performance.now();
  const deadline = started + durationMs;
  let order = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (performance.now() < deadline) {
        const outcome = await orchestrator.start(saga, { orderId: `o-${order++}`, cents: 1_250 }).outcome;
        if (outcome.status !== 'completed') throw new Error(`bench run ${outcome.runId} ended ${outcome.status}`);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1_000;
  const { events, transactions } = store.stats;
  await orchestrator.close();
  await store.close();
  removeDatabase(path);
  return { eventsPerSecond: events / elapsed, eventsPerTransaction: events / Math.max(1, transactions) };
}

/** CPU milliseconds of the main thread from /proc on Linux, else of the whole process. */
function mainThreadCpuMs(): number {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    if (Number.isFinite(ticks)) return ticks * 10; // USER_HZ is 100 on Linux
  } catch {
    // Not Linux: fall through.
  }
  const { user, system } = process.cpuUsage();
  return (user + system) / 1_000;
}

/** Writes `runs` unfinished runs to a fresh file, as a process that died would leave them: two stages done, the third started. */
async function seedUnfinishedRuns(saga: AnySaga, runs: number): Promise<string> {
  const path = benchDatabasePath('recovery-seed');
  const seeding = new SqliteStore({ path, durability: 'normal' });
  const drafts: SagaEventDraft[] = [
    { type: 'run.started', version: saga.version, shapeHash: saga.shapeHash, input: { orderId: 'o', cents: 1_250 }, stages: [...STAGES] },
    { type: 'stage.started', stage: 'reserve', attempt: 1 },
    { type: 'stage.completed', stage: 'reserve', attempt: 1, output: { stage: 'reserve', attempt: 1, reference: 'reserve-ok' }, durationMs: 3 },
    { type: 'stage.started', stage: 'authorize', attempt: 1 },
    { type: 'stage.completed', stage: 'authorize', attempt: 1, output: { stage: 'authorize', attempt: 1, reference: 'authorize-ok' }, durationMs: 3 },
    { type: 'stage.started', stage: 'capture', attempt: 1 },
  ];
  const at = Date.now();
  await Promise.all(
    Array.from({ length: runs }, async () => {
      const runId = uuidv7();
      const [started, ...rest] = drafts.map((draft, seq) => ({ ...draft, runId, saga: saga.name, seq, at: at + seq }));
      // Created owned, then released: a dead process's runs, which recover() may take at once.
      const lease = { owner: 'seed', epoch: 1 };
      await seeding.create({ event: started as RunStartedEvent, owner: { owner: lease.owner, leaseMs: 60_000 } });
      await seeding.append({ runId, saga: saga.name, expectedSeq: 1, events: rest, status: 'running', lease });
      await seeding.release(runId, lease);
    }),
  );
  await seeding.close(); // checkpoints the WAL: the copies below are complete files
  return path;
}

interface RecoverySample {
  readonly resumedMs: number;
  readonly recoverCallMs: number;
  readonly mainThreadCpuMs: number;
  readonly processCpuMs: number;
  readonly heapMB: number;
  readonly settledMs: number | undefined;
}

/** One recover() on a fresh copy of the seeded file, by a new store and orchestrator. */
async function recoverOnce(seedPath: string, saga: AnySaga, runs: number, waitToSettle: boolean): Promise<RecoverySample> {
  const path = benchDatabasePath('recovery');
  copyFileSync(seedPath, path);
  const store = await new SqliteStore({ path }).open();
  const orchestrator = createOrchestrator({ store, sagas: [saga] });
  let resumed = 0;
  let sample: Omit<RecoverySample, 'recoverCallMs' | 'settledMs'> | undefined;
  const cpuAtStart = process.cpuUsage();
  const mainAtStart = mainThreadCpuMs();
  const started = performance.now();
  const allResumed = new Promise<void>((resolve) => {
    const subscription = orchestrator.events$.subscribe((event) => {
      if (event.type !== 'run.resumed' || ++resumed < runs) return;
      const cpu = process.cpuUsage(cpuAtStart);
      sample = {
        resumedMs: performance.now() - started,
        mainThreadCpuMs: mainThreadCpuMs() - mainAtStart,
        processCpuMs: (cpu.user + cpu.system) / 1_000,
        heapMB: process.memoryUsage().heapUsed / 1e6,
      };
      subscription.unsubscribe();
      resolve();
    });
  });
  const handles = await orchestrator.recover();
  const recoverCallMs = performance.now() - started;
  if (handles.length !== runs) throw new Error(`recover() picked up ${handles.length} runs, expected ${runs}`);
  await allResumed;
  let settledMs: number | undefined;
  if (waitToSettle) {
    const outcomes = await Promise.all(handles.map((handle) => handle.outcome));
    settledMs = performance.now() - started;
    const notCompleted = outcomes.filter((outcome) => outcome.status !== 'completed').length;
    if (notCompleted > 0) throw new Error(`${notCompleted} recovered runs did not complete`);
  }
  // Runs still in flight are left in place: this copy of the file is thrown away.
  await orchestrator.close({ timeoutMs: 0 });
  await store.close();
  removeDatabase(path);
  if (sample === undefined) throw new Error('not every run was resumed');
  return { ...sample, recoverCallMs, settledMs };
}

/**
 * Leaves `runs` runs unfinished in a file (each has completed two stages and started its
 * third), then times recover() by a new store and orchestrator on a fresh copy of it,
 * `repeats` times; the last repeat also waits for every run to settle.
 */
export async function measureRecovery(runs = 10_000, repeats = 3): Promise<RecoveryResult> {
  const saga = benchSaga();
  const seedPath = await seedUnfinishedRuns(saga, runs);
  const samples: RecoverySample[] = [];
  try {
    for (let repeat = 0; repeat < repeats; repeat++) samples.push(await recoverOnce(seedPath, saga, runs, repeat === repeats - 1));
  } finally {
    removeDatabase(seedPath);
  }
  const of = (pick: (sample: RecoverySample) => number): number => median(samples.map(pick));
  return {
    runs,
    repeats,
    resumedMs: of((sample) => sample.resumedMs),
    resumedMsMin: Math.min(...samples.map((sample) => sample.resumedMs)),
    recoverCallMs: of((sample) => sample.recoverCallMs),
    mainThreadCpuMs: of((sample) => sample.mainThreadCpuMs),
    processCpuMs: of((sample) => sample.processCpuMs),
    heapMB: of((sample) => sample.heapMB),
    settledMs: samples[samples.length - 1]?.settledMs ?? Number.NaN,
  };
}

/** Runs the whole benchmark; see the file comment. */
export async function runDurableSqliteBenchmark(options: DurableSqliteBenchmarkOptions = {}): Promise<DurableSqliteBenchmarkResult> {
  const durationMs = options.durationMs ?? 1_500;
  const rounds = options.rounds ?? 3;
  const recoveryRuns = options.recoveryRuns ?? 10_000;
  const log = options.log ?? (() => undefined);
  const lanes = [1, 10, 100] as const;
  const durabilities = ['full', 'normal'] as const;

  const raw = { full: [] as number[], normal: [] as number[] };
  const samples = new Map<string, { rate: number[]; perTransaction: number[]; ratio: number[] }>();
  for (let round = 0; round < rounds; round++) {
    const rawFull = rawCommitsPerSecond('FULL', durationMs);
    const rawNormal = rawCommitsPerSecond('NORMAL', durationMs);
    raw.full.push(rawFull);
    raw.normal.push(rawNormal);
    for (const durability of durabilities) {
      for (const count of lanes) {
        const sample = await sagaThroughput(durability, count, durationMs);
        const key = `${durability}-${count}`;
        const entry = samples.get(key) ?? { rate: [], perTransaction: [], ratio: [] };
        entry.rate.push(sample.eventsPerSecond);
        entry.perTransaction.push(sample.eventsPerTransaction);
        entry.ratio.push(sample.eventsPerSecond / (durability === 'full' ? rawFull : rawNormal));
        samples.set(key, entry);
      }
    }
    log(`round ${round + 1}/${rounds}: raw FULL ${formatNumber(rawFull)} commits/s; full, 100 runs: ${formatNumber(samples.get('full-100')?.rate.at(-1) ?? 0)} events/s`);
  }
  const rate = (durability: string, count: number): number => median(samples.get(`${durability}-${count}`)?.rate ?? [0]);
  const ratio = (durability: string, count: number): number => median(samples.get(`${durability}-${count}`)?.ratio ?? [0]);

  log(`recover() over ${formatNumber(recoveryRuns)} unfinished runs…`);
  const recovery = await measureRecovery(recoveryRuns, options.recoveryRepeats ?? 3);

  const result: DurableSqliteBenchmarkResult = {
    groupCommitRatio: ratio('full', 100),
    groupCommitRatioNormal: ratio('normal', 100),
    rawCommitsPerSecondFull: median(raw.full),
    rawCommitsPerSecondNormal: median(raw.normal),
    eventsPerSecondFull1: rate('full', 1),
    eventsPerSecondFull10: rate('full', 10),
    eventsPerSecondFull100: rate('full', 100),
    eventsPerSecondNormal1: rate('normal', 1),
    eventsPerSecondNormal10: rate('normal', 10),
    eventsPerSecondNormal100: rate('normal', 100),
    eventsPerTransactionFull100: median(samples.get('full-100')?.perTransaction ?? [0]),
    recoveryMs10k: recovery.resumedMs,
    recoveryMs10kMin: recovery.resumedMsMin,
    recoveryMainThreadCpuMs10k: recovery.mainThreadCpuMs,
    recoveryProcessCpuMs10k: recovery.processCpuMs,
    recoverCallMs10k: recovery.recoverCallMs,
    recoverySettledMs10k: recovery.settledMs,
    recoveryHeapMB10k: recovery.heapMB,
  };

  log('');
  log(`raw single-row commits/s (WAL): FULL ${formatNumber(result.rawCommitsPerSecondFull)}, NORMAL ${formatNumber(result.rawCommitsPerSecondNormal)}  (rounds FULL: ${raw.full.map((value) => formatNumber(value)).join(', ')})`);
  const rows = [['durability', 'concurrent runs', 'events/s', 'events/commit', '× raw (same mode)']];
  for (const durability of durabilities) {
    for (const count of lanes) {
      const entry = samples.get(`${durability}-${count}`);
      rows.push([durability, String(count), formatNumber(rate(durability, count)), formatNumber(median(entry?.perTransaction ?? [0]), 1), formatNumber(ratio(durability, count), 2)]);
    }
  }
  printTable(rows, log);
  log(
    `\ngroup commit at 100 concurrent runs, durability 'full': ${formatNumber(result.groupCommitRatio, 2)}× the raw commit rate (target ≥ 5×; rounds: ${(samples.get('full-100')?.ratio ?? []).map((value) => formatNumber(value, 2)).join(', ')})`,
  );
  log(
    `recover() of ${formatNumber(recovery.runs)} unfinished runs: all resumed in ${formatNumber(recovery.resumedMs)} ms (median of ${recovery.repeats}; fastest ${formatNumber(recovery.resumedMsMin)} ms; target ≤ 2,000 ms)`,
  );
  log(
    `  main-thread CPU ${formatNumber(recovery.mainThreadCpuMs)} ms, process CPU ${formatNumber(recovery.processCpuMs)} ms, heap ${formatNumber(recovery.heapMB)} MB; recover() resolved after ${formatNumber(recovery.recoverCallMs)} ms; all settled after ${formatNumber(recovery.settledMs)} ms`,
  );
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runDurableSqliteBenchmark({
    durationMs: numberArgument('duration', 1_500),
    rounds: numberArgument('rounds', 3),
    recoveryRuns: numberArgument('recovery-runs', 10_000),
    recoveryRepeats: numberArgument('recovery-repeats', 3),
    log: (line) => console.log(line),
  });
}
