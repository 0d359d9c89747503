import Database from 'better-sqlite3';

/** Which of a stage's functions produced an effect. */
export type EffectKind = 'execute' | 'compensate';

/** One invocation of a stage function, as the stage itself recorded it. */
export interface LedgerEntry {
  /** Global order of invocations, across every process that wrote the ledger. */
  readonly id: number;
  readonly runId: string;
  readonly stage: string;
  readonly kind: EffectKind;
  readonly idempotencyKey: string;
  readonly attempt: number;
  /** `compensate` only: whether it was given the stage's output (`false`: nothing to undo, or unknown). */
  readonly hasOutput: boolean;
  /** The process that made the call. */
  readonly pid: number;
}

/** What an idempotent receiver keyed by (idempotency key, stage, kind) saw. */
export interface LedgerEffect {
  readonly idempotencyKey: string;
  readonly stage: string;
  readonly kind: EffectKind;
  readonly runId: string;
  /** How many calls arrived with this key; the effect itself is applied once. */
  readonly calls: number;
}

/**
 * The outside world of the crash tests: a SQLite file, separate from the saga store, that
 * stages write their effects to, so assertions check real effects across processes.
 *
 * @remarks
 * `ledger` is keyed like an idempotent receiver (one row per key, stage and kind, counting
 * the calls); `ledger_calls` keeps every call in a global order. Each `record` is one
 * transaction: committed (WAL) before the stage returns, so it survives a SIGKILL.
 */
export class Ledger {
  private readonly db: Database.Database;
  private readonly insertCall: Database.Statement<[string, string, string, string, number, number, number]>;
  private readonly upsertEffect: Database.Statement<[string, string, string, string]>;

  constructor(path: string) {
    this.db = new Database(path, { timeout: 10_000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS ledger (
        idempotency_key TEXT NOT NULL,
        stage           TEXT NOT NULL,
        kind            TEXT NOT NULL,
        run_id          TEXT NOT NULL,
        calls           INTEGER NOT NULL,
        PRIMARY KEY (idempotency_key, stage, kind)
      );
      CREATE TABLE IF NOT EXISTS ledger_calls (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id          TEXT NOT NULL,
        stage           TEXT NOT NULL,
        kind            TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        attempt         INTEGER NOT NULL,
        has_output      INTEGER NOT NULL,
        pid             INTEGER NOT NULL
      );
    `);
    this.insertCall = this.db.prepare(
      'INSERT INTO ledger_calls (run_id, stage, kind, idempotency_key, attempt, has_output, pid) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.upsertEffect = this.db.prepare(
      `INSERT INTO ledger (idempotency_key, stage, kind, run_id, calls) VALUES (?, ?, ?, ?, 1)
       ON CONFLICT (idempotency_key, stage, kind) DO UPDATE SET calls = calls + 1`,
    );
  }

  /** Records one call, atomically, before the stage function returns. */
  record(entry: Omit<LedgerEntry, 'id' | 'pid'>): void {
    this.db.transaction(() => {
      this.insertCall.run(entry.runId, entry.stage, entry.kind, entry.idempotencyKey, entry.attempt, entry.hasOutput ? 1 : 0, process.pid);
      this.upsertEffect.run(entry.idempotencyKey, entry.stage, entry.kind, entry.runId);
    })();
  }

  /** Every call, in the order they were made. */
  calls(): LedgerEntry[] {
    const rows = this.db
      .prepare('SELECT id, run_id, stage, kind, idempotency_key, attempt, has_output, pid FROM ledger_calls ORDER BY id')
      .raw()
      .all() as Array<[number, string, string, EffectKind, string, number, number, number]>;
    return rows.map(([id, runId, stage, kind, idempotencyKey, attempt, hasOutput, pid]) => ({
      id,
      runId,
      stage,
      kind,
      idempotencyKey,
      attempt,
      hasOutput: hasOutput === 1,
      pid,
    }));
  }

  /** One row per (idempotency key, stage, kind). */
  effects(): LedgerEffect[] {
    const rows = this.db.prepare('SELECT idempotency_key, stage, kind, run_id, calls FROM ledger ORDER BY run_id, stage, kind').raw().all() as Array<
      [string, string, EffectKind, string, number]
    >;
    return rows.map(([idempotencyKey, stage, kind, runId, calls]) => ({ idempotencyKey, stage, kind, runId, calls }));
  }

  close(): void {
    this.db.close();
  }
}
