/**
 * `npm run demo:approval`: the transfer held for approval, as real processes on one SQLite file —
 * approved, rejected and timed out from the demo itself, and rejected with `sagaflow signal` from
 * a second process while the demo's process waits. Money is conserved in every branch.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtSagas, ensureBuilt, sagaflow, type CliResult } from '../cli/support/cli-process.js';

const DEMO = builtSagas('money-transfer/approval-demo.js');

/** Runs the demo in `cwd`; `onStdout` sees its output as it comes. */
function demo(args: readonly string[], cwd: string, onStdout?: (text: string) => void): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env['SAGAFLOW_STORE'];
    const child = spawn(process.execPath, [DEMO, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      onStdout?.(stdout);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run demo:approval (real processes, SQLite)', { timeout: 60_000 }, () => {
  let cwd: string;
  beforeAll(() => {
    ensureBuilt();
    cwd = mkdtempSync(join(tmpdir(), 'sagaflow-approval-demo-'));
  });
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it.each([
    ['approve', 'completed', /north\/alice\s+75\.00[\s\S]*south\/bob\s+30\.00/],
    ['reject', 'cancelled', /cancelled: rejected by ann[\s\S]*↺ hold undone/],
    ['timeout', 'compensated', /waited 2000 ms for signal 'approval', which did not come[\s\S]*↺ hold undone/],
  ])('%s: the run ends %s and the total money is conserved (exit 0)', async (decision, status, shows) => {
    const result = await demo([decision], cwd);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(`ended ${status}:`);
    expect(result.stdout).toMatch(shows);
    expect(result.stdout).toMatch(/✔ total money conserved: (\S+) before, \1 after/);
  });

  it('wait: another process rejects it with `sagaflow signal`; the hold is refunded', async () => {
    let signalled: Promise<CliResult> | undefined;
    const result = await demo(['wait'], cwd, (stdout) => {
      const command = /npx sagaflow signal (\S+) approval '([^']+)' --sagas (\S+) --store (\S+)/.exec(stdout);
      if (command === null || signalled !== undefined) return;
      const [, runId, payload, sagas, store] = command as unknown as [string, string, string, string, string];
      signalled = sagaflow(['signal', runId, 'approval', payload, '--sagas', sagas, '--store', store], { cwd });
    });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const cli = await signalled;
    expect(cli?.code, `${cli?.stdout ?? ''}${cli?.stderr ?? ''}`).toBe(0);
    expect(result.stdout).toMatch(/cancelled: rejected by ann[\s\S]*↺ hold undone[\s\S]*ended cancelled:/);
    expect(result.stdout).toMatch(/✔ total money conserved: (\S+) before, \1 after/);
  });

  it('refuses an unknown decision with its usage (exit 2)', async () => {
    const result = await demo(['maybe'], cwd);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('usage: npm run demo:approval -- [approve | reject | timeout | wait]');
  });
});
