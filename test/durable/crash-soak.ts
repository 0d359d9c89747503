/**
 * Soak test: the crash harness of `crash.test.ts` with many more kill points.
 *
 *   npm run test:crash -- --kills 1000 [--seed 12345] [--runs-per-process 24] [--durability full|normal]
 *
 * Prints the seed first; a failure replays with the same `--seed`. Exits 1 if any guarantee broke.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runCrashHarness } from './crash-harness.js';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '1000' },
    seed: { type: 'string' },
    'runs-per-process': { type: 'string', default: '24' },
    durability: { type: 'string', default: 'full' },
    keep: { type: 'boolean', default: false },
  },
});
const kills = Number(values.kills);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const runsPerProcess = Number(values['runs-per-process']);
const durability = values.durability === 'normal' ? 'normal' : 'full';
if (!Number.isInteger(kills) || kills < 1 || !Number.isInteger(seed) || !Number.isInteger(runsPerProcess) || runsPerProcess < 1) {
  console.error('usage: npm run test:crash -- --kills 1000 [--seed N] [--runs-per-process 24] [--durability full|normal] [--keep]');
  process.exit(2);
}

const directory = mkdtempSync(join(tmpdir(), 'sagaflow-crash-soak-'));
console.log(`crash soak: seed ${seed}, at least ${kills} kill points, ${runsPerProcess} new runs per process, durability ${durability}`);
console.log(`files: ${directory}${values.keep ? ' (kept)' : ''}`);
const started = performance.now();
try {
  const report = await runCrashHarness({ seed, kills, directory, runsPerProcess, durability, log: (line) => console.log(line) });
  const seconds = ((performance.now() - started) / 1_000).toFixed(1);
  const { forward, stopping, rollback } = report.killPointsByPhase;
  console.log(
    `\n${report.killPoints} kill points (${forward} going forward, ${stopping} stopping, ${rollback} rolling back) over ${report.runs} runs and ${report.processes} processes in ${seconds} s`,
  );
  console.log(
    `${report.reexecutedStages} interrupted stages re-executed, ${report.unknownOutcomes} settled as unknown and compensated, ${report.resumedCompensations} interrupted compensations resumed; ${report.repeatedKeys} idempotency keys called more than once`,
  );
  if (report.violations.length > 0) {
    console.error(`\n${report.violations.length} violation(s) (seed ${seed}; replay with --seed ${seed}):`);
    for (const violation of report.violations.slice(0, 50)) console.error(`- ${violation}`);
    process.exitCode = 1;
  } else {
    console.log('every guarantee held');
  }
} finally {
  if (!values.keep) rmSync(directory, { recursive: true, force: true });
}
