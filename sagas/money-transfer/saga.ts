import { z } from 'zod';
import { defineSaga } from 'sagaflow';
import { injectFault, type FaultPlan } from '../support/faults.js';
import { formatCents, type Ledger } from './ledger.js';
import type { TransferWorld } from './world.js';

/** An account at a bank. */
const accountRef = z.object({ bank: z.string().min(1), account: z.string().min(1) });

/** The input of a transfer: who pays whom, how many cents. */
export const transferInput = z.object({
  from: accountRef,
  to: accountRef,
  cents: z.number().int().positive(),
});

/** A transfer's input. */
export type TransferInput = z.infer<typeof transferInput>;

/** Options of {@link createMoneyTransfer}. */
export interface MoneyTransferOptions {
  /** Make a stage fail on every attempt (the demo's `--fail-at`). */
  readonly faults?: FaultPlan;
}

/**
 * The money transfer: debit → credit → notify, across two banks.
 *
 * @remarks
 * - Each stage hands its `idempotencyKey` to the bank: it is the ledger's unique key, so a
 *   retried, resumed or redriven debit never takes the money twice.
 * - A failure at credit (after its retries) refunds the debit; a failure at notify reverses the
 *   credit, then refunds the debit (reverse completion order).
 * - Compensations reverse the entry a stage made. When a stage's outcome is unknown (the process
 *   stopped while the run was already rolling back, and `output` is `undefined`), they look the
 *   entry up by the stage's execute key (`executeIdempotencyKey`), and reverse it if it exists.
 *
 * @param world - the banks and the outbox; called on first use, so a module can export the saga
 * without opening a database at import time.
 */
export function createMoneyTransfer(world: () => Promise<TransferWorld>, options: MoneyTransferOptions = {}) {
  const { faults } = options;
  return defineSaga({ name: 'money-transfer', input: transferInput })
    .stage('debit', {
      retry: { maxAttempts: 3, initialDelayMs: 100 },
      timeoutMs: 5_000,
      execute: async ({ input, runId, stage, idempotencyKey }) => {
        injectFault(faults, stage, `${input.from.bank} bank`);
        const ledger = (await world()).ledger(input.from.bank);
        const entry = await ledger.debit({ account: input.from.account, cents: input.cents, idempotencyKey, reference: `${runId}/${stage}` });
        return { bank: entry.bank, entryId: entry.entryId };
      },
      compensate: async ({ input, output, idempotencyKey, executeIdempotencyKey }) => {
        await reverse((await world()).ledger(input.from.bank), output?.entryId, executeIdempotencyKey, idempotencyKey);
      },
    })
    .stage('credit', {
      retry: { maxAttempts: 3, initialDelayMs: 100 },
      timeoutMs: 5_000,
      execute: async ({ input, runId, stage, idempotencyKey }) => {
        injectFault(faults, stage, `${input.to.bank} bank`);
        const ledger = (await world()).ledger(input.to.bank);
        const entry = await ledger.credit({ account: input.to.account, cents: input.cents, idempotencyKey, reference: `${runId}/${stage}` });
        return { bank: entry.bank, entryId: entry.entryId };
      },
      compensate: async ({ input, output, idempotencyKey, executeIdempotencyKey }) => {
        await reverse((await world()).ledger(input.to.bank), output?.entryId, executeIdempotencyKey, idempotencyKey);
      },
    })
    .stage('notify', {
      retry: { maxAttempts: 3, initialDelayMs: 100 },
      execute: async ({ input, stage, idempotencyKey }) => {
        injectFault(faults, stage, 'the notification service');
        const message = `${input.from.bank}/${input.from.account} sent you ${formatCents(input.cents)}`;
        const notification = await (await world()).notify(`${input.to.bank}/${input.to.account}`, message, idempotencyKey);
        return { notificationId: notification.notificationId };
      },
    })
    .build();
}

/**
 * Reverses a stage's entry: the one in its output or, when its outcome is unknown (`output` is
 * `undefined`), the one the ledger holds under the stage's execute key, if the debit or credit
 * went through at all.
 */
async function reverse(ledger: Ledger, entryId: string | undefined, executeKey: string, compensateKey: string): Promise<void> {
  const target = entryId ?? (await ledger.entry(executeKey))?.entryId;
  if (target !== undefined) await ledger.reverse(target, compensateKey);
}

/** The money-transfer saga's type. */
export type MoneyTransferSaga = ReturnType<typeof createMoneyTransfer>;
