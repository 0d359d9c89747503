/**
 * How far one benchmark run is from the next: the keys whose `--quick` and full figures disagree
 * by more than 20 % (`scaling.stagesRatio`, `scaling.runsRatio`, `recovery.ms10k`), measured
 * again in `--repeats` fresh processes, each exactly as the full run measures them (the scaling
 * curves with the full run's 9 rounds, recovery of 10,000 runs with its 3 repeats). Nothing
 * differs between the repeats but the time they ran at, so their spread is what two runs of the
 * same benchmark on this machine disagree by, whatever mode they are in.
 *
 * Run alone, on an idle machine: `npm run build && node --expose-gc --import tsx bench/dispersion.ts [--repeats=8] [--json]`
 * (about 40 s per repeat). For each key: every repeat's figure, their median, and the largest ÷
 * the smallest; for the scaling ratios, also the hand-written references measured in the same
 * rounds (see bench/scaling.ts).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { measureRecovery } from './durable-sqlite.js';
import { numberArgument } from './lib/sqlite-bench.js';
import { median } from './lib/stats.js';
import { benchmarkScaling } from './scaling.js';

/** What one repeat measured. */
interface Repeat {
  readonly stagesRatio: number;
  readonly runsRatio: number;
  readonly stagesRatioHandWrittenJournaled: number | null;
  readonly runsRatioHandWrittenJournaled: number | null;
  readonly recoveryMs10k: number;
}

/** One repeat, in this process (the child's side). */
async function measureOnce(): Promise<Repeat> {
  // As the runner does: stack traces are not source-mapped in the measured parts (see bench/lib/stats.ts).
  process.setSourceMapsEnabled(false);
  const scaling = await benchmarkScaling({ rounds: 9 });
  const recovery = await measureRecovery(10_000, 3);
  return {
    stagesRatio: scaling.stagesRatio,
    runsRatio: scaling.runsRatio,
    stagesRatioHandWrittenJournaled: scaling.stagesRatioHandWrittenJournaled ?? null,
    runsRatioHandWrittenJournaled: scaling.runsRatioHandWrittenJournaled ?? null,
    recoveryMs10k: recovery.resumedMs,
  };
}

/** Each key's figures over the repeats, their median and largest ÷ smallest. */
function dispersionOf(repeats: readonly Repeat[]): Record<keyof Repeat, { readonly values: number[]; readonly median: number; readonly maxOverMin: number }> {
  const keys: ReadonlyArray<keyof Repeat> = ['stagesRatio', 'stagesRatioHandWrittenJournaled', 'runsRatio', 'runsRatioHandWrittenJournaled', 'recoveryMs10k'];
  return Object.fromEntries(
    keys.map((key) => {
      const values = repeats.map((repeat) => repeat[key]).filter((value): value is number => typeof value === 'number');
      return [key, { values, median: median(values), maxOverMin: Math.max(...values) / Math.min(...values) }];
    }),
  ) as Record<keyof Repeat, { values: number[]; median: number; maxOverMin: number }>;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv.includes('--child')) {
    process.stdout.write(JSON.stringify(await measureOnce()));
  } else {
    const count = numberArgument('repeats', 8);
    const repeats: Repeat[] = [];
    for (let index = 0; index < count; index++) {
      // A fresh process per repeat, as each benchmark run is one.
      const { stdout } = await promisify(execFile)(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child'], { maxBuffer: 16 * 1024 * 1024 });
      repeats.push(JSON.parse(stdout) as Repeat);
      process.stderr.write(`repeat ${index + 1} of ${count}: ${JSON.stringify(repeats[index])}\n`);
    }
    const dispersion = dispersionOf(repeats);
    if (process.argv.includes('--json')) {
      process.stdout.write(`${JSON.stringify(dispersion, null, 2)}\n`);
    } else {
      for (const [key, { values, median: middle, maxOverMin }] of Object.entries(dispersion)) {
        console.log(`${key.padEnd(34)} ${values.map((value) => value.toFixed(2)).join(' ')}   median ${middle.toFixed(2)}, largest ÷ smallest ${maxOverMin.toFixed(2)}`);
      }
    }
  }
}
