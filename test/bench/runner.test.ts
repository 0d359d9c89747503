// Smoke test of the benchmark runner (bench/run.ts): it runs end to end at tiny sizes and
// prints one JSON object with every fixed key. Figures are not checked: this is not a benchmark.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { scalingChart } from '../../bench/lib/chart.js';
import { fmt, README_END, README_START, report, targets, valueAt, type BenchResults } from '../../bench/lib/report.js';
import { postgresForTests } from '../support/postgres.js';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url);

/** The value at a dotted path such as `memory.ratioVsHandWritten`. */
function at(object: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], object);
}

const url = await postgresForTests();

describe('bench/run.ts', () => {
  it.runIf(url !== undefined)('runs every section at smoke sizes and prints the fixed JSON keys', { timeout: 180_000 }, async () => {
    const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/run.ts', '--smoke', '--json', '--skip-install'], {
      cwd: root,
      env: { ...process.env, SAGAFLOW_BENCH_POSTGRES_URL: url },
      maxBuffer: 16 * 1024 * 1024,
    });
    const results: unknown = JSON.parse(stdout);
    expect(at(results, 'mode')).toBe('smoke');
    // Parked runs are held by nobody.
    expect(at(results, 'waits.postgres.heldWhileParked')).toBe(0);
    // Measured by sagaflow alone: always numbers.
    for (const key of ['memory.ratioVsHandWritten', 'memory.ratioVsHandWrittenJournaled', 'memory.ratioVsHandWrittenJournalKept', 'memory.ratioVsHandWrittenWriteAhead', 'memory.writeAheadVsHandWrittenJournaled', 'memory.writeAheadVsHandWritten', 'scaling.stagesRatio', 'scaling.runsRatio', 'scaling.runsRatioHandWrittenJournaled', 'scaling.stagesRatioHandWrittenJournaled', 'scaling.singleThreadedGc.runsRatio', 'scaling.singleThreadedGc.lessGcPauses.runsRatio', 'scaling.singleThreadedGc.lessGcPauses.stagesRatio', 'sqlite.groupCommitRatio', 'recovery.ms10k', 'postgres.sagasPerSecond.workers1.success', 'postgres.sagasPerSecond.workers3.rollback', 'sqlite.sagasPerSecond.rollback', 'otel.ratioNoop', 'otel.ratioSdk', 'waits.memory.bytesPerWaitingRun', 'waits.postgres.parksPerSecond', 'waits.postgres.claimBuffersParked', 'waits.postgres.signalsPerSecond']) {
      const value = at(results, key);
      expect(typeof value === 'number' && Number.isFinite(value) && value > 0, `${key} = ${String(value)}`).toBe(true);
    }
    // Against a peer: a positive number, or null with the reason the peer could not run.
    const peerKeys = [
      ['memory.ratioVsNodeSagas', 'memory.reason'],
      ['sqlite.ratioVsDbos', 'sqlite.reason'],
      ['postgres.ratioVsDbos', 'postgres.reasons.dbos'],
      ['postgres.ratioVsRestate', 'postgres.reasons.restate'],
    ] as const;
    for (const [key, reasonKey] of peerKeys) {
      const value = at(results, key);
      if (value === null) expect(at(results, reasonKey), `${key} is null without a reason`).toMatch(/\S/);
      else expect(typeof value === 'number' && value > 0, `${key} = ${String(value)}`).toBe(true);
    }
  });
});

describe('bench/README.md', () => {
  const readResults = (name: string): BenchResults | undefined => {
    const path = new URL(`bench/results/${name}`, root);
    return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as BenchResults) : undefined;
  };
  const latest = readResults('latest.json');
  const readme = readFileSync(new URL('bench/README.md', root), 'utf8');
  const generated = readme.slice(readme.indexOf(README_START) + README_START.length, readme.indexOf(README_END));

  it('has its results section generated from bench/results/latest.json (and quick.json), not edited by hand', () => {
    expect(latest?.mode).toBe('full');
    if (latest === undefined) return;
    expect(generated.trim()).toBe(`${report(latest, readResults('quick.json'))}\n\n![Scaling curves](scaling.svg)`);
  });

  it('marks a missed target out of reach only when its lower bound, measured in the same rounds, misses it too', () => {
    if (latest === undefined) return;
    const withMemory = (memory: Partial<BenchResults['memory']>): BenchResults => ({ ...latest, memory: { ...latest.memory, ...memory } });
    const journaled = (results: BenchResults) => targets(results).find((target) => target.key === 'memory.ratioVsHandWrittenJournaled');
    expect(journaled(withMemory({ ratioVsHandWrittenJournaled: 2.2, writeAheadVsHandWrittenJournaled: 1.8 }))).toMatchObject({ met: false, floor: { key: 'memory.writeAheadVsHandWrittenJournaled', value: 1.8, met: false } });
    expect(journaled(withMemory({ ratioVsHandWrittenJournaled: 2.2, writeAheadVsHandWrittenJournaled: 1.2 }))).toMatchObject({ met: false, floor: { value: 1.2, met: true } });
    const missedBoth = report(withMemory({ ratioVsHandWrittenJournaled: 2.2, writeAheadVsHandWrittenJournaled: 1.8 }));
    expect(missedBoth).toContain('out of reach on this machine for any engine keeping the contract');
    expect(missedBoth).toMatch(/\| `memory.ratioVsHandWrittenJournaled` \| 2.20 \| ≤ 1.5 \| \*\*no\*\* \| `memory.writeAheadVsHandWrittenJournaled` 1.80 \| \*\*no\*\*: out of reach \|/);
    // Results saved before the lower bound was measured have none, and say nothing of reach.
    const { writeAheadVsHandWrittenJournaled: _dropped, ...older } = latest.memory;
    expect(journaled({ ...latest, memory: older })?.floor).toBeUndefined();
  });

  it('names the machine, and quotes each headline key with the value latest.json holds', () => {
    if (latest === undefined) return;
    expect(generated).toContain(`${latest.machine.cpus} × ${latest.machine.cpuModel}, Node ${latest.machine.node}`);
    const headline = generated.split('\n').find((line) => line.startsWith('**Headline**')) ?? '';
    const quoted = [...headline.matchAll(/`([a-zA-Z0-9.]+)` ([0-9.,—]+)/g)];
    expect(quoted.length).toBeGreaterThanOrEqual(targets(latest).length);
    for (const [, key = '', text = ''] of quoted) {
      const value = valueAt(latest, key);
      if (value === null) expect(text).toBe('—');
      else expect(Number(text.replace(/,/g, '')), key).toBeCloseTo(value, key === 'recovery.ms10k' ? -1 : 1);
    }
  });
});

describe('report', () => {
  it("shows the hand-written references beside sagaflow's curves when the results have them, and sagaflow's own part of each ratio", () => {
    const saved = JSON.parse(readFileSync(new URL('bench/results/latest.json', root), 'utf8')) as BenchResults;
    // Results as saved before the references were measured, with curves of known figures.
    const {
      runsHandWrittenJournaled: _runs,
      runsRatioHandWrittenJournaled: _runsRatio,
      chainHandWrittenJournaled: _chain,
      fanOutHandWrittenJournaled: _fanOut,
      stagesRatioHandWrittenJournaled: _stagesRatio,
      ...scaling
    } = saved.scaling;
    const runs = scaling.runs.map((point) => (point.size === 10_000 ? { ...point, usPerStage: 5.44, heapKBPerRun: 3 } : point));
    const latest: BenchResults = { ...saved, scaling: { ...scaling, runs, runsRatio: 3.01 } };
    // Each reference costs a quarter of sagaflow, so sagaflow's own part (its cost less the
    // reference's) is three quarters of it at every size: it spreads as sagaflow's curve does.
    const quarter = (point: { size: number; usPerStage: number }) => ({ size: point.size, usPerStage: point.usPerStage / 4 });
    const runsHandWrittenJournaled = runs.map((point) => ({ ...quarter(point), heapKBPerRun: point.heapKBPerRun === null ? null : 1.2, sagaflowRatio: 4 }));
    const spreadOf = (points: ReadonlyArray<{ usPerStage: number }>) => Math.max(...points.map((point) => point.usPerStage)) / Math.min(...points.map((point) => point.usPerStage));
    const withRuns: BenchResults = { ...latest, scaling: { ...latest.scaling, runsHandWrittenJournaled, runsRatioHandWrittenJournaled: 2.25 } };
    const text = report(withRuns);
    expect(text).toContain('`scaling.runsRatio` 3.01 (the hand-written chain keeping the same journal, same rounds: `scaling.runsRatioHandWrittenJournaled` 2.25)');
    expect(text).toContain('| size | chain µs/stage | fan-out µs/stage | concurrent runs µs/stage | heap KB per in-flight run | hand-written + kept journal, concurrent runs µs/stage | its heap KB per in-flight run | sagaflow ÷ it |');
    expect(text).toMatch(/\| 10,000 \| [\d.]+ \| [\d.]+ \| 5\.44 \| 3\.0 \| 1\.36 \| 1\.2 \| 4\.00 \|/);
    expect(text).toContain(`concurrent runs 3.01, the hand-written chain with a kept journal over the same runs 2.25, sagaflow's own part ${fmt(spreadOf(runs))}.`);
    expect(text).toContain('they are references, not bounds');
    expect(report(latest)).not.toContain('hand-written + kept journal, concurrent runs');
    // The stage curves' references: two more columns, and sagaflow's own part of the stages ratio.
    const chainHand = latest.scaling.chain.map(quarter);
    const fanOutHand = latest.scaling.fanOut.map(quarter);
    const withStages: BenchResults = { ...withRuns, scaling: { ...withRuns.scaling, chainHandWrittenJournaled: chainHand, fanOutHandWrittenJournaled: fanOutHand, stagesRatioHandWrittenJournaled: 1.95 } };
    const staged = report(withStages);
    expect(staged).toContain('| size | chain µs/stage | fan-out µs/stage | by hand + kept journal: chain µs/stage | fan-out µs/stage | concurrent runs µs/stage |');
    expect(staged).toContain(
      `the same chain and fan-out by hand with a kept journal of the same events 1.95, sagaflow's own part (its µs per stage less the hand-written one's, size by size) ${fmt(spreadOf([...latest.scaling.chain, ...latest.scaling.fanOut]))};`,
    );
    // A spread of ratios over sizes has no lower bound: neither scaling target is marked out of reach.
    for (const key of ['scaling.stagesRatio', 'scaling.runsRatio']) expect(targets(withStages).find((target) => target.key === key)?.floor).toBeUndefined();
  });

  it("splits the curves measured with the collector on the main thread into the collector's part and the rest", () => {
    const saved = JSON.parse(readFileSync(new URL('bench/results/latest.json', root), 'utf8')) as BenchResults;
    const { singleThreadedGc: _split, ...scaling } = saved.scaling;
    const before: BenchResults = { ...saved, scaling };
    expect(report(before)).not.toContain('Where the time goes');
    // The collector takes 5.5 of 8 µs per stage at 10,000 runs, 0.5 of 3 below; the rest is flat.
    const split = (size: number) => (size === 10_000 ? { usPerStageMedian: 8, gcUsPerStage: 5.5, restUsPerStage: 2.5 } : { usPerStageMedian: 3, gcUsPerStage: 0.5, restUsPerStage: 2.5 });
    const runs = scaling.runs.map((point) => ({ ...point, ...split(point.size) }));
    const hand = runs.map((point) => ({ ...point, usPerStageMedian: 1, gcUsPerStage: 0.25, restUsPerStage: 0.75, sagaflowRatio: null }));
    const singleThreadedGc = {
      ...scaling,
      runs,
      runsHandWrittenJournaled: hand,
      runsRatio: 2.9,
      runsRatioHandWrittenJournaled: 1.8,
      stagesRatio: 2.2,
      stagesRatioHandWrittenJournaled: 2.7,
      lessGcPauses: { runsRatio: 1, runsRatioHandWrittenJournaled: 1, stagesRatio: 1.31, stagesRatioHandWrittenJournaled: null },
    };
    const text = report({ ...before, scaling: { ...scaling, singleThreadedGc } });
    expect(text).toContain("| concurrent runs | sagaflow µs/stage | the collector's | the rest | by hand + kept journal µs/stage | the collector's | the rest |");
    expect(text).toContain('| 10,000 | 8.00 | 5.50 (69 %) | 2.50 | 1.00 | 0.25 (25 %) | 0.75 |');
    expect(text).toContain('| 10 | 3.00 | 0.50 (17 %) | 2.50 |');
    expect(text).toContain(
      "largest ÷ smallest per-stage cost: concurrent runs 2.90 (by hand 1.80), stages 2.20 (by hand 2.70); **less the collector's part**: concurrent runs 1.00 (by hand 1.00), stages 1.31 (by hand —).",
    );
  });
});

describe('scalingChart', () => {
  it('draws one line and one legend entry per series, on a log axis labelled by powers of ten', () => {
    const svg = scalingChart('title <&>', [
      { label: 'chain', color: '#111', points: [{ size: 10, usPerStage: 5 }, { size: 10_000, usPerStage: 6 }] },
      { label: 'runs', color: '#222', points: [{ size: 1, usPerStage: 9 }, { size: 100, usPerStage: 8 }] },
    ]);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg).toContain('title &lt;&amp;&gt;');
    for (const tick of ['>1<', '>10<', '>100<', '>1,000<', '>10,000<']) expect(svg).toContain(tick);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  });
});
