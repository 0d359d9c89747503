/**
 * A process of the crash tests (spawned by crash-harness.ts with `node --import tsx`).
 *
 * It runs crash sagas on a SqliteStore file and, in kill mode, SIGKILLs itself once every run
 * it drives has reached its kill point (or settled). A run's kill point is a seq of its
 * journal: appends after it are held forever by {@link FreezingStore}, so the durable journal
 * ends exactly at an append boundary chosen from the parent's seed, whatever the timing of
 * the other runs. Stages write their effects to a separate ledger file.
 */
import {
  createOrchestrator,
  MemoryStore,
  type AcquireRequest,
  type AcquireResult,
  type AppendRequest,
  type CreateRunRequest,
  type LeaseToken,
  type ListRunsQuery,
  type PruneOptions,
  type RunSummary,
  type SagaEvent,
  type SagaRun,
  type SagaStore,
} from 'sagaflow';
import { SqliteStore } from 'sagaflow/sqlite';
import { storeOrphanedJournal } from '../support/journal.js';
import type { CrashChildConfig, CrashChildMessage, KillSpec, NewRun } from './crash-protocol.js';
import { buildCrashSagas, noEffects, type EffectHooks } from './crash-sagas.js';
import { Ledger } from './ledger.js';

const config = JSON.parse(process.argv[2] ?? '{}') as CrashChildConfig;
/** Short leases: after each SIGKILL, the next process waits for them to expire before taking the runs over. */
const LEASE_MS = 400;

function say(message: CrashChildMessage): void {
  // stdout is a pipe: writes are synchronous on Linux, so nothing is lost to the SIGKILL.
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/**
 * Passes appends through to the real store until a run's journal has reached its kill point,
 * then holds the run's later appends forever: the process dies with them in flight.
 */
class FreezingStore implements SagaStore {
  readonly description: string;

  constructor(
    private readonly inner: SagaStore,
    private readonly killAfterSeq: ReadonlyMap<string, number>,
  ) {
    this.description = inner.description;
  }

  append(request: AppendRequest): Promise<void> {
    const limit = this.killAfterSeq.get(request.runId);
    if (limit !== undefined && request.expectedSeq > limit) return new Promise<void>(() => undefined);
    return this.inner.append(request);
  }

  create(request: CreateRunRequest): Promise<void> {
    return this.inner.create(request);
  }

  load(runId: string): Promise<readonly SagaEvent[] | undefined> {
    return this.inner.load(runId);
  }

  listRuns(query?: ListRunsQuery): Promise<readonly RunSummary[]> {
    return this.inner.listRuns(query);
  }

  countRuns(query?: { readonly saga?: string }): ReturnType<SagaStore['countRuns']> {
    return this.inner.countRuns(query);
  }

  acquire(request: AcquireRequest): Promise<AcquireResult> {
    return this.inner.acquire(request);
  }

  heartbeat(...args: Parameters<SagaStore['heartbeat']>): ReturnType<SagaStore['heartbeat']> {
    return this.inner.heartbeat(...args);
  }

  release(runId: string, lease: LeaseToken): Promise<void> {
    return this.inner.release(runId, lease);
  }

  requestCancel(runId: string, reason: string): Promise<void> {
    return this.inner.requestCancel(runId, reason);
  }

  leaseOf(runId: string): ReturnType<SagaStore['leaseOf']> {
    return this.inner.leaseOf(runId);
  }

  prune(options: PruneOptions): Promise<number> {
    return this.inner.prune(options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** How long each run's journal gets if nothing stops it: the same runs, on a MemoryStore, with no effects. */
async function dryRunLengths(journals: ReadonlyMap<string, readonly SagaEvent[]>, newRuns: readonly NewRun[]): Promise<Map<string, number>> {
  const memory = new MemoryStore();
  const sagas = buildCrashSagas(noEffects);
  const dry = createOrchestrator({ store: memory, sagas: Object.values(sagas) });
  for (const journal of journals.values()) await storeOrphanedJournal(memory, journal);
  const runs: SagaRun[] = [
    ...[...journals.keys()].map((runId) => dry.resume(runId)),
    ...newRuns.map((run) => dry.start(sagas[run.saga], { plan: run.plan }, { runId: run.runId })),
  ];
  await Promise.all(runs.map((run) => run.outcome));
  const lengths = new Map<string, number>();
  for (const run of runs) lengths.set(run.runId, (await memory.load(run.runId))?.length ?? 0);
  await dry.close();
  return lengths;
}

/** The seq after which to hold a run's appends: within what this process would write, short of the settling event. */
function killPoint(written: number, finalLength: number, kill: KillSpec): number | undefined {
  const span = finalLength - 1 - written;
  if (span < 1) return undefined;
  return written + Math.floor(kill.fraction * span);
}

async function main(): Promise<void> {
  const store = new SqliteStore({ path: config.databasePath, durability: config.durability });
  const ledger = new Ledger(config.ledgerPath);
  const killAfterSeq = new Map<string, number>();
  const gates = new Map<string, KillSpec['gate']>();
  const frozen = new Set<string>();
  const hooks: EffectHooks = {
    beforeEffect: (runId) =>
      frozen.has(runId) && gates.get(runId) === 'before-effect' ? new Promise<void>(() => undefined) : Promise.resolve(),
    effect: (entry) => ledger.record(entry),
  };
  const sagas = buildCrashSagas(hooks);

  if (config.mode === 'kill') {
    const journals = new Map<string, readonly SagaEvent[]>();
    for (const run of await store.listRuns({ status: ['running', 'compensating'] })) {
      journals.set(run.runId, (await store.load(run.runId)) ?? []);
    }
    const lengths = await dryRunLengths(journals, config.start);
    const arm = (runId: string, written: number, kill: KillSpec | undefined): void => {
      if (kill === undefined) return;
      const point = killPoint(written, lengths.get(runId) ?? 0, kill);
      if (point === undefined) return;
      killAfterSeq.set(runId, point);
      gates.set(runId, kill.gate);
    };
    for (const [runId, journal] of journals) arm(runId, journal.length, config.recover[runId]);
    for (const run of config.start) arm(run.runId, 0, run.kill);
  }

  const orchestrator = createOrchestrator({ store: new FreezingStore(store, killAfterSeq), sagas: Object.values(sagas), leaseMs: LEASE_MS });
  const tracked: string[] = [];
  const settled = new Set<string>();
  let armed = false;
  let killing = false;
  const maybeKill = (): void => {
    if (!armed || killing || config.mode !== 'kill' || frozen.size === 0) return;
    for (const runId of tracked) if (!frozen.has(runId) && !settled.has(runId)) return;
    killing = true;
    say({ type: 'killing', frozen: frozen.size, settled: settled.size });
    // One more turn: stage functions called on the last durable events get to run (and, with
    // the 'after-effect' gate, do their effect) before the process dies.
    setImmediate(() => process.kill(process.pid, 'SIGKILL'));
  };
  const subscription = orchestrator.events$.subscribe((event) => {
    const limit = killAfterSeq.get(event.runId);
    if (limit !== undefined && event.seq >= limit && !frozen.has(event.runId)) {
      frozen.add(event.runId);
      maybeKill();
    }
  });

  // The killed process's leases outlive it: take its runs over as each lease expires.
  const runs: SagaRun[] = [];
  for (;;) {
    const recovered = await orchestrator.recover();
    runs.push(...recovered);
    if (!recovered.skipped.some((skipped) => skipped.reason === 'owned')) break;
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS / 4));
  }
  const recovered = runs.map((run) => run.runId);
  for (const run of config.start) runs.push(orchestrator.start(sagas[run.saga], { plan: run.plan }, { runId: run.runId }));
  tracked.push(...runs.map((run) => run.runId));
  say({ type: 'armed', recovered, started: config.start.map((run) => run.runId), killAfterSeq: Object.fromEntries(killAfterSeq) });
  armed = true;
  maybeKill();

  const outcomes: Record<string, string> = {};
  await Promise.all(
    runs.map((run) =>
      run.outcome.then(
        (outcome) => {
          outcomes[run.runId] = outcome.status;
          settled.add(run.runId);
          maybeKill();
        },
        (error: unknown) => {
          outcomes[run.runId] = 'rejected';
          say({ type: 'error', message: `run ${run.runId}: outcome rejected: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}` });
          settled.add(run.runId);
          maybeKill();
        },
      ),
    ),
  );
  if (killing) return; // the SIGKILL is on its way
  say({ type: 'settled', outcomes });
  subscription.unsubscribe();
  await orchestrator.close();
  await store.close();
  ledger.close();
}

main().catch((error: unknown) => {
  say({ type: 'error', message: `crash child failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}` });
  process.exitCode = 1;
});
