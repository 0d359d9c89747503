/**
 * The benchmark runner: `npm run bench` (a human table), `npm run bench -- --json` (one JSON
 * object on stdout, progress on stderr), `--quick` (a reduced set, the same keys, 3–5
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
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { benchmarkPostgres, type PostgresBenchResult } from './postgres.js';
import { runDurableSqliteBenchmark } from './durable-sqlite.js';
import { benchmarkMemory } from './memory.js';
import { benchmarkOtel, OTEL_SIZES } from './otel.js';
import { benchmarkWaits } from './waits.js';
import { benchmarkScaling, benchmarkScalingSingleThreadedGc } from './scaling.js';
import { sqliteSagasPerSecond } from './sqlite-sagas.js';
import { chart, README_END, README_START, report, type BenchResults, type Mode, type PerScenario, type Scenario } from './lib/report.js';
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

const mode: Mode = flags.smoke ? 'smoke' : flags.quick ? 'quick' : 'full';
const log = (line: string): void => void (flags.json ? process.stderr : process.stdout).write(`${line}\n`);
const benchDir = new URL('./', import.meta.url);

/** Sizes per mode: the full set, the reduced set (same keys), and a smoke test's. */
const SIZES = {
  full: {
    memory: { rounds: 7, count: 5_000 },
    // The scaling curves and the durable parts take more rounds than their defaults: at 3 (durable)
    // and 5 (scaling) rounds, two runs minutes apart on an idle 2 x EPYC differed by 20-30 % on
    // scaling.runsRatio (its 10,000-run sample is one batch, at the collector's mercy) and on two
    // PostgreSQL ratios; a median of 5 and a fastest of 9 move less.
    scaling: { rounds: 9 },
    // The split of the curves into the collector's part and the rest (a child process, see
    // benchmarkScalingSingleThreadedGc): reported, not a target, so fewer rounds.
    scalingSplit: { rounds: 5 },
    sqlite: { durationMs: 1_500, rounds: 3, recoveryRuns: 10_000, recoveryRepeats: 3 },
    durableRounds: 5,
    postgres: { runs: 1_000 },
    peerRuns: 500,
    sqliteRuns: 1_000,
    durableWarmup: 100,
    waits: 100_000,
  },
  quick: {
    // The in-memory parts are cheap (seconds): the same batch sizes and rounds as the full run, so
    // that a JIT-heavy engine is as warm as in the full run and the ratios agree (5 rounds against
    // 7 left the quick medians of the 5-µs hand-written saga 25-32 % off the full run's on a guest
    // whose speed drifted between the two runs).
    memory: { rounds: 7, count: 5_000 },
    scaling: { rounds: 9 },
    scalingSplit: { rounds: 5 },
    // The durable parts: as many rounds and the same batches as the full run. Smaller batches
    // (200 sagaflow runs, 150 per peer) made the quick ratios 25 % off the full run's on a 2 x
    // EPYC: a worker's per-batch costs (its claim waves filling up, the first batch on a fresh
    // pool) weighed 2 x more per saga, and a peer's too, so the two disagreed by how cold each
    // was. SQLite's parts are cheap and the disk they divide by is the noisiest thing measured
    // (single-row commits/s moved 4,900 ↔ 6,000 between two runs minutes apart), so they are
    // measured as long as in the full run; recovery is repeated as often (a median of 2 is a mean).
    // What a quick run saves: 10,000 waiting runs instead of 100,000 (PostgreSQL parks about
    // 1,000 runs a second), and fewer OpenTelemetry rounds.
    sqlite: { durationMs: 1_500, rounds: 3, recoveryRuns: 10_000, recoveryRepeats: 3 },
    durableRounds: 5,
    postgres: { runs: 1_000 },
    peerRuns: 500,
    sqliteRuns: 1_000,
    durableWarmup: 100,
    waits: 10_000,
  },
  smoke: {
    memory: { rounds: 1, count: 100 },
    scaling: { rounds: 1, stagesPerSample: 200, stageCounts: [10, 100], runCounts: [1, 10] },
    scalingSplit: { rounds: 1, stagesPerSample: 200, stageCounts: [10, 100], runCounts: [1, 10] },
    sqlite: { durationMs: 100, rounds: 1, recoveryRuns: 200, recoveryRepeats: 1 },
    durableRounds: 1,
    postgres: { runs: 20 },
    peerRuns: 20,
    sqliteRuns: 20,
    durableWarmup: 5,
    waits: 200,
  },
} as const;


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
  log('scaling, where the time goes (the collector on the main thread alone)…');
  const singleThreadedGc = await benchmarkScalingSingleThreadedGc(sizes.scalingSplit);
  log('SQLite group commit and recovery…');
  const { recoveryMs10k, recoveryMs10kMin, recoveryMainThreadCpuMs10k, recoveryProcessCpuMs10k, recoverCallMs10k, recoverySettledMs10k, recoveryHeapMB10k, ...sqlite } =
    await runDurableSqliteBenchmark({ ...sizes.sqlite, log: (line) => log(`  ${line}`) });
  log('durable throughput against the peers…');
  const durable = await measureDurable(sizes);
  log(`waiting runs (${sizes.waits.toLocaleString('en-US')} at once)…`);
  const waits = await benchmarkWaits({ count: sizes.waits, burst: 10_000, log });
  return {
    version: 1,
    at: new Date().toISOString(),
    mode,
    machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', loadBefore, loadAfter: loadavg()[0] ?? 0, postgresAutocommitInsertsPerSecond: durable.autocommit },
    memory,
    otel,
    scaling: { ...scaling, singleThreadedGc },
    sqlite: { ...sqlite, ...durable.sqlite },
    postgres: durable.postgres,
    waits,
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


/** A saved result in bench/results/, if there is one. */
function savedResults(name: string): BenchResults | undefined {
  const path = new URL(`results/${name}`, benchDir);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as BenchResults) : undefined;
}

/**
 * Replaces the generated section of bench/README.md: the full run's figures (`full`), and, when
 * a quick run was saved too, how far each of its ratios is from the full run's.
 */
function writeReadme(full: BenchResults, quick: BenchResults | undefined): void {
  const path = new URL('README.md', benchDir);
  const readme = readFileSync(path, 'utf8');
  const from = readme.indexOf(README_START);
  const to = readme.indexOf(README_END);
  if (from < 0 || to < from) throw new Error(`bench/README.md has no generated section: add the lines "${README_START}" and "${README_END}"`);
  writeFileSync(path, `${readme.slice(0, from + README_START.length)}\n\n${report(full, quick)}\n\n![Scaling curves](scaling.svg)\n\n${readme.slice(to)}`);
}

const results: BenchResults = flags.from === undefined ? (flags['skip-build'] || mode === 'smoke' ? undefined : build(), await measureAll()) : (JSON.parse(readFileSync(flags.from, 'utf8')) as BenchResults);
if (flags.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
else log(`\n${report(results)}`);
if (flags.write ?? (mode === 'full' || flags.from !== undefined)) {
  mkdirSync(new URL('results/', benchDir), { recursive: true });
  // A full run is bench/results/latest.json, a quick one bench/results/quick.json; the README and
  // the chart always show the full run (the latest saved one, when this run is a quick one).
  const file = results.mode === 'full' ? 'latest.json' : `${results.mode}.json`;
  if (flags.from === undefined) writeFileSync(new URL(`results/${file}`, benchDir), `${JSON.stringify(results, null, 2)}\n`);
  const full = results.mode === 'full' ? results : (savedResults('latest.json') ?? results);
  const quick = results.mode === 'quick' ? results : savedResults('quick.json');
  writeFileSync(new URL('scaling.svg', benchDir), chart(full));
  writeReadme(full, quick);
  log(`wrote ${flags.from === undefined ? `bench/results/${file}, ` : ''}bench/scaling.svg and bench/README.md`);
}
