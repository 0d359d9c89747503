import { describe, expect, it } from 'vitest';
import { createOrchestrator, MemoryStore, type SagaOutcome } from 'sagaflow';
import { createVirtualClock } from 'sagaflow/testing';
import { filter, firstValueFrom } from 'rxjs';
import { createApprovedTransfer, createTransferWorld, type TransferInput, type TransferWorld } from '../../sagas/money-transfer/index.js';
import { openDatabase } from '../../sagas/support/sql-database.js';

const TRANSFER: TransferInput = { from: { bank: 'north', account: 'alice' }, to: { bank: 'south', account: 'bob' }, cents: 900_000 };
const total = (balances: Readonly<Record<string, number>>): number => Object.values(balances).reduce((sum, cents) => sum + cents, 0);

/** Runs a large transfer on real ledger tables; `decide` answers the approval wait (or not, for a timeout). */
async function largeTransfer(decision: { approved: boolean; by: string } | undefined) {
  const banks: TransferWorld = await createTransferWorld(await openDatabase('memory:'));
  await banks.ledger('north').openAccount('alice', 1_000_000);
  await banks.ledger('south').openAccount('bob', 0);
  const before = { ...(await banks.balances()) };
  const saga = createApprovedTransfer(() => Promise.resolve(banks), { approvalTimeoutMs: 60_000 });
  const clock = createVirtualClock({ autoAdvance: false });
  const orchestrator = createOrchestrator({ store: new MemoryStore(), sagas: [saga], scheduler: clock });
  const run = orchestrator.start(saga, TRANSFER);
  await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'wait.started')));
  // Held while it waits: the payer's money is out, the payee's not in yet.
  const held = { ...(await banks.balances()) };
  if (decision === undefined) await clock.advanceBy(60_000);
  else await orchestrator.signal(run.runId, 'approval', decision);
  const outcome: SagaOutcome = await run.outcome;
  await orchestrator.close();
  const after = { ...(await banks.balances()) };
  await banks.close();
  return { outcome, before, held, after };
}

describe('approved-transfer on the real ledger: money is conserved in every branch', () => {
  it('approved: the hold is credited to the payee', async () => {
    const { outcome, before, held, after } = await largeTransfer({ approved: true, by: 'ann' });
    expect(held).toEqual({ 'north/alice': 100_000, 'south/bob': 0 });
    expect(outcome.status).toBe('completed');
    expect(after).toEqual({ 'north/alice': 100_000, 'south/bob': 900_000 });
    expect(total(after)).toBe(total(before));
  });

  it('rejected: the run is cancelled and the hold refunded', async () => {
    const { outcome, before, after } = await largeTransfer({ approved: false, by: 'ann' });
    expect(outcome.status).toBe('cancelled');
    expect(outcome.cancellation).toEqual({ reason: 'rejected by ann', by: 'credit' });
    expect(outcome.compensationOrder).toEqual(['hold']);
    expect(after).toEqual(before);
  });

  it('not approved in time: the wait fails and the hold is refunded', async () => {
    const { outcome, before, after } = await largeTransfer(undefined);
    expect(outcome.status).toBe('compensated');
    expect(outcome.failure?.error.code).toBe('WAIT_TIMEOUT');
    expect(after).toEqual(before);
  });
});
