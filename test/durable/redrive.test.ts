import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createOrchestrator } from 'sagaflow';
import { SqliteStore } from 'sagaflow/sqlite';
import { runChild } from './child-process.js';
import { Ledger } from './ledger.js';
import type { RedriveChildConfig, RedriveChildMessage } from './redrive-child.js';

const childFile = fileURLToPath(new URL('./redrive-child.ts', import.meta.url));

describe('redrive after a process restart', () => {
  const directories: string[] = [];
  afterEach(() => {
    for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
  });

  it('redrives in a new process a run paused in a killed one, without re-running its completed stages', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'sagaflow-redrive-'));
    directories.push(directory);
    const base = { databasePath: join(directory, 'sagas.db'), ledgerPath: join(directory, 'ledger.db'), runId: 'order-run-1' };

    const first = await runChild<RedriveChildMessage>(childFile, { ...base, mode: 'pause' } satisfies RedriveChildConfig, 30_000);
    expect(first.signal, first.output).toBe('SIGKILL');
    const paused = first.messages.find((message) => message.type === 'paused')?.outcome;
    expect(paused).toMatchObject({ status: 'paused', completionOrder: ['reserve'], failure: { stage: 'charge' } });
    expect(paused?.outputs).toEqual({ reserve: { reserve: expect.any(String) } });

    const second = await runChild<RedriveChildMessage>(childFile, { ...base, mode: 'redrive' } satisfies RedriveChildConfig, 30_000);
    expect(second.code, second.output).toBe(0);
    // recover() resumes crashed runs only: a paused run waits for an operator.
    expect(second.messages.find((message) => message.type === 'recovered')).toEqual({ type: 'recovered', runIds: [] });
    const redriven = second.messages.find((message) => message.type === 'redriven');
    expect(redriven?.resumedEvents).toBe(1);
    expect(redriven?.outcome).toMatchObject({ status: 'completed', completionOrder: ['reserve', 'charge', 'ship'] });
    expect(redriven?.outcome.failure).toBeUndefined();
    expect(redriven?.outcome.stages.charge?.attempts).toBe(2);
    // The output kept from the first process is the one the run ends with.
    expect(redriven?.outcome.outputs.reserve).toEqual(paused?.outputs.reserve);

    // The effects, as the stages recorded them in each process.
    const ledger = new Ledger(base.ledgerPath);
    const calls = ledger.calls();
    ledger.close();
    const [pausePid, redrivePid] = [calls[0]?.pid, calls[calls.length - 1]?.pid];
    expect(pausePid).not.toBe(redrivePid);
    expect(calls.map(({ stage, attempt, pid }) => ({ stage, attempt, inFirstProcess: pid === pausePid }))).toEqual([
      { stage: 'reserve', attempt: 1, inFirstProcess: true },
      { stage: 'charge', attempt: 1, inFirstProcess: true },
      { stage: 'charge', attempt: 2, inFirstProcess: false },
      { stage: 'ship', attempt: 1, inFirstProcess: false },
    ]);
    const chargeKeys = new Set(calls.filter((call) => call.stage === 'charge').map((call) => call.idempotencyKey));
    expect(chargeKeys.size).toBe(1);

    // A third orchestrator reads the same ending from the file.
    const store = new SqliteStore({ path: base.databasePath });
    try {
      const outcome = await createOrchestrator({ store }).inspect(base.runId);
      expect(outcome).toEqual(redriven?.outcome);
    } finally {
      await store.close();
    }
  });
});
