/**
 * Throughput of sagaflow workers on PostgreSQL: a 5-stage saga, and the same saga failing at
 * stage 5 into a rollback (4 compensations), with 1 and 3 worker processes and a fixed number of
 * runs in flight (16 by default), submitted with `orchestrator.submit` and settled by workers.
 *
 * Run alone: `npx tsx bench/postgres.ts [--runs=1000] [--warmup=100] [--concurrency=16] [--workers=1,3]`
 * The project's benchmark runner imports {@link benchmarkPostgres} to put the figures next to
 * the peers'. Needs the PostgreSQL server of the tests (SAGAFLOW_BENCH_POSTGRES_URL overrides it);
 * each configuration uses a fresh schema, dropped afterwards.
 *
 * What is measured: from the first submit of the measured batch to the last run settling,
 * keeping exactly `concurrency` runs between submit and settle (a closed loop, as the peers are
 * driven). Each saga costs one submit transaction, one claim, one append per journal write and a
 * lease release; the workers tell the benchmark process over IPC which runs settled.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { createOrchestrator } from '../dist/index.js';
import { PostgresStore } from '../dist/postgres.js';
import { benchSaga } from './lib/bench-saga.js';
import { runPool } from './peers/peer.js';

/** Which saga a configuration runs. */
export type PostgresBenchScenario = 'success' | 'rollback';

/** Options of {@link benchmarkPostgres}. */
export interface PostgresBenchOptions {
  /** The server. Default: SAGAFLOW_BENCH_POSTGRES_URL, else the tests' postgres://postgres@127.0.0.1:5432/test. */
  readonly url?: string;
  /** Runs in flight at once. Default 16. */
  readonly concurrency?: number;
  /** Measured runs per configuration. Default 1 000. */
  readonly runs?: number;
  /** Runs before measuring (connections, JIT). Default 100. */
  readonly warmup?: number;
  /** Worker process counts to measure. Default [1, 3]. */
  readonly workers?: readonly number[];
  /** Scenarios to measure. Default ['success', 'rollback']. */
  readonly scenarios?: readonly PostgresBenchScenario[];
  /** Connection pool size of each worker. Default 16. */
  readonly poolSize?: number;
}

/** One configuration's figures. */
export interface PostgresBenchResult {
  readonly scenario: PostgresBenchScenario;
  readonly workers: number;
  readonly concurrency: number;
  readonly runs: number;
  readonly seconds: number;
  readonly sagasPerSecond: number;
  /**
   * CPU time per saga, in ms, over the measured runs: the worker processes together, the
   * submitting process, and the PostgreSQL backends serving their connections (read from /proc
   * by pid, see `backendCpu`; `undefined` where /proc cannot be read). Unlike sagas/s, these barely depend on what else the machine is doing, so they
   * say what bounds throughput on a given number of cores.
   */
  readonly cpuMsPerSaga: { readonly workers: number; readonly submitter: number; readonly postgres: number | undefined };
}

const workerScript = fileURLToPath(new URL('./lib/postgres-worker.ts', import.meta.url));

/** Everything {@link benchmarkPostgres} measured. */
export interface PostgresBenchReport {
  /**
   * Single-connection autocommit INSERTs per second on the same server, measured just before:
   * the machine's commit (fsync) speed, to compare runs taken on differently loaded machines
   * (PEERS.md measured 2.9–3.1k/s when the peers' figures were taken).
   */
  readonly autocommitInsertsPerSecond: number;
  /** One entry per (workers, scenario) configuration. */
  readonly results: readonly PostgresBenchResult[];
}

/** Measures every (workers, scenario) configuration, one after the other. */
export async function benchmarkPostgres(options: PostgresBenchOptions = {}): Promise<PostgresBenchReport> {
  const url = options.url ?? process.env['SAGAFLOW_BENCH_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
  const autocommitInsertsPerSecond = await autocommitInserts(url);
  const results: PostgresBenchResult[] = [];
  for (const workers of options.workers ?? [1, 3]) {
    for (const scenario of options.scenarios ?? ['success', 'rollback']) {
      results.push(
        await measure({
          url,
          workers,
          scenario,
          concurrency: options.concurrency ?? 16,
          runs: options.runs ?? 1_000,
          warmup: options.warmup ?? 100,
          poolSize: options.poolSize ?? 16,
        }),
      );
    }
  }
  return { autocommitInsertsPerSecond, results };
}

/** CPU time so far of each backend process, by `pid:start time` (so a reused pid is another backend), in ms. */
type BackendCpu = Map<string, number>;

/**
 * CPU time so far of the PostgreSQL backends serving the connections named `applicationName`
 * (every connection of this configuration's store and workers carries it), read from
 * `/proc/<pid>/stat`; `undefined` where /proc cannot be read (not Linux, or another machine).
 *
 * Per backend, not per machine or per server: other engineers' sessions on the same server are
 * not counted, and a difference of two samples ({@link backendCpuDelta}) cannot go negative, unlike
 * a sum over whichever `postgres` processes happen to be alive at each sample.
 */
async function backendCpu(admin: pg.Client, applicationName: string): Promise<BackendCpu | undefined> {
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
  const cpu: BackendCpu = new Map();
  for (const { pid } of rows) {
    try {
      // Fields after the command: state is 0, utime 11, stime 12 (clock ticks, 100 per second), starttime 19.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      cpu.set(`${pid}:${fields[19] ?? ''}`, (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) * 10);
    } catch {
      if (!existsSync('/proc/self/stat')) return undefined; // no /proc here
      // Else the backend ended meanwhile.
    }
  }
  return cpu;
}

/**
 * CPU spent between two samples by the backends of the second: a backend alive at both counts its
 * difference, one that started in between counts all of its time. A backend that ended in between
 * is missed (its last slice of CPU); the pools keep their connections open while measuring, so
 * that does not happen here. Never negative.
 */
function backendCpuDelta(before: BackendCpu | undefined, after: BackendCpu | undefined): number | undefined {
  if (before === undefined || after === undefined) return undefined;
  let ms = 0;
  for (const [backend, total] of after) ms += Math.max(0, total - (before.get(backend) ?? 0));
  return ms;
}

async function autocommitInserts(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const table = `public.sagaflow_bench_${randomBytes(4).toString('hex')}`;
  try {
    await client.query(`CREATE TABLE ${table} (n integer, body text)`);
    let count = 0;
    const started = performance.now();
    while (performance.now() - started < 1_500) await client.query(`INSERT INTO ${table} VALUES ($1, $2)`, [count++, 'x']);
    return count / ((performance.now() - started) / 1_000);
  } finally {
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.end();
  }
}

interface Configuration {
  readonly url: string;
  readonly workers: number;
  readonly scenario: PostgresBenchScenario;
  readonly concurrency: number;
  readonly runs: number;
  readonly warmup: number;
  readonly poolSize: number;
}

async function measure(config: Configuration): Promise<PostgresBenchResult> {
  const schema = `bench_pg_${randomBytes(4).toString('hex')}`;
  // Every connection of this configuration (the submitter's store, the workers') is named after
  // its schema, so that the CPU of exactly its PostgreSQL backends can be read (backendCpu).
  const url = new URL(config.url);
  url.searchParams.set('application_name', schema);
  const connectionString = url.toString();
  const monitor = new pg.Client({ connectionString: config.url });
  await monitor.connect();
  const store = new PostgresStore({ connectionString, schema, maxConnections: config.concurrency });
  const orchestrator = createOrchestrator({ store, sagas: [benchSaga] });
  // Create the tables before the workers race to.
  await store.listRuns({ limit: 1 });
  const children: ChildProcess[] = [];
  const waiting = new Map<string, () => void>();
  const settledEarly = new Set<string>();
  const cpuReplies = new Map<ChildProcess, (ms: number) => void>();
  const workersCpuMs = async (): Promise<number> => {
    const replies = children.map((child) => new Promise<number>((resolve) => {
      cpuReplies.set(child, resolve);
      child.send({ type: 'cpu' });
    }));
    return (await Promise.all(replies)).reduce((sum, ms) => sum + ms, 0);
  };
  try {
    for (let index = 0; index < config.workers; index++) {
      const child = fork(workerScript, [], {
        execArgv: ['--import', 'tsx'],
        env: {
          ...process.env,
          BENCH_PG_URL: connectionString,
          BENCH_PG_SCHEMA: schema,
          BENCH_PG_POOL: String(config.poolSize),
          BENCH_WORKER_CONCURRENCY: String(config.concurrency),
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
      child.on('message', (message: { type: string; runIds?: string[]; ms?: number }) => {
        if (message.type === 'cpu') cpuReplies.get(child)?.(message.ms ?? 0);
        for (const runId of message.runIds ?? []) {
          const wake = waiting.get(runId);
          // A run can settle before its submit() resolved here (a busy event loop).
          if (wake === undefined) settledEarly.add(runId);
          else wake();
          waiting.delete(runId);
        }
      });
    }
    await Promise.all(children.map((child) => new Promise<void>((resolve) => child.once('message', () => resolve()))));

    const input = { fail: config.scenario === 'rollback' };
    // The same closed loop the peers are driven with (bench/peers/peer.ts), so that the loop's
    // overhead is the same on both sides.
    const batch = async (count: number): Promise<number> => {
      const started = performance.now();
      await runPool(count, config.concurrency, async () => {
        const runId = await orchestrator.submit(benchSaga, input);
        if (settledEarly.delete(runId)) return;
        await new Promise<void>((resolve) => waiting.set(runId, resolve));
      });
      return (performance.now() - started) / 1_000;
    };
    await batch(config.warmup);
    const before = { workers: await workersCpuMs(), postgres: await backendCpu(monitor, schema), submitter: process.cpuUsage() };
    const seconds = await batch(config.runs);
    const submitter = process.cpuUsage(before.submitter);
    const postgresMs = backendCpuDelta(before.postgres, await backendCpu(monitor, schema));
    const cpuMsPerSaga = {
      workers: ((await workersCpuMs()) - before.workers) / config.runs,
      submitter: (submitter.user + submitter.system) / 1_000 / config.runs,
      postgres: postgresMs === undefined ? undefined : postgresMs / config.runs,
    };
    return {
      scenario: config.scenario,
      workers: config.workers,
      concurrency: config.concurrency,
      runs: config.runs,
      seconds,
      sagasPerSecond: config.runs / seconds,
      cpuMsPerSaga,
    };
  } finally {
    for (const child of children) if (child.connected) child.send({ type: 'stop' });
    await Promise.all(children.map((child) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : Promise.resolve())));
    await orchestrator.close();
    await store.close();
    await monitor.end();
    const admin = new pg.Client({ connectionString: config.url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const argument = (name: string): string | undefined => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1];
  const number = (name: string): number | undefined => (argument(name) === undefined ? undefined : Number(argument(name)));
  const workers = argument('workers')?.split(',').map(Number);
  const runs = number('runs');
  const warmup = number('warmup');
  const concurrency = number('concurrency');
  const report = await benchmarkPostgres({
    ...(workers === undefined ? {} : { workers }),
    ...(runs === undefined ? {} : { runs }),
    ...(warmup === undefined ? {} : { warmup }),
    ...(concurrency === undefined ? {} : { concurrency }),
  });
  console.log(`machine: ${Math.round(report.autocommitInsertsPerSecond)} single-connection autocommit INSERTs/s`);
  console.table(
    report.results.map(({ cpuMsPerSaga, ...result }) => ({
      ...result,
      seconds: Number(result.seconds.toFixed(2)),
      sagasPerSecond: Math.round(result.sagasPerSecond),
      'cpu ms/saga: workers': Number(cpuMsPerSaga.workers.toFixed(2)),
      submitter: Number(cpuMsPerSaga.submitter.toFixed(2)),
      postgres: cpuMsPerSaga.postgres === undefined ? '-' : Number(cpuMsPerSaga.postgres.toFixed(2)),
    })),
  );
}
