import { NonRetryableError } from 'sagaflow';
import { v7 as uuidv7 } from 'uuid';
import type { SqlDatabase, SqlExecutor } from '../support/sql-database.js';

/** One line of a bank's ledger. */
export interface LedgerEntry {
  /** The entry's id (uuid v7: sorts by creation). */
  readonly entryId: string;
  /** The bank whose ledger holds it. */
  readonly bank: string;
  /** The account it moved money in or out of. */
  readonly account: string;
  /** `debit` takes money out, `credit` puts it in, `reversal` undoes another entry. */
  readonly kind: 'debit' | 'credit' | 'reversal';
  /** The change to the account's balance, in cents: negative for a debit. */
  readonly cents: number;
  /** The caller's idempotency key: unique in this ledger. */
  readonly idempotencyKey: string;
  /** What the money movement belongs to (the demo uses `<runId>/<stage>`). */
  readonly reference: string;
  /** The entry this one reverses, for a reversal. */
  readonly reverses: string | null;
}

/** A debit or credit request. */
export interface Movement {
  /** The account to move money out of or into. */
  readonly account: string;
  /** How much, in cents (> 0). */
  readonly cents: number;
  /** The ledger's unique key: a request with a key already seen returns the entry made then. */
  readonly idempotencyKey: string;
  /** What the movement belongs to, to find it again when the caller does not know its outcome. */
  readonly reference: string;
}

/**
 * A bank's ledger: accounts and an append-only list of entries, where every entry is made
 * under a unique idempotency key so a retried, resumed or duplicated request never moves money
 * twice.
 */
export interface Ledger {
  /** The bank's name. */
  readonly bank: string;
  /** Creates the ledger's tables if needed. */
  ready(): Promise<void>;
  /** Opens an account with an opening balance, unless it exists already. */
  openAccount(account: string, openingCents: number): Promise<void>;
  /**
   * Takes money out of an account.
   *
   * @throws {@link InsufficientFundsError} or {@link UnknownAccountError} (neither is retried).
   */
  debit(movement: Movement): Promise<LedgerEntry>;
  /**
   * Puts money into an account.
   *
   * @throws {@link UnknownAccountError}.
   */
  credit(movement: Movement): Promise<LedgerEntry>;
  /**
   * Undoes an entry with a reversal entry, at most once whatever the key.
   *
   * @returns the reversal, or `undefined` when there is no such entry (nothing to undo).
   */
  reverse(entryId: string, idempotencyKey: string): Promise<LedgerEntry | undefined>;
  /** The entry made under an idempotency key, if any. */
  entry(idempotencyKey: string): Promise<LedgerEntry | undefined>;
  /** The entries with this reference, oldest first. */
  entries(reference: string): Promise<LedgerEntry[]>;
  /** Every account's balance in cents. */
  balances(): Promise<Readonly<Record<string, number>>>;
}

/** The account does not hold enough money: retrying will not help. */
export class InsufficientFundsError extends NonRetryableError {
  override readonly name = 'InsufficientFundsError';
}

/** The account does not exist at this bank: retrying will not help. */
export class UnknownAccountError extends NonRetryableError {
  override readonly name = 'UnknownAccountError';
}

/** An idempotency key came back with a different request: a bug in the caller, not retried. */
export class IdempotencyKeyReusedError extends NonRetryableError {
  override readonly name = 'IdempotencyKeyReusedError';
}

interface EntryRow {
  readonly entry_id: string;
  readonly account: string;
  readonly kind: string;
  readonly cents: number | string;
  readonly idempotency_key: string;
  readonly reference: string;
  readonly reverses: string | null;
}

/**
 * {@link Ledger} on SQL tables `bank_<name>_accounts` and `bank_<name>_entries`: the same code
 * on SQLite and PostgreSQL.
 *
 * @remarks
 * The idempotency key is the entries table's unique key. A request inserts its entry with
 * `ON CONFLICT DO NOTHING` first and moves the balance only if the insert happened, in one
 * transaction; a duplicate finds the entry already there (on PostgreSQL a concurrent duplicate
 * waits for the first to commit) and returns it. A reversal is unique per reversed entry, so an
 * entry is undone at most once even under two different keys.
 */
export class SqlLedger implements Ledger {
  private readonly accounts: string;
  private readonly ledger: string;
  private prepared: Promise<void> | undefined;

  constructor(
    private readonly db: SqlDatabase,
    readonly bank: string,
  ) {
    if (!/^[a-z][a-z0-9_]{0,30}$/.test(bank)) throw new TypeError(`'${bank}' is not a bank name: use lowercase letters, digits and _.`);
    this.accounts = `bank_${bank}_accounts`;
    this.ledger = `bank_${bank}_entries`;
  }

  ready(): Promise<void> {
    this.prepared ??= this.db.migrate([
      `CREATE TABLE IF NOT EXISTS ${this.accounts} (
         account       TEXT    NOT NULL PRIMARY KEY,
         balance_cents INTEGER NOT NULL
       )`,
      `CREATE TABLE IF NOT EXISTS ${this.ledger} (
         entry_id        TEXT    NOT NULL PRIMARY KEY,
         idempotency_key TEXT    NOT NULL UNIQUE,
         account         TEXT    NOT NULL,
         kind            TEXT    NOT NULL CHECK (kind IN ('debit', 'credit', 'reversal')),
         cents           INTEGER NOT NULL,
         reference       TEXT    NOT NULL,
         reverses        TEXT    UNIQUE
       )`,
      `CREATE INDEX IF NOT EXISTS ${this.ledger}_by_reference ON ${this.ledger} (reference)`,
    ]);
    return this.prepared;
  }

  async openAccount(account: string, openingCents: number): Promise<void> {
    await this.ready();
    await this.db.query(`INSERT INTO ${this.accounts} (account, balance_cents) VALUES (?, ?) ON CONFLICT DO NOTHING`, [account, openingCents]);
  }

  debit(movement: Movement): Promise<LedgerEntry> {
    return this.move('debit', movement);
  }

  credit(movement: Movement): Promise<LedgerEntry> {
    return this.move('credit', movement);
  }

  async reverse(entryId: string, idempotencyKey: string): Promise<LedgerEntry | undefined> {
    await this.ready();
    return this.db.transaction(async (tx) => {
      const inserted = await tx.query<EntryRow>(
        `INSERT INTO ${this.ledger} (entry_id, idempotency_key, account, kind, cents, reference, reverses)
         SELECT ?, ?, account, 'reversal', -cents, reference, entry_id FROM ${this.ledger} WHERE entry_id = ? AND kind <> 'reversal'
         ON CONFLICT DO NOTHING
         RETURNING *`,
        [uuidv7(), idempotencyKey, entryId],
      );
      const reversal = inserted[0];
      if (reversal !== undefined) {
        await tx.query(`UPDATE ${this.accounts} SET balance_cents = balance_cents + ? WHERE account = ?`, [Number(reversal.cents), reversal.account]);
        return this.toEntry(reversal);
      }
      // Nothing inserted: already reversed (return that reversal), or no such entry.
      const existing = await tx.query<EntryRow>(`SELECT * FROM ${this.ledger} WHERE reverses = ?`, [entryId]);
      return existing[0] === undefined ? undefined : this.toEntry(existing[0]);
    });
  }

  async entry(idempotencyKey: string): Promise<LedgerEntry | undefined> {
    await this.ready();
    const rows = await this.db.query<EntryRow>(`SELECT * FROM ${this.ledger} WHERE idempotency_key = ?`, [idempotencyKey]);
    return rows[0] === undefined ? undefined : this.toEntry(rows[0]);
  }

  async entries(reference: string): Promise<LedgerEntry[]> {
    await this.ready();
    const rows = await this.db.query<EntryRow>(`SELECT * FROM ${this.ledger} WHERE reference = ? ORDER BY entry_id`, [reference]);
    return rows.map((row) => this.toEntry(row));
  }

  async balances(): Promise<Readonly<Record<string, number>>> {
    await this.ready();
    const rows = await this.db.query<{ account: string; balance_cents: number | string }>(
      `SELECT account, balance_cents FROM ${this.accounts} ORDER BY account`,
    );
    return Object.fromEntries(rows.map((row) => [row.account, Number(row.balance_cents)]));
  }

  private async move(kind: 'debit' | 'credit', movement: Movement): Promise<LedgerEntry> {
    if (!Number.isInteger(movement.cents) || movement.cents <= 0) throw new TypeError(`A ${kind} moves a whole, positive number of cents, not ${movement.cents}.`);
    await this.ready();
    const change = kind === 'debit' ? -movement.cents : movement.cents;
    return this.db.transaction(async (tx) => {
      const inserted = await tx.query<EntryRow>(
        `INSERT INTO ${this.ledger} (entry_id, idempotency_key, account, kind, cents, reference, reverses)
         VALUES (?, ?, ?, ?, ?, ?, NULL)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING *`,
        [uuidv7(), movement.idempotencyKey, movement.account, kind, change, movement.reference],
      );
      const entry = inserted[0];
      if (entry === undefined) return this.replay(tx, kind, change, movement);
      const moved = await tx.query(
        `UPDATE ${this.accounts} SET balance_cents = balance_cents + ? WHERE account = ? AND balance_cents + ? >= 0 RETURNING balance_cents`,
        [change, movement.account, change],
      );
      if (moved.length === 0) {
        const account = await tx.query<{ balance_cents: number | string }>(`SELECT balance_cents FROM ${this.accounts} WHERE account = ?`, [movement.account]);
        const found = account[0];
        // Throwing rolls the entry back with the transaction.
        if (found === undefined) throw new UnknownAccountError(`${this.bank} bank has no account '${movement.account}'`);
        throw new InsufficientFundsError(
          `${this.bank}/${movement.account} holds ${formatCents(Number(found.balance_cents))}, less than the ${formatCents(movement.cents)} to debit`,
        );
      }
      return this.toEntry(entry);
    });
  }

  /** The key was used before: return that entry, if it is the same request. */
  private async replay(tx: SqlExecutor, kind: 'debit' | 'credit', change: number, movement: Movement): Promise<LedgerEntry> {
    const rows = await tx.query<EntryRow>(`SELECT * FROM ${this.ledger} WHERE idempotency_key = ?`, [movement.idempotencyKey]);
    const row = rows[0];
    if (row === undefined) throw new Error(`${this.bank} bank: entry with key ${movement.idempotencyKey} vanished; retry`);
    if (row.kind !== kind || Number(row.cents) !== change || row.account !== movement.account) {
      throw new IdempotencyKeyReusedError(`${this.bank} bank: idempotency key ${movement.idempotencyKey} was used for another movement`);
    }
    return this.toEntry(row);
  }

  private toEntry(row: EntryRow): LedgerEntry {
    return {
      entryId: row.entry_id,
      bank: this.bank,
      account: row.account,
      kind: row.kind as LedgerEntry['kind'],
      cents: Number(row.cents),
      idempotencyKey: row.idempotency_key,
      reference: row.reference,
      reverses: row.reverses,
    };
  }
}

/** `12345` → `'123.45'`. */
export function formatCents(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100).toLocaleString('en-US')}.${String(abs % 100).padStart(2, '0')}`;
}
