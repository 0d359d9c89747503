import { z } from 'zod';
import { defineSaga } from 'sagaflow';
import { transferInput } from './saga.js';
import type { Ledger } from './ledger.js';
import type { TransferWorld } from './world.js';

/** The payload of the `approval` signal: who decided, and what. */
export const approvalDecision = z.object({ approved: z.boolean(), by: z.string().min(1) });

/** Options of {@link createApprovedTransfer}. */
export interface ApprovedTransferOptions {
  /** How long the hold waits for a decision before it is refunded. Default 15 minutes. */
  readonly approvalTimeoutMs?: number;
}

/**
 * A large transfer held for a person's approval: hold (debit the payer) → approval (waits for the
 * `approval` signal) → credit the payee.
 *
 * @remarks
 * Every branch conserves money: approved, the held cents are credited to the payee; rejected, the
 * credit stage cancels the run (`ctx.cancel`) before it moves anything and the hold is refunded;
 * not decided within `approvalTimeoutMs`, the wait fails and the hold is refunded. Send the
 * decision with `orchestrator.signal(runId, 'approval', { approved, by })` or
 * `sagaflow signal <runId> approval '{"approved":false,"by":"ann"}' --sagas …/money-transfer/index.js`.
 *
 * @param world - the banks, opened on first use.
 */
export function createApprovedTransfer(world: () => Promise<TransferWorld>, options: ApprovedTransferOptions = {}) {
  return defineSaga({ name: 'approved-transfer', input: transferInput })
    .stage('hold', {
      retry: { maxAttempts: 3, initialDelayMs: 100 },
      execute: async ({ input, runId, stage, idempotencyKey }) => {
        const entry = await (await world()).ledger(input.from.bank).debit({ account: input.from.account, cents: input.cents, idempotencyKey, reference: `${runId}/${stage}` });
        return { bank: entry.bank, entryId: entry.entryId };
      },
      compensate: async ({ input, output, idempotencyKey, executeIdempotencyKey }) => {
        await reverse((await world()).ledger(input.from.bank), output?.entryId, executeIdempotencyKey, idempotencyKey);
      },
    })
    .waitForSignal('approval', { signal: 'approval', schema: approvalDecision, timeoutMs: options.approvalTimeoutMs ?? 15 * 60_000 })
    .stage('credit', {
      retry: { maxAttempts: 3, initialDelayMs: 100 },
      execute: async ({ input, runId, stage, idempotencyKey, results, cancel }) => {
        if (!results.approval.approved) cancel(`rejected by ${results.approval.by}`);
        const entry = await (await world()).ledger(input.to.bank).credit({ account: input.to.account, cents: input.cents, idempotencyKey, reference: `${runId}/${stage}` });
        return { bank: entry.bank, entryId: entry.entryId, approvedBy: results.approval.by };
      },
      compensate: async ({ input, output, idempotencyKey, executeIdempotencyKey }) => {
        await reverse((await world()).ledger(input.to.bank), output?.entryId, executeIdempotencyKey, idempotencyKey);
      },
    })
    .build();
}

/** Reverses a stage's entry: the one in its output, or the one found under its execute key. */
async function reverse(ledger: Ledger, entryId: string | undefined, executeKey: string, compensateKey: string): Promise<void> {
  const target = entryId ?? (await ledger.entry(executeKey))?.entryId;
  if (target !== undefined) await ledger.reverse(target, compensateKey);
}

/** The approved-transfer saga's type. */
export type ApprovedTransferSaga = ReturnType<typeof createApprovedTransfer>;
