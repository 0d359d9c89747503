/**
 * A process that owns runs: an orchestrator on a shared store (SQLite file or PostgreSQL schema),
 * driven by its parent over IPC. Its `payment` saga records every effect (charge, refund) in a
 * table of the same database, so the parent can check what happened, in what order, and by whom.
 *
 * Its `approval` saga (from wait-sagas.ts, which the parent registers too) waits for a signal.
 *
 * Commands (parent → child): start, start-approval, recover, cancel, open (a gate a stage waits on),
 * close (the orchestrator, with a timeout; the process lives on), exit.
 * Reports (child → parent): ready, started, wait-started, outcome, failed, recovered, cancelled, closed, error, event.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { z } from 'zod';
import { filter, firstValueFrom } from 'rxjs';
import { createOrchestrator, defineSaga, type SagaEvent, type SagaStore } from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { SqliteStore } from 'sagaflow/sqlite';
import { effectsTableSql } from './owner-effects.js';
import { approval } from './wait-sagas.js';

/** What the parent passes in SAGAFLOW_OWNER (JSON). */
export interface OwnerConfig {
  readonly name: string;
  readonly store: { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'postgres'; readonly url: string; readonly schema: string };
  readonly leaseMs: number;
}

/** A command from the parent. */
export type OwnerCommand =
  | { readonly type: 'start'; readonly runId: string }
  | { readonly type: 'start-approval'; readonly runId: string }
  | { readonly type: 'recover'; readonly waitForLeases?: boolean }
  | { readonly type: 'cancel'; readonly runId: string; readonly reason: string }
  | { readonly type: 'open'; readonly gate: string }
  | { readonly type: 'close'; readonly timeoutMs: number }
  | { readonly type: 'exit' };

/** A report to the parent. */
export type OwnerReport =
  | { readonly type: 'ready' }
  | { readonly type: 'started'; readonly runId: string }
  | { readonly type: 'wait-started'; readonly runId: string }
  | { readonly type: 'outcome'; readonly runId: string; readonly status: string; readonly compensationOrder: readonly string[] }
  | { readonly type: 'failed'; readonly runId: string; readonly name: string; readonly message: string }
  | { readonly type: 'recovered'; readonly runIds: readonly string[]; readonly skipped: ReadonlyArray<{ runId: string; reason: string; detail: string }> }
  | { readonly type: 'cancelled'; readonly runId: string }
  | { readonly type: 'closed' }
  | { readonly type: 'waiting'; readonly runId: string; readonly gate: string }
  | { readonly type: 'event'; readonly runId: string; readonly event: SagaEvent['type'] }
  | { readonly type: 'error'; readonly name: string; readonly message: string };

const config = JSON.parse(process.env['SAGAFLOW_OWNER'] ?? '{}') as OwnerConfig;
const send = (report: OwnerReport): void => {
  process.send?.(report);
};

/** The effects table: one row per side effect, in the order they happened (across processes). */
interface Effects {
  record(runId: string, stage: string, kind: string): Promise<void>;
  close(): Promise<void>;
}

async function openEffects(): Promise<Effects> {
  if (config.store.kind === 'sqlite') {
    const db = new Database(config.store.path);
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.exec('CREATE TABLE IF NOT EXISTS effects (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT, stage TEXT, kind TEXT, process TEXT)');
    const insert = db.prepare('INSERT INTO effects (run_id, stage, kind, process) VALUES (?, ?, ?, ?)');
    return {
      record: (runId, stage, kind) => {
        insert.run(runId, stage, kind, config.name);
        return Promise.resolve();
      },
      close: () => {
        db.close();
        return Promise.resolve();
      },
    };
  }
  const pool = new pg.Pool({ connectionString: config.store.url, max: 2 });
  const table = `"${config.store.schema}".effects`;
  // The parent made the schema and the table (two owners creating them at once could collide).
  await pool.query(effectsTableSql(config.store.schema));
  return {
    record: async (runId, stage, kind) => {
      await pool.query(`INSERT INTO ${table} (run_id, stage, kind, process) VALUES ($1, $2, $3, $4)`, [runId, stage, kind, config.name]);
    },
    close: () => pool.end(),
  };
}

const gates = new Map<string, () => void>();
const opened = new Set<string>();
/** Resolves once the parent opens the gate (a stage blocked there looks like a slow remote call). */
function gate(name: string, runId: string): Promise<void> {
  if (opened.has(name)) return Promise.resolve();
  send({ type: 'waiting', runId, gate: name });
  return new Promise((resolve) => gates.set(name, resolve));
}

const effects = await openEffects();
const payment = defineSaga({ name: 'payment', input: z.object({ cents: z.number() }) })
  .stage('reserve', {
    execute: async ({ runId }) => {
      await effects.record(runId, 'reserve', 'reserve');
      return { held: true };
    },
    compensate: async ({ runId }) => effects.record(runId, 'reserve', 'release'),
  })
  .stage('charge', {
    // A charge takes as long as the parent says: it ignores its abort signal, as a remote call
    // already sent would, so a cancel cannot stop it, only settle it afterwards.
    execute: async ({ runId }) => {
      await gate(`charge:${runId}`, runId);
      await effects.record(runId, 'charge', 'charge');
      return { chargeId: `ch-${runId}` };
    },
    // An unknown outcome (the charge was in flight in a process that died) is recorded as such.
    compensate: async ({ runId, outcome }) => effects.record(runId, 'charge', outcome === 'completed' ? 'refund' : 'refund (outcome unknown)'),
  })
  .build();

const store: SagaStore =
  config.store.kind === 'sqlite' ? new SqliteStore({ path: config.store.path }) : new PostgresStore({ connectionString: config.store.url, schema: config.store.schema });
const orchestrator = createOrchestrator({ store, sagas: [payment, approval], leaseMs: config.leaseMs, ownerId: config.name, onError: () => undefined });
// Every event this process appended, as it is appended: the parent awaits them instead of polling the store.
orchestrator.events$.subscribe((event) => send({ type: 'event', runId: event.runId, event: event.type }));

function follow(runId: string, outcome: Promise<{ status: string; compensationOrder: readonly string[] }>): void {
  outcome.then(
    (settled) => send({ type: 'outcome', runId, status: settled.status, compensationOrder: settled.compensationOrder }),
    (error: unknown) => send({ type: 'failed', runId, name: error instanceof Error ? error.name : 'Error', message: error instanceof Error ? error.message : String(error) }),
  );
}

process.on('message', (command: OwnerCommand) => {
  void (async () => {
    try {
      switch (command.type) {
        case 'start': {
          const run = orchestrator.start(payment, { cents: 2_500 }, { runId: command.runId });
          send({ type: 'started', runId: run.runId });
          follow(run.runId, run.outcome);
          return;
        }
        case 'start-approval': {
          const run = orchestrator.start(approval, { cents: 700 }, { runId: command.runId });
          follow(run.runId, run.outcome);
          // Reported once the wait is durable: the run then waits for its signal, holding its lease.
          await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'wait.started')));
          send({ type: 'wait-started', runId: run.runId });
          return;
        }
        case 'recover': {
          const recovered = await orchestrator.recover(command.waitForLeases === undefined ? undefined : { waitForLeases: command.waitForLeases });
          for (const run of recovered) follow(run.runId, run.outcome);
          send({ type: 'recovered', runIds: recovered.map((run) => run.runId), skipped: recovered.skipped.map(({ runId, reason, detail }) => ({ runId, reason, detail })) });
          return;
        }
        case 'cancel':
          await orchestrator.cancel(command.runId, command.reason);
          send({ type: 'cancelled', runId: command.runId });
          return;
        case 'open':
          opened.add(command.gate);
          gates.get(command.gate)?.();
          return;
        case 'close':
          await orchestrator.close({ timeoutMs: command.timeoutMs });
          send({ type: 'closed' });
          return;
        case 'exit':
          await orchestrator.close({ timeoutMs: 1_000 });
          await store.close();
          await effects.close();
          process.exit(0);
      }
    } catch (error) {
      send({ type: 'error', name: error instanceof Error ? error.name : 'Error', message: error instanceof Error ? error.message : String(error) });
    }
  })();
});
send({ type: 'ready' });
