import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCrashHarness } from './crash-harness.js';

// A new seed each run widens the coverage over time; a failure prints it for replay.
const seed = process.env.SAGAFLOW_CRASH_SEED === undefined ? randomInt(2 ** 31) : Number(process.env.SAGAFLOW_CRASH_SEED);

describe('crash recovery with real processes (SqliteStore, SIGKILL)', () => {
  it('settles every run after SIGKILLs at ≥ 50 random journal positions, forward and mid-rollback, with every guarantee intact', async () => {
    console.log(`crash test seed ${seed}; replay with SAGAFLOW_CRASH_SEED=${seed} npx vitest run test/durable/crash.test.ts`);
    const directory = mkdtempSync(join(tmpdir(), 'sagaflow-crash-'));
    try {
      // Two killed processes of 24 new runs each (the second also recovers and re-kills the
      // first's), then one that recovers and settles everything: 3 processes in all.
      const report = await runCrashHarness({ seed, kills: 50, runsPerProcess: 24, directory });
      const replay = `seed ${seed}`;

      expect(report.violations, replay).toEqual([]);
      expect(report.killPoints, replay).toBeGreaterThanOrEqual(50);
      expect(report.killPointsByPhase.forward, replay).toBeGreaterThan(0);
      expect(report.killPointsByPhase.rollback, replay).toBeGreaterThan(0);
      // The cases the guarantees are about did occur: interrupted stages ran again (same key,
      // next attempt), and interrupted rollbacks went on from where they stopped.
      expect(report.reexecutedStages, replay).toBeGreaterThan(0);
      expect(report.resumedCompensations, replay).toBeGreaterThan(0);
      expect(report.repeatedKeys, replay).toBeGreaterThan(0);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }, 120_000);
});
