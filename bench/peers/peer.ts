/**
 * The common shape of every benchmark peer, and the saga they all implement.
 *
 * This file imports nothing outside Node's built-ins, so code type-checked by the root
 * tsconfig (for example `bench/run.ts`) may import it even when `bench/peers` is not
 * installed. The peer implementations themselves live in their own files and are loaded
 * with `loadPeer()` from `./index.ts`.
 *
 * The saga: 5 steps, each `execute` does trivial async work and each has a compensation
 * doing trivial async work. When `fail` is true, step 5 throws, so the compensations of
 * steps 4, 3, 2, 1 run, in that order.
 */

/** The peers the runner can ask for. */
export const PEER_NAMES = ['hand-written', 'node-sagas', 'dbos', 'restate', 'temporal'] as const;

/** Name of a peer. */
export type PeerName = (typeof PEER_NAMES)[number];

/** Number of steps in the benchmark saga. */
export const STEP_COUNT = 5;

/** The step that throws when a saga runs with `fail: true`. */
export const FAILING_STEP = STEP_COUNT;

/** What one `runBatch` call runs. */
export interface BatchOptions {
  /** How many sagas to run. */
  readonly count: number;
  /** At most this many sagas in flight at once (>= 1). */
  readonly concurrency: number;
  /** When true, step 5 throws and steps 4..1 are compensated in reverse. */
  readonly fail: boolean;
}

/** One engine (or the hand-written baseline) running the benchmark saga. */
export interface SagaPeer {
  readonly name: PeerName;
  /** True when the engine persists every step (DBOS, Restate); false for in-memory peers. */
  readonly durable: boolean;
  /**
   * Start servers, register workflows, then run `selfCheck()`. Rejects (after cleaning up
   * whatever it started) if the peer cannot run or is wrong.
   */
  setup(): Promise<void>;
  /**
   * Check, with tracing effects, that one succeeding saga ran steps 1..5 and that one failing
   * saga ran steps 1..5 then compensated 4, 3, 2, 1 in that order (and, for durable peers, that
   * the engine recorded those steps). `setup()` already calls it; call again at will.
   */
  selfCheck(): Promise<void>;
  /**
   * Run `count` sagas, at most `concurrency` at a time. Resolves when all settled; rejects if any
   * saga ended other than expected (completed, or compensated when `fail`), or if the number of
   * executes/compensations the peer ran does not match.
   */
  runBatch(options: BatchOptions): Promise<void>;
  /** Stop everything `setup()` started and remove its data. Safe to call more than once. */
  teardown(): Promise<void>;
}

/** Whether a peer can run here. */
export type Availability = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Options shared by `loadPeer()` for every peer; each peer reads only its own fields. */
export interface PeerOptions {
  /**
   * DBOS: a PostgreSQL URL of an existing database used to drop and create the system database
   * (default: env `SAGAFLOW_BENCH_PG_URL`, else `postgres://postgres@127.0.0.1:5432/test`).
   */
  readonly adminDatabaseUrl?: string;
  /** DBOS: name of the system database, dropped and re-created by every `setup()` (default `sagaflow_bench_dbos`). */
  readonly dbosSystemDatabase?: string;
  /** Restate: echo the server's log to this process's stderr (default: only kept in the temp dir, shown on failure). */
  readonly restateServerLog?: boolean;
}

/** What every peer implementation module exports (loaded by `./index.ts` at run time). */
export interface PeerModule {
  /** Cheap check that the peer can run here (packages, binaries, database reachable). */
  probe(options: PeerOptions): Promise<Availability>;
  /** A fresh, not yet set up peer. */
  createPeer(options: PeerOptions): SagaPeer;
}

/** The effects a saga's steps perform. Benchmarks count; self-checks trace. */
export interface SagaEffects {
  execute(step: number): Promise<void>;
  compensate(step: number): Promise<void>;
}

/** Effects that only count: the trivial async work of the benchmark. */
export class CountingEffects implements SagaEffects {
  executed = 0;
  compensated = 0;

  async execute(_step: number): Promise<void> {
    this.executed++;
  }

  async compensate(_step: number): Promise<void> {
    this.compensated++;
  }

  /** Reset both counters to 0. */
  reset(): void {
    this.executed = 0;
    this.compensated = 0;
  }
}

/** Effects that record `e<step>` / `c<step>` in order, for self-checks. */
export class TracingEffects implements SagaEffects {
  readonly trace: string[] = [];

  async execute(step: number): Promise<void> {
    this.trace.push(`e${step}`);
  }

  async compensate(step: number): Promise<void> {
    this.trace.push(`c${step}`);
  }
}

/** The error step 5 throws when a saga runs with `fail: true`. */
export class StepFailure extends Error {
  constructor(step: number) {
    super(`step ${step} failed (benchmark: planned failure)`);
    this.name = 'StepFailure';
  }
}

/** How a saga ended, as every peer reports it. */
export type SagaEnding = 'completed' | 'compensated';

/**
 * The trace one saga must leave: `e1..e5`, then, when it fails, `c4, c3, c2, c1`.
 * @param fail - whether step 5 throws
 */
export function expectedTrace(fail: boolean): string[] {
  const trace: string[] = [];
  for (let step = 1; step <= STEP_COUNT; step++) trace.push(`e${step}`);
  if (fail) for (let step = FAILING_STEP - 1; step >= 1; step--) trace.push(`c${step}`);
  return trace;
}

/**
 * Throws unless `actual` equals `expectedTrace(fail)` and `ending` is the expected ending.
 * @param peer - peer name, for the message
 * @param fail - whether the saga ran with `fail: true`
 * @param ending - how the peer says the saga ended
 * @param actual - the trace the saga left
 */
export function assertTrace(peer: string, fail: boolean, ending: SagaEnding, actual: readonly string[]): void {
  const expected = expectedTrace(fail);
  const expectedEnding: SagaEnding = fail ? 'compensated' : 'completed';
  if (ending !== expectedEnding || actual.join(',') !== expected.join(',')) {
    throw new Error(
      `${peer} self-check failed (fail=${fail}): expected ${expectedEnding} [${expected.join(',')}], ` +
        `got ${ending} [${actual.join(',')}]`,
    );
  }
}

/**
 * Throws unless a batch ran exactly the executes and compensations it should have.
 * Durable peers are at least once, so for them more is accepted (never fewer).
 * @param peer - peer name, for the message
 * @param options - the batch that ran
 * @param effects - the counters after the batch (reset before it)
 * @param atLeastOnce - accept more than expected (durable engines may re-run a step)
 */
export function assertCounts(
  peer: string,
  options: BatchOptions,
  effects: CountingEffects,
  atLeastOnce: boolean,
): void {
  const wantExecuted = options.count * STEP_COUNT;
  const wantCompensated = options.fail ? options.count * (FAILING_STEP - 1) : 0;
  const ok = atLeastOnce
    ? effects.executed >= wantExecuted && effects.compensated >= wantCompensated && (options.fail || effects.compensated === 0)
    : effects.executed === wantExecuted && effects.compensated === wantCompensated;
  if (!ok) {
    throw new Error(
      `${peer}: batch of ${options.count} (fail=${options.fail}) ran ${effects.executed} executes and ` +
        `${effects.compensated} compensations; expected ${wantExecuted} and ${wantCompensated}`,
    );
  }
}

/**
 * Runs `task(0) .. task(count - 1)`, at most `concurrency` at a time. Resolves when all have
 * settled; after the first failure no new task starts, and the first error is rethrown once
 * the running ones have settled.
 * @param count - number of tasks
 * @param concurrency - maximum tasks in flight (>= 1)
 * @param task - the work for index `i`
 */
export async function runPool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be an integer >= 0, got ${count}`);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be an integer >= 1, got ${concurrency}`);
  }
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (!failed && next < count) {
      const i = next++;
      try {
        await task(i);
      } catch (error) {
        if (!failed) {
          failed = true;
          firstError = error;
        }
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let w = 0; w < Math.min(concurrency, count); w++) workers.push(worker());
  await Promise.all(workers);
  if (failed) throw firstError;
}
