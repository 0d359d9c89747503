import { NonRetryableError } from 'sagaflow';
import { v7 as uuidv7 } from 'uuid';
import type { SqlDatabase } from '../support/sql-database.js';
import { SqlLedger, type Ledger } from './ledger.js';

/** A notification the transfer sends once it is done. */
export interface Notification {
  /** The notification's id. */
  readonly notificationId: string;
  /** Who it goes to. */
  readonly recipient: string;
  /** What it says. */
  readonly message: string;
}

/** Where the transfer's outside systems live: two banks and a notification outbox. */
export interface TransferWorld {
  /** The banks' names. */
  readonly banks: readonly string[];
  /**
   * The ledger of a bank.
   *
   * @throws {@link UnknownBankError} for a bank this world does not have.
   */
  ledger(bank: string): Ledger;
  /** Queues a notification under a unique idempotency key; a duplicate returns the first. */
  notify(recipient: string, message: string, idempotencyKey: string): Promise<Notification>;
  /** Every account of every bank, as `bank/account` → cents. */
  balances(): Promise<Readonly<Record<string, number>>>;
  /** Closes the database. */
  close(): Promise<void>;
}

/** The transfer names a bank that does not exist: retrying will not help. */
export class UnknownBankError extends NonRetryableError {
  override readonly name = 'UnknownBankError';
}

/** The two banks of the demo. */
export const BANKS = ['north', 'south'] as const;

/**
 * Opens the transfer's world in a database: the `north` and `south` bank ledgers and the
 * notification outbox, tables created on first use.
 */
export async function createTransferWorld(db: SqlDatabase): Promise<TransferWorld> {
  const ledgers = new Map<string, Ledger>(BANKS.map((bank) => [bank, new SqlLedger(db, bank)]));
  for (const ledger of ledgers.values()) await ledger.ready();
  await db.migrate([
    `CREATE TABLE IF NOT EXISTS transfer_notifications (
       notification_id TEXT NOT NULL PRIMARY KEY,
       idempotency_key TEXT NOT NULL UNIQUE,
       recipient       TEXT NOT NULL,
       message         TEXT NOT NULL
     )`,
  ]);
  return {
    banks: [...ledgers.keys()],
    ledger(bank) {
      const ledger = ledgers.get(bank);
      if (ledger === undefined) throw new UnknownBankError(`there is no bank '${bank}' (banks: ${[...ledgers.keys()].join(', ')})`);
      return ledger;
    },
    async notify(recipient, message, idempotencyKey) {
      await db.query(
        `INSERT INTO transfer_notifications (notification_id, idempotency_key, recipient, message) VALUES (?, ?, ?, ?)
         ON CONFLICT (idempotency_key) DO NOTHING`,
        [uuidv7(), idempotencyKey, recipient, message],
      );
      const rows = await db.query<{ notification_id: string; recipient: string; message: string }>(
        'SELECT notification_id, recipient, message FROM transfer_notifications WHERE idempotency_key = ?',
        [idempotencyKey],
      );
      const row = rows[0];
      if (row === undefined) throw new Error(`notification ${idempotencyKey} was not stored; retry`);
      return { notificationId: row.notification_id, recipient: row.recipient, message: row.message };
    },
    async balances() {
      const all: Record<string, number> = {};
      for (const [bank, ledger] of ledgers) {
        for (const [account, cents] of Object.entries(await ledger.balances())) all[`${bank}/${account}`] = cents;
      }
      return all;
    },
    close: () => db.close(),
  };
}
