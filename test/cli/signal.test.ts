/**
 * `sagaflow signal` and `sagaflow show` as real processes: a run left waiting in a SQLite file by
 * a process that let it go is shown waiting, refused a bad payload, then signalled, taken over
 * and driven to completion by the command.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrchestrator } from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { SqliteStore } from 'sagaflow/sqlite';
import { dropSchemas, postgresForTests, uniqueSchema } from '../support/postgres.js';
import { approval } from './fixtures/approval.mjs';
import { twoWaits } from './fixtures/two-waits.mjs';
import { ensureBuilt, fixture, sagaflow } from './support/cli-process.js';

const postgresUrl = await postgresForTests();
const schema = uniqueSchema('cli_signal');
let work: string;
beforeAll(() => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'sagaflow-signal-'));
}, 240_000);
afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  if (postgresUrl !== undefined) await dropSchemas(postgresUrl, schema);
});

describe('sagaflow signal', () => {
  it('shows what a run waits for, refuses a bad payload, and delivers a good one: the run completes', async () => {
    const path = join(work, 'signal.db');
    const store = new SqliteStore({ path });
    const orchestrator = createOrchestrator({ store, sagas: [approval] });
    const run = orchestrator.start(approval, { cents: 700 }, { runId: 'wait-1' });
    await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'wait.started')));
    // This process lets the waiting run go (its lease released): nobody drives it now.
    await orchestrator.close({ timeoutMs: 0 });
    await store.close();
    const url = `sqlite:${path}`;

    const shown = await sagaflow(['show', 'wait-1', '--store', url], { cwd: work });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/waiting +approve waits for signal 'approved' until \d{4}-\d\d-\d\dT/);
    expect(shown.stdout).toContain("waiting for signal 'approved' until");

    const bad = await sagaflow(['signal', 'wait-1', 'approved', '{"by":""}', '--sagas', fixture('approval.mjs'), '--store', url], { cwd: work });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: Invalid payload for signal 'approved' to run wait-1 of saga 'approval' \(stage 'approve'\): payload\.by/);

    const sent = await sagaflow(['signal', 'wait-1', 'approved', '{"by":"ann"}', '--sagas', fixture('approval.mjs'), '--store', url, '--signal-id', 'ticket-9'], { cwd: work });
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    expect(sent.stdout).toContain("signal 'approved' (ticket-9) journaled for run wait-1: the stage waiting for it goes on");

    const again = await sagaflow(['signal', 'wait-1', 'approved', '{"by":"bob"}', '--sagas', fixture('approval.mjs'), '--store', url, '--signal-id', 'ticket-9', '--json'], { cwd: work });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ runId: 'wait-1', signal: 'approved', accepted: false, signalId: 'ticket-9', duplicate: true });

    const reader = new SqliteStore({ path });
    try {
      const outcome = await createOrchestrator({ store: reader }).inspect('wait-1');
      expect(outcome.status).toBe('completed');
      expect(outcome.outputs.pay).toBe('paid 700, approved by ann');
    } finally {
      await reader.close();
    }
  }, 120_000);

  it('says when it took over a run nobody drove and goes on driving it, rather than looking hung after the signal is journaled', async () => {
    const path = join(work, 'taken-over.db');
    const store = new SqliteStore({ path });
    const orchestrator = createOrchestrator({ store, sagas: [twoWaits] });
    const run = orchestrator.start(twoWaits, {}, { runId: 'taken-1' });
    await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'wait.started')));
    // This process lets the waiting run go: nobody drives it now.
    await orchestrator.close({ timeoutMs: 0 });
    await store.close();
    // The command takes it over, journals 'first', and drives it into the second wait, which
    // holds it (here until that wait times out after 1.5 s and the run rolls back).
    const sent = await sagaflow(['signal', 'taken-1', 'first', '{}', '--sagas', fixture('two-waits.mjs'), '--store', `sqlite:${path}`, '--signal-id', 'first-1'], { cwd: work });
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    expect(sent.stdout.split('\n')).toEqual([
      "signal 'first' (first-1) journaled for run taken-1: the stage waiting for it goes on",
      `  no live process drove run taken-1, so this command took it over and drives it on here until it settles (a later wait holds it as long); Ctrl-C leaves it for 'npx sagaflow resume taken-1 --sagas ${fixture('two-waits.mjs')}' (or recover()) once its lease runs out`,
      '',
    ]);
    const reader = new SqliteStore({ path });
    try {
      expect((await createOrchestrator({ store: reader }).inspect('taken-1')).status).toBe('compensated');
    } finally {
      await reader.close();
    }
  }, 120_000);

  it('says which process drives the run and that it journals the signal at its next heartbeat, before waiting for it', async () => {
    const path = join(work, 'driven.db');
    const store = new SqliteStore({ path });
    // This process keeps driving the run: its heartbeat, a third of the lease, delivers the signal.
    const orchestrator = createOrchestrator({ store, sagas: [approval], leaseMs: 1_500, ownerId: 'app-1' });
    try {
      const run = orchestrator.start(approval, { cents: 300 }, { runId: 'driven-1' });
      await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'wait.started')));
      const sent = await sagaflow(['signal', 'driven-1', 'approved', '{"by":"ann"}', '--sagas', fixture('approval.mjs'), '--store', `sqlite:${path}`, '--signal-id', 'ticket-3'], { cwd: work });
      expect(sent.stderr).toBe('');
      expect(sent.code).toBe(0);
      expect(sent.stdout.split('\n')).toEqual([
        'run driven-1 is driven by app-1, which journals the signal at its next heartbeat (a third of its lease: 10 s by default; at once on PostgreSQL)',
        // After a kill -9 that lease holds the command for as long as it has left: it says so.
        expect.stringMatching(
          /^ {2}if that process has died, this command takes the run over when its lease runs out \(at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z, in about (?:\d+ ms|[\d.]+ s)\) and drives it here until it settles$/,
        ),
        "signal 'approved' (ticket-3) journaled for run driven-1: the stage waiting for it goes on",
        '',
      ]);
      expect((await run.outcome).status).toBe('completed');
    } finally {
      await orchestrator.close();
      await store.close();
    }
  }, 120_000);

  it.each([
    ['', 'driven-2', undefined],
    // The command's clock 10 minutes ahead of the store's (SQLite's: the system clock): the time left
    // is the store's to say, or the lease would look run out already and the line promise a takeover.
    [', from a machine whose clock is 10 minutes ahead of the store\'s', 'driven-3', 600_000],
  ] as const)("with --timeout-ms shorter than what is left of the owner's lease, says it gives up before a takeover could happen%s", async (_, runId, skewMs) => {
    const path = join(work, `${runId}.db`);
    const store = new SqliteStore({ path });
    // A minute's lease: its heartbeat (20 s) comes after the command has given up.
    const orchestrator = createOrchestrator({ store, sagas: [approval], leaseMs: 60_000, ownerId: 'app-2' });
    let env: Record<string, string> | undefined;
    if (skewMs !== undefined) {
      const skew = join(work, 'clock-ahead.mjs');
      writeFileSync(skew, `const realNow = Date.now;\nDate.now = () => realNow() + ${skewMs};\n`);
      env = { NODE_OPTIONS: `--import=${pathToFileURL(skew).href}` };
    }
    try {
      const run = orchestrator.start(approval, { cents: 300 }, { runId });
      await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'wait.started')));
      const sent = await sagaflow(['signal', runId, 'approved', '{"by":"ann"}', '--sagas', fixture('approval.mjs'), '--store', `sqlite:${path}`, '--signal-id', 'ticket-4', '--timeout-ms', '300'], {
        cwd: work,
        ...(env === undefined ? {} : { env }),
      });
      expect(sent.code).toBe(2);
      expect(sent.stdout.split('\n')).toEqual([
        `run ${runId} is driven by app-2, which journals the signal at its next heartbeat (a third of its lease: 10 s by default; at once on PostgreSQL); waiting at most 300 ms`,
        expect.stringMatching(/^ {2}if that process has died, its lease runs out after --timeout-ms \(at \d{4}-\d\d-\d\dT[\d:.]+Z\): this command gives up first, and the request stays recorded$/),
        '',
      ]);
      expect(sent.stderr).toMatch(/ticket-4/);
      run.cancel('done');
      await run.outcome;
    } finally {
      await orchestrator.close();
      await store.close();
    }
  }, 120_000);

  it.runIf(postgresUrl !== undefined)('with --timeout-ms, gives up waiting for a worker that does not come, says the request stays recorded, and a worker delivers it later', async () => {
    const store = new PostgresStore({ connectionString: postgresUrl ?? '', schema });
    const orchestrator = createOrchestrator({ store, sagas: [approval] });
    try {
      const runId = await orchestrator.submit(approval, { cents: 80 });
      const url = new URL(postgresUrl ?? '');
      url.searchParams.set('schema', schema);
      const late = await sagaflow(['signal', runId, 'approved', '{"by":"ann"}', '--sagas', fixture('approval.mjs'), '--store', url.toString(), '--signal-id', 'late-1', '--timeout-ms', '300'], { cwd: work });
      expect(late.code).toBe(2);
      expect(late.stderr).toMatch(/^error: .*late-1.*300 ms/);
      expect(late.stderr).toMatch(/recorded/);
      // Recorded: the first worker to claim the run delivers it.
      const [claimed] = await store.claim({ owner: 'later', sagas: [{ name: approval.name, shapeHash: approval.shapeHash }], limit: 1, leaseMs: 30_000 });
      expect(claimed?.signalRequests?.map((request) => [request.signalId, request.payload])).toEqual([['late-1', { by: 'ann' }]]);
    } finally {
      await orchestrator.close();
      await store.close();
    }
  }, 120_000);
});
