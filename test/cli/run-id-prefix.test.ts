/**
 * The commands that take a run id (`show`, `cancel`, `signal`, `resume`, `redrive`,
 * `compensate`) accept the start of one, as users copy the first characters from `sagaflow runs`:
 * a prefix that names one run is that run; one that names several is refused, listing them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, type SagaStore } from 'sagaflow';
import { uniqueRunIdPrefixes } from '../../src/cli/resolve-run-id.js';
import { SqliteStore } from 'sagaflow/sqlite';
import { runCli } from '../../src/cli/program.js';
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

/** `sagaflow runs` as on a terminal with colours: its stdout, the escape codes kept. */
async function runsOnTerminal(...argv: string[]): Promise<string> {
  let stdout = '';
  const noColor = process.env['NO_COLOR'];
  delete process.env['NO_COLOR'];
  try {
    const code = await runCli(['runs', ...argv], { stdout: { write: (text: string) => (stdout += text), isTTY: true }, stderr: { write: () => true } });
    expect(code).toBe(0);
  } finally {
    if (noColor !== undefined) process.env['NO_COLOR'] = noColor;
  }
  return stdout;
}

/** The run ids of a table printed on a terminal, each as `[prefix]rest`: the prefix is what is shown bold. */
function markedIds(stdout: string): string[] {
  return stdout
    .split('\n')
    .slice(1)
    .filter((line) => line !== '')
    .map((line) => (line.split('  ')[0] ?? '').replace(/\u001b\[1m(.*?)\u001b\[0m/, '[$1]').replace(/\u001b\[[0-9;]*m/g, ''));
}

describe('runs shows, on a terminal, how much of each run id the commands need', () => {
  it('marks the shortest start of each id that names only that run (4 characters or more; an id another id starts with, in full)', async () => {
    expect(markedIds(await runsOnTerminal('--store', storeUrl))).toEqual([
      '[01a249b5-6]bb3-74df-a9cd-e53a28f4cc86',
      '[01a249b5-d]dca-72a2-b7af-9986e2bc739b',
      '[01a24c]00-1111-7222-8333-444455556666',
      '[order-1]',
      '[order-10]',
    ]);
  });

  it('counts the runs the listing leaves out (--limit, --saga), so that every marked start names one run in the store', async () => {
    expect(markedIds(await runsOnTerminal('--store', storeUrl, '--limit', '2'))).toEqual(['[order-1]', '[order-10]']);
    const path = join(work, 'mixed.db');
    const store = new SqliteStore({ path });
    const other = defineSaga({ name: 'other', input: z.object({}) })
      .stage('only', { execute: () => 1 })
      .build();
    const orchestrator = createOrchestrator({ store, sagas: [greeting, other] });
    await orchestrator.start(greeting, { name: 'Ada' }, { runId: 'batch-7a' }).outcome;
    await orchestrator.start(other, {}, { runId: 'batch-7b' }).outcome;
    await orchestrator.start(greeting, { name: 'Ada' }, { runId: 'batch-8' }).outcome;
    await orchestrator.close();
    await store.close();
    expect(markedIds(await runsOnTerminal('--store', `sqlite:${path}`, '--saga', 'other'))).toEqual(['[batch-7b]']);
    expect(markedIds(await runsOnTerminal('--store', `sqlite:${path}`, '--saga', 'greeting'))).toEqual(['[batch-7a]', '[batch-8]']);
  });

  it('finds the starts of a filtered listing with a bounded number of store calls, whatever the number of rows', async () => {
    const store = new MemoryStore();
    // 120 runs whose ids share long starts with their neighbours, an id other ids start with
    // ('job-010'), and a listing (every third run) that leaves out the neighbours.
    const ids = [...Array.from({ length: 119 }, (_, index) => `job-${String(index).padStart(3, '0')}-${index % 2 === 0 ? 'even' : 'odd'}`), 'job-010'].sort();
    for (const runId of ids) {
      await store.create({
        event: { type: 'run.started', runId, saga: 'greeting', seq: 0, at: 1, version: '1', shapeHash: 'shape', input: {}, stages: ['hello'] },
        owner: { owner: 'test', leaseMs: 60_000 },
      });
    }
    let calls = 0;
    const counted: Pick<SagaStore, 'listRuns'> = {
      listRuns: (query) => {
        calls++;
        return store.listRuns(query);
      },
    };
    const listed = ids.filter((_, index) => index % 3 === 1);
    const lengths = await uniqueRunIdPrefixes(counted, listed, { before: undefined, complete: false });
    // The shortest start (4 characters or more) that no other id in the store shares; the whole id when another starts with it.
    const unique = (runId: string): number => {
      for (let length = 4; length < runId.length; length++) if (ids.filter((id) => id.startsWith(runId.slice(0, length))).length === 1) return length;
      return runId.length;
    };
    expect(Object.fromEntries(lengths)).toEqual(Object.fromEntries(listed.map((runId) => [runId, unique(runId)])));
    expect(calls).toBeLessThanOrEqual(10);
  });

  it('prints the ids as they are where there is no terminal (a pipe, a file: what scripts read)', async () => {
    const listed = await cli('runs', '--store', storeUrl);
    expect(listed.stdout).not.toContain('\u001b');
    expect(listed.stdout).toMatch(new RegExp(`^${first}\\s+greeting\\s+completed`, 'm'));
  });
});

