/**
 * The parent side of the crash tests: spawns crash-child.ts processes on one SqliteStore
 * file, lets each SIGKILL itself at kill points drawn from a seed, snapshots every run's
 * journal after each kill, has a last process `recover()` everything, then checks every run
 * against its journal and the stages' own ledger of effects.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { foldJournal, type RunState, type SagaEvent } from 'sagaflow';
import { SqliteStore } from 'sagaflow/sqlite';
import { runChild } from './child-process.js';
import type { CrashChildConfig, CrashChildMessage, KillSpec, NewRun } from './crash-protocol.js';
import { createRandom, expectedStatus, randomRun, SAGA_SHAPES, type CrashSagaName, type RunPlan } from './crash-sagas.js';
import { Ledger, type LedgerEntry } from './ledger.js';

const childFile = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

/** Options of {@link runCrashHarness}. */
export interface CrashHarnessOptions {
  /** Seeds the plans of the runs and their kill points: the same seed replays the same crashes. */
  readonly seed: number;
  /** Keep killing processes until at least this many kill points (a run interrupted by a SIGKILL) were hit. */
  readonly kills: number;
  /** A directory for the store and ledger files; the caller creates and removes it. */
  readonly directory: string;
  /** New runs each killed process starts (besides the unfinished runs it recovers). Default 16. */
  readonly runsPerProcess?: number;
  /** Default `'full'`. */
  readonly durability?: 'full' | 'normal';
  /** A child that takes longer is killed and reported. Default 60 s. */
  readonly childTimeoutMs?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

/** Where a run stood when a process was killed. */
export interface KillPoint {
  readonly runId: string;
  /** Which process (0-based) was killed. */
  readonly process: number;
  /** The journal's length at the kill. */
  readonly length: number;
  /** Going forward, stopping (failed or cancelled, in-flight stages settling), or rolling back. */
  readonly phase: 'forward' | 'stopping' | 'rollback';
  /** The run's state folded from that journal. */
  readonly state: RunState;
}

/** What {@link runCrashHarness} did and found. */
export interface CrashHarnessReport {
  readonly seed: number;
  /** Processes spawned, the final recovering one included. */
  readonly processes: number;
  readonly runs: number;
  /** Runs interrupted by a SIGKILL, counted once per kill. */
  readonly killPoints: number;
  readonly killPointsByPhase: Readonly<Record<KillPoint['phase'], number>>;
  /** Stages in flight at a kill (run going forward) that a later process executed again. */
  readonly reexecutedStages: number;
  /** Stages in flight at a kill while the run was stopping, settled as unknown and compensated. */
  readonly unknownOutcomes: number;
  /** Compensations in flight at a kill that a later process ran again. */
  readonly resumedCompensations: number;
  /** Idempotency keys the ledger received more than once (at-least-once execution at work). */
  readonly repeatedKeys: number;
  /** Every broken guarantee, each naming the run and what was seen. Empty when all held. */
  readonly violations: string[];
}

interface TrackedRun {
  readonly saga: CrashSagaName;
  readonly plan: RunPlan;
  settled: boolean;
}

const SETTLED = new Set<string>(['completed', 'compensated', 'cancelled', 'compensation_failed', 'paused']);

/** Runs the crash harness; see the file comment. Never throws for a broken guarantee: it reports it. */
export async function runCrashHarness(options: CrashHarnessOptions): Promise<CrashHarnessReport> {
  const { seed, directory } = options;
  const log = options.log ?? (() => undefined);
  const runsPerProcess = options.runsPerProcess ?? 16;
  const durability = options.durability ?? 'full';
  const childTimeoutMs = options.childTimeoutMs ?? 60_000;
  const databasePath = join(directory, 'sagas.db');
  const ledgerPath = join(directory, 'ledger.db');
  const random = createRandom(seed);
  const randomKill = (): KillSpec => ({ fraction: random(), gate: random() < 0.5 ? 'before-effect' : 'after-effect' });

  const runs = new Map<string, TrackedRun>();
  const kills: KillPoint[] = [];
  const violations: string[] = [];
  const store = new SqliteStore({ path: databasePath, durability });
  let processes = 0;

  try {
    // Killed processes: each recovers what the previous one left and starts new runs.
    while (kills.length < options.kills && violations.length === 0) {
      const processIndex = processes++;
      const unfinished = [...runs].filter(([, run]) => !run.settled).map(([runId]) => runId);
      const recover: Record<string, KillSpec> = {};
      // Most unfinished runs are killed again; the others are left to settle, so that the number
      // of runs in flight stays bounded however many processes a soak spawns.
      for (const runId of unfinished) if (random() < 0.75) recover[runId] = randomKill();
      const start: NewRun[] = Array.from({ length: runsPerProcess }, (_, index) => ({
        runId: `crash-${seed.toString(36)}-${String(processIndex).padStart(3, '0')}-${String(index).padStart(3, '0')}`,
        ...randomRun(random),
        kill: randomKill(),
      }));
      for (const run of start) runs.set(run.runId, { saga: run.saga, plan: run.plan, settled: false });

      const config: CrashChildConfig = { databasePath, ledgerPath, durability, mode: 'kill', recover, start };
      const result = await runChild<CrashChildMessage>(childFile, config, childTimeoutMs);
      const where = `process ${processIndex}`;
      for (const message of result.messages) if (message.type === 'error') violations.push(`${where}: ${message.message}`);
      if (result.timedOut) violations.push(`${where}: did not reach its kill points within ${childTimeoutMs} ms\n${result.output}`);
      const armed = result.messages.find((message) => message.type === 'armed');
      if (armed === undefined) {
        violations.push(`${where}: exited (code ${String(result.code)}, signal ${String(result.signal)}) before starting its runs\n${result.output}`);
        break;
      }
      if (!sameMembers(armed.recovered, unfinished)) {
        violations.push(`${where}: recover() picked up [${[...armed.recovered].sort().join(', ')}], but the unfinished runs were [${unfinished.join(', ')}]`);
      }
      const killedItself = result.signal === 'SIGKILL' && !result.timedOut;
      const settledAll = result.code === 0 && result.messages.some((message) => message.type === 'settled');
      if (!killedItself && !settledAll) {
        violations.push(`${where}: ended with code ${String(result.code)}, signal ${String(result.signal)}\n${result.output}`);
      }

      let killedHere = 0;
      for (const [runId, run] of runs) {
        if (run.settled) continue;
        const journal = await store.load(runId);
        if (journal === undefined) {
          // Killed before its run.started was durable: nothing happened, nothing to recover.
          if (!killedItself) violations.push(`run ${runId}: ${where} settled without writing the run`);
          run.settled = true;
          continue;
        }
        const state = foldJournal(journal);
        if (SETTLED.has(state.status)) {
          run.settled = true;
          continue;
        }
        if (!killedItself) violations.push(`run ${runId}: ${where} ended normally but left it ${state.status}`);
        const phase = state.status === 'compensating' ? 'rollback' : state.stopping ? 'stopping' : 'forward';
        kills.push({ runId, process: processIndex, length: journal.length, phase, state });
        killedHere++;
      }
      log(`process ${processIndex}: ${killedItself ? 'SIGKILL' : 'exited'}; ${killedHere} runs interrupted (${kills.length} kill points so far)`);
    }

    // The final process recovers every run and lets it settle.
    if (violations.length === 0) {
      const processIndex = processes++;
      const config: CrashChildConfig = { databasePath, ledgerPath, durability, mode: 'final', recover: {}, start: [] };
      const result = await runChild<CrashChildMessage>(childFile, config, childTimeoutMs);
      for (const message of result.messages) if (message.type === 'error') violations.push(`final process: ${message.message}`);
      const settled = result.messages.find((message) => message.type === 'settled');
      if (result.code !== 0 || settled === undefined) {
        violations.push(`final process ${processIndex}: ended with code ${String(result.code)}, signal ${String(result.signal)}\n${result.output}`);
      }
      log(`process ${processIndex}: recovered and settled ${Object.keys(settled?.outcomes ?? {}).length} runs`);
    }

    const journals = new Map<string, readonly SagaEvent[]>();
    for (const runId of runs.keys()) {
      const journal = await store.load(runId);
      if (journal !== undefined) journals.set(runId, journal);
    }
    const ledger = new Ledger(ledgerPath);
    const calls = ledger.calls();
    const repeatedKeys = ledger.effects().filter((effect) => effect.calls > 1).length;
    ledger.close();

    const checked = verify(runs, journals, calls, kills);
    violations.push(...checked.violations);
    return {
      seed,
      processes,
      runs: runs.size,
      killPoints: kills.length,
      killPointsByPhase: {
        forward: kills.filter((kill) => kill.phase === 'forward').length,
        stopping: kills.filter((kill) => kill.phase === 'stopping').length,
        rollback: kills.filter((kill) => kill.phase === 'rollback').length,
      },
      reexecutedStages: checked.reexecutedStages,
      unknownOutcomes: checked.unknownOutcomes,
      resumedCompensations: checked.resumedCompensations,
      repeatedKeys,
      violations,
    };
  } finally {
    await store.close();
  }
}

function sameMembers(left: readonly string[], right: readonly string[]): boolean {
  return left.length === right.length && [...left].sort().join('\n') === [...right].sort().join('\n');
}

// -----------------------------------------------------------------------------------------
// The guarantees, checked against the final journals and the ledger of effects.

interface StageJournal {
  readonly starts: Array<{ seq: number; attempt: number }>;
  completed?: { seq: number; attempt: number };
  cancelledUnknownAt?: number;
  readonly compensationStarts: Array<{ seq: number; attempt: number }>;
  readonly compensationCompletions: Array<{ seq: number; attempt: number }>;
}

function indexJournal(journal: readonly SagaEvent[]): Map<string, StageJournal> {
  const stages = new Map<string, StageJournal>();
  const of = (name: string): StageJournal => {
    let entry = stages.get(name);
    if (entry === undefined) {
      entry = { starts: [], compensationStarts: [], compensationCompletions: [] };
      stages.set(name, entry);
    }
    return entry;
  };
  for (const event of journal) {
    switch (event.type) {
      case 'stage.started':
        of(event.stage).starts.push({ seq: event.seq, attempt: event.attempt });
        break;
      case 'stage.completed':
        of(event.stage).completed = { seq: event.seq, attempt: event.attempt };
        break;
      case 'stage.cancelled':
        if (event.outcomeUnknown === true) of(event.stage).cancelledUnknownAt = event.seq;
        break;
      case 'compensation.started':
        of(event.stage).compensationStarts.push({ seq: event.seq, attempt: event.attempt });
        break;
      case 'compensation.completed':
        of(event.stage).compensationCompletions.push({ seq: event.seq, attempt: event.attempt });
        break;
      default:
        break;
    }
  }
  return stages;
}

/** Stages the rollback must compensate, in settle order (contract rule 3). */
function rollbackCandidates(saga: CrashSagaName, state: RunState): string[] {
  const shapes = new Map(SAGA_SHAPES[saga].stages.map((shape) => [shape.name, shape]));
  return state.settleOrder.filter((name) => {
    const shape = shapes.get(name);
    const record = state.stages.get(name);
    if (shape === undefined || record === undefined || !shape.compensable) return false;
    if (record.status === 'completed' || record.outcomeUnknown) return true;
    return shape.compensateOnFailure && (record.status === 'failed' || (record.status === 'cancelled' && record.error !== undefined));
  });
}

function descendants(saga: CrashSagaName, name: string): Set<string> {
  const found = new Set<string>();
  const work = [name];
  while (work.length > 0) {
    const current = work.pop() as string;
    for (const shape of SAGA_SHAPES[saga].stages) {
      if (shape.after.includes(current) && !found.has(shape.name)) {
        found.add(shape.name);
        work.push(shape.name);
      }
    }
  }
  return found;
}

/** Collapses repeats in a row: [b, b, a, a] → [b, a]. */
function collapse(names: readonly string[]): string[] {
  return names.filter((name, index) => index === 0 || names[index - 1] !== name);
}

function verify(
  runs: ReadonlyMap<string, TrackedRun>,
  journals: ReadonlyMap<string, readonly SagaEvent[]>,
  calls: readonly LedgerEntry[],
  kills: readonly KillPoint[],
): { violations: string[]; reexecutedStages: number; unknownOutcomes: number; resumedCompensations: number } {
  const violations: string[] = [];
  const callsByRun = new Map<string, LedgerEntry[]>();
  for (const call of calls) {
    const list = callsByRun.get(call.runId) ?? [];
    list.push(call);
    callsByRun.set(call.runId, list);
  }
  const keyOwners = new Map<string, string>();
  const indexes = new Map<string, Map<string, StageJournal>>();

  for (const [runId, run] of runs) {
    const fail = (message: string): void => {
      violations.push(`run ${runId} (${run.saga}, plan ${JSON.stringify(run.plan)}): ${message}`);
    };
    const journal = journals.get(runId);
    const runCalls = callsByRun.get(runId) ?? [];
    if (journal === undefined) {
      // Only a run killed before its run.started was durable may be missing; then nothing ran.
      if (runCalls.length > 0) fail(`has no journal but its stages were called ${runCalls.length} times`);
      continue;
    }
    const state = foldJournal(journal);
    const stages = indexJournal(journal);
    indexes.set(runId, stages);

    // Every run settles, as its plan says.
    if (state.status !== expectedStatus(run.plan)) fail(`settled ${state.status}, expected ${expectedStatus(run.plan)}`);

    for (const kind of ['execute', 'compensate'] as const) {
      const byStage = new Map<string, LedgerEntry[]>();
      for (const call of runCalls) {
        if (call.kind !== kind) continue;
        byStage.set(call.stage, [...(byStage.get(call.stage) ?? []), call]);
      }
      for (const [stage, stageCalls] of byStage) {
        const journaled = stages.get(stage);
        const starts = kind === 'execute' ? (journaled?.starts ?? []) : (journaled?.compensationStarts ?? []);
        const attempts = stageCalls.map((call) => call.attempt);
        // Write-ahead: a stage function runs only once its start event is durable.
        for (const attempt of attempts) {
          if (!starts.some((start) => start.attempt === attempt)) fail(`${kind} of ${stage} ran attempt ${attempt}, which its journal never started`);
        }
        if (new Set(attempts).size !== attempts.length) fail(`${kind} of ${stage} ran the same attempt twice: attempts ${attempts.join(', ')}`);
        // One stable idempotency key per stage and kind, unique across runs.
        const keys = new Set(stageCalls.map((call) => call.idempotencyKey));
        if (keys.size !== 1) fail(`${kind} of ${stage} was called with ${keys.size} different idempotency keys`);
        for (const key of keys) {
          const owner = `${runId}/${stage}/${kind}`;
          const previous = keyOwners.get(key);
          if (previous !== undefined && previous !== owner) fail(`${owner} shares its idempotency key with ${previous}`);
          keyOwners.set(key, owner);
        }
        // A completed stage (or compensation) is never called again.
        const completion = kind === 'execute' ? journaled?.completed : journaled?.compensationCompletions[0];
        if (completion !== undefined) {
          const last = Math.max(...attempts);
          if (last > completion.attempt) {
            fail(`${kind} of ${stage} completed at attempt ${completion.attempt} but was called again (attempts ${attempts.join(', ')})`);
          }
        }
      }
    }

    for (const [stage, journaled] of stages) {
      // What the journal says completed did run, with that attempt, as the ledger saw it.
      const callOf = (kind: 'execute' | 'compensate', attempt: number): boolean =>
        runCalls.some((call) => call.kind === kind && call.stage === stage && call.attempt === attempt);
      if (journaled.completed !== undefined && !callOf('execute', journaled.completed.attempt)) {
        fail(`stage ${stage} completed at attempt ${journaled.completed.attempt}, which the ledger never saw`);
      }
      for (const completion of journaled.compensationCompletions) {
        if (!callOf('compensate', completion.attempt)) fail(`the compensation of ${stage} completed at attempt ${completion.attempt}, which the ledger never saw`);
      }
      if (journaled.completed !== undefined && journaled.starts.some((start) => start.seq > (journaled.completed?.seq ?? 0))) {
        fail(`stage ${stage} was started again after it completed`);
      }
      if (journaled.compensationCompletions.length > 1) fail(`the compensation of ${stage} completed ${journaled.compensationCompletions.length} times`);
      const compensated = journaled.compensationCompletions[0];
      if (compensated !== undefined && journaled.compensationStarts.some((start) => start.seq > compensated.seq)) {
        fail(`the compensation of ${stage} was started again after it completed`);
      }
      // Only a completed stage hands its output to its compensation.
      const expectOutput = journaled.completed !== undefined;
      for (const call of runCalls) {
        if (call.kind === 'compensate' && call.stage === stage && call.hasOutput !== expectOutput) {
          fail(`the compensation of ${stage} was called ${call.hasOutput ? 'with' : 'without'} an output, but the stage ${expectOutput ? 'completed' : 'did not complete'}`);
        }
      }
    }

    // The rollback: exactly the candidates, in reverse settle order (sequential) or after
    // every dependent's compensation (parallel), in the journal and in the effects.
    const candidates = rollbackCandidates(run.saga, state);
    const compensateCalls = runCalls.filter((call) => call.kind === 'compensate');
    if (state.status === 'completed') {
      if (compensateCalls.length > 0) fail(`completed, yet ${compensateCalls.length} compensations were called`);
    } else if (SAGA_SHAPES[run.saga].compensation === 'sequential') {
      const expected = [...candidates].reverse();
      if (state.compensationOrder.join() !== expected.join()) {
        fail(`compensated [${state.compensationOrder.join(', ')}], expected reverse completion order [${expected.join(', ')}]`);
      }
      const called = collapse(compensateCalls.map((call) => call.stage));
      if (called.join() !== expected.join()) fail(`compensations were called in the order [${called.join(', ')}], expected [${expected.join(', ')}]`);
    } else {
      if ([...state.compensationOrder].sort().join() !== [...candidates].sort().join()) {
        fail(`compensated [${state.compensationOrder.join(', ')}], expected exactly [${candidates.join(', ')}]`);
      }
      for (const stage of candidates) {
        const first = Math.min(...compensateCalls.filter((call) => call.stage === stage).map((call) => call.id));
        for (const dependent of descendants(run.saga, stage)) {
          if (!candidates.includes(dependent)) continue;
          const last = Math.max(...compensateCalls.filter((call) => call.stage === dependent).map((call) => call.id));
          if (first < last) fail(`the compensation of ${stage} was called before ${dependent}'s, which depends on it, had settled`);
        }
      }
    }
  }

  // Each kill: what was in flight is finished by a later process, as rule 7 says.
  let reexecutedStages = 0;
  let unknownOutcomes = 0;
  let resumedCompensations = 0;
  for (const kill of kills) {
    const run = runs.get(kill.runId);
    const stages = indexes.get(kill.runId);
    if (run === undefined || stages === undefined) continue;
    const fail = (message: string): void => {
      violations.push(`run ${kill.runId} (${run.saga}, plan ${JSON.stringify(run.plan)}), killed by process ${kill.process} at seq ${kill.length - 1} (${kill.phase}): ${message}`);
    };
    for (const [stage, record] of kill.state.stages) {
      const journaled = stages.get(stage);
      const startsAfter = (journaled?.starts ?? []).filter((start) => start.seq >= kill.length);
      if (record.status === 'running' && kill.phase === 'forward') {
        reexecutedStages++;
        if (startsAfter[0]?.attempt !== record.attempts + 1) {
          fail(`stage ${stage} was in flight (attempt ${record.attempts}) but its next start is ${JSON.stringify(startsAfter[0])}, expected attempt ${record.attempts + 1}`);
        }
      } else if (record.status === 'running') {
        unknownOutcomes++;
        if (startsAfter.length > 0) fail(`stage ${stage} was in flight while the run was stopping, yet it was executed again`);
        if (journaled?.cancelledUnknownAt === undefined || journaled.cancelledUnknownAt < kill.length) {
          fail(`stage ${stage} was in flight while the run was stopping, but was not settled as unknown`);
        }
      } else if (record.status !== 'not_started' && startsAfter.length > 0) {
        fail(`stage ${stage} was ${record.status} at the kill, yet it was started again`);
      }
      const compensationStartsAfter = (journaled?.compensationStarts ?? []).filter((start) => start.seq >= kill.length);
      if (record.compensation?.status === 'running') {
        resumedCompensations++;
        if (compensationStartsAfter[0]?.attempt !== record.compensation.attempts + 1) {
          fail(`the compensation of ${stage} was in flight (attempt ${record.compensation.attempts}) but its next start is ${JSON.stringify(compensationStartsAfter[0])}`);
        }
      } else if (record.compensation?.status === 'completed' && compensationStartsAfter.length > 0) {
        fail(`the compensation of ${stage} had completed, yet it was started again`);
      }
    }
  }
  return { violations, reexecutedStages, unknownOutcomes, resumedCompensations };
}
