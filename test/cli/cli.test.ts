/**
 * The `sagaflow` binary, run as real processes: stdout, stderr and exit codes of every command,
 * and of a bad input of every kind. The many other bad inputs are checked in-process
 * (program.test.ts), through the same code.
 */
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrchestrator, type SagaEvent } from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { SqliteStore } from 'sagaflow/sqlite';
import { orderFulfillment } from '../../sagas/order-fulfillment/index.js';
import { tripBooking } from '../../sagas/trip-booking/index.js';
import { storeOrphanedJournal } from '../support/journal.js';
import { dropSchemas, postgresForTests, uniqueSchema } from '../support/postgres.js';
import { greeting } from './fixtures/greeting.mjs';
import { builtSagas, ensureBuilt, fixture, ROOT, sagaflow, type CliResult } from './support/cli-process.js';
import { actualGraph, expectedGraph, parseDot, parseMermaidFlowchart } from './support/graph-syntax.js';

const postgresUrl = await postgresForTests();
const schema = uniqueSchema('cli');
let work: string;

/** The arguments of `npm run demo`, read from package.json so the test follows the script. */
function npmDemoArguments(): string[] {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const script = scripts['demo'] ?? '';
  expect(script.startsWith('node dist/cli/main.js ')).toBe(true);
  return script.slice('node dist/cli/main.js '.length).split(' ');
}

const runIdOf = (result: CliResult): string => /run (\S+) started/.exec(result.stdout)?.[1] ?? /"runId":"([^"]+)"/.exec(result.stdout)?.[1] ?? 'no run id';
const lines = (text: string): string[] => text.trimEnd().split('\n');

beforeAll(() => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'sagaflow-cli-'));
}, 240_000);

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  if (postgresUrl !== undefined) await dropSchemas(postgresUrl, schema, `${schema}_demo`);
});

describe('sagaflow, run as a process', () => {
  let transfer: CliResult;
  let trip: CliResult;
  let pausedJson: CliResult;
  let pausedPlain: CliResult;

  beforeAll(async () => {
    // Different demos use different tables, so they can share the default store; the second
    // paused order gets its own store, so that neither sees the other's stock moving.
    [transfer, trip, pausedJson, pausedPlain] = await Promise.all([
      sagaflow(npmDemoArguments(), { cwd: work }),
      sagaflow(['demo', 'trip-booking', '--fail-at', 'car'], { cwd: work }),
      sagaflow(['demo', 'order-fulfillment', '--fail-at', 'ship', '--pause', '--json'], { cwd: work }),
      sagaflow(['demo', 'order-fulfillment', '--fail-at', 'ship', '--pause', '--store', 'sqlite:other.db'], { cwd: work }),
    ]);
  }, 60_000);

  it('npm run demo: the transfer fails at credit and is rolled back; balances before and after; exit 0 as expected', () => {
    expect(transfer.stderr).toBe('');
    expect(transfer.code).toBe(0);
    const output = lines(transfer.stdout);
    expect(output.slice(0, 9)).toEqual([
      'Transfer 25.00 from north/alice to south/bob',
      'saga money-transfer · store sqlite:.sagaflow/sagaflow.db',
      "fault: the south bank is down: every attempt of 'credit' fails",
      '',
      'Before:',
      '  north/alice      100.00',
      '  south/bob          5.00',
      '  total            105.00',
      '',
    ]);
    expect(output).toContainEqual(expect.stringMatching(/^ {2}credit {2}✖ failed +attempt 3 +\d+ ms {2}SimulatedOutageError: south bank is unavailable \(simulated outage at 'credit'\)$/));
    expect(output).toContain('rolling back: credit failed');
    expect(output).toContainEqual(expect.stringMatching(/^ {2}debit {3}↩ compensated +attempt 1 +\d+ ms$/));
    expect(output).toContain(
      `✖ Saga 'money-transfer' run ${runIdOf(transfer)} failed at stage 'credit' (SimulatedOutageError: south bank is unavailable (simulated outage at 'credit')); rolled back 'debit'.`,
    );
    expect(output.slice(-8)).toEqual([
      '',
      'After:',
      '  north/alice      100.00',
      '  south/bob          5.00',
      '  total            105.00',
      '',
      '✓ total money conserved: 105.00 before, 105.00 after',
      '✓ rolled back: every balance is what it was before',
    ]);
    expect(existsSync(join(work, '.sagaflow/sagaflow.db'))).toBe(true);
  });

  it('a demo that is rolled back exits 1: the car fails, the others are cancelled in reverse completion order', () => {
    expect(trip.code).toBe(1);
    expect(trip.stderr).toBe('');
    expect(lines(trip.stdout).slice(-3)).toEqual([
      '✓ nothing left booked',
      '✓ nothing left charged',
      '✓ cancelled in reverse completion order: completed quote, hotel, flight; compensated flight, hotel',
    ]);
  });

  it('--json prints the run’s events as NDJSON and nothing else; a paused run exits 1', () => {
    expect(pausedJson.code).toBe(1);
    const events = lines(pausedJson.stdout).map((line) => JSON.parse(line) as SagaEvent);
    expect(events.map((event) => event.seq)).toEqual(events.map((_event, index) => index));
    expect(events[0]).toMatchObject({ type: 'run.started', saga: 'order-fulfillment-pausing', input: { orderId: 'order-1001' } });
    expect(events.at(-1)).toMatchObject({ type: 'run.paused', failure: { stage: 'ship' } });
    expect(new Set(events.map((event) => event.runId)).size).toBe(1);
  });

  describe.concurrent('commands that continue, show and draw runs', () => {
    it('redrive goes on with the paused order once the outage is over; runs then lists it completed', async () => {
      const runId = runIdOf(pausedJson);
      const redriven = await sagaflow(['redrive', runId, '--sagas', builtSagas('order-fulfillment/index.js')], { cwd: work });
      expect(redriven.stderr).toBe('');
      expect(redriven.code).toBe(0);
      const output = lines(redriven.stdout);
      expect(output.slice(0, 2)).toEqual(['  so far: reserve completed, charge completed, ship failed', `redriving run ${runId} from its journal`]);
      expect(output).toContainEqual(expect.stringMatching(/^ {2}ship {5}✔ completed +attempt 3 +\d+ ms$/));
      expect(output).toContain(`✔ Saga 'order-fulfillment-pausing' run ${runId} completed: reserve → charge → ship.`);

      // runs lists the store's runs, filtered by status: the redriven order is completed now.
      const listed = await sagaflow(['runs', '--status', 'compensated,completed'], { cwd: work });
      expect(listed.code).toBe(0);
      const [header, ...rows] = lines(listed.stdout);
      expect(header).toMatch(/^RUN ID +SAGA +STATUS +EVENTS +STARTED +LAST EVENT$/);
      expect(rows.map((row) => row.split(/\s+/).slice(0, 3)).sort()).toEqual(
        [
          [runIdOf(transfer), 'money-transfer', 'compensated'],
          [runIdOf(trip), 'trip-booking', 'compensated'],
          [runIdOf(pausedJson), 'order-fulfillment-pausing', 'completed'],
        ].sort(),
      );
    });

    it('a paused demo prints the commands to continue it; its compensate command rolls the order back', async () => {
      expect(pausedPlain.code).toBe(1);
      const runId = runIdOf(pausedPlain);
      const output = lines(pausedPlain.stdout);
      expect(output).toContain('paused: ship failed; the completed stages are kept');
      expect(output).toContain('✓ stock still held for the paused order (3 units)');
      const undo = output.find((line) => line.startsWith('  or undo:  npx sagaflow compensate '));
      expect(undo).toBe(`  or undo:  npx sagaflow compensate ${runId} --sagas ${builtSagas('order-fulfillment/index.js')} --store sqlite:other.db`);
      const compensated = await sagaflow((undo ?? '').replace('  or undo:  npx sagaflow ', '').split(' '), { cwd: work });
      expect(compensated.code).toBe(1);
      expect(lines(compensated.stdout)).toContain(
        `✖ Saga 'order-fulfillment-pausing' run ${runId} failed at stage 'ship' (SimulatedOutageError: the carrier is unavailable (simulated outage at 'ship')); rolled back 'charge', 'reserve'.`,
      );
    });

    it('show prints a timeline of every stage and compensation, with attempts, outputs and errors', async () => {
      const runId = runIdOf(trip);
      const shown = await sagaflow(['show', runId], { cwd: work });
      expect(shown.code).toBe(0);
      const output = lines(shown.stdout);
      expect(output.slice(0, 3)).toEqual([`Run ${runId}`, '  saga         trip-booking v1', '  status       compensated']);
      expect(output).toContain("  failure      car: SimulatedOutageError: the car supplier is unavailable (simulated outage at 'car')");
      expect(output).toContain('  rolled back  flight, hotel');
      const timeline = output.slice(output.indexOf('Timeline') + 1, output.indexOf('Stages') - 1);
      expect(timeline.map((line) => line.trim().split(/\s+/).slice(2).join(' '))).toEqual([
        'run started (version 1)',
        expect.stringMatching(/^quote attempt 1 started$/),
        expect.stringMatching(/^quote attempt 1 completed in \d+ ms → \{"flightCents":32000,"hotelCents":33000,"carCents":13500,"totalCents":78500\}$/),
        ...['flight', 'hotel', 'car'].map((stage) => `${stage} attempt 1 started`),
        expect.stringMatching(/^hotel attempt 1 completed in \d+ ms → \{"bookingId":"[^"]+"\}$/),
        expect.stringMatching(/^flight attempt 1 completed in \d+ ms → \{"bookingId":"[^"]+"\}$/),
        expect.stringMatching(/^car attempt 1 failed, next in \d+ ms: SimulatedOutageError: the car supplier is unavailable/),
        'car attempt 2 started',
        expect.stringMatching(/^car attempt 2 failed \(final\): SimulatedOutageError/),
        'run rolling back: car failed',
        'flight compensation attempt 1 started',
        expect.stringMatching(/^flight compensated in \d+ ms \(attempt 1\)$/),
        'hotel compensation attempt 1 started',
        expect.stringMatching(/^hotel compensated in \d+ ms \(attempt 1\)$/),
        'run rolled back (compensated)',
      ]);
      const stages = output.slice(output.indexOf('Stages') + 1);
      expect(stages[0]).toMatch(/^ {2}STAGE +STATUS +ATTEMPTS +STARTED +ENDED +OUTPUT \/ ERROR$/);
      expect(stages).toContainEqual(expect.stringMatching(/^ {2}flight +compensated +1 +\+\d+ ms +\+\d+ ms +\{"bookingId":"[^"]+"\}$/));
      expect(stages).toContainEqual(expect.stringMatching(/^ {2}car +failed +2 +\+\d+ ms +\+\d+ ms +SimulatedOutageError: the car supplier is unavailable/));
      expect(stages).toContainEqual(expect.stringMatching(/^ {2}payment +not_started +0$/));
      expect(stages.filter((line) => line.includes('↳ compensation'))).toHaveLength(2);
    });

    it('graph prints a Mermaid flowchart whose nodes and edges are the saga’s DAG', async () => {
      const drawn = await sagaflow(['graph', builtSagas('trip-booking/index.js')], { cwd: work });
      expect(drawn.code).toBe(0);
      expect(actualGraph(parseMermaidFlowchart(drawn.stdout))).toEqual(expectedGraph(tripBooking));
    });

    it('graph loads a .ts module through tsx, and picks an export; --format dot', async () => {
      const drawn = await sagaflow(['graph', join(ROOT, 'sagas/order-fulfillment/index.ts'), '--export', 'orderFulfillment', '--format', 'dot'], { cwd: work });
      expect(drawn.stderr).toBe('');
      expect(drawn.code).toBe(0);
      expect(actualGraph(parseDot(drawn.stdout))).toEqual(expectedGraph(orderFulfillment));
    });

    it('resume continues a run that a stopped process left running', async () => {
      // The journal a crash leaves: the run started, its first stage started, nothing more.
      const path = join(work, 'crashed.db');
      const store = new SqliteStore({ path });
      const runId = 'crashed-run-1';
      const events = [
        { type: 'run.started', version: greeting.version, shapeHash: greeting.shapeHash, input: { name: 'Ada' }, stages: greeting.stages.map((stage) => stage.name) },
        { type: 'stage.started', stage: 'hello', attempt: 1 },
      ].map((draft, seq) => ({ ...draft, runId, saga: greeting.name, seq, at: Date.now() }) as SagaEvent);
      // Written as a process that then died left it: its lease gone.
      await storeOrphanedJournal(store, events);
      await store.close();

      const resumed = await sagaflow(['resume', runId, '--sagas', fixture('greeting.mjs'), '--store', `sqlite:${path}`], { cwd: work });
      expect(resumed.stderr).toBe('');
      expect(resumed.code).toBe(0);
      expect(lines(resumed.stdout).slice(0, 2)).toEqual(['  so far: hello running', `resumed run ${runId} from its journal`]);
      expect(resumed.stdout).toContain(`✔ Saga 'greeting' run ${runId} completed: hello → goodbye.`);
    });

    it('Ctrl-C cancels the run and rolls it back; exit 1', async () => {
      let interrupted = false;
      const result = await sagaflow(['demo', 'order-fulfillment', '--fail-at', 'charge', '--json', '--store', 'memory:'], {
        cwd: work,
        onStdout: (chunk, child) => {
          // The first event is out: the run is going (the charge hangs for 300 ms per attempt).
          if (!interrupted && chunk.includes('"run.started"')) {
            interrupted = true;
            child.kill('SIGINT');
          }
        },
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('SIGINT: cancelling run');
      const events = lines(result.stdout).map((line) => JSON.parse(line) as SagaEvent);
      expect(events.find((event) => event.type === 'run.cancelling')).toMatchObject({ reason: 'interrupted by the operator (SIGINT)' });
      expect(events.at(-1)?.type).toBe('run.cancelled');
    });
  });

  describe.concurrent('bad input: one line on stderr saying what is wrong and what to do, exit 2', () => {
    const cases: Array<[string, () => string[], () => string]> = [
      ['usage: an unknown command', () => ['frobnicate'], () => "error: unknown command 'frobnicate' (see 'sagaflow --help')"],
      ['usage: a required option missing', () => ['signal', 'some-run', 'approval'], () => "error: required option '--sagas <module>' not specified (see 'sagaflow signal --help')"],
      ['an unknown demo', () => ['demo', 'bank-heist'], () => "error: Unknown demo 'bank-heist': choose money-transfer, trip-booking or order-fulfillment."],
      ['an unknown stage', () => ['demo', 'money-transfer', '--fail-at', 'refund'], () => "error: The money-transfer demo has no stage 'refund': --fail-at takes debit, credit or notify."],
      ['an unknown store URL', () => ['demo', 'money-transfer', '--store', 'mysql://db/app'], () => "error: Unknown store URL 'mysql://db/app': use memory:, sqlite:PATH (e.g. sqlite:.sagaflow/sagaflow.db) or postgres://user@host:5432/database."],
      [
        'a sqlite:// URL with two slashes',
        () => ['runs', '--store', 'sqlite://.sagaflow/app.db'],
        () => "error: The store URL 'sqlite://.sagaflow/app.db' has two slashes after sqlite:, which sagaflow does not read as a path: write sqlite:.sagaflow/app.db for a file relative to the current directory, or sqlite:/.sagaflow/app.db for an absolute path.",
      ],
      [
        'an unreachable database',
        () => ['runs', '--store', 'postgres://postgres@127.0.0.1:1/nowhere'],
        () => 'error: The saga store postgres://postgres@127.0.0.1:1/nowhere is unavailable: creating the tables in schema sagaflow could not connect to the PostgreSQL server (connect ECONNREFUSED 127.0.0.1:1); check that the server is running and reachable at that address, then retry.',
      ],
      [
        'a store that does not exist',
        () => ['runs', '--store', 'sqlite:nowhere/no-such.db'],
        () => `error: There is no saga store at sqlite:nowhere/no-such.db (no file ${join(realpathSync(work), 'nowhere', 'no-such.db')}): pass --store with the URL your runs were written to, or set SAGAFLOW_STORE.`,
      ],
      ['an unknown run id', () => ['show', 'no-such-run'], () => "error: There is no run no-such-run in sqlite:.sagaflow/sagaflow.db: list the runs with 'npx sagaflow runs', and pass --store if they are elsewhere."],
      ['a module without sagas', () => ['graph', fixture('no-sagas.mjs')], () => `error: The module ${fixture('no-sagas.mjs')} exports no built saga (its exports: default, settings): export the result of defineSaga(…).build().`],
      [
        'a module without the run’s saga',
        () => ['compensate', runIdOf(transfer), '--sagas', fixture('greeting.mjs')],
        () => `error: Run ${runIdOf(transfer)} belongs to saga 'money-transfer', which ${fixture('greeting.mjs')} does not export (it exports greeting): pass the module that defines it with --sagas.`,
      ],
    ];

    it.each(cases)('%s', async (_label, argv, message) => {
      const result = await sagaflow(argv(), { cwd: work });
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(`${message()}\n`);
      expect(result.code).toBe(2);
    });
  });
});

describe.skipIf(postgresUrl === undefined)('sagaflow on PostgreSQL, as a process', () => {
  const store = (): string => `${postgresUrl ?? ''}?schema=${schema}`;

  it('demo --store postgres://… keeps the run and the ledgers in the database', async () => {
    const demo = await sagaflow(['demo', 'money-transfer', '--fail-at', 'notify', '--expect', 'compensated', '--store', store()], { cwd: work });
    expect(demo.stderr).toBe('');
    expect(demo.code).toBe(0);
    expect(demo.stdout).toContain("rolled back 'credit', 'debit'.");
    expect(demo.stdout).toContain('✓ total money conserved: 105.00 before, 105.00 after');
    const runs = new PostgresStore({ connectionString: postgresUrl ?? '', schema });
    expect((await runs.listRuns({ saga: 'money-transfer' })).map((run) => [run.runId, run.status])).toEqual([[runIdOf(demo), 'compensated']]);
    await runs.close();
  });

  it('worker refuses a --worker-id the fleet could not tell apart, naming the option', async () => {
    const result = await sagaflow(['worker', '--store', store(), '--sagas', fixture('greeting.mjs'), '--worker-id', '   '], { cwd: work });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('error: --worker-id must be a non-empty string.\n');
  });

  it('worker claims a submitted run, drives it, and stops on Ctrl-C', async () => {
    const queue = new PostgresStore({ connectionString: postgresUrl ?? '', schema });
    const orchestrator = createOrchestrator({ store: queue, sagas: [greeting] });
    const runId = await orchestrator.submit(greeting, { name: 'Ada' });
    let stopping = false;
    const result = await sagaflow(['worker', '--store', store(), '--sagas', fixture('greeting.mjs'), '--lease-ms', '3000', '--worker-id', 'cli-worker-1', '--poll-interval-ms', '200'], {
      cwd: work,
      onStdout: (chunk, child) => {
        if (stopping || !chunk.includes('worker polling')) return;
        stopping = true;
        void (async () => {
          await expect.poll(async () => (await orchestrator.inspect(runId)).status, { timeout: 15_000 }).toBe('completed');
          child.kill('SIGINT');
        })();
      },
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('(worker cli-worker-1, polling every 200 ms, concurrency 10, lease 3000 ms, waits over 2000 ms parked)');
    expect(result.stdout).toContain('worker stopped');
    await orchestrator.close();
    await queue.close();
  });
});
