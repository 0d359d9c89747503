/**
 * The commands that take a run id (`show`, `cancel`, `signal`, `resume`, `redrive`,
 * `compensate`) accept the start of one, as users copy the first characters from `sagaflow runs`:
 * a prefix that names one run is that run; one that names several is refused, listing them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrchestrator } from 'sagaflow';
import { SqliteStore } from 'sagaflow/sqlite';
import { greeting } from './fixtures/greeting.mjs';
import { cli } from './support/cli-in-process.js';
import { fixture } from './support/cli-process.js';

// uuid v7 ids of runs started within the same minute share their first 8 characters (the time).
const first = '01a249b5-6bb3-74df-a9cd-e53a28f4cc86';
const second = '01a249b5-ddca-72a2-b7af-9986e2bc739b';
const other = '01a24c00-1111-7222-8333-444455556666';
let work: string;
let storeUrl: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'sagaflow-run-id-prefix-'));
  storeUrl = `sqlite:${join(work, 'runs.db')}`;
  const store = new SqliteStore({ path: join(work, 'runs.db') });
  const orchestrator = createOrchestrator({ store, sagas: [greeting] });
  for (const runId of [first, second, other, 'order-1', 'order-10']) await orchestrator.start(greeting, { name: 'Ada' }, { runId }).outcome;
  await orchestrator.close();
  await store.close();
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a run id given by its first characters', () => {
  it('show: a prefix that names one run shows that run', async () => {
    const result = await cli('show', '01a24c00', '--store', storeUrl);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe(`Run ${other}`);
  });

  it('show: a prefix that names several runs is refused in one line listing them (exit 2)', async () => {
    const result = await cli('show', '01a249b5', '--store', storeUrl);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `error: The run id '01a249b5' is the start of 2 runs in ${storeUrl}: ${first} (greeting, completed), ${second} (greeting, completed); give more of the id (the first 8 characters of a uuid v7 are its start time, shared by runs started within a minute of each other).\n`,
    );
  });

  it('show: an exact id wins over the longer ids it starts', async () => {
    const result = await cli('show', 'order-1', '--store', storeUrl);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe('Run order-1');
  });

  it('show: a prefix of no run, and one shorter than 4 characters, say there is no such run', async () => {
    expect((await cli('show', '01a3', '--store', storeUrl)).stderr).toBe(`error: There is no run 01a3 in ${storeUrl}: list the runs with 'npx sagaflow runs', and pass --store if they are elsewhere.\n`);
    expect((await cli('show', 'ord', '--store', storeUrl)).stderr).toBe(`error: There is no run ord in ${storeUrl}: list the runs with 'npx sagaflow runs', and pass --store if they are elsewhere.\n`);
  });

  it('cancel, signal and redrive act on the run the prefix names', async () => {
    const cancelled = await cli('cancel', '01a24c00', '--store', storeUrl);
    expect(cancelled.code).toBe(2);
    expect(cancelled.stderr).toContain(`run ${other}`);
    expect(cancelled.stderr).not.toContain('There is no run');
    const signalled = await cli('signal', '01a24c00', 'approved', '--sagas', fixture('greeting.mjs'), '--store', storeUrl);
    expect(signalled.stderr).toContain(other);
    expect(signalled.stderr).not.toContain('There is no run');
    const redriven = await cli('redrive', '01a24c00', '--sagas', fixture('greeting.mjs'), '--store', storeUrl);
    expect(redriven.stderr).toBe(`error: Cannot redrive run ${other} of saga 'greeting': it is completed, and redrive needs a run that is paused or compensation_failed.\n`);
  });

  it('cancel refuses an ambiguous prefix rather than pick a run', async () => {
    const result = await cli('cancel', '01a249b5', '--store', storeUrl);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: The run id '01a249b5' is the start of 2 runs/);
  });
});
