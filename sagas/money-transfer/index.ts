/**
 * The money-transfer demo: two bank ledgers in real tables, debit → credit → notify, with
 * rollback. `sagaflow demo money-transfer` runs it; this module is what `--sagas` and `graph`
 * load.
 */
import { defaultDatabaseUrl, openDatabase } from '../support/sql-database.js';
import { createMoneyTransfer } from './saga.js';
import { createTransferWorld, type TransferWorld } from './world.js';

export { approvalDecision, createApprovedTransfer, type ApprovedTransferOptions, type ApprovedTransferSaga } from './approved-transfer.js';
export { createMoneyTransfer, transferInput, type MoneyTransferOptions, type MoneyTransferSaga, type TransferInput } from './saga.js';
export { createTransferWorld, BANKS, UnknownBankError, type Notification, type TransferWorld } from './world.js';
export { SqlLedger, InsufficientFundsError, UnknownAccountError, IdempotencyKeyReusedError, formatCents, type Ledger, type LedgerEntry, type Movement } from './ledger.js';

let world: Promise<TransferWorld> | undefined;

/**
 * The transfer, wired to the banks in the database of `SAGAFLOW_STORE` (default
 * `sqlite:.sagaflow/sagaflow.db`, the CLI's default store), opened on first use. This is the
 * saga `sagaflow resume|redrive|compensate --sagas …/money-transfer/index.js` continues runs with.
 */
export const moneyTransfer = createMoneyTransfer(() => demoBanks());

/**
 * The banks in the database of `SAGAFLOW_STORE`, opened once, on first use: shared by this
 * module's saga and `approval.ts`'s.
 */
export function demoBanks(): Promise<TransferWorld> {
  world ??= openDatabase(defaultDatabaseUrl())
    .then(createTransferWorld)
    .catch((error: unknown) => {
      world = undefined; // let the next attempt try again
      throw error;
    });
  return world;
}
