/**
 * A CLI run whose SQLite file is locked by another connection for longer than the busy timeout
 * while a stage is in flight: the run stops, and the command must say which run stopped and how
 * to continue it (its store's own sentence ends "then retry", and running `start` again would
 * start a second run beside it). Nothing journaled is lost, and `resume` finishes it.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from 'sagaflow/sqlite';
import { waitFor } from '../worker/support.js';
import { ensureBuilt, fixture, sagaflow } from './support/cli-process.js';

ensureBuilt();

describe('sagaflow start while another connection holds the store locked', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  it('names the stopped run and the resume command; resume then finishes it without running its completed stage again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sagaflow-cli-locked-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const store = `sqlite:${join(dir, 'runs.db')}`;
    const runId = 'locked-mid-run';
    const input = JSON.stringify({ dir });
    let locker: Database.Database | undefined;
    cleanups.push(() => locker?.close());

    let output = '';
    const started = await sagaflow(['start', 'gated', input, '--sagas', fixture('gated.mjs'), '--store', store, '--run-id', runId], {
      cwd: dir,
      onStdout: (chunk) => {
        output += chunk;
        if (locker === undefined && /ship +▸ running/.test(output)) {
          // Another process takes the write lock, and keeps it past the busy timeout; then 'ship' lands.
          locker = new Database(join(dir, 'runs.db'));
          locker.exec('BEGIN EXCLUSIVE');
          writeFileSync(join(dir, 'go'), '');
        }
      },
    });
    locker?.exec('ROLLBACK');

    expect(started.code).toBe(2);
    expect(started.stderr).toContain('is unavailable: the database is locked by another connection');
    expect(started.stderr).toContain(`Run ${runId} stopped here with 'ship' in flight; what it journaled is kept.`);
    // The lock outlived the process, so it could not give its lease back either: the message says until when it holds.
    expect(started.stderr).toMatch(
      new RegExp(`Continue it with 'npx sagaflow resume ${runId} --sagas \\S+gated\\.mjs --store sqlite:\\S+' once its lease, which this process could not give back, has expired \\(in \\d+ s, at \\S+\\) \\(starting the saga again would start a second run beside it\\)\\.`),
    );
    const sqlite = new SqliteStore({ path: join(dir, 'runs.db') });
    cleanups.push(() => void sqlite.close());
    expect((await sqlite.load(runId))?.map((event) => event.type)).toEqual(['run.started', 'stage.started', 'stage.completed', 'stage.started']);
    await waitFor('the lease of the stopped process to expire', async () => (await sqlite.leaseOf(runId))?.live !== true, 40_000);

    const resumed = await sagaflow(['resume', runId, '--sagas', fixture('gated.mjs'), '--store', store], { cwd: dir });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toContain(`run ${runId} completed: prepare → ship.`);
    expect(readdirSync(dir).filter((name) => name.startsWith('prepared-'))).toHaveLength(1);
  }, 90_000);
});
