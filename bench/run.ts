/**
 * The benchmark runner: `npm run bench` (a human table), `npm run bench -- --json` (one JSON
 * object on stdout, progress on stderr), `--quick` (a reduced set, the same keys, under 2
 * minutes), `--smoke` (tiny sizes, no peer install: checks the runner works, not figures),
 * `--from=FILE` (re-render a saved result without measuring), `--skip-build` (measure dist/ as
 * it is), `--skip-install` (do not install bench/peers: the peers it needs are reported as not
 * run, with the reason), `--write` (write the files below after a --quick run too).
 *
 * A full run (and `--from`) writes bench/results/latest.json, bench/scaling.svg and the
 * generated section of bench/README.md. Every comparison is measured in this run, interleaved
 * over rounds; ratios are medians of per-round ratios. See bench/README.md for the method.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { benchmarkPostgres, type PostgresBenchResult } from './postgres.js';
import { runDurableSqliteBenchmark, type DurableSqliteBenchmarkResult } from './durable-sqlite.js';
import { benchmarkMemory, type MemoryBenchResult } from './memory.js';
import { benchmarkOtel, OTEL_SIZES, otelReport, type OtelBenchResult } from './otel.js';
import { benchmarkScaling, type ScalingBenchResult } from './scaling.js';
import { sqliteSagasPerSecond } from './sqlite-sagas.js';
import { scalingChart } from './lib/chart.js';
import { median, medianOfRatios } from './lib/stats.js';
import { installPeers, loadPeer, peersInstalled, type SagaPeer } from './peers/index.js';

const { values: flags } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    from: { type: 'string' },
    write: { type: 'boolean' },
    'skip-install': { type: 'boolean', default: false },
    'skip-build': { type: 'boolean', default: false },
  },
  strict: true,
});

type Mode = 'full' | 'quick' | 'smoke';
const mode: Mode = flags.smoke ? 'smoke' : flags.quick ? 'quick' : 'full';
const log = (line: string): void => void (flags.json ? process.stderr : process.stdout).write(`${line}\n`);
const benchDir = new URL('./', import.meta.url);

/** Sizes per mode: the full set, the reduced set (same keys), and a smoke test's. */
const SIZES = {
  full: {
    memory: { rounds: 7, count: 5_000 },
    scaling: {},
    sqlite: { durationMs: 1_500, rounds: 3, recoveryRuns: 10_000, recoveryRepeats: 3 },
    durableRounds: 3,
    postgres: { runs: 1_000 },
    peerRuns: 500,
    sqliteRuns: 1_000,
    durableWarmup: 100,
  },
  quick: {
    memory: { rounds: 3, count: 1_500 },
    scaling: { rounds: 2, stagesPerSample: 10_000 },
    sqlite: { durationMs: 600, rounds: 1, recoveryRuns: 10_000, recoveryRepeats: 1 },
    durableRounds: 1,
    postgres: { runs: 300 },
    peerRuns: 200,
    sqliteRuns: 300,
    durableWarmup: 100,
  },
  smoke: {
    memory: { rounds: 1, count: 100 },
    scaling: { rounds: 1, stagesPerSample: 200, stageCounts: [10, 100], runCounts: [1, 10] },
    sqlite: { durationMs: 100, rounds: 1, recoveryRuns: 200, recoveryRepeats: 1 },
    durableRounds: 1,
    postgres: { runs: 20 },
    peerRuns: 20,
    sqliteRuns: 20,
    durableWarmup: 5,
  },
} as const;

type Scenario = 'success' | 'rollback';
type PerScenario = Record<Scenario, number>;

/** The fixed JSON shape (keys named in the benchmark issue are marked). */
interface BenchResults {
  readonly version: 1;
  readonly at: string;
  readonly mode: Mode;
  readonly machine: {
    readonly node: string;
    readonly cpus: number;
    readonly cpuModel: string;
    readonly loadBefore: number;
    readonly loadAfter: number;
    readonly postgresAutocommitInsertsPerSecond: number | null;
  };
  readonly memory: MemoryBenchResult; // ratioVsHandWritten, ratioVsNodeSagas
  readonly otel?: OtelBenchResult; // ratioNoop, ratioSdk: what sagaflow/otel costs (absent in results saved before it)
  readonly scaling: ScalingBenchResult; // stagesRatio, runsRatio
  readonly sqlite: Omit<DurableSqliteBenchmarkResult, `recover${string}`> & {
    readonly sagasPerSecond: PerScenario;
    readonly ratioVsDbos: number | null; // success, same saga, 16 concurrent
    readonly ratioVsDbosRollback: number | null;
    readonly reason?: string;
  };
  readonly postgres: {
    readonly concurrency: number;
    /** sagaflow on PostgreSQL, by workers (1, 3) and scenario: sagas/s, medians over the rounds. */
    readonly sagasPerSecond: Record<'workers1' | 'workers3', PerScenario>;
    readonly cpuMsPerSaga: Record<'workers1' | 'workers3', Record<Scenario, PostgresBenchResult['cpuMsPerSaga']>>;
    readonly dbos: PerScenario | null;
    readonly restate: PerScenario | null;
    /** The worse of success and rollback, 1 worker, 16 concurrent (target ≥ 3). */
    readonly ratioVsDbos: number | null;
    readonly ratioVsRestate: number | null;
    readonly ratios: Record<string, number | null>;
    readonly reasons: { readonly dbos?: string; readonly restate?: string };
  };
  readonly recovery: {
    readonly ms10k: number;
    readonly runs: number;
    readonly msMin: number;
    readonly mainThreadCpuMs: number;
    readonly processCpuMs: number;
    readonly recoverCallMs: number;
    readonly settledMs: number;
    readonly heapMB: number;
  };
}

/** One target of the issues, checked against the results. */
interface Target {
  readonly key: string;
  readonly value: number | null;
  readonly goal: string;
  readonly met: boolean | null;
}

function targets(results: BenchResults): Target[] {
  const atMost = (key: string, value: number | null, limit: number): Target => ({ key, value, goal: `≤ ${limit}`, met: value === null ? null : value <= limit });
  const atLeast = (key: string, value: number | null, limit: number): Target => ({ key, value, goal: `≥ ${limit}`, met: value === null ? null : value >= limit });
  return [
    atMost('memory.ratioVsHandWritten', results.memory.ratioVsHandWritten, 2.5),
    atMost('memory.ratioVsHandWrittenJournaled', results.memory.ratioVsHandWrittenJournaled, 1.5),
    atMost('memory.ratioVsNodeSagas', results.memory.ratioVsNodeSagas, 1),
    atMost('scaling.stagesRatio', results.scaling.stagesRatio, 1.5),
    atMost('scaling.runsRatio', results.scaling.runsRatio, 1.5),
    atLeast('sqlite.groupCommitRatio', results.sqlite.groupCommitRatio, 5),
    atLeast('sqlite.ratioVsDbos', results.sqlite.ratioVsDbos, 10),
    atLeast('postgres.ratioVsDbos', results.postgres.ratioVsDbos, 3),
    atLeast('postgres.ratioVsRestate', results.postgres.ratioVsRestate, 3),
    atMost('recovery.ms10k', results.recovery.ms10k, 2_000),
  ];
}

const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Builds dist/ (the benchmarks measure the built package, as users run it). */
function build(): void {
  log('building dist/ (npm run build)…');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: new URL('../', import.meta.url), stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Sets up a durable peer, or says why it cannot run. */
async function durablePeer(name: 'dbos' | 'restate'): Promise<{ peer?: SagaPeer; reason?: string }> {
  try {
    const peer = await loadPeer(name);
    await peer.setup();
    return { peer };
  } catch (error) {
    return { reason: `${name} cannot run here: ${errorMessage(error)}` };
  }
}

/**
 * Sagas/s of a peer at 16 in flight, after a warm-up batch of `warmup` sagas: the same warm-up
 * every durable engine gets before each measured batch (sagaflow's PostgreSQL workers and its
 * SQLite store too), so that no engine is measured with a cold JIT, cold connections or caches.
 */
async function peerRate(peer: SagaPeer, count: number, fail: boolean, warmup: number): Promise<number> {
  await peer.runBatch({ count: warmup, concurrency: 16, fail });
  const started = performance.now();
  await peer.runBatch({ count, concurrency: 16, fail });
  return (count * 1_000) / (performance.now() - started);
}

/** The durable comparisons: sagaflow on PostgreSQL (1 and 3 workers) and on SQLite, DBOS, Restate; interleaved rounds. */
async function measureDurable(sizes: (typeof SIZES)[Mode]): Promise<{ sqlite: Pick<BenchResults['sqlite'], 'sagasPerSecond' | 'ratioVsDbos' | 'ratioVsDbosRollback' | 'reason'>; postgres: BenchResults['postgres']; autocommit: number | null }> {
  const concurrency = 16;
  const reasonInstall = installFailure;
  const dbos = reasonInstall === undefined ? await durablePeer('dbos') : { reason: reasonInstall };
  const restate = reasonInstall === undefined ? await durablePeer('restate') : { reason: reasonInstall };
  if (dbos.reason !== undefined) log(dbos.reason);
  if (restate.reason !== undefined) log(restate.reason);

  const samples = new Map<string, number[]>();
  const add = (key: string, value: number): void => void samples.set(key, [...(samples.get(key) ?? []), value]);
  const cpu = new Map<string, PostgresBenchResult['cpuMsPerSaga']>();
  let autocommit: number[] = [];
  const legs: Array<{ name: string; run: () => Promise<void> }> = [
    {
      name: 'sagaflow on PostgreSQL (1 and 3 workers)',
      run: async () => {
        const report = await benchmarkPostgres({ workers: [1, 3], concurrency, runs: sizes.postgres.runs, warmup: sizes.durableWarmup });
        autocommit = [...autocommit, report.autocommitInsertsPerSecond];
        for (const result of report.results) {
          add(`pg-${result.workers}-${result.scenario}`, result.sagasPerSecond);
          cpu.set(`pg-${result.workers}-${result.scenario}`, result.cpuMsPerSaga);
        }
      },
    },
    {
      name: 'sagaflow on SQLite',
      run: async () => {
        for (const fail of [false, true]) add(`sqlite-${fail ? 'rollback' : 'success'}`, await sqliteSagasPerSecond({ count: sizes.sqliteRuns, concurrency, fail, warmup: sizes.durableWarmup }));
      },
    },
  ];
  for (const [name, entry] of [['dbos', dbos], ['restate', restate]] as const) {
    const peer = entry.peer;
    if (peer === undefined) continue;
    legs.push({
      name,
      run: async () => {
        for (const fail of [false, true]) add(`${name}-${fail ? 'rollback' : 'success'}`, await peerRate(peer, sizes.peerRuns, fail, sizes.durableWarmup));
      },
    });
  }
  try {
    for (let round = 0; round < sizes.durableRounds; round++) {
      for (let index = 0; index < legs.length; index++) {
        const leg = legs[(index + round) % legs.length];
        if (leg === undefined) continue;
        log(`  durable round ${round + 1}/${sizes.durableRounds}: ${leg.name}…`);
        await leg.run();
      }
    }
  } finally {
    await dbos.peer?.teardown();
    await restate.peer?.teardown();
  }

  const rate = (key: string): number => median(samples.get(key) ?? [Number.NaN]);
  const perScenario = (prefix: string): PerScenario => ({ success: rate(`${prefix}-success`), rollback: rate(`${prefix}-rollback`) });
  const ratio = (numerator: string, denominator: string): number | null => medianOfRatios(samples.get(numerator), samples.get(denominator));
  const ratios: Record<string, number | null> = {};
  for (const peer of ['dbos', 'restate']) {
    for (const workers of [1, 3]) for (const scenario of ['success', 'rollback']) ratios[`${peer}.workers${workers}.${scenario}`] = ratio(`pg-${workers}-${scenario}`, `${peer}-${scenario}`);
  }
  const worse = (peer: string): number | null => {
    const success = ratios[`${peer}.workers1.success`] ?? null;
    const rollback = ratios[`${peer}.workers1.rollback`] ?? null;
    return success === null || rollback === null ? null : Math.min(success, rollback);
  };
  const cpuOf = (workers: number): Record<Scenario, PostgresBenchResult['cpuMsPerSaga']> => ({
    success: cpu.get(`pg-${workers}-success`) ?? { workers: Number.NaN, submitter: Number.NaN, postgres: undefined },
    rollback: cpu.get(`pg-${workers}-rollback`) ?? { workers: Number.NaN, submitter: Number.NaN, postgres: undefined },
  });
  return {
    autocommit: autocommit.length === 0 ? null : median(autocommit),
    sqlite: {
      sagasPerSecond: perScenario('sqlite'),
      ratioVsDbos: ratio('sqlite-success', 'dbos-success'),
      ratioVsDbosRollback: ratio('sqlite-rollback', 'dbos-rollback'),
      ...(dbos.reason === undefined ? {} : { reason: dbos.reason }),
    },
    postgres: {
      concurrency,
      sagasPerSecond: { workers1: perScenario('pg-1'), workers3: perScenario('pg-3') },
      cpuMsPerSaga: { workers1: cpuOf(1), workers3: cpuOf(3) },
      dbos: dbos.peer === undefined ? null : perScenario('dbos'),
      restate: restate.peer === undefined ? null : perScenario('restate'),
      ratioVsDbos: worse('dbos'),
      ratioVsRestate: worse('restate'),
      ratios,
      reasons: { ...(dbos.reason === undefined ? {} : { dbos: dbos.reason }), ...(restate.reason === undefined ? {} : { restate: restate.reason }) },
    },
  };
}

/** Why the peers are not installed, once {@link installPeersOnce} ran; undefined when they are. */
let installFailure: string | undefined;

/** Installs bench/peers unless it is there, or the mode or a flag says not to. */
async function installPeersOnce(): Promise<void> {
  if (peersInstalled()) return;
  if (flags['skip-install'] || mode === 'smoke') {
    installFailure = 'bench/peers is not installed (npm ci --prefix bench/peers)';
    return;
  }
  log('installing the peers (npm ci --prefix bench/peers)…');
  await installPeers().catch((error: unknown) => void (installFailure = `installing bench/peers failed: ${errorMessage(error)}`));
}

async function measureAll(): Promise<BenchResults> {
  const sizes = SIZES[mode];
  await installPeersOnce();
  const loadBefore = loadavg()[0] ?? 0;
  log(`sagaflow benchmarks (${mode}), load average ${loadBefore.toFixed(2)} on ${cpus().length} cores`);
  log('in-memory overhead…');
  const memory = await benchmarkMemory({ ...sizes.memory, nodeSagas: peersInstalled() });
  log('OpenTelemetry instrumentation cost…');
  const otel = await benchmarkOtel(OTEL_SIZES[mode]);
  log('scaling…');
  const scaling = await benchmarkScaling(sizes.scaling);
  log('SQLite group commit and recovery…');
  const { recoveryMs10k, recoveryMs10kMin, recoveryMainThreadCpuMs10k, recoveryProcessCpuMs10k, recoverCallMs10k, recoverySettledMs10k, recoveryHeapMB10k, ...sqlite } =
    await runDurableSqliteBenchmark({ ...sizes.sqlite, log: (line) => log(`  ${line}`) });
  log('durable throughput against the peers…');
  const durable = await measureDurable(sizes);
  return {
    version: 1,
    at: new Date().toISOString(),
    mode,
    machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', loadBefore, loadAfter: loadavg()[0] ?? 0, postgresAutocommitInsertsPerSecond: durable.autocommit },
    memory,
    otel,
    scaling,
    sqlite: { ...sqlite, ...durable.sqlite },
    postgres: durable.postgres,
    recovery: {
      ms10k: recoveryMs10k,
      runs: sizes.sqlite.recoveryRuns,
      msMin: recoveryMs10kMin,
      mainThreadCpuMs: recoveryMainThreadCpuMs10k,
      processCpuMs: recoveryProcessCpuMs10k,
      recoverCallMs: recoverCallMs10k,
      settledMs: recoverySettledMs10k,
      heapMB: recoveryHeapMB10k,
    },
  };
}

const fmt = (value: number | null | undefined, digits = 2): string =>
  value === null || value === undefined || Number.isNaN(value) ? '—' : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: value >= 100 ? 0 : digits });

/** Markdown table of rows; the first row is the header. */
function markdownTable(rows: readonly (readonly string[])[]): string {
  const [header = [], ...body] = rows;
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...body.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

/** The results as Markdown: what bench/README.md's generated section holds, and what the terminal shows. */
function report(results: BenchResults): string {
  const { memory, scaling, sqlite, postgres, recovery, machine } = results;
  const lines: string[] = [];
  lines.push(
    `Measured ${results.at.slice(0, 16).replace('T', ' ')} UTC (${results.mode} run), Node ${machine.node}, ${machine.cpus} × ${machine.cpuModel}, ` +
      `load average ${fmt(machine.loadBefore)} → ${fmt(machine.loadAfter)}` +
      (machine.postgresAutocommitInsertsPerSecond === null ? '.' : `, PostgreSQL autocommit INSERTs ${fmt(machine.postgresAutocommitInsertsPerSecond, 0)}/s.`),
    '',
    '**Targets**',
    '',
    markdownTable([['key', 'value', 'target', 'met'], ...targets(results).map((target) => [`\`${target.key}\``, fmt(target.value), target.goal, target.met === null ? 'n/a' : target.met ? 'yes' : '**no**'])]),
    '',
    `**In memory** (5 stages, stage 5 fails, 4 compensations; sequential; median µs per saga over ${memory.rounds} rounds of ${memory.count.toLocaleString('en-US')})`,
    '',
    markdownTable([
      ['implementation', 'µs per saga', 'sagaflow ÷ it'],
      ['sagaflow, MemoryStore, journaled and streamed', fmt(memory.usSagaflow), '1'],
      ['hand-written async/await + try/catch', fmt(memory.usHandWritten), fmt(memory.ratioVsHandWritten)],
      ['hand-written + an in-memory journal of the same 21 events', fmt(memory.usHandWrittenJournaled), fmt(memory.ratioVsHandWrittenJournaled)],
      ['node-sagas 0.0.6 (no journal)', fmt(memory.usNodeSagas), fmt(memory.ratioVsNodeSagas)],
    ]),
    '',
    `**Scaling** (MemoryStore; µs per executed stage, medians; heap with every run held inside its first stage${scaling.heapExact ? ', after a forced GC' : ''})`,
    '',
    markdownTable([
      ['size', 'chain µs/stage', 'fan-out µs/stage', 'concurrent runs µs/stage', 'heap KB per in-flight run'],
      ...[...new Set([...scaling.chain, ...scaling.runs].map((point) => point.size))]
        .sort((a, b) => a - b)
        .map((size) => {
          const runs = scaling.runs.find((point) => point.size === size);
          return [
            size.toLocaleString('en-US'),
            fmt(scaling.chain.find((point) => point.size === size)?.usPerStage),
            fmt(scaling.fanOut.find((point) => point.size === size)?.usPerStage),
            fmt(runs?.usPerStage),
            fmt(runs?.heapKBPerRun, 1),
          ];
        }),
    ]),
    '',
    `Largest ÷ smallest per-stage cost: stages ${fmt(scaling.stagesRatio)} (chain ${fmt(scaling.chainRatio)}, fan-out ${fmt(scaling.fanOutRatio)}), concurrent runs ${fmt(scaling.runsRatio)}.`,
    '',
    '**SQLite** (`durability: full` unless said; events/s of 5-stage runs back to back on N lanes, against one single-row INSERT per commit)',
    '',
    markdownTable([
      ['measure', 'value'],
      ['raw commits/s, FULL / NORMAL', `${fmt(sqlite.rawCommitsPerSecondFull, 0)} / ${fmt(sqlite.rawCommitsPerSecondNormal, 0)}`],
      ['events/s at 1 / 10 / 100 concurrent runs, full', `${fmt(sqlite.eventsPerSecondFull1, 0)} / ${fmt(sqlite.eventsPerSecondFull10, 0)} / ${fmt(sqlite.eventsPerSecondFull100, 0)}`],
      ['events/s at 1 / 10 / 100 concurrent runs, normal', `${fmt(sqlite.eventsPerSecondNormal1, 0)} / ${fmt(sqlite.eventsPerSecondNormal10, 0)} / ${fmt(sqlite.eventsPerSecondNormal100, 0)}`],
      ['events per commit at 100 runs, full', fmt(sqlite.eventsPerTransactionFull100, 1)],
      ['group commit ratio, full / normal (× raw, same mode)', `${fmt(sqlite.groupCommitRatio)} / ${fmt(sqlite.groupCommitRatioNormal)}`],
      ['bench saga at 16 concurrent, sagas/s: success / rollback', `${fmt(sqlite.sagasPerSecond.success, 0)} / ${fmt(sqlite.sagasPerSecond.rollback, 0)}`],
      ['÷ DBOS on PostgreSQL, success / rollback', `${fmt(sqlite.ratioVsDbos)} / ${fmt(sqlite.ratioVsDbosRollback)}`],
      [`recover() of ${recovery.runs.toLocaleString('en-US')} unfinished runs, ms (fastest)`, `${fmt(recovery.ms10k, 0)} (${fmt(recovery.msMin, 0)})`],
      ['  its main-thread CPU / process CPU, ms', `${fmt(recovery.mainThreadCpuMs, 0)} / ${fmt(recovery.processCpuMs, 0)}`],
    ]),
    '',
    `**PostgreSQL** (5-stage saga, ${postgres.concurrency} runs in flight, sagas/s, medians over the rounds; peers on the same server in the same run)`,
    '',
    markdownTable([
      ['engine', 'success', 'rollback', 'CPU ms per saga (workers + PostgreSQL), success'],
      ['sagaflow, 1 worker', fmt(postgres.sagasPerSecond.workers1.success, 0), fmt(postgres.sagasPerSecond.workers1.rollback, 0), `${fmt(postgres.cpuMsPerSaga.workers1.success.workers)} + ${fmt(postgres.cpuMsPerSaga.workers1.success.postgres)}`],
      ['sagaflow, 3 workers', fmt(postgres.sagasPerSecond.workers3.success, 0), fmt(postgres.sagasPerSecond.workers3.rollback, 0), `${fmt(postgres.cpuMsPerSaga.workers3.success.workers)} + ${fmt(postgres.cpuMsPerSaga.workers3.success.postgres)}`],
      ['DBOS 5.3', fmt(postgres.dbos?.success, 0), fmt(postgres.dbos?.rollback, 0), ''],
      ['Restate 1.7', fmt(postgres.restate?.success, 0), fmt(postgres.restate?.rollback, 0), ''],
    ]),
    '',
    `Ratios (per-round): ${Object.entries(postgres.ratios)
      .map(([key, value]) => `${key} ${fmt(value)}`)
      .join(', ')}.`,
  );
  lines.push(...otelReport(results.otel));
  for (const reason of [postgres.reasons.dbos, postgres.reasons.restate, memory.reason]) if (reason !== undefined) lines.push('', `Not measured: ${reason}`);
  return lines.join('\n');
}

function chart(results: BenchResults): string {
  const { scaling } = results;
  return scalingChart('sagaflow: µs per stage as work grows (MemoryStore)', [
    { label: 'chain (stages per saga)', color: '#1f77b4', points: scaling.chain },
    { label: 'fan-out (stages per saga)', color: '#ff7f0e', points: scaling.fanOut },
    { label: 'concurrent 5-stage runs', color: '#2ca02c', points: scaling.runs },
  ]);
}

/** Replaces the generated section of bench/README.md. */
function writeReadme(results: BenchResults): void {
  const path = new URL('README.md', benchDir);
  const readme = readFileSync(path, 'utf8');
  const start = '<!-- results:start (generated by bench/run.ts) -->';
  const end = '<!-- results:end -->';
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) throw new Error(`bench/README.md has no generated section: add the lines "${start}" and "${end}"`);
  writeFileSync(path, `${readme.slice(0, from + start.length)}\n\n${report(results)}\n\n![Scaling curves](scaling.svg)\n\n${readme.slice(to)}`);
}

const results: BenchResults = flags.from === undefined ? (flags['skip-build'] || mode === 'smoke' ? undefined : build(), await measureAll()) : (JSON.parse(readFileSync(flags.from, 'utf8')) as BenchResults);
if (flags.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
else log(`\n${report(results)}`);
if (flags.write ?? (mode === 'full' || flags.from !== undefined)) {
  mkdirSync(new URL('results/', benchDir), { recursive: true });
  if (flags.from === undefined) writeFileSync(new URL('results/latest.json', benchDir), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(new URL('scaling.svg', benchDir), chart(results));
  writeReadme(results);
  log('wrote bench/results/latest.json, bench/scaling.svg and bench/README.md');
}
