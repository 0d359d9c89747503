/**
 * What the benchmark runner (bench/run.ts) writes from a result: the JSON shape, the targets,
 * the Markdown of bench/README.md's generated section (headline, targets, tables, quick-vs-full
 * agreement) and the scaling chart. Pure functions of saved results, no measuring, so that a test
 * can check that bench/README.md says exactly what bench/results/*.json hold.
 */
import type { DurableSqliteBenchmarkResult } from '../durable-sqlite.js';
import type { MemoryBenchResult } from '../memory.js';
import type { OtelBenchResult } from '../otel.js';
import type { PostgresBenchResult } from '../postgres.js';
import type { HandWrittenRunsPoint, ScalingBenchResult, ScalingPoint } from '../scaling.js';
import type { WaitsBenchResult } from '../waits.js';
import { scalingChart } from './chart.js';

/** How a result was measured: the full set, the reduced set (same keys), or a smoke test. */
export type Mode = 'full' | 'quick' | 'smoke';

export type Scenario = 'success' | 'rollback';
export type PerScenario = Record<Scenario, number>;

/** The fixed JSON shape (keys named in the benchmark issue are marked). */
export interface BenchResults {
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
  /** Runs waiting for a signal: in process, and parked on PostgreSQL (absent in results saved before it). */
  readonly waits?: WaitsBenchResult;
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
export interface Target {
  readonly key: string;
  readonly value: number | null;
  readonly goal: string;
  readonly met: boolean | null;
  /**
   * Where the benchmark measures one, the same ratio for the least an implementation can do and
   * still keep sagaflow's contract (a hand-written baseline measured in the same rounds): sagaflow
   * does at least that work, so its ratio to the same denominator cannot be lower, and when the
   * bound misses the target no engine keeping that contract can meet it on this machine. Only the
   * in-memory ratios have one: a largest ÷ smallest over sizes (the scaling ratios) has no such
   * bound, since an engine adding a constant per stage to a baseline spreads less than it.
   */
  readonly floor?: { readonly key: string; readonly value: number; readonly met: boolean };
}

export function targets(results: BenchResults): Target[] {
  /** `floorKey`: the measured lower bound of this ratio, when the results hold it (see {@link Target.floor}). */
  const atMost = (key: string, value: number | null, limit: number, floorKey?: string): Target => {
    const floor = floorKey === undefined ? null : valueAt(results, floorKey);
    return { key, value, goal: `≤ ${limit}`, met: value === null ? null : value <= limit, ...(floor === null || floorKey === undefined ? {} : { floor: { key: floorKey, value: floor, met: floor <= limit } }) };
  };
  const atLeast = (key: string, value: number | null, limit: number): Target => ({ key, value, goal: `≥ ${limit}`, met: value === null ? null : value >= limit });
  return [
    atMost('memory.ratioVsHandWritten', results.memory.ratioVsHandWritten, 2.5, 'memory.writeAheadVsHandWritten'),
    atMost('memory.ratioVsHandWrittenJournaled', results.memory.ratioVsHandWrittenJournaled, 1.5, 'memory.writeAheadVsHandWrittenJournaled'),
    atMost('memory.ratioVsNodeSagas', results.memory.ratioVsNodeSagas, 1, 'memory.writeAheadVsNodeSagas'),
    atMost('scaling.stagesRatio', results.scaling.stagesRatio, 1.5),
    atMost('scaling.runsRatio', results.scaling.runsRatio, 1.5),
    atLeast('sqlite.groupCommitRatio', results.sqlite.groupCommitRatio, 5),
    atLeast('sqlite.ratioVsDbos', results.sqlite.ratioVsDbos, 10),
    atLeast('postgres.ratioVsDbos', results.postgres.ratioVsDbos, 3),
    atLeast('postgres.ratioVsRestate', results.postgres.ratioVsRestate, 3),
    atMost('recovery.ms10k', results.recovery.ms10k, 2_000),
  ];
}

/** The number at a dotted key such as `memory.ratioVsHandWritten` (`postgres.ratios.<peer>.<workers>.<scenario>` too); null when absent. */
export function valueAt(results: BenchResults, key: string): number | null {
  const [section, ...rest] = key.split('.');
  // postgres.ratios has keys with dots of their own (dbos.workers1.success).
  if (section === 'postgres' && rest[0] === 'ratios') return results.postgres.ratios[rest.slice(1).join('.')] ?? null;
  let value: unknown = (results as unknown as Record<string, unknown>)[section ?? ''];
  for (const part of rest) value = (value as Record<string, unknown> | undefined)?.[part];
  return typeof value === 'number' ? value : null;
}

/**
 * The ratios a quick run must agree on with the full run (within 20 %): every target's, and each
 * peer ratio. A baseline's ratio to itself or to another baseline (`memory.nodeSagasVsHandWritten`,
 * `scaling.runsRatioHandWrittenJournaled`) is a reference for sagaflow's, not one of them.
 */
export function agreementKeys(results: BenchResults): string[] {
  return [
    ...targets(results).map((target) => target.key),
    'memory.ratioVsHandWrittenJournalKept',
    'otel.ratioNoop',
    'otel.ratioSdk',
    'sqlite.ratioVsDbosRollback',
    ...Object.keys(results.postgres.ratios).map((key) => `postgres.ratios.${key}`),
  ];
}

/** One row of the quick-versus-full comparison. */
export interface Agreement {
  readonly key: string;
  readonly full: number | null;
  readonly quick: number | null;
  /** quick ÷ full − 1; null when either side is missing. */
  readonly difference: number | null;
}

/** How far each of a quick run's ratios is from the full run's. */
export function agreement(full: BenchResults, quick: BenchResults): Agreement[] {
  return agreementKeys(full).map((key) => {
    const a = valueAt(full, key);
    const b = valueAt(quick, key);
    return { key, full: a, quick: b, difference: a === null || b === null || a === 0 ? null : b / a - 1 };
  });
}

/** The markers of bench/README.md's generated section. */
export const README_START = '<!-- results:start (generated by bench/run.ts) -->';
export const README_END = '<!-- results:end -->';

export const fmt = (value: number | null | undefined, digits = 2): string =>
  value === null || value === undefined || Number.isNaN(value) ? '—' : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: value >= 100 ? 0 : digits });

/** Markdown table of rows; the first row is the header. */
function markdownTable(rows: readonly (readonly string[])[]): string {
  const [header = [], ...body] = rows;
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...body.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

/** The measured lower bound under the in-memory table: what the journal alone costs next to node-sagas, and allocations next to the journaled baseline. */
function lowerBound(memory: BenchResults['memory']): string {
  const kept = memory.usHandWrittenJournalKept;
  const nodeSagas = memory.usNodeSagas;
  const sagaflow = memory.allocations?.sagaflow;
  const journaled = memory.allocations?.['hand-written+journal'];
  const parts: string[] = [];
  if (kept !== undefined && nodeSagas !== null)
    parts.push(
      `the hand-written saga with the same journal kept as MemoryStore keeps it takes ${fmt(kept / nodeSagas)} × node-sagas' time, with the journal dropped after each saga ${fmt(memory.usHandWrittenJournaled / nodeSagas)} × (ratios of the medians)`,
    );
  if (memory.writeAheadVsHandWrittenJournaled !== undefined)
    parts.push(
      `the hand-written saga doing the least of the contract (the same journal kept, each decision's events written ahead with one awaited append, every event streamed) takes ${fmt(memory.writeAheadVsHandWrittenJournaled)} × the journaled baseline's time, ${fmt(memory.writeAheadVsHandWritten)} × hand-written` +
        (memory.writeAheadVsNodeSagas === null || memory.writeAheadVsNodeSagas === undefined ? '' : ` and ${fmt(memory.writeAheadVsNodeSagas)} × node-sagas'`) +
        ' (medians of per-round ratios)',
    );
  if (sagaflow !== null && sagaflow !== undefined && journaled !== null && journaled !== undefined)
    parts.push(`sagaflow allocates ${fmt(sagaflow.objects / journaled.objects)} × the objects and ${fmt(sagaflow.bytes / journaled.bytes)} × the bytes of the journaled baseline`);
  return parts.length === 0 ? '' : `Lower bounds measured in the same rounds: ${parts.join('; ')}.`;
}

/** "x.xx (key)" for the headline: the figure and the JSON key it is. */
const keyed = (results: BenchResults, key: string, digits = 2): string => `\`${key}\` ${fmt(valueAt(results, key), digits)}`;

/**
 * The results as Markdown: what bench/README.md's generated section holds, and what the terminal
 * shows. `quick`, when given (a saved quick run), adds how far its ratios are from these.
 */
export function report(results: BenchResults, quick?: BenchResults): string {
  const { memory, scaling, sqlite, postgres, recovery, machine } = results;
  const allocations = memory.allocations;
  const lines: string[] = [];
  const allTargets = targets(results);
  const missed = allTargets.filter((target) => target.met === false).map((target) => `\`${target.key}\``);
  const outOfReach = allTargets.filter((target) => target.met === false && target.floor?.met === false).map((target) => `\`${target.key}\``);
  const agreements = quick === undefined || quick.mode !== 'quick' || results.mode !== 'full' ? undefined : agreement(results, quick);
  const disagreeing = agreements?.filter((row) => row.difference !== null && Math.abs(row.difference) > 0.2) ?? [];
  lines.push(
    `**Machine**: ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, load average ${fmt(machine.loadBefore)} before → ${fmt(machine.loadAfter)} after` +
      (machine.postgresAutocommitInsertsPerSecond === null ? '' : `, PostgreSQL single-connection autocommit INSERTs ${fmt(machine.postgresAutocommitInsertsPerSecond, 0)}/s`) +
      `. Measured ${results.at.slice(0, 16).replace('T', ' ')} UTC (${results.mode} run, \`bench/results/${results.mode === 'full' ? 'latest' : results.mode}.json\`).`,
    '',
    `**Headline** (generated from the JSON by the runner; each figure is named by its key, medians of per-round ratios): ` +
      `in memory, a failing 5-stage saga journaled and streamed by sagaflow takes ${keyed(results, 'memory.usSagaflow')} µs: ` +
      `${keyed(results, 'memory.ratioVsHandWritten')} × hand-written, ${keyed(results, 'memory.ratioVsHandWrittenJournaled')} × hand-written with a journal of the same 21 events ` +
      `(${keyed(results, 'memory.ratioVsHandWrittenJournalKept')} when that journal is kept, as MemoryStore keeps it), ${keyed(results, 'memory.ratioVsNodeSagas')} × node-sagas` +
      (memory.ratioVsHandWrittenWriteAhead === undefined ? '. ' : `, ${keyed(results, 'memory.ratioVsHandWrittenWriteAhead')} × the least the contract asks for, written by hand (that journal kept, written ahead and streamed). `) +
      `On PostgreSQL, one worker, ${postgres.concurrency} in flight, the worse of success and rollback: ${keyed(results, 'postgres.ratioVsDbos')} × DBOS, ${keyed(results, 'postgres.ratioVsRestate')} × Restate. ` +
      `Embedded SQLite: ${keyed(results, 'sqlite.ratioVsDbos')} × DBOS on PostgreSQL, ${keyed(results, 'sqlite.groupCommitRatio')} × single-row commits. ` +
      `Scaling: ${keyed(results, 'scaling.stagesRatio')}, ${keyed(results, 'scaling.runsRatio')}` +
      (scaling.runsRatioHandWrittenJournaled === undefined ? '' : ` (the hand-written chain keeping the same journal, same rounds: ${keyed(results, 'scaling.runsRatioHandWrittenJournaled')})`) +
      `; ${keyed(results, 'recovery.ms10k', 0)} ms to recover 10,000 runs. ` +
      (missed.length === 0
        ? 'Every target is met.'
        : `Missed: ${missed.join(', ')} (reasons below, under "Reading the results")` +
          (outOfReach.length === 0 ? '.' : `; of these, out of reach on this machine for any engine keeping the contract, since the measured lower bound misses the target too: ${outOfReach.join(', ')}.`)) +
      (agreements === undefined ? '' : disagreeing.length === 0 ? ' The saved quick run agrees within 20 % on every ratio.' : ` The saved quick run differs by more than 20 % on ${disagreeing.map((row) => `\`${row.key}\``).join(', ')}.`),
    '',
    '**Targets**',
    '',
    markdownTable([
      ['key', 'value', 'target', 'met', 'lower bound, same rounds (see the method)', 'the lower bound meets the target'],
      ...allTargets.map((target) => [
        `\`${target.key}\``,
        fmt(target.value),
        target.goal,
        target.met === null ? 'n/a' : target.met ? 'yes' : '**no**',
        target.floor === undefined ? '' : `\`${target.floor.key}\` ${fmt(target.floor.value)}`,
        target.floor === undefined ? '' : target.floor.met ? 'yes' : '**no**: out of reach',
      ]),
      ...(agreements === undefined
        ? []
        : [['`--quick` within 20 % of the full run, every ratio', disagreeing.length === 0 ? 'all' : `${disagreeing.length} of ${agreements.length} outside`, '≤ 20 %', disagreeing.length === 0 ? 'yes' : '**no**', '', '']]),
    ]),
    '',
    `**In memory** (5 stages, stage 5 fails, 4 compensations; sequential; median CPU µs per saga (process CPU time, see the method) over ${memory.rounds} rounds of ${memory.count.toLocaleString('en-US')}; allocations per saga counted by V8's sampling heap profiler at a 1-byte interval, i.e. every allocation)`,
    '',
    markdownTable([
      ['implementation', 'µs per saga', 'sagaflow ÷ it', 'objects allocated per saga', 'KB allocated per saga'],
      ['sagaflow, MemoryStore, journaled and streamed', fmt(memory.usSagaflow), '1', fmt(allocations?.sagaflow?.objects, 0), fmt(allocations === undefined || allocations.sagaflow === null ? undefined : allocations.sagaflow.bytes / 1_024, 1)],
      ['hand-written async/await + try/catch', fmt(memory.usHandWritten), fmt(memory.ratioVsHandWritten), fmt(allocations?.['hand-written']?.objects, 0), fmt(allocations === undefined || allocations['hand-written'] === null ? undefined : allocations['hand-written'].bytes / 1_024, 1)],
      ['hand-written + a journal of the same 21 events (plain literals, error stack read), dropped after each saga', fmt(memory.usHandWrittenJournaled), fmt(memory.ratioVsHandWrittenJournaled), fmt(allocations?.['hand-written+journal']?.objects, 0), fmt(allocations === undefined || allocations['hand-written+journal'] === null ? undefined : allocations['hand-written+journal'].bytes / 1_024, 1)],
      ['the same, every journal kept until the batch ends (as MemoryStore keeps them)', fmt(memory.usHandWrittenJournalKept), fmt(memory.ratioVsHandWrittenJournalKept), fmt(allocations?.['hand-written+kept journal']?.objects, 0), fmt(allocations === undefined || allocations['hand-written+kept journal'] === null ? undefined : allocations['hand-written+kept journal'].bytes / 1_024, 1)],
      ...(memory.usHandWrittenWriteAhead === undefined
        ? []
        : [['the same kept journal, written ahead (each decision\'s events appended with one awaited call before the saga goes on) and streamed to a listener: the least of the contract', fmt(memory.usHandWrittenWriteAhead), fmt(memory.ratioVsHandWrittenWriteAhead), fmt(allocations?.['hand-written write-ahead']?.objects, 0), fmt(allocations?.['hand-written write-ahead'] === undefined || allocations['hand-written write-ahead'] === null ? undefined : allocations['hand-written write-ahead'].bytes / 1_024, 1)]]),
      ['node-sagas 0.0.6 (no journal)', fmt(memory.usNodeSagas), fmt(memory.ratioVsNodeSagas), fmt(allocations?.['node-sagas']?.objects, 0), fmt(allocations === undefined || allocations['node-sagas'] === null ? undefined : allocations['node-sagas'].bytes / 1_024, 1)],
    ]),
    '',
    lowerBound(memory),
    '',
    ...scalingReport(scaling),
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
    `**PostgreSQL** (5-stage saga, ${postgres.concurrency} runs in flight, sagas/s, medians over the rounds; peers on the same server in the same run; every engine runs a warm-up batch before each measured batch)`,
    '',
    markdownTable([
      ['engine', 'success', 'rollback', 'CPU ms per saga, success: workers + submitter + PostgreSQL backends', 'same, rollback'],
      ...(['workers1', 'workers3'] as const).map((workers) => {
        const cpu = postgres.cpuMsPerSaga[workers];
        return [
          `sagaflow, ${workers === 'workers1' ? '1 worker' : '3 workers'}`,
          fmt(postgres.sagasPerSecond[workers].success, 0),
          fmt(postgres.sagasPerSecond[workers].rollback, 0),
          `${fmt(cpu.success.workers)} + ${fmt(cpu.success.submitter)} + ${fmt(cpu.success.postgres)}`,
          `${fmt(cpu.rollback.workers)} + ${fmt(cpu.rollback.submitter)} + ${fmt(cpu.rollback.postgres)}`,
        ];
      }),
      ['DBOS 5.3', fmt(postgres.dbos?.success, 0), fmt(postgres.dbos?.rollback, 0), '', ''],
      ['Restate 1.7', fmt(postgres.restate?.success, 0), fmt(postgres.restate?.rollback, 0), '', ''],
    ]),
    '',
    `Ratios (per-round, \`postgres.ratios\`): ${Object.entries(postgres.ratios)
      .map(([key, value]) => `${key} ${fmt(value)}`)
      .join(', ')}.`,
  );
  lines.push(...otelReport(results.otel));
  lines.push(...waitsReport(results.waits));
  if (agreements !== undefined && quick !== undefined) {
    lines.push(
      '',
      `**Quick run against the full run** (\`npm run bench -- --quick --write\`, \`bench/results/quick.json\`, measured ${quick.at.slice(0, 16).replace('T', ' ')} UTC, load average ${fmt(quick.machine.loadBefore)} → ${fmt(quick.machine.loadAfter)}; difference = quick ÷ full − 1, target within ±20 %)`,
      '',
      markdownTable([
        ['key', 'full', 'quick', 'difference', 'within 20 %'],
        ...agreements.map((row) => [
          `\`${row.key}\``,
          fmt(row.full),
          fmt(row.quick),
          row.difference === null ? '—' : `${row.difference >= 0 ? '+' : ''}${(row.difference * 100).toFixed(0)} %`,
          row.difference === null ? 'n/a' : Math.abs(row.difference) <= 0.2 ? 'yes' : '**no**',
        ]),
      ]),
    );
  }
  for (const reason of [postgres.reasons.dbos, postgres.reasons.restate, memory.reason]) if (reason !== undefined) lines.push('', `Not measured: ${reason}`);
  return lines.join('\n');
}

/**
 * The scaling section: µs per stage by size for each curve, heap per in-flight run, and, in
 * results that have them, the hand-written curves measured beside sagaflow's (references, not bounds).
 */
function scalingReport(scaling: ScalingBenchResult): string[] {
  const hand = scaling.runsHandWrittenJournaled;
  const handAt = (size: number): HandWrittenRunsPoint | undefined => hand?.find((point) => point.size === size);
  const handStages = scaling.chainHandWrittenJournaled !== undefined;
  return [
    `**Scaling** (MemoryStore; CPU µs per executed stage, the fastest of the rounds; heap with every run held inside its first stage${scaling.heapExact ? ', after a forced GC' : ''}` +
      (hand === undefined
        ? ')'
        : '; beside the concurrent runs, measured in the same rounds, interleaved: the same 5-stage chain by hand with async/await and a journal of the same 12 events per run as plain literals, every journal kept as MemoryStore keeps them, the runs started and awaited together; "sagaflow ÷ it" is the median of per-round ratios)'),
    '',
    markdownTable([
      [
        'size',
        'chain µs/stage',
        'fan-out µs/stage',
        ...(handStages ? ['by hand + kept journal: chain µs/stage', 'fan-out µs/stage'] : []),
        'concurrent runs µs/stage',
        'heap KB per in-flight run',
        ...(hand === undefined ? [] : ['hand-written + kept journal, concurrent runs µs/stage', 'its heap KB per in-flight run', 'sagaflow ÷ it']),
      ],
      ...[...new Set([...scaling.chain, ...scaling.runs].map((point) => point.size))]
        .sort((a, b) => a - b)
        .map((size) => {
          const runs = scaling.runs.find((point) => point.size === size);
          const handPoint = handAt(size);
          return [
            size.toLocaleString('en-US'),
            fmt(scaling.chain.find((point) => point.size === size)?.usPerStage),
            fmt(scaling.fanOut.find((point) => point.size === size)?.usPerStage),
            ...(handStages
              ? [fmt(scaling.chainHandWrittenJournaled?.find((point) => point.size === size)?.usPerStage), fmt(scaling.fanOutHandWrittenJournaled?.find((point) => point.size === size)?.usPerStage)]
              : []),
            fmt(runs?.usPerStage),
            fmt(runs?.heapKBPerRun, 1),
            ...(hand === undefined ? [] : [fmt(handPoint?.usPerStage), fmt(handPoint?.heapKBPerRun, 1), fmt(handPoint?.sagaflowRatio)]),
          ];
        }),
    ]),
    '',
    `Largest ÷ smallest per-stage cost: stages ${fmt(scaling.stagesRatio)} (chain ${fmt(scaling.chainRatio)}, fan-out ${fmt(scaling.fanOutRatio)})` +
      (scaling.stagesRatioHandWrittenJournaled === undefined
        ? ''
        : `, the same chain and fan-out by hand with a kept journal of the same events ${fmt(scaling.stagesRatioHandWrittenJournaled)}, sagaflow's own part (its µs per stage less the hand-written one's, size by size) ${fmt(ownSpread([...pairs(scaling.chain, scaling.chainHandWrittenJournaled), ...pairs(scaling.fanOut, scaling.fanOutHandWrittenJournaled)]))}`) +
      `; concurrent runs ${fmt(scaling.runsRatio)}` +
      (scaling.runsRatioHandWrittenJournaled === undefined
        ? '.'
        : `, the hand-written chain with a kept journal over the same runs ${fmt(scaling.runsRatioHandWrittenJournaled)}, sagaflow's own part ${fmt(ownSpread(pairs(scaling.runs, scaling.runsHandWrittenJournaled)))}. The hand-written curves, measured in the same rounds, show what the sizes cost on this machine (the collector, the caches) to anything keeping such a journal; they are references, not bounds: sagaflow's own part is what is left to it.`),
    ...gcReport(scaling),
  ];
}

/**
 * How much of each curve's cost is the garbage collector's, from the curves measured again with the
 * collector on the main thread alone (`ScalingBenchResult.singleThreadedGc`): per size of the
 * concurrent-runs curve, the collector's CPU and the rest, and every spread less the collector.
 * Nothing for results saved before it.
 */
function gcReport(scaling: ScalingBenchResult): string[] {
  const split = scaling.singleThreadedGc;
  const less = split?.lessGcPauses;
  if (split === undefined || less === undefined) return [];
  const hand = split.runsHandWrittenJournaled ?? [];
  const cells = (point: ScalingPoint | undefined): string[] => {
    const { usPerStageMedian: total, gcUsPerStage: collector, restUsPerStage: rest } = point ?? {};
    if (total === undefined || collector === undefined || rest === undefined) return ['—', '—', '—'];
    return [fmt(total), `${fmt(collector)} (${Math.round((100 * collector) / total)} %)`, fmt(rest)];
  };
  return [
    '',
    "**Where the time goes** (the same curves measured again in a process whose garbage collector runs on the main thread alone, `node --single-threaded-gc`, so that its pauses are its CPU time: CPU µs per stage, the collector's part, and the rest, each the median over the rounds, the collector's part varying most between samples; absolute figures differ from the table above, which gives the fastest round and a collector with helper threads)",
    '',
    markdownTable([
      ['concurrent runs', 'sagaflow µs/stage', "the collector's", 'the rest', 'by hand + kept journal µs/stage', "the collector's", 'the rest'],
      ...split.runs.map((point) => [point.size.toLocaleString('en-US'), ...cells(point), ...cells(hand.find((other) => other.size === point.size))]),
    ]),
    '',
    `In that process, largest ÷ smallest per-stage cost: concurrent runs ${fmt(split.runsRatio)} (by hand ${fmt(split.runsRatioHandWrittenJournaled)}), stages ${fmt(split.stagesRatio)} (by hand ${fmt(split.stagesRatioHandWrittenJournaled)}); **less the collector's part**: concurrent runs ${fmt(less.runsRatio)} (by hand ${fmt(less.runsRatioHandWrittenJournaled)}), stages ${fmt(less.stagesRatio)} (by hand ${fmt(less.stagesRatioHandWrittenJournaled)}).`,
  ];
}

/** sagaflow's points with the hand-written baseline's of the same size, as [sagaflow, baseline] µs per stage. */
function pairs(sagaflow: readonly ScalingPoint[], hand: readonly ScalingPoint[] | undefined): Array<readonly [number, number]> {
  const result: Array<readonly [number, number]> = [];
  for (const point of sagaflow) {
    const other = hand?.find((candidate) => candidate.size === point.size);
    if (other !== undefined) result.push([point.usPerStage, other.usPerStage]);
  }
  return result;
}

/** Largest ÷ smallest of sagaflow's µs per stage less the baseline's, over the sizes: how its own cost grows. */
function ownSpread(points: ReadonlyArray<readonly [number, number]>): number | null {
  const own = points.map(([sagaflow, hand]) => sagaflow - hand);
  if (own.length === 0 || own.some((cost) => cost <= 0)) return null;
  return Math.max(...own) / Math.min(...own);
}

export function chart(results: BenchResults): string {
  const { scaling } = results;
  return scalingChart('sagaflow: µs per stage as work grows (MemoryStore)', [
    { label: 'chain (stages per saga)', color: '#1f77b4', points: scaling.chain },
    { label: 'fan-out (stages per saga)', color: '#ff7f0e', points: scaling.fanOut },
    { label: 'concurrent 5-stage runs', color: '#2ca02c', points: scaling.runs },
    ...(scaling.runsHandWrittenJournaled === undefined ? [] : [{ label: 'runs, by hand + journal', color: '#7f7f7f', points: scaling.runsHandWrittenJournaled }]),
    ...(scaling.fanOutHandWrittenJournaled === undefined ? [] : [{ label: 'fan-out, by hand + journal', color: '#bcbd22', points: scaling.fanOutHandWrittenJournaled }]),
  ]);
}

/** The Markdown lines bench/run.ts prints and writes to bench/README.md. */
/** The waiting runs section: what a waiting run costs, in process and parked on PostgreSQL. */
export function waitsReport(result: WaitsBenchResult | undefined): string[] {
  if (result === undefined) return [];
  const count = result.count.toLocaleString('en-US');
  const pg = result.postgres;
  return [
    '',
    `**Waiting runs** (\`bench/waits.ts\`; ${count} runs waiting for a signal at once, no timeout)`,
    '',
    markdownTable([
      ['measure', 'value'],
      ['in one process (MemoryStore): heap per waiting run, journal included', `${fmt(result.memory.bytesPerWaitingRun, 0)} bytes`],
      [`in one process: a burst of ${count} signals, signals/s until every run completed`, fmt(result.memory.signalsPerSecond, 0)],
      ...(pg === null
        ? [['PostgreSQL', `not measured: ${result.reason ?? 'unknown reason'}`]]
        : [
            ['PostgreSQL, one worker (concurrency 50): runs parked per second (claimed, run to the wait, lease given back)', fmt(pg.parksPerSecond, 0)],
            ['  runs the worker holds once every run is parked', fmt(pg.heldWhileParked, 0)],
            ['  the worker process heap per parked run (after a full GC)', `${fmt(pg.workerBytesPerParkedRun, 0)} bytes`],
            [`  a claim with ${count} runs parked ÷ on an empty queue (median time): after a vacuum / right after the parks`, `${fmt(pg.claimRatioParked)} / ${fmt(pg.claimRatioBeforeVacuum)}`],
            ['  buffers a claim touches with every run parked: after a vacuum / right after the parks', `${fmt(pg.claimBuffersParked, 0)} / ${fmt(pg.claimBuffersBeforeVacuum, 0)}`],
            [`  a burst of ${(result.burst ?? result.count).toLocaleString('en-US')} signal requests to parked runs (64 at a time): signals/s until every one completed`, fmt(pg.signalsPerSecond, 0)],
          ]),
    ]),
  ];
}

export function otelReport(result: OtelBenchResult | undefined): string[] {
  if (result === undefined) return [];
  const fmt = (value: number): string => (Number.isNaN(value) ? '—' : value.toFixed(2));
  return [
    '',
    `**OpenTelemetry** (\`sagaflow/otel\`; the in-memory saga above, ${fmt(result.spansPerSaga)} spans per saga with the SDK; median CPU µs per saga (process CPU time, see the method) over ${result.rounds} rounds of ${result.count.toLocaleString('en-US')}, cost = per-round ratio to no instrumentation)`,
    '',
    '| instrumentation | µs per saga | ÷ none |',
    '|---|---|---|',
    `| none | ${fmt(result.usOff)} | 1 |`,
    `| \`openTelemetry()\`, no SDK registered (no-op API) | ${fmt(result.usNoop)} | ${fmt(result.ratioNoop)} |`,
    `| \`openTelemetry()\`, SDK: in-memory span exporter, metrics, AsyncLocalStorage context | ${fmt(result.usSdk)} | ${fmt(result.ratioSdk)} |`,
  ];
}
