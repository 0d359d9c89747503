/**
 * `sagaflow start`, `cancel` and `prune` as real processes (issues 12 and 14): a run started from
 * the command line, cancelled from another process while the first one drives it, and pruned.
 *
 * Needs the merged runtime (store ownership, cancel requests, prune).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrchestrator, type SagaEvent } from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { SqliteStore } from 'sagaflow/sqlite';
import { dropSchemas, postgresForTests, uniqueSchema, withAdminClient } from '../support/postgres.js';
import { ensureBuilt, fixture, sagaflow, type CliResult } from './support/cli-process.js';
import { slow } from './fixtures/slow.mjs';
import { slowUndo } from './fixtures/slow-undo.mjs';

const postgresUrl = await postgresForTests();
const schema = uniqueSchema('cli_start');
let work: string;

beforeAll(() => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'sagaflow-commands-'));
}, 240_000);

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  if (postgresUrl !== undefined) await dropSchemas(postgresUrl, schema);
});

const runIdOf = (result: CliResult): string => /run (\S+) (?:started|submitted)/.exec(result.stdout)?.[1] ?? /"runId":"([^"]+)"/.exec(result.stdout)?.[1] ?? 'no run id';

async function journalOf(path: string, runId: string): Promise<readonly SagaEvent[]> {
  const store = new SqliteStore({ path });
  try {
    return (await store.load(runId)) ?? [];
  } finally {
    await store.close();
  }
}

describe('sagaflow start', () => {
  it('starts a run of a module’s saga with JSON input and follows it to completion (exit 0)', async () => {
    const store = `sqlite:${join(work, 'start.db')}`;
    const result = await sagaflow(['start', 'greeting', '{"name":"Ada"}', '--sagas', fixture('greeting.mjs'), '--store', store, '--run-id', 'greet-ada'], { cwd: work });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('run greet-ada started (saga greeting v1)');
    expect(result.stdout).toContain("✔ Saga 'greeting' run greet-ada completed: hello → goodbye.");
    const journal = await journalOf(join(work, 'start.db'), 'greet-ada');
    expect(journal.find((event) => event.type === 'stage.completed' && event.stage === 'hello')).toMatchObject({ output: 'hello Ada' });
  });

  it('a second start with the same run id is refused in one line (exit 2), the journal untouched', async () => {
    const store = `sqlite:${join(work, 'start.db')}`;
    const before = await journalOf(join(work, 'start.db'), 'greet-ada');
    const again = await sagaflow(['start', 'greeting', '{"name":"Bo"}', '--sagas', fixture('greeting.mjs'), '--store', store, '--run-id', 'greet-ada'], { cwd: work });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^error: Run greet-ada already exists \(saga 'greeting', completed\)/);
    expect(await journalOf(join(work, 'start.db'), 'greet-ada')).toEqual(before);
  });

  it('input from a file, bad input reported with the schema’s issues, a paused run exits 1, --json prints NDJSON', async () => {
    const store = `sqlite:${join(work, 'start.db')}`;
    const bad = await sagaflow(['start', 'greeting', '{"name":42}', '--sagas', fixture('greeting.mjs'), '--store', store], { cwd: work });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: Invalid input for saga 'greeting': input\.name/);

    const json = await sagaflow(['start', 'greeting', '{"name":"Cy"}', '--sagas', fixture('greeting.mjs'), '--store', store, '--json'], { cwd: work });
    expect(json.code).toBe(0);
    const events = json.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as SagaEvent);
    expect(events[0]?.type).toBe('run.started');
    expect(events[events.length - 1]?.type).toBe('run.completed');
  });

  it.runIf(postgresUrl !== undefined)('--detach submits the run to workers and prints its id at once', async () => {
    const url = `${postgresUrl ?? ''}?schema=${schema}`;
    const result = await sagaflow(['start', 'greeting', '{"name":"Di"}', '--sagas', fixture('greeting.mjs'), '--store', url, '--detach', '--json'], { cwd: work });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const line = JSON.parse(result.stdout) as { runId: string; status: string };
    expect(line.status).toBe('queued');
    const store = new PostgresStore({ connectionString: postgresUrl ?? '', schema });
    try {
      const outcome = await createOrchestrator({ store }).inspect(line.runId);
      expect(outcome.status).toBe('queued');
    } finally {
      await store.close();
    }
  });
});

describe('sagaflow cancel', () => {
  it('cancels a run that another sagaflow process is driving: the owner settles it, rolls back, ends cancelled', async () => {
    const path = join(work, 'cancel.db');
    const store = `sqlite:${path}`;
    let started: (runId: string) => void = () => undefined;
    const holding = new Promise<string>((resolve) => (started = resolve));
    let output = '';
    const owner = sagaflow(['start', 'slow', '--sagas', fixture('slow.mjs'), '--store', store], {
      cwd: work,
      onStdout: (chunk) => {
        output += chunk;
        const runId = /run (\S+) started/.exec(output)?.[1];
        if (runId !== undefined && /hold +▸ running/.test(output)) started(runId);
      },
    });
    const runId = await holding;
    const cancel = await sagaflow(['cancel', runId, 'the customer changed their mind', '--store', store], { cwd: work });
    const ownerResult = await owner;
    expect(cancel.stderr).toBe('');
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`cancelling run ${runId} (the customer changed their mind)`);
    expect(ownerResult.code).toBe(1);
    const outcome = await (async () => {
      const sqlite = new SqliteStore({ path });
      try {
        return await createOrchestrator({ store: sqlite }).inspect(runId);
      } finally {
        await sqlite.close();
      }
    })();
    expect(outcome.status).toBe('cancelled');
    expect(outcome.cancellation).toEqual({ reason: 'the customer changed their mind', by: 'external' });
    expect(outcome.compensationOrder).toEqual(['book']);
    // Only the owner wrote the rollback: one compensation of 'book', not two.
    const journal = await journalOf(path, runId);
    expect(journal.filter((event) => event.type === 'compensation.started')).toHaveLength(1);
  }, 60_000);

  it('SIGTERM (a supervisor stopping the process, `timeout`) leaves the run as it is, resumable, not rolled back (exit 143)', async () => {
    const path = join(work, 'sigterm.db');
    let output = '';
    let signalled = false;
    const result = await sagaflow(['start', 'slow', '--sagas', fixture('slow.mjs'), '--store', `sqlite:${path}`, '--run-id', 'left-by-sigterm'], {
      cwd: work,
      onStdout: (chunk, child) => {
        output += chunk;
        if (!signalled && /hold +▸ running/.test(output)) {
          signalled = true;
          child.kill('SIGTERM');
        }
      },
    });
    expect(result.code).toBe(143);
    expect(result.stderr).toContain("SIGTERM: stopping; run left-by-sigterm is left as it is, to be resumed: 'npx sagaflow resume left-by-sigterm --sagas <module>'");
    const journal = await journalOf(path, 'left-by-sigterm');
    // Nothing undone, nothing cancelled: the journal ends inside 'hold', as a crash would leave it.
    expect(journal.map((event) => event.type)).not.toContain('run.cancelling');
    expect(journal.map((event) => event.type)).not.toContain('compensation.started');
    expect(journal.at(-1)).toMatchObject({ type: 'stage.started', stage: 'hold' });
    // Its lease was given back: another process resumes it at once, not after the lease runs out.
    const sqlite = new SqliteStore({ path });
    try {
      expect((await sqlite.leaseOf('left-by-sigterm'))?.live ?? false).toBe(false);
      const orchestrator = createOrchestrator({ store: sqlite, sagas: [slow] });
      const resumed = orchestrator.resume('left-by-sigterm');
      resumed.cancel('the test is done');
      expect((await resumed.outcome).status).toBe('cancelled');
      await orchestrator.close();
    } finally {
      await sqlite.close();
    }
  }, 60_000);

  it('sagaflow cancel stopped by SIGTERM while it rolls back a run it took over gives the lease back: the rollback is left resumable, not held until the lease runs out (exit 143)', async () => {
    const path = join(work, 'cancel-sigterm.db');
    const runId = 'cancel-left-by-sigterm';
    // A run nobody drives: started here and left inside 'hold' (close({ timeoutMs: 0 }) gives its lease back).
    const first = new SqliteStore({ path });
    try {
      const orchestrator = createOrchestrator({ store: first, sagas: [slowUndo] });
      const run = orchestrator.start(slowUndo, {}, { runId });
      run.outcome.catch(() => undefined);
      await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'stage.started' && event.stage === 'hold')));
      await orchestrator.close({ timeoutMs: 0 });
    } finally {
      await first.close();
    }
    let output = '';
    let signalled = false;
    const result = await sagaflow(['cancel', runId, 'changed my mind', '--sagas', fixture('slow-undo.mjs'), '--store', `sqlite:${path}`], {
      cwd: work,
      env: { SLOW_UNDO: '1' },
      onStdout: (chunk, child) => {
        output += chunk;
        if (!signalled && /book +↺ compensating/.test(output)) {
          signalled = true;
          child.kill('SIGTERM');
        }
      },
    });
    expect(result.code).toBe(143);
    expect(result.stderr).toContain(`SIGTERM: stopping; run ${runId} is still being cancelled: its owner goes on with the rollback, or, if this command had taken it over, 'npx sagaflow resume ${runId} --sagas <module>' continues it`);
    const journal = await journalOf(path, runId);
    // The command had taken the run over and begun undoing 'book', which it left unfinished.
    expect(journal.filter((event) => event.type === 'run.resumed')).toHaveLength(1);
    expect(journal.at(-1)).toMatchObject({ type: 'compensation.started', stage: 'book' });
    const sqlite = new SqliteStore({ path });
    try {
      // Given back: the next process goes on with the rollback at once, not after the lease runs out.
      expect((await sqlite.leaseOf(runId))?.live ?? false).toBe(false);
      const orchestrator = createOrchestrator({ store: sqlite, sagas: [slowUndo] });
      const outcome = await orchestrator.resume(runId).outcome;
      expect(outcome.status).toBe('cancelled');
      expect(outcome.compensationOrder).toEqual(['book']);
      await orchestrator.close();
    } finally {
      await sqlite.close();
    }
  }, 60_000);

  it.runIf(postgresUrl !== undefined)(
    "sagaflow cancel stopped by SIGTERM while its takeover waits for the run's row, locked by another session, exits 143 saying the cancel was not recorded; nothing is written or held",
    async () => {
      const runId = 'cancel-row-locked';
      const url = `${postgresUrl ?? ''}?schema=${schema}`;
      // A run nobody drives: started here and left inside 'hold' (close({ timeoutMs: 0 }) gives its lease back).
      const store = new PostgresStore({ connectionString: postgresUrl ?? '', schema });
      try {
        const first = createOrchestrator({ store, sagas: [slowUndo] });
        const run = first.start(slowUndo, {}, { runId });
        run.outcome.catch(() => undefined);
        await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'stage.started' && event.stage === 'hold')));
        await first.close({ timeoutMs: 0 });
        const before = (await store.load(runId)) ?? [];
        const admin = new pg.Client({ connectionString: postgresUrl ?? '' });
        await admin.connect();
        let result: CliResult;
        try {
          // Another session holds the run's row (an operator's open transaction, a frozen process).
          await admin.query('BEGIN');
          await admin.query(`SELECT 1 FROM "${schema}".runs WHERE run_id = $1 FOR UPDATE`, [runId]);
          let child: ChildProcess | undefined;
          const cancel = sagaflow(['cancel', runId, 'changed my mind', '--sagas', fixture('slow-undo.mjs'), '--store', url], {
            cwd: work,
            env: { SLOW_UNDO: '1' },
            onSpawn: (spawned) => (child = spawned),
          });
          // Watched from outside the holder's transaction, whose view of pg_stat_activity is a snapshot.
          await withAdminClient(postgresUrl ?? '', async (watcher) => {
            let waiter: number | undefined;
            while (waiter === undefined) {
              const waiting = await watcher.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`, [`%"${schema}".runs%`]);
              waiter = waiting.rows[0]?.pid;
            }
          });
          // The command's takeover waits for the row (for lock_timeout, 1 s): stop it there.
          child?.kill('SIGTERM');
          result = await cancel;
        } finally {
          await admin.query('ROLLBACK').catch(() => undefined);
          await admin.end();
        }
        expect(result.code).toBe(143);
        expect(result.stderr).toMatch(new RegExp(`SIGTERM: stopping; the cancel of run ${runId} was not recorded \\(.*lock_timeout.*\\): run this command again`));
        // Nothing written, nothing held: the run is where it was, and the next cancel takes it over.
        expect(await store.load(runId)).toEqual(before);
        expect((await store.leaseOf(runId))?.live ?? false).toBe(false);
        const orchestrator = createOrchestrator({ store, sagas: [slowUndo] });
        await orchestrator.cancel(runId, 'the test is done');
        // Taken over here: rolled back before close() resolves.
        await orchestrator.close();
        expect((await orchestrator.inspect(runId)).status).toBe('cancelled');
      } finally {
        await store.close();
      }
    },
    60_000,
  );

  it('a settled run cannot be cancelled (exit 2, the library’s sentence)', async () => {
    const store = `sqlite:${join(work, 'start.db')}`;
    const result = await sagaflow(['cancel', 'greet-ada', '--store', store], { cwd: work });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: Cannot cancel run greet-ada of saga 'greeting': it is completed/);
  });
});

describe('sagaflow prune', () => {
  it('--dry-run lists the finished runs it would delete; then prune deletes them and keeps the paused one', async () => {
    const path = join(work, 'prune.db');
    const store = `sqlite:${path}`;
    for (const name of ['Ada', 'Bo']) {
      expect((await sagaflow(['start', 'greeting', JSON.stringify({ name }), '--sagas', fixture('greeting.mjs'), '--store', store], { cwd: work })).code).toBe(0);
    }
    const paused = await sagaflow(['start', 'stuck', '{"name":"Cy"}', '--sagas', fixture('stuck.mjs'), '--store', store], { cwd: work });
    expect(paused.code).toBe(1);

    const dryRun = await sagaflow(['prune', '--older-than', '0s', '--dry-run', '--json', '--store', store], { cwd: work });
    expect(dryRun.code).toBe(0);
    const listed = dryRun.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { status: string });
    expect(listed.map((run) => run.status)).toEqual(['completed', 'completed']);

    const pruned = await sagaflow(['prune', '--older-than', '0s', '--store', store], { cwd: work });
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toMatch(/^Pruned 2 runs \(completed, compensated or cancelled runs last written before .*\) from sqlite:/);
    const left = await sagaflow(['runs', '--json', '--store', store], { cwd: work });
    expect(left.stdout.trimEnd().split('\n').map((line) => (JSON.parse(line) as { runId: string }).runId)).toEqual([runIdOf(paused)]);

    const again = await sagaflow(['prune', '--older-than', '0s', '--status', 'paused', '--json', '--store', store], { cwd: work });
    expect(JSON.parse(again.stdout)).toMatchObject({ pruned: 1, statuses: ['paused'] });
  });
});
