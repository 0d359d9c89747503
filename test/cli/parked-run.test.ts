/**
 * `sagaflow show` and `sagaflow runs` on a run a worker parked (PostgreSQL): nobody holds its
 * lease, by design. They say the workers have it and what wakes it, not that its process stopped
 * and `resume` should continue it (a resume of a submitted run only follows it, and hangs when no
 * worker runs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrchestrator, createWorker, type SagaEvent, type WorkerActivity } from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { dropSchemas, postgresForTests, uniqueSchema } from '../support/postgres.js';
import { tmpdir } from 'node:os';
import { filter, firstValueFrom } from 'rxjs';
import { approval } from './fixtures/approval.mjs';
import { stuck } from './fixtures/stuck.mjs';
import { cli } from './support/cli-in-process.js';
import { fixture, sagaflow } from './support/cli-process.js';
import { shellWord } from '../../src/cli/shell-word.js';

const postgresUrl = await postgresForTests();
const schema = uniqueSchema('cli_parked');
let storeUrl: string;
let parkedRunId: string;
/** A run submitted to workers that a worker drove until it paused (its last stage fails). */
let pausedRunId: string;
/** Another such run, for a rollback asked without the saga's module. */
let secondPausedRunId: string;

beforeAll(async () => {
  if (postgresUrl === undefined) return;
  storeUrl = `${postgresUrl}?schema=${schema}`;
  const store = new PostgresStore({ connectionString: postgresUrl, schema });
  try {
    const orchestrator = createOrchestrator({ store, sagas: [approval] });
    parkedRunId = await orchestrator.submit(approval, { cents: 5 });
    let parked: () => void = () => undefined;
    const isParked = new Promise<void>((resolve) => (parked = resolve));
    const onActivity = (activity: WorkerActivity): void => {
      if (activity.type === 'parked' && activity.runId === parkedRunId) parked();
    };
    const worker = createWorker({ store, sagas: [approval], parkThresholdMs: 0, pollIntervalMs: 50, instrumentation: { worker: onActivity } });
    await worker.start();
    await isParked;
    await worker.stop();
    pausedRunId = await orchestrator.submit(stuck, { name: 'Cy' });
    secondPausedRunId = await orchestrator.submit(stuck, { name: 'Di' });
    const pauser = createWorker({ store, sagas: [stuck], pollIntervalMs: 50 });
    const paused = Promise.all(
      [pausedRunId, secondPausedRunId].map((runId) => firstValueFrom(orchestrator.watch(runId, { pollIntervalMs: 50 }).pipe(filter((event) => event.type === 'run.paused')))),
    );
    await pauser.start();
    await paused;
    await pauser.stop();
    expect((await orchestrator.inspect(pausedRunId)).status).toBe('paused');
    expect((await orchestrator.inspect(secondPausedRunId)).status).toBe('paused');
    await orchestrator.close();
    expect(await store.leaseOf(parkedRunId)).toBeUndefined();
  } finally {
    await store.close();
  }
});

/** A run of `stuck` submitted while no worker runs: it stays queued. */
async function submitQueued(name: string): Promise<string> {
  const store = new PostgresStore({ connectionString: postgresUrl ?? '', schema });
  try {
    return await createOrchestrator({ store }).submit(stuck, { name });
  } finally {
    await store.close();
  }
}

afterAll(async () => {
  if (postgresUrl !== undefined) await dropSchemas(postgresUrl, schema);
});

describe.runIf(postgresUrl !== undefined)('a run parked by a worker', () => {
  it('show says the workers hold it parked and what wakes it, and does not send the user to resume it', async () => {
    const result = await cli('show', parkedRunId, '--store', storeUrl);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    const owner = lines.find((line) => line.startsWith('  owner')) ?? '';
    const waiting = lines.find((line) => line.startsWith('  waiting')) ?? '';
    expect(waiting).toMatch(/^ {2}waiting {4}approve waits for signal 'approved' until \S+Z$/);
    expect(owner).toBe(
      `  owner      nobody: the workers have it, parked while it waits (${waiting.slice('  waiting    '.length)}); ` +
        'a worker claims it again when that is due or a signal or cancel arrives for it (nothing to resume)',
    );
    expect(owner).not.toContain('sagaflow resume');
  });

  it('resume refuses it at once, saying the workers drive it, rather than follow it silently until a worker comes', { timeout: 10_000 }, async () => {
    const journal = async (): Promise<readonly SagaEvent[]> => {
      const store = new PostgresStore({ connectionString: postgresUrl ?? '', schema });
      try {
        return (await store.load(parkedRunId)) ?? [];
      } finally {
        await store.close();
      }
    };
    const before = await journal();
    const result = await cli('resume', parkedRunId, '--sagas', fixture('approval.mjs'), '--store', storeUrl);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `error: Run ${parkedRunId} of saga 'approval' was submitted to workers, which drive it: it is parked while it waits, and a worker claims it again when its wait is due or a signal or cancel arrives for it, so there is nothing to resume. ` +
        `Follow it with 'npx sagaflow show ${parkedRunId} --store ${shellWord(storeUrl)}'; send a signal with 'npx sagaflow signal', and keep a 'npx sagaflow worker' running on this store.\n`,
    );
    expect(await journal()).toEqual(before);
  });

  it('redrive of a paused run submitted to workers says it hands the run back to their queue and follows it, rather than wait silently', { timeout: 30_000 }, async () => {
    let followed = false;
    const result = await sagaflow(['redrive', pausedRunId, '--sagas', fixture('stuck.mjs'), '--store', storeUrl], {
      cwd: tmpdir(),
      onStdout: (chunk, child) => {
        // The redrive is journaled: the run is back in the workers' queue, and no worker runs.
        if (!followed && chunk.includes('from its journal')) {
          followed = true;
          child.kill('SIGTERM');
        }
      },
    });
    expect(result.stdout).toContain(
      `run ${pausedRunId} was submitted to workers: the redrive hands it back to their queue, and this command follows it until a worker settles it ` +
        `(keep a 'npx sagaflow worker --store ${shellWord(storeUrl)} --sagas <module>' running; Ctrl-C cancels the run, SIGTERM only stops following it)`,
    );
    expect(result.code).toBe(143);
    // Redriven and left to the workers: going forward again, held by nobody until a worker claims it.
    const store = new PostgresStore({ connectionString: postgresUrl ?? '', schema });
    try {
      expect((await store.load(pausedRunId))?.at(-1)).toMatchObject({ type: 'run.resumed', mode: 'redrive' });
      expect((await createOrchestrator({ store }).inspect(pausedRunId)).status).toBe('running');
      expect(await store.leaseOf(pausedRunId)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('compensate of a paused run submitted to workers needs no --sagas: the workers roll it back, as from the library and the inspector', { timeout: 30_000 }, async () => {
    let followed = false;
    const result = await sagaflow(['compensate', secondPausedRunId, '--store', storeUrl], {
      cwd: tmpdir(),
      onStdout: (chunk, child) => {
        if (!followed && chunk.includes('from its journal')) {
          followed = true;
          child.kill('SIGTERM');
        }
      },
    });
    expect(result.stderr).not.toContain('error:');
    expect(result.stdout).toContain(`run ${secondPausedRunId} was submitted to workers: the compensate hands it back to their queue`);
    expect(result.code).toBe(143);
    const store = new PostgresStore({ connectionString: postgresUrl ?? '', schema });
    try {
      expect((await store.load(secondPausedRunId))?.some((event) => event.type === 'run.resumed' && event.mode === 'compensate')).toBe(true);
      expect((await createOrchestrator({ store }).inspect(secondPausedRunId)).status).toBe('compensating');
    } finally {
      await store.close();
    }
  });

  it('redrive of a run this command would drive itself, without --sagas, says to pass the module that defines its saga', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sagaflow-no-sagas-'));
    try {
      const store = `sqlite:${join(dir, 'runs.db')}`;
      const started = await sagaflow(['start', 'stuck', '{"name":"Ed"}', '--sagas', fixture('stuck.mjs'), '--store', store, '--run-id', 'stuck-ed'], { cwd: dir });
      expect(started.code).toBe(1);
      const result = await cli('redrive', 'stuck-ed', '--store', store);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        "error: Run stuck-ed of saga 'stuck' was not submitted to workers, so this command redrives it itself, and needs the saga's code: pass --sagas <module> (the module that defines 'stuck').\n",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('cancel of a queued run submitted to workers, no stage of which has started, cancels it at once, with no worker running', { timeout: 30_000 }, async () => {
    const store = new PostgresStore({ connectionString: postgresUrl ?? '', schema });
    try {
      // No worker runs (none may ever have its saga): nothing to undo, so the command cancels it itself.
      const queuedRunId = await createOrchestrator({ store }).submit(stuck, { name: 'Fay' });
      const result = await sagaflow(['cancel', queuedRunId, '--store', storeUrl], { cwd: tmpdir() });
      expect(result.stdout).toContain(`cancelling run ${queuedRunId}`);
      expect(result.stdout).not.toContain('the worker that claims it carries the cancel out');
      expect(result.stdout).toContain(`✖ Saga 'stuck' run ${queuedRunId} was cancelled`);
      expect(result.code).toBe(0);
      expect(((await store.load(queuedRunId)) ?? []).map((event) => event.type)).toEqual(['run.started', 'run.cancelling', 'run.cancelled']);
    } finally {
      await store.close();
    }
  });

  it('cancel of a run a worker parked says the worker that claims it carries the cancel out, and follows it until one has', { timeout: 30_000 }, async () => {
    const store = new PostgresStore({ connectionString: postgresUrl ?? '', schema });
    let worker: ReturnType<typeof createWorker> | undefined;
    try {
      const orchestrator = createOrchestrator({ store, sagas: [approval] });
      const runId = await orchestrator.submit(approval, { cents: 7 });
      let parked: () => void = () => undefined;
      const isParked = new Promise<void>((resolve) => (parked = resolve));
      const parker = createWorker({ store, sagas: [approval], parkThresholdMs: 0, pollIntervalMs: 50, instrumentation: { worker: (activity) => activity.type === 'parked' && activity.runId === runId && parked() } });
      await parker.start();
      await isParked;
      await parker.stop();
      let started: Promise<void> | undefined;
      const result = await sagaflow(['cancel', runId, '--store', storeUrl], {
        cwd: tmpdir(),
        onStdout: (chunk) => {
          if (started === undefined && chunk.includes('was submitted to workers')) {
            worker = createWorker({ store, sagas: [approval], pollIntervalMs: 50 });
            started = worker.start();
          }
        },
      });
      expect(result.stdout).toContain(
        `  run ${runId} was submitted to workers: the worker that claims it carries the cancel out (a parked run is woken by the cancel at once), ` +
          `and this command follows it until then (keep a 'npx sagaflow worker --store ${shellWord(storeUrl)} --sagas <module>' running)`,
      );
      expect(result.stdout).toContain(`run ${runId} was cancelled`);
      expect(result.code).toBe(0);
    } finally {
      await worker?.stop();
      await store.close();
    }
  });

  it('show of a run submitted to workers that none has claimed yet says the workers have it, queued, and that one with its saga must run', async () => {
    const queuedRunId = await submitQueued('Gus');
    const result = await cli('show', queuedRunId, '--store', storeUrl);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('  status   queued\n');
    // One event so far, run.started: not '1 events'.
    expect(result.stdout).toMatch(/, 1 event\)\n/);
    expect(result.stdout).toContain(
      "  owner    nobody: the workers have it, queued for the next claim by a worker with saga 'stuck' v1 (start one with 'npx sagaflow worker --sagas <module>' if none runs; nothing to resume)\n",
    );
  });

  it('redrive of a submitted run still queued is refused without first saying it was handed back to the queue, and says what a queued run needs', async () => {
    const queuedRunId = await submitQueued('Hal');
    const result = await cli('redrive', queuedRunId, '--store', storeUrl);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `error: Cannot redrive run ${queuedRunId} of saga 'stuck': it is queued, and redrive needs a run that is paused or compensation_failed. ` +
        `A queued run waits for a worker with saga 'stuck' v1 to claim it: keep a 'npx sagaflow worker --store ${shellWord(storeUrl)} --sagas <module>' running, ` +
        `or cancel it with 'npx sagaflow cancel ${queuedRunId} --store ${shellWord(storeUrl)}' (the worker that claims it carries the cancel out).\n`,
    );
  });

  it('runs says the same in its OWNER column', async () => {
    const result = await cli('runs', '--store', storeUrl);
    expect(result.code).toBe(0);
    const row = result.stdout.split('\n').find((line) => line.startsWith(parkedRunId)) ?? '';
    expect(row.trimEnd().endsWith('workers (parked or queued)')).toBe(true);
  });
});
