import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createOrchestrator, defineSaga, NonRetryableError, StoreUnavailableError, type RunSummary, type SagaEvent, type SagaStore } from 'sagaflow';
import { ownersOf } from '../../src/cli/commands/runs.js';
import { SqliteStore } from 'sagaflow/sqlite';
import { createVirtualClock, failStage, withFaults } from 'sagaflow/testing';
import { parseStoreUrl } from '../../src/cli/store-url.js';
import { toDot } from '../../src/cli/graph-format.js';
import { moneyTransfer } from '../../sagas/money-transfer/index.js';
import { greeting } from './fixtures/greeting.mjs';
import { pausing } from './fixtures/pausing.mjs';
import { slow } from './fixtures/slow.mjs';
import { approval } from './fixtures/approval.mjs';
import { cli } from './support/cli-in-process.js';
import { fixture, ROOT } from './support/cli-process.js';
import { heldUntilCancelled } from './support/held-saga.js';
import { z } from 'zod';

const source = (path: string): string => join(ROOT, path);

let work: string;
let storeUrl: string;
let completedRunId: string;
let pausedRunId: string;
let pausedStoreUrl: string;
const savedStore = process.env['SAGAFLOW_STORE'];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'sagaflow-program-'));
  storeUrl = `sqlite:${join(work, 'runs.db')}`;
  const store = new SqliteStore({ path: join(work, 'runs.db') });
  const orchestrator = createOrchestrator({ store, sagas: [greeting] });
  completedRunId = (await orchestrator.start(greeting, { name: 'Ada' }).outcome).runId;
  await orchestrator.close();
  await store.close();
  // In a store of its own, so that the other tests see no paused run. The same shape as the
  // fixture's saga, so the CLI continues it with the fixture module.
  pausedStoreUrl = `sqlite:${join(work, 'paused.db')}`;
  const pausedStore = new SqliteStore({ path: join(work, 'paused.db') });
  const pausingOrchestrator = createOrchestrator({ store: pausedStore });
  pausedRunId = (await pausingOrchestrator.start(withFaults(pausing, [failStage('ship')], createVirtualClock()), { name: 'Ada' }).outcome).runId;
  await pausingOrchestrator.close();
  await pausedStore.close();
});

afterEach(() => {
  // resume/redrive/compensate hand their store to the loaded module through SAGAFLOW_STORE.
  if (savedStore === undefined) delete process.env['SAGAFLOW_STORE'];
  else process.env['SAGAFLOW_STORE'] = savedStore;
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('bad input: one line on stderr saying what is wrong and what to do, exit 2', () => {
  const cases: Array<[string, () => string[], string | (() => string)]> = [
    ['an unknown status', () => ['runs', '--status', 'finished', '--store', storeUrl], "error: Unknown run status 'finished' for --status: use queued, running, compensating, completed, compensated, cancelled, paused or compensation_failed."],
    ['a bad limit', () => ['runs', '--limit', '0', '--store', storeUrl], "error: --limit takes a whole number of runs (1 or more), not '0'."],
    ['--pause on a demo without that variant', () => ['demo', 'trip-booking', '--pause'], 'error: The trip-booking demo has no pause variant: --pause works with order-fulfillment.'],
    ['an unknown --expect status', () => ['demo', 'money-transfer', '--expect', 'done'], "error: Unknown run status 'done' for --expect"],
    ['a store URL without a path', () => ['runs', '--store', 'sqlite:'], "error: The store URL 'sqlite:' has no file path: write sqlite:PATH, e.g. sqlite:.sagaflow/sagaflow.db."],
    ['an unknown run in an empty store', () => ['show', 'run-1', '--store', 'memory:'], "error: There is no run run-1 in memory:: list the runs with 'npx sagaflow runs', and pass --store if they are elsewhere."],
    ['a module that throws while loading', () => ['graph', fixture('broken.mjs')], `error: Loading the module ${fixture('broken.mjs')} failed (Error: the database URL is not configured): fix the error, or run it with node to see the full trace.`],
    ['a module that does not exist', () => ['graph', 'no/such/module.mjs'], 'error: Cannot find the module no/such/module.mjs: pass the path of a .js, .mjs or .ts file that exports your sagas.'],
    ['several sagas and no --export', () => ['graph', source('sagas/order-fulfillment/index.ts')], 'exports 2 sagas (orderFulfillment: saga order-fulfillment, orderFulfillmentPausing: saga order-fulfillment-pausing): pick one with --export NAME.'],
    ['an unknown --export', () => ['graph', source('sagas/trip-booking/index.ts'), '--export', 'hotel'], "has no saga export 'hotel': it exports tripBooking: saga trip-booking."],
    ['an unknown graph format', () => ['graph', source('sagas/trip-booking/index.ts'), '--format', 'svg'], "error: Unknown graph format 'svg': use mermaid or dot."],
    ['an unknown run to redrive', () => ['redrive', 'run-404', '--sagas', fixture('greeting.mjs'), '--store', storeUrl], () => `error: There is no run run-404 in ${storeUrl}: list the runs`],
    ['a run whose status does not allow it', () => ['redrive', completedRunId, '--sagas', fixture('greeting.mjs'), '--store', storeUrl], () => `error: Cannot redrive run ${completedRunId} of saga 'greeting': it is completed, and redrive needs a run that is paused or compensation_failed.`],
    [
      'resume of a paused run names the commands that apply',
      () => ['resume', pausedRunId, '--sagas', fixture('pausing.mjs'), '--store', pausedStoreUrl],
      () =>
        `error: Cannot resume run ${pausedRunId} of saga 'pausing': it is paused, and resume needs a run that is queued, running or compensating. ` +
        `A paused run goes on with 'npx sagaflow redrive ${pausedRunId} --sagas ${fixture('pausing.mjs')} --store ${pausedStoreUrl}', or rolls back with 'npx sagaflow compensate ${pausedRunId} --sagas ${fixture('pausing.mjs')} --store ${pausedStoreUrl}'.`,
    ],
    ['a module path ending .js for a .ts file', () => ['graph', source('sagas/trip-booking/index.js')], () => `error: Cannot find the module ${source('sagas/trip-booking/index.js')}, but there is ${source('sagas/trip-booking/index.ts')}: pass that path (the CLI loads .ts files itself).`],
    ['a module path without its extension', () => ['graph', source('sagas/trip-booking/index')], () => `error: Cannot find the module ${source('sagas/trip-booking/index')}, but there is ${source('sagas/trip-booking/index.ts')}: pass that path`],
    ['a bare file path as the store', () => ['runs', '--store', '.sagaflow/app.db'], "error: Unknown store URL '.sagaflow/app.db': for a SQLite file write sqlite:.sagaflow/app.db (store URLs are memory:, sqlite:PATH or postgres://user@host:5432/database)."],
    [
      'a store file that does not exist, next to one that does',
      () => ['runs', '--store', `sqlite:${join(work, 'app.db')}`],
      () => `error: There is no saga store at sqlite:${join(work, 'app.db')} (no file ${join(work, 'app.db')}; that directory holds sqlite:${join(work, 'paused.db')} or sqlite:${join(work, 'runs.db')}): pass --store with the URL your runs were written to, or set SAGAFLOW_STORE.`,
    ],
    ['a module without the run’s saga', () => ['compensate', completedRunId, '--sagas', source('sagas/money-transfer/index.ts'), '--store', storeUrl], () => `error: Run ${completedRunId} belongs to saga 'greeting', which ${source('sagas/money-transfer/index.ts')} does not export (it exports money-transfer): pass the module that defines it with --sagas.`],
    ['a worker on a store it cannot share', () => ['worker', '--sagas', fixture('greeting.mjs'), '--store', storeUrl], () => `error: The worker needs a store it can share with other processes, and ${storeUrl} is not one: pass --store postgres://user@host:5432/database.`],
    ['a bad worker concurrency', () => ['worker', '--sagas', fixture('greeting.mjs'), '--concurrency', '0'], "error: --concurrency takes a whole number of 1 or more, not '0'."],
    ['a bad worker poll interval', () => ['worker', '--sagas', fixture('greeting.mjs'), '--poll-interval-ms', '0'], "error: --poll-interval-ms takes a whole number of 1 or more, not '0'."],
    ['a bad signal timeout', () => ['signal', 'some-run', 'approved', '--sagas', fixture('greeting.mjs'), '--timeout-ms', '0'], "error: --timeout-ms takes a whole number of 1 or more, not '0'."],
    ['a bad worker park threshold', () => ['worker', '--sagas', fixture('greeting.mjs'), '--park-threshold-ms', 'soon'], "error: --park-threshold-ms takes a whole number of 0 or more, or 'never', not 'soon'."],
    ['an option without its value', () => ['demo', 'money-transfer', '--fail-at'], "error: option '--fail-at <stage>' argument missing (see 'sagaflow demo --help')"],
    ['a misspelt option', () => ['demo', 'money-transfer', '--fial-at', 'credit'], "error: unknown option '--fial-at' (Did you mean --fail-at?) (see 'sagaflow demo --help')"],
  ];

  it.each(cases)('%s', async (_label, argv, message) => {
    const result = await cli(...argv());
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.endsWith('\n')).toBe(true);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(typeof message === 'string' ? message : message());
    expect(result.stderr.startsWith('error: ')).toBe(true);
  });

  it('the bare command shows the usage and exits 2', async () => {
    const result = await cli();
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Usage: sagaflow [options] [command]');
  });
});

describe('commands, in process', () => {
  it('--help lists the commands, store URLs and exit codes', async () => {
    const help = await cli('--help');
    expect(help.code).toBe(0);
    for (const command of ['demo', 'runs', 'show', 'graph', 'resume', 'redrive', 'compensate', 'worker']) expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    expect(help.stdout).toContain('Exit codes: 0 the run completed');
    expect((await cli('demo', '--help')).stdout).toContain('--fail-at <stage>');
  });

  it('--version prints the package version', async () => {
    expect(await cli('--version')).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' });
  });

  it('show prints cancel reasons and error messages from outside with their control characters escaped: no forged line, no escape sequence reaches the terminal', async () => {
    const path = join(work, 'hostile.db');
    const store = new SqliteStore({ path });
    const orchestrator = createOrchestrator({ store });
    const declined = defineSaga({ name: 'declined', input: z.object({}) })
      .stage('charge', {
        // A remote API's message: a carriage return overwrites the line, then a green OK.
        execute: () => {
          throw new NonRetryableError('card declined\r  +1 ms   charge  attempt 1 completed \u001b[32mOK\u001b[0m');
        },
      })
      .build();
    const failed = orchestrator.start(declined, {}, { runId: 'hostile-error' });
    await failed.outcome.catch(() => undefined);
    const { saga: held, entered } = heldUntilCancelled('held');
    const cancelled = orchestrator.start(held, {}, { runId: 'hostile-reason' });
    await entered;
    // A reason from a request: a forged timeline line, then an escape that hides what follows.
    cancelled.cancel('customer request\n  +9 ms   run   completed\u001b[8m');
    await cancelled.outcome.catch(() => undefined);
    await orchestrator.close();
    await store.close();
    for (const runId of ['hostile-error', 'hostile-reason']) {
      const result = await cli('show', runId, '--store', `sqlite:${path}`);
      expect(result.code).toBe(0);
      // Only the line breaks of show's own lines.
      expect(result.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      expect(result.stdout.split('\n').filter((line) => /^\s+\+\d+ ms\s+(run|charge)\s+(completed|attempt 1 completed)/.test(line))).toEqual([]);
    }
    expect((await cli('show', 'hostile-reason', '--store', `sqlite:${path}`)).stdout).toContain('cancelling: customer request\\n  +9 ms   run   completed\\u001b[8m');
  });

  it('show says who holds an unfinished run’s lease — a run whose process was killed looks driven until it expires — and that resume continues a run nobody holds', async () => {
    const path = join(work, 'owned.db');
    const store = new SqliteStore({ path });
    const orchestrator = createOrchestrator({ store, ownerId: 'app-1' });
    const { saga: held, entered } = heldUntilCancelled('held');
    orchestrator.start(held, {}, { runId: 'owned-1' }).outcome.catch(() => undefined);
    await entered;
    const driven = await cli('show', 'owned-1', '--store', `sqlite:${path}`);
    expect(driven.stdout).toMatch(/^ {2}owner +app-1 holds its lease until \d{4}-\d\d-\d\dT[^:]+:[^:]+:[^:]+: it renews it while it drives the run; if that process died, 'npx sagaflow resume owned-1 --sagas <module>' \(or recover\(\)\) continues it after then$/m);
    // Let go without settling (its call aborted and landed): the lease is released.
    await orchestrator.close({ timeoutMs: 0 });
    await store.close();
    const released = await cli('show', 'owned-1', '--store', `sqlite:${path}`);
    expect(released.stdout).toMatch(/^ {2}status +running\n {2}owner +nobody holds it: 'npx sagaflow resume owned-1 --sagas <module>' \(or recover\(\)\) continues it$/m);
    // A settled run has no owner row.
    expect((await cli('show', completedRunId, '--store', storeUrl)).stdout).not.toMatch(/^ {2}owner /m);
  });

  it('show --json prints the run’s journal as NDJSON events', async () => {
    const result = await cli('show', completedRunId, '--json', '--store', storeUrl);
    expect(result.code).toBe(0);
    const events = result.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as SagaEvent);
    expect(events.map((event) => event.type)).toEqual(['run.started', 'stage.started', 'stage.completed', 'stage.started', 'stage.completed', 'run.completed']);
    expect(events.map((event) => event.seq)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('runs --json prints one summary per run', async () => {
    const result = await cli('runs', '--json', '--store', storeUrl, '--saga', 'greeting');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ runId: completedRunId, saga: 'greeting', status: 'completed', events: 6 });
  });

  it('graph --format dot prints the DOT of the chosen export', async () => {
    const result = await cli('graph', source('sagas/money-transfer/index.ts'), '--format', 'dot');
    expect(result).toEqual({ code: 0, stdout: toDot(moneyTransfer), stderr: '' });
  });

  it('lists runs with filters, and says so when none match', async () => {
    expect((await cli('runs', '--store', storeUrl, '--status', 'paused,compensation_failed')).stdout).toBe(
      `No runs with status paused or compensation_failed in ${storeUrl}.\n`,
    );
    const listed = await cli('runs', '--store', storeUrl);
    expect(listed.stdout.split('\n')[0]).toMatch(/^RUN ID\s+SAGA\s+STATUS\s+EVENTS\s+STARTED\s+LAST EVENT$/);
    expect(listed.stdout).toMatch(new RegExp(`^${completedRunId}\\s+greeting\\s+completed\\s+6\\s+`, 'm'));
  });
});

describe('runs --saga with a name no run has', () => {
  it('says which sagas the store has runs of: a misspelt name listed nothing, as if the store had no runs', async () => {
    const result = await cli('runs', '--store', storeUrl, '--saga', 'greting');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`No runs of saga 'greting' in ${storeUrl}; sagas with runs there: 'greeting'.\n`);
  });

  it('says nothing more when the saga has runs, only none with the status asked for', async () => {
    expect((await cli('runs', '--store', storeUrl, '--saga', 'greeting', '--status', 'paused')).stdout).toBe(
      `No runs of saga 'greeting' with status paused in ${storeUrl}.\n`,
    );
  });
});

describe('runs of runs going on', () => {
  it('adds an OWNER column when a listed run is running or compensating: the live owner and until when, an owner whose lease ran out, or nobody', async () => {
    const path = join(work, 'owners', 'runs.db'); // a directory of its own: other tests list the SQLite files in `work`
    const store = new SqliteStore({ path });
    const orchestrator = createOrchestrator({ store, sagas: [approval], ownerId: 'app-4' });
    const ids = ['owned-live', 'owned-expired', 'owned-by-nobody'];
    for (const runId of ids) orchestrator.start(approval, { cents: 40 }, { runId });
    await expect.poll(async () => (await Promise.all(ids.map((runId) => store.load(runId)))).every((journal) => journal?.some((event) => event.type === 'wait.started')), { timeout: 5_000 }).toBe(true);
    // Let go without settling (the leases are given back), then leases as other processes left them.
    await orchestrator.close({ timeoutMs: 0 });
    expect((await store.acquire({ runId: 'owned-live', owner: 'app-5', leaseMs: 600_000 })).acquired).toBe(true);
    expect((await store.acquire({ runId: 'owned-expired', owner: 'gone-app', leaseMs: 1 })).acquired).toBe(true);
    await expect.poll(async () => (await store.leaseOf('owned-expired'))?.live).toBe(false);
    await store.close();
    const listed = (await cli('runs', '--store', `sqlite:${path}`)).stdout.split('\n');
    expect(listed[0]).toMatch(/^RUN ID\s+SAGA\s+STATUS\s+EVENTS\s+STARTED\s+LAST EVENT\s+OWNER$/);
    const row = (runId: string) => listed.find((line) => line.startsWith(runId)) ?? '';
    expect(row('owned-live')).toMatch(/\s+running\s+.*\s+app-5 \(until \d{4}-\d\d-\d\d [\d:.]+Z\)$/);
    expect(row('owned-expired')).toMatch(/\s+running\s+.*\s+nobody live \(gone-app's lease ran out \d{4}-\d\d-\d\d [\d:.]+Z\)$/);
    expect(row('owned-by-nobody')).toMatch(/\s+running\s+.*\s+nobody$/);
  });

  it('says a run\'s owner is unknown, never nobody, when its lease cannot be read (the database restarting), whatever the error', async () => {
    const summary = (runId: string, status: RunSummary['status']): RunSummary => ({ runId, saga: 's', status, events: 3, createdAt: 1, updatedAt: 2, submitted: false });
    const hostile = new Proxy(new Error('x'), { get: () => { throw new Error('no reading me'); } });
    let reads = 0;
    const down: Pick<SagaStore, 'leaseOf'> = { leaseOf: () => (reads++ === 0 ? Promise.reject(new StoreUnavailableError('test store', 'it is restarting')) : Promise.reject(hostile)) };
    const owners = await ownersOf(down, [summary('r-1', 'running'), summary('r-2', 'compensating'), summary('r-3', 'completed')]);
    expect(owners?.get('r-1')).toMatch(/^unknown \(its lease could not be read: StoreUnavailableError: The saga store test store is unavailable: it is restarting/);
    expect(owners?.get('r-2')).toMatch(/^unknown \(its lease could not be read: /);
    expect(owners?.has('r-3')).toBe(false);
    expect(reads).toBe(2);
  });

  it('leaves the OWNER column out when every listed run has settled', async () => {
    expect((await cli('runs', '--store', storeUrl)).stdout.split('\n')[0]).not.toContain('OWNER');
  });
});

describe('resume of a run another process drives', () => {
  it('says so in commands: sagaflow cancel if that process is alive, the same command again once its lease expires if it died', async () => {
    const path = join(work, 'owned', 'runs.db'); // a directory of its own: other tests list the SQLite files in `work`
    const store = new SqliteStore({ path });
    const owner = createOrchestrator({ store, sagas: [slow], ownerId: 'app-1' });
    const run = owner.start(slow, {});
    await expect.poll(async () => (await store.load(run.runId))?.some((event) => event.type === 'stage.started' && event.stage === 'hold'), { timeout: 5_000 }).toBe(true);
    try {
      const result = await cli('resume', run.runId, '--sagas', fixture('slow.mjs'), '--store', `sqlite:${path}`);
      expect(result.code).toBe(2);
      const held = /\(lease epoch 1, held until (\S+Z)\)/.exec(result.stderr)?.[1] ?? '';
      expect(Date.parse(held)).toBeGreaterThan(Date.now());
      expect(result.stderr).toBe(
        `error: Run ${run.runId} is owned by app-1 (lease epoch 1, held until ${held}), so it cannot be continued from here. ` +
          `If that process is alive, it is driving the run: stop it with 'npx sagaflow cancel ${run.runId} --store sqlite:${path}', which its owner carries out. ` +
          'If it died (a crash, a SIGKILL), nothing takes the run over before its lease expires: run this command again then.\n',
      );
    } finally {
      run.cancel('test over');
      await run.outcome;
      await owner.close();
      await store.close();
    }
  });
});

describe('cancel of a run another process drives', () => {
  it('says that process carries it out at its next heartbeat, before waiting for it', async () => {
    const path = join(work, 'cancelled', 'runs.db'); // a directory of its own, as above
    const store = new SqliteStore({ path });
    const owner = createOrchestrator({ store, sagas: [slow], ownerId: 'app-2', leaseMs: 900 });
    const run = owner.start(slow, {});
    await expect.poll(async () => (await store.load(run.runId))?.some((event) => event.type === 'stage.started' && event.stage === 'hold'), { timeout: 5_000 }).toBe(true);
    try {
      const result = await cli('cancel', run.runId, 'the customer changed their mind', '--store', `sqlite:${path}`);
      expect(result.stdout.split('\n').slice(0, 2)).toEqual([
        `cancelling run ${run.runId} (the customer changed their mind)`,
        '  app-2 drives it, and carries the cancel out at its next heartbeat (a third of its lease: 10 s by default; at once on PostgreSQL)',
      ]);
      expect(result.code).toBe(0);
      expect((await run.outcome).status).toBe('cancelled');
    } finally {
      await owner.close();
      await store.close();
    }
  });
});

describe('cancel of a run whose process died', () => {
  /**
   * A run of `approval` in a SQLite file of its own (a directory of its own, as above), waiting,
   * and left with the lease of an owner that never heartbeats: a process SIGKILLed while the run
   * waited, its lease live for another 1.5 s by the store's clock.
   */
  async function runOfDeadOwner(name: string): Promise<{ readonly path: string; readonly runId: string }> {
    const path = join(work, name, 'runs.db');
    const store = new SqliteStore({ path });
    const orchestrator = createOrchestrator({ store, sagas: [approval], ownerId: `app-of-${name}` });
    const run = orchestrator.start(approval, { cents: 40 }, { runId: `${name}-1` });
    await expect.poll(async () => (await store.load(run.runId))?.some((event) => event.type === 'wait.started'), { timeout: 5_000 }).toBe(true);
    // Let go without settling, then the dead process's lease.
    await orchestrator.close({ timeoutMs: 0 });
    expect((await store.acquire({ runId: run.runId, owner: 'killed-app', leaseMs: 1_500 })).acquired).toBe(true);
    await store.close();
    return { path, runId: run.runId };
  }

  /** The run's outcome, read from its file once the command is done. */
  async function outcomeIn(path: string, runId: string) {
    const reader = new SqliteStore({ path });
    try {
      return await createOrchestrator({ store: reader }).inspect(runId);
    } finally {
      await reader.close();
    }
  }

  it('rolls the run back itself once the dead owner’s lease runs out, instead of following it forever', async () => {
    const { path, runId } = await runOfDeadOwner('dead-owner');
    const result = await cli('cancel', runId, 'nobody approved', '--sagas', fixture('approval.mjs'), '--store', `sqlite:${path}`);
    expect(result.stdout.split('\n').slice(0, 3)).toEqual([
      `cancelling run ${runId} (nobody approved)`,
      '  killed-app drives it, and carries the cancel out at its next heartbeat (a third of its lease: 10 s by default; at once on PostgreSQL)',
      expect.stringMatching(/^ {2}if that process has died, this command rolls the run back itself when its lease runs out \(at \d{4}-\d\d-\d\dT[\d:.]+Z\)$/),
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const outcome = await outcomeIn(path, runId);
    expect([outcome.status, outcome.cancellation?.reason, outcome.compensationOrder]).toEqual(['cancelled', 'nobody approved', ['hold']]);
  }, 20_000);

  it('waits for the dead owner’s lease by the store’s clock: a clock a minute behind the store’s does not add a minute', async () => {
    const { path, runId } = await runOfDeadOwner('skewed-owner');
    // This process's clock runs a minute behind the store's (here: SQLite's, the system clock): a
    // wait timed by it would last a minute more, past this test's timeout.
    const realNow = Date.now.bind(Date);
    const skewed = vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 60_000);
    let result: Awaited<ReturnType<typeof cli>>;
    try {
      result = await cli('cancel', runId, 'nobody approved', '--sagas', fixture('approval.mjs'), '--store', `sqlite:${path}`);
    } finally {
      skewed.mockRestore();
    }
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const outcome = await outcomeIn(path, runId);
    expect([outcome.status, outcome.cancellation?.reason]).toEqual(['cancelled', 'nobody approved']);
  }, 20_000);
});

describe('store URLs', () => {
  it('parses memory:, sqlite:PATH and postgres:// with a schema', () => {
    expect(parseStoreUrl('memory:')).toEqual({ kind: 'memory' });
    expect(parseStoreUrl('sqlite:.sagaflow/x.db')).toEqual({ kind: 'sqlite', path: '.sagaflow/x.db' });
    expect(parseStoreUrl('sqlite:///var/lib/x.db')).toEqual({ kind: 'sqlite', path: '/var/lib/x.db' });
    expect(parseStoreUrl('postgres://app:secret@db:5432/app?schema=sagas&sslmode=require')).toEqual({
      kind: 'postgres',
      connectionString: 'postgres://app:secret@db:5432/app?sslmode=require',
      schema: 'sagas',
    });
    expect(() => parseStoreUrl('mysql://db/app')).toThrow("Unknown store URL 'mysql://db/app'");
  });

  it('refuses sqlite:// with two slashes, saying how to write a relative or an absolute path', () => {
    // Read as a path, sqlite://.sagaflow/app.db would be /.sagaflow/app.db: not what was meant.
    expect(() => parseStoreUrl('sqlite://.sagaflow/app.db')).toThrow(
      "The store URL 'sqlite://.sagaflow/app.db' has two slashes after sqlite:, which sagaflow does not read as a path: write sqlite:.sagaflow/app.db for a file relative to the current directory, or sqlite:/.sagaflow/app.db for an absolute path.",
    );
    expect(parseStoreUrl('sqlite:/var/lib/x.db')).toEqual({ kind: 'sqlite', path: '/var/lib/x.db' });
  });
});
