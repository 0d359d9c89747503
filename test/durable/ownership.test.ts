import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createOrchestrator, SignalTimeoutError, type SagaEvent, type SagaStore } from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { SqliteStore } from 'sagaflow/sqlite';
import { dropSchemas, postgresForTests, uniqueSchema, withAdminClient } from '../support/postgres.js';
import { tempDatabase, type TempDatabase } from '../stores/sqlite-temp.js';
import { deferred } from '../support/deferred.js';
import { effectsTableSql } from './owner-effects.js';
import type { OwnerCommand, OwnerConfig, OwnerReport } from './owner-process.js';
import { approval } from './wait-sagas.js';

const script = fileURLToPath(new URL('./owner-process.ts', import.meta.url));
/** The lease of owners whose runs another process takes over once it expires: short, so the tests are quick. */
const LEASE_MS = 1_200;
/**
 * The lease of owners that must stay live for the whole test (a cancel or a recover next to a live
 * owner): long enough that a loaded machine delaying a heartbeat cannot make the lease look expired,
 * which would let the other process take the run over and turn the test into another one.
 */
const LIVE_LEASE_MS = 9_000;

/** A process owning runs on the shared store, and everything it reported. */
class Owner {
  readonly reports: OwnerReport[] = [];
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();
  private readonly exited: Promise<void>;
  /** How the process ended, once it has: a wait for a report it can no longer send fails at once. */
  private ended: string | undefined;

  constructor(
    readonly name: string,
    store: OwnerConfig['store'],
    leaseMs: number,
  ) {
    const config: OwnerConfig = { name, store, leaseMs };
    this.child = fork(script, [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, SAGAFLOW_OWNER: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (report: OwnerReport) => {
      this.reports.push(report);
      for (const waiter of [...this.waiters]) waiter();
    });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    // 'close', not 'exit': it comes once the IPC channel is closed too, after every report sent.
    this.child.once('close', (code, signal) => {
      this.ended = signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
      for (const waiter of [...this.waiters]) waiter();
    });
  }

  send(command: OwnerCommand): void {
    this.child.send(command);
  }

  /**
   * The first report (past or future) matching `match`; rejects at once on a report matching
   * `failure` (one that means `match` will never come), or when the process has ended without
   * sending it (its stderr is the test's), rather than at the timeout.
   */
  waitFor<T extends OwnerReport>(what: string, match: (report: OwnerReport) => report is T, options: { readonly failure?: (report: OwnerReport) => boolean; readonly timeoutMs?: number } = {}): Promise<T> {
    const { failure, timeoutMs = 60_000 } = options;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const failed = failure === undefined ? undefined : this.reports.find(failure);
        if (failed !== undefined) {
          cleanup();
          reject(new Error(`${this.name} reported ${JSON.stringify(failed)} while the test waited for ${what}. Reports: ${JSON.stringify(this.reports)}`));
          return;
        }
        const found = this.reports.find(match);
        if (found !== undefined) {
          cleanup();
          resolve(found);
          return;
        }
        if (this.ended !== undefined) {
          cleanup();
          reject(new Error(`${this.name} ended (${this.ended}) while the test waited for ${what}. Reports: ${JSON.stringify(this.reports)}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${this.name}: ${what}. Reports: ${JSON.stringify(this.reports)}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Sends a command and waits for the next report of `type`. */
  async ask<T extends OwnerReport['type']>(command: OwnerCommand, type: T, options: { readonly failure?: (report: OwnerReport) => boolean } = {}): Promise<Extract<OwnerReport, { type: T }>> {
    const seen = this.reports.length;
    this.send(command);
    const { failure } = options;
    const report = await this.waitFor(type, (candidate): candidate is Extract<OwnerReport, { type: T }> => candidate.type === type && this.reports.indexOf(candidate) >= seen, {
      ...(failure === undefined ? {} : { failure: (candidate: OwnerReport) => failure(candidate) && this.reports.indexOf(candidate) >= seen }),
    });
    return report;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.send({ type: 'exit' } satisfies OwnerCommand, () => undefined);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

const isReport =
  <T extends OwnerReport['type']>(type: T, runId?: string) =>
  (report: OwnerReport): report is Extract<OwnerReport, { type: T }> =>
    report.type === type && (runId === undefined || ('runId' in report && report.runId === runId));

/** A report that the owner emitted an event of `type` for `runId` on its `events$`. */
const isEvent =
  (type: SagaEvent['type'], runId: string) =>
  (report: OwnerReport): report is Extract<OwnerReport, { type: 'event' }> =>
    report.type === 'event' && report.event === type && report.runId === runId;

/** Another store on the owners' database, for an orchestrator in the test process. */
function openStore(config: OwnerConfig['store']): SagaStore {
  return config.kind === 'sqlite' ? new SqliteStore({ path: config.path }) : new PostgresStore({ connectionString: config.url, schema: config.schema });
}

/** `promise`, or a rejection saying what did not happen within `timeoutMs` (a deadline, not a sleep). */
async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

interface Backend {
  readonly store: OwnerConfig['store'];
  /** A store in the test process, to read journals. */
  readonly reader: SagaStore;
  /** Every effect so far, in the order it happened. */
  effects(): Promise<Array<{ runId: string; kind: string; process: string }>>;
  dispose(): Promise<void>;
}

const postgresUrl = await postgresForTests();

const backends: Array<[string, (() => Promise<Backend>) | undefined]> = [
  [
    'SqliteStore (two processes on one file)',
    async () => {
      const database: TempDatabase = tempDatabase();
      const reader = new SqliteStore({ path: database.path });
      await reader.listRuns({ limit: 1 });
      return {
        store: { kind: 'sqlite', path: database.path },
        reader,
        effects: () => {
          const db = new Database(database.path, { readonly: true });
          try {
            const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'effects'").get();
            if (exists === undefined) return Promise.resolve([]);
            return Promise.resolve(db.prepare('SELECT run_id AS runId, kind, process FROM effects ORDER BY id').all() as Array<{ runId: string; kind: string; process: string }>);
          } finally {
            db.close();
          }
        },
        dispose: async () => {
          await reader.close();
          await database.remove();
        },
      };
    },
  ],
  [
    'PostgresStore (two processes on one schema)',
    postgresUrl === undefined
      ? undefined
      : async () => {
          const url = postgresUrl;
          const schema = uniqueSchema('ownership');
          const reader = new PostgresStore({ connectionString: url, schema });
          await reader.listRuns({ limit: 1 });
          // The owners' effects table, made here: two processes racing to CREATE TABLE IF NOT EXISTS
          // can both try to create it, and one then dies of a duplicate key in pg_type.
          await withAdminClient(url, (client) => client.query(effectsTableSql(schema)));
          return {
            store: { kind: 'postgres', url, schema },
            reader,
            effects: () =>
              withAdminClient(url, async (client) => {
                const exists = await client.query('SELECT to_regclass($1) IS NOT NULL AS exists', [`"${schema}".effects`]);
                if (exists.rows[0]?.exists !== true) return [];
                const result = await client.query<{ runId: string; kind: string; process: string }>(`SELECT run_id AS "runId", kind, process FROM "${schema}".effects ORDER BY id`);
                return result.rows;
              }),
            dispose: async () => {
              await reader.close();
              await dropSchemas(url, schema);
            },
          };
        },
  ],
];

describe.each(backends)('ownership of in-process runs: %s', (_label, makeBackend) => {
  let backend: Backend;
  const owners: Owner[] = [];
  const owner = (name: string, leaseMs = LEASE_MS): Owner => {
    const started = new Owner(name, backend.store, leaseMs);
    owners.push(started);
    return started;
  };
  const journal = async (runId: string): Promise<readonly SagaEvent[]> => (await backend.reader.load(runId)) ?? [];

  beforeAll(async () => {
    if (makeBackend === undefined) return;
    backend = await makeBackend();
  });
  afterEach(async () => {
    await Promise.all(owners.splice(0).map((started) => started.stop()));
  });
  afterAll(async () => {
    await backend?.dispose();
  });

  it.runIf(makeBackend !== undefined)('a cancel from another process is a request the owner carries out: nothing is undone while the charge is still in flight', async () => {
    const a = owner('process-a', LIVE_LEASE_MS);
    const b = owner('process-b', LIVE_LEASE_MS);
    await Promise.all([a.waitFor('ready', isReport('ready')), b.waitFor('ready', isReport('ready'))]);
    const runId = 'cancel-from-elsewhere';
    a.send({ type: 'start', runId });
    await a.waitFor('the charge in flight', isReport('waiting', runId));

    // B asks; it records a request and returns; it compensates nothing itself.
    await b.ask({ type: 'cancel', runId, reason: 'customer asked' }, 'cancelled', { failure: isReport('error') });
    // The owner carries it out at its next heartbeat: it writes run.cancelling while the charge runs on.
    await a.waitFor('run.cancelling, written by the owner', isEvent('run.cancelling', runId), { failure: isReport('failed', runId) });
    expect((await backend.effects()).map((effect) => effect.kind)).toEqual(['reserve']);

    // The charge lands; only then is it refunded, by the owner.
    a.send({ type: 'open', gate: `charge:${runId}` });
    const outcome = await a.waitFor('the outcome', isReport('outcome', runId), { failure: isReport('failed', runId) });
    expect(outcome).toMatchObject({ status: 'cancelled', compensationOrder: ['charge', 'reserve'] });
    expect(await backend.effects()).toEqual([
      { runId, kind: 'reserve', process: 'process-a' },
      { runId, kind: 'charge', process: 'process-a' },
      { runId, kind: 'refund', process: 'process-a' },
      { runId, kind: 'release', process: 'process-a' },
    ]);
    expect(a.reports.filter((report) => report.type === 'failed')).toEqual([]);
    const cancelling = (await journal(runId)).find((event) => event.type === 'run.cancelling');
    expect(cancelling).toMatchObject({ reason: 'customer asked', by: 'external' });
  });

  it.runIf(makeBackend !== undefined)('recover() next to a live process takes none of its runs, and says why', async () => {
    const a = owner('process-a', LIVE_LEASE_MS);
    const b = owner('process-b', LIVE_LEASE_MS);
    await Promise.all([a.waitFor('ready', isReport('ready')), b.waitFor('ready', isReport('ready'))]);
    const runIds = Array.from({ length: 6 }, (_, index) => `live-${index}`);
    for (const runId of runIds) a.send({ type: 'start', runId });
    await Promise.all(runIds.map((runId) => a.waitFor(`${runId} in flight`, isReport('waiting', runId))));

    const recovered = await b.ask({ type: 'recover' }, 'recovered');
    expect(recovered.runIds).toEqual([]);
    expect(recovered.skipped.filter((skipped) => runIds.includes(skipped.runId)).map((skipped) => [skipped.runId, skipped.reason])).toEqual(runIds.map((runId) => [runId, 'owned']));
    expect(recovered.skipped[0]?.detail).toContain('process-a');

    for (const runId of runIds) a.send({ type: 'open', gate: `charge:${runId}` });
    const outcomes = await Promise.all(runIds.map((runId) => a.waitFor(`${runId} settled`, isReport('outcome', runId))));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(runIds.map(() => 'completed'));
    const charges = (await backend.effects()).filter((effect) => effect.kind === 'charge' && runIds.includes(effect.runId));
    expect(charges.map((effect) => [effect.runId, effect.process]).sort()).toEqual(runIds.map((runId) => [runId, 'process-a']).sort());
    expect([...a.reports, ...b.reports].filter((report) => report.type === 'failed' || report.type === 'error')).toEqual([]);
  });

  it.runIf(makeBackend !== undefined)(
    'an owner that closes with a timeout while its charge is still on its way keeps the run until its lease expires: the charge is never run by two processes at once',
    async () => {
      const a = owner('process-a');
      const b = owner('process-b');
      await Promise.all([a.waitFor('ready', isReport('ready')), b.waitFor('ready', isReport('ready'))]);
      const runId = 'closed-mid-charge';
      a.send({ type: 'start', runId });
      await a.waitFor('the charge in flight', isReport('waiting', runId));
      // A shuts its orchestrator down with a bound, its process still alive and the charge (which
      // ignores its aborted signal) still on its way.
      await a.ask({ type: 'close', timeoutMs: 50 }, 'closed');
      await a.waitFor('the run left in place', isReport('failed', runId));

      const early = await b.ask({ type: 'recover' }, 'recovered');
      expect(early.runIds).not.toContain(runId);
      expect(early.skipped.find((skipped) => skipped.runId === runId)?.reason).toBe('owned');

      // The charge lands in A; the run is taken over once A's lease has expired, and charged again (same key).
      a.send({ type: 'open', gate: `charge:${runId}` });
      await expect.poll(async () => (await backend.effects()).some((effect) => effect.runId === runId && effect.kind === 'charge')).toBe(true);
      b.send({ type: 'open', gate: `charge:${runId}` });
      await expect
        .poll(async () => (await b.ask({ type: 'recover' }, 'recovered')).runIds.includes(runId), { timeout: LEASE_MS * 10, interval: LEASE_MS / 4 })
        .toBe(true);
      expect(await b.waitFor('the outcome', isReport('outcome', runId))).toMatchObject({ status: 'completed' });
      expect((await backend.effects()).filter((effect) => effect.runId === runId).map((effect) => `${effect.kind}@${effect.process}`)).toEqual([
        'reserve@process-a',
        'charge@process-a',
        'charge@process-b',
      ]);
    },
  );

  it.runIf(makeBackend !== undefined)('after its owner dies, a run is taken over only once the lease has expired; the stage in flight runs again', async () => {
    const a = owner('process-a');
    const b = owner('process-b');
    await Promise.all([a.waitFor('ready', isReport('ready')), b.waitFor('ready', isReport('ready'))]);
    const runId = 'owner-died';
    a.send({ type: 'start', runId });
    await a.waitFor('the charge in flight', isReport('waiting', runId));
    a.signal('SIGKILL');

    // Its lease outlives it: nobody takes the run over yet.
    const early = await b.ask({ type: 'recover' }, 'recovered');
    expect(early.runIds).not.toContain(runId);
    expect(early.skipped.find((skipped) => skipped.runId === runId)?.reason).toBe('owned');

    // Once it has expired, recover() takes it over.
    await expect
      .poll(async () => (await b.ask({ type: 'recover' }, 'recovered')).runIds.includes(runId), { timeout: LEASE_MS * 10, interval: LEASE_MS / 4 })
      .toBe(true);
    await b.waitFor('the charge in flight again', isReport('waiting', runId));
    b.send({ type: 'open', gate: `charge:${runId}` });
    expect(await b.waitFor('the outcome', isReport('outcome', runId))).toMatchObject({ status: 'completed' });
    const events = await journal(runId);
    expect(events.filter((event) => event.type === 'run.resumed')).toHaveLength(1);
    expect(events.filter((event) => event.type === 'stage.started' && event.stage === 'charge').map((event) => ('attempt' in event ? event.attempt : 0))).toEqual([1, 2]);
    expect((await backend.effects()).filter((effect) => effect.runId === runId).map((effect) => `${effect.kind}@${effect.process}`)).toEqual(['reserve@process-a', 'charge@process-b']);
  });

  it.runIf(makeBackend !== undefined)(
    'cancel(runId) of a run whose owner was SIGKILLed mid-charge, once its lease has expired: this process takes it over and rolls it back; the charge is not run again, and is compensated as outcome unknown',
    async () => {
      const a = owner('process-a');
      const b = owner('process-b');
      await Promise.all([a.waitFor('ready', isReport('ready')), b.waitFor('ready', isReport('ready'))]);
      const runId = 'cancel-after-owner-died';
      a.send({ type: 'start', runId });
      await a.waitFor('the charge in flight', isReport('waiting', runId));
      a.signal('SIGKILL');
      await expect.poll(async () => (await backend.reader.leaseOf(runId))?.live ?? false, { timeout: LEASE_MS * 10, interval: LEASE_MS / 4 }).toBe(false);

      await b.ask({ type: 'cancel', runId, reason: 'owner gone' }, 'cancelled', { failure: isReport('error') });
      // The charge running again here (its gate reached in this process) would be a failure.
      await b.waitFor('the rollback, by this process', isEvent('run.cancelled', runId), { failure: (report) => isReport('error')(report) || isReport('waiting', runId)(report) });
      const events = await journal(runId);
      expect(events.filter((event) => event.type === 'run.resumed')).toHaveLength(1);
      expect(events.find((event) => event.type === 'run.cancelling')).toMatchObject({ reason: 'owner gone', by: 'external' });
      expect(events.filter((event) => event.type === 'stage.started' && event.stage === 'charge')).toHaveLength(1);
      const outcome = await createOrchestrator({ store: backend.reader }).inspect(runId);
      expect(outcome).toMatchObject({ status: 'cancelled', cancellation: { reason: 'owner gone', by: 'external' }, compensationOrder: ['charge', 'reserve'] });
      expect((await backend.effects()).filter((effect) => effect.runId === runId).map((effect) => `${effect.kind}@${effect.process}`)).toEqual([
        'reserve@process-a',
        'refund (outcome unknown)@process-b',
        'release@process-b',
      ]);
    },
  );

  it.runIf(makeBackend !== undefined)(
    'recover({ waitForLeases: true }) right after the owner is SIGKILLed takes its run over in the same call, once the lease has lapsed; a live owner keeps its run',
    async () => {
      const a = owner('process-a');
      const live = owner('process-live', LIVE_LEASE_MS);
      await Promise.all([a.waitFor('ready', isReport('ready')), live.waitFor('ready', isReport('ready'))]);
      const [dead, kept] = ['wait-dead-owner', 'wait-live-owner'];
      a.send({ type: 'start', runId: dead });
      live.send({ type: 'start', runId: kept });
      await Promise.all([a.waitFor('the charge in flight', isReport('waiting', dead)), live.waitFor('the charge in flight', isReport('waiting', kept))]);
      a.signal('SIGKILL');
      // As a restarted process does at start-up, within the dead one's lease.
      const b = owner('process-b');
      await b.waitFor('ready', isReport('ready'));
      const recovered = await b.ask({ type: 'recover', waitForLeases: true }, 'recovered', { failure: isReport('error') });
      expect(recovered.runIds).toEqual([dead]);
      expect(recovered.skipped.map(({ runId, reason }) => [runId, reason])).toEqual([[kept, 'owned']]);
      await b.waitFor('the charge in flight again', isReport('waiting', dead));
      b.send({ type: 'open', gate: `charge:${dead}` });
      expect(await b.waitFor('the outcome', isReport('outcome', dead))).toMatchObject({ status: 'completed' });
      // The live owner's run was never touched: no run.resumed, its charge still its own.
      expect((await journal(kept)).filter((event) => event.type === 'run.resumed')).toEqual([]);
      live.send({ type: 'open', gate: `charge:${kept}` });
      expect(await live.waitFor('the outcome', isReport('outcome', kept))).toMatchObject({ status: 'completed' });
      // One charge each (the dead owner died before its charge landed), by the process that drove it to the end.
      const charges = (await backend.effects()).filter((effect) => effect.kind === 'charge' && (effect.runId === dead || effect.runId === kept));
      expect(charges.map((effect) => `${effect.runId}@${effect.process}`).sort()).toEqual([`${dead}@process-b`, `${kept}@process-live`].sort());
    },
  );

  it.runIf(makeBackend !== undefined)(
    'signal() to a run whose owner is SIGKILLed after signal() found its live lease does not hang: once the lease lapses, it takes the run over and delivers the signal',
    async () => {
      const a = owner('process-a');
      await a.waitFor('ready', isReport('ready'));
      const runId = 'signal-owner-died';
      await a.ask({ type: 'start-approval', runId }, 'wait-started');
      // Frozen, the owner delivers nothing; then it dies, its lease still live.
      a.signal('SIGSTOP');
      const store = openStore(backend.store);
      const recorded = deferred();
      const requestSignal = store.requestSignal?.bind(store);
      // signal() records its request only after it found the owner's live lease.
      store.requestSignal = async (request) => {
        await requestSignal?.(request);
        recorded.resolve();
      };
      const sender = createOrchestrator({ store, sagas: [approval], leaseMs: LEASE_MS, ownerId: 'sender', onError: () => undefined });
      try {
        const sent = sender.signal(runId, 'approved', { by: 'ops' }, { signalId: 'ops-1' });
        await recorded.promise;
        a.signal('SIGKILL');
        await expect(within(sent, LEASE_MS * 15, 'signal() had not resolved')).resolves.toEqual({ accepted: true, signalId: 'ops-1', delivered: 'waiting' });
        // The sender drives the run now; close() waits for it to settle.
        await sender.close();
        const outcome = await sender.inspect(runId);
        expect(outcome).toMatchObject({ status: 'completed', outputs: { approve: { by: 'ops' }, pay: 'approved by ops' } });
        const events = await journal(runId);
        expect(events.filter((event) => event.type === 'run.resumed')).toHaveLength(1);
        expect(events.flatMap((event) => (event.type === 'signal.received' ? [[event.signalId, event.stage]] : []))).toEqual([['ops-1', 'approve']]);
      } finally {
        await sender.close();
        await store.close();
      }
    },
  );

  it.runIf(makeBackend !== undefined)(
    'with timeoutMs, signal() to a frozen owner rejects with SignalTimeoutError naming run and signal; the request stays recorded and the next owner journals it',
    async () => {
      const a = owner('process-a');
      const b = owner('process-b');
      await Promise.all([a.waitFor('ready', isReport('ready')), b.waitFor('ready', isReport('ready'))]);
      const runId = 'signal-timed-out';
      await a.ask({ type: 'start-approval', runId }, 'wait-started');
      a.signal('SIGSTOP');
      const store = openStore(backend.store);
      const sender = createOrchestrator({ store, sagas: [approval], leaseMs: LEASE_MS, ownerId: 'sender', onError: () => undefined });
      try {
        const failed = await sender.signal(runId, 'approved', { by: 'ops' }, { signalId: 'ops-2', timeoutMs: 200 }).catch((error: unknown) => error);
        expect(failed).toBeInstanceOf(SignalTimeoutError);
        expect(failed).toMatchObject({ code: 'SIGNAL_TIMEOUT', saga: 'approval', runId, signal: 'approved', signalId: 'ops-2', timeoutMs: 200, owner: 'process-a' });
        expect((failed as Error).message).toBe(
          `Signal 'approved' (id ops-2) to run ${runId} of saga 'approval' was not journaled by process-a within 200 ms; its request stays recorded in the store and is journaled when the run is next driven (send it again with signalId ops-2 to learn its result).`,
        );
        a.signal('SIGKILL');
        // Another process takes the run over once the lease has lapsed, and journals the recorded request.
        await expect
          .poll(async () => (await b.ask({ type: 'recover' }, 'recovered')).runIds.includes(runId), { timeout: LEASE_MS * 10, interval: LEASE_MS / 4 })
          .toBe(true);
        expect(await b.waitFor('the outcome', isReport('outcome', runId))).toMatchObject({ status: 'completed' });
        const events = await journal(runId);
        expect(events.flatMap((event) => (event.type === 'signal.received' ? [[event.signalId, event.stage]] : []))).toEqual([['ops-2', 'approve']]);
        // The sender gave up waiting and took nothing over: one takeover, by process-b.
        expect(events.filter((event) => event.type === 'run.resumed')).toHaveLength(1);
        expect(await sender.inspect(runId)).toMatchObject({ status: 'completed', outputs: { pay: 'approved by ops' } });
        await expect(sender.signal(runId, 'approved', { by: 'ops' }, { signalId: 'ops-2' })).resolves.toEqual({ accepted: false, signalId: 'ops-2', duplicate: true });
      } finally {
        await sender.close();
        await store.close();
      }
    },
  );

  it.runIf(makeBackend !== undefined)('a frozen owner whose run was taken over writes nothing more: its appends are fenced', async () => {
    const a = owner('process-a');
    const b = owner('process-b');
    await Promise.all([a.waitFor('ready', isReport('ready')), b.waitFor('ready', isReport('ready'))]);
    const runId = 'owner-frozen';
    a.send({ type: 'start', runId });
    await a.waitFor('the charge in flight', isReport('waiting', runId));
    a.signal('SIGSTOP');
    try {
      await expect
        .poll(async () => (await b.ask({ type: 'recover' }, 'recovered')).runIds.includes(runId), { timeout: LEASE_MS * 10, interval: LEASE_MS / 4 })
        .toBe(true);
      b.send({ type: 'open', gate: `charge:${runId}` });
      expect(await b.waitFor('the outcome', isReport('outcome', runId))).toMatchObject({ status: 'completed' });
    } finally {
      a.signal('SIGCONT');
    }
    const settled = await journal(runId);
    // The old owner wakes up, its charge completes, and the store refuses what it writes.
    a.send({ type: 'open', gate: `charge:${runId}` });
    const failed = await a.waitFor('the old owner gives up', isReport('failed', runId));
    expect(failed.name).toBe('LeaseLostError');
    expect(await journal(runId)).toEqual(settled);
    expect(settled[settled.length - 1]?.type).toBe('run.completed');
  });
}, 120_000);
