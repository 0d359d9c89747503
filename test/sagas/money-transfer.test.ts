import { describe, expect, it } from 'vitest';
import { createOrchestrator, MemoryStore, type SagaOutcome } from 'sagaflow';
import { demo } from '../../sagas/catalog.js';
import {
  createMoneyTransfer,
  createTransferWorld,
  IdempotencyKeyReusedError,
  InsufficientFundsError,
  SqlLedger,
  type Ledger,
  type TransferInput,
  type TransferWorld,
} from '../../sagas/money-transfer/index.js';
import { openDatabase } from '../../sagas/support/sql-database.js';

const moneyTransferDemo = demo('money-transfer');

const TRANSFER: TransferInput = { from: { bank: 'north', account: 'alice' }, to: { bank: 'south', account: 'bob' }, cents: 2_500 };
const total = (balances: Readonly<Record<string, number>>): number => Object.values(balances).reduce((sum, cents) => sum + cents, 0);

async function world(): Promise<TransferWorld> {
  const opened = await createTransferWorld(await openDatabase('memory:'));
  await opened.ledger('north').openAccount('alice', 10_000);
  await opened.ledger('south').openAccount('bob', 500);
  return opened;
}

async function transfer(failAt?: string): Promise<{ outcome: SagaOutcome; before: Record<string, number>; after: Record<string, number>; banks: TransferWorld }> {
  const banks = await world();
  const saga = createMoneyTransfer(() => Promise.resolve(banks), failAt === undefined ? {} : { faults: { failAt } });
  const before = { ...(await banks.balances()) };
  const orchestrator = createOrchestrator({ store: new MemoryStore(), sagas: [saga] });
  const outcome = await orchestrator.start(saga, TRANSFER).outcome;
  await orchestrator.close();
  return { outcome, before, after: { ...(await banks.balances()) }, banks };
}

/** Every entry the run made, across both banks. */
async function entriesOf(banks: TransferWorld, runId: string) {
  const all = [];
  for (const bank of banks.banks) {
    for (const stage of ['debit', 'credit']) all.push(...(await banks.ledger(bank).entries(`${runId}/${stage}`)));
  }
  return all;
}

describe('money-transfer: total money is conserved after every run', () => {
  it('completes: 25.00 moves from north/alice to south/bob, and a notification is sent', async () => {
    const { outcome, before, after, banks } = await transfer();
    expect(outcome.status).toBe('completed');
    expect(outcome.completionOrder).toEqual(['debit', 'credit', 'notify']);
    expect(after).toEqual({ 'north/alice': 7_500, 'south/bob': 3_000 });
    expect(total(after)).toBe(total(before));
    const entries = await entriesOf(banks, outcome.runId);
    expect(entries.map((entry) => [entry.bank, entry.kind, entry.cents])).toEqual([
      ['north', 'debit', -2_500],
      ['south', 'credit', 2_500],
    ]);
    await banks.close();
  });

  it.each([
    { failAt: 'debit', completed: [], compensated: [] },
    { failAt: 'credit', completed: ['debit'], compensated: ['debit'] },
    { failAt: 'notify', completed: ['debit', 'credit'], compensated: ['credit', 'debit'] },
  ])('a failure at $failAt rolls back $compensated and leaves every balance as it was', async ({ failAt, completed, compensated }) => {
    const { outcome, before, after, banks } = await transfer(failAt);
    expect(outcome.status).toBe('compensated');
    expect(outcome.failure?.stage).toBe(failAt);
    expect(outcome.stages[failAt]?.attempts).toBe(3);
    expect(outcome.completionOrder).toEqual(completed);
    expect(outcome.compensationOrder).toEqual(compensated);
    expect(after).toEqual(before);
    expect(total(after)).toBe(total(before));
    // Every movement the run made was reversed exactly once.
    const entries = await entriesOf(banks, outcome.runId);
    const moves = entries.filter((entry) => entry.kind !== 'reversal');
    const reversals = entries.filter((entry) => entry.kind === 'reversal');
    expect(moves).toHaveLength(completed.length);
    expect(reversals.map((entry) => entry.reverses).sort()).toEqual(moves.map((entry) => entry.entryId).sort());
    await banks.close();
  });

  it('an overdraft fails the debit without retries, and nothing moves', async () => {
    const banks = await world();
    const saga = createMoneyTransfer(() => Promise.resolve(banks));
    const orchestrator = createOrchestrator({ sagas: [saga] });
    const outcome = await orchestrator.start(saga, { ...TRANSFER, cents: 1_000_000 }).outcome;
    expect(outcome.status).toBe('compensated');
    expect(outcome.failure?.error.name).toBe('InsufficientFundsError');
    expect(outcome.failure?.error.message).toBe('north/alice holds 100.00, less than the 10,000.00 to debit');
    expect(outcome.stages['debit']?.attempts).toBe(1);
    expect(await banks.balances()).toEqual({ 'north/alice': 10_000, 'south/bob': 500 });
    await orchestrator.close();
    await banks.close();
  });

  it('the demo checks the same invariants, at every failure point', async () => {
    for (const failAt of [undefined, ...moneyTransferDemo.failurePoints]) {
      const session = await moneyTransferDemo.open({ database: 'memory:', ...(failAt === undefined ? {} : { failAt }) });
      const orchestrator = createOrchestrator({ sagas: [session.saga] });
      const outcome = await orchestrator.start(session.saga, session.input).outcome;
      const checks = await session.check(outcome);
      expect(checks.length).toBeGreaterThanOrEqual(2);
      expect(checks.filter((check) => !check.ok)).toEqual([]);
      expect(checks[0]?.description).toBe('total money conserved: 105.00 before, 105.00 after');
      expect(await session.describe(outcome)).toEqual(
        failAt === undefined
          ? ['north/alice       75.00', 'south/bob         30.00', 'total            105.00']
          : ['north/alice      100.00', 'south/bob          5.00', 'total            105.00'],
      );
      await orchestrator.close();
      await session.close();
    }
  });
});

describe('money-transfer: idempotency keys are the ledgers’ unique keys', () => {
  async function ledger(): Promise<Ledger> {
    const north = new SqlLedger(await openDatabase('memory:'), 'north');
    await north.openAccount('alice', 10_000);
    return north;
  }

  it('a debit repeated with the same key returns the first entry and moves the money once', async () => {
    const north = await ledger();
    const movement = { account: 'alice', cents: 2_500, idempotencyKey: 'key-1', reference: 'run-1/debit' };
    const first = await north.debit(movement);
    const again = await north.debit(movement);
    const concurrent = await Promise.all([north.debit(movement), north.debit(movement)]);
    expect([again, ...concurrent]).toEqual([first, first, first]);
    expect(await north.balances()).toEqual({ alice: 7_500 });
    expect(await north.entries('run-1/debit')).toEqual([first]);
  });

  it('refuses a key reused for another movement, and an overdraft, without changing anything', async () => {
    const north = await ledger();
    await north.debit({ account: 'alice', cents: 100, idempotencyKey: 'key-1', reference: 'r' });
    await expect(north.debit({ account: 'alice', cents: 200, idempotencyKey: 'key-1', reference: 'r' })).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    await expect(north.debit({ account: 'alice', cents: 1_000_000, idempotencyKey: 'key-2', reference: 'r' })).rejects.toBeInstanceOf(InsufficientFundsError);
    expect(await north.balances()).toEqual({ alice: 9_900 });
    expect(await north.entries('r')).toHaveLength(1);
  });

  it('reverses an entry at most once, whatever the key, and tolerates nothing to reverse', async () => {
    const north = await ledger();
    const debit = await north.debit({ account: 'alice', cents: 2_500, idempotencyKey: 'key-1', reference: 'r' });
    const reversal = await north.reverse(debit.entryId, 'undo-1');
    expect(await north.reverse(debit.entryId, 'undo-1')).toEqual(reversal);
    expect(await north.reverse(debit.entryId, 'undo-2')).toEqual(reversal);
    expect(await north.reverse('no-such-entry', 'undo-3')).toBeUndefined();
    expect(await north.balances()).toEqual({ alice: 10_000 });
  });

  it('a compensation with an unknown outcome finds the entry by the execute key, and tolerates nothing to undo', async () => {
    const banks = await world();
    const debit = createMoneyTransfer(() => Promise.resolve(banks)).stage('debit');
    await banks.ledger('north').debit({ account: 'alice', cents: 2_500, idempotencyKey: 'execute-1', reference: 'run-1/debit' });
    const unknownOutcome = (executeIdempotencyKey: string) => ({
      runId: 'run-1',
      saga: 'money-transfer',
      stage: 'debit',
      attempt: 1,
      input: TRANSFER,
      outcome: 'unknown' as const,
      output: undefined,
      results: {},
      idempotencyKey: `compensate-${executeIdempotencyKey}`,
      executeIdempotencyKey,
      signal: new AbortController().signal,
      cause: { kind: 'failed' as const, stage: 'credit', error: { name: 'Error', message: 'down' } },
    });
    await debit?.compensate?.(unknownOutcome('execute-1'));
    await debit?.compensate?.(unknownOutcome('execute-1'));
    await debit?.compensate?.(unknownOutcome('never-executed'));
    expect(await banks.balances()).toEqual({ 'north/alice': 10_000, 'south/bob': 500 });
    expect((await banks.ledger('north').entries('run-1/debit')).map((entry) => entry.kind)).toEqual(['debit', 'reversal']);
    await banks.close();
  });

  it('a run resumed after a crash re-executes the started debit under the same key: alice is debited once', async () => {
    const banks = await world();
    let clock = Date.now();
    const store = new MemoryStore({ now: () => clock });
    // The first process debits, then "crashes" before it can record the stage's completion.
    let stall = true;
    const crashing: TransferWorld = {
      ...banks,
      ledger: (bank) => {
        const real = banks.ledger(bank);
        return {
          ...real,
          bank: real.bank,
          ready: () => real.ready(),
          openAccount: (account, cents) => real.openAccount(account, cents),
          credit: (movement) => real.credit(movement),
          reverse: (entryId, key) => real.reverse(entryId, key),
          entry: (key) => real.entry(key),
          entries: (reference) => real.entries(reference),
          balances: () => real.balances(),
          debit: async (movement) => {
            const entry = await real.debit(movement);
            if (stall) await new Promise<never>(() => undefined);
            return entry;
          },
        };
      },
    };
    const first = createOrchestrator({ store, sagas: [createMoneyTransfer(() => Promise.resolve(crashing))] });
    const run = first.start(createMoneyTransfer(() => Promise.resolve(crashing)), TRANSFER);
    await expect.poll(async () => (await banks.balances())['north/alice']).toBe(7_500);
    await first.close({ timeoutMs: 10 });
    await expect(run.outcome).rejects.toThrow('was left in place and can be resumed');
    expect((await store.load(run.runId))?.map((event) => event.type)).toEqual(['run.started', 'stage.started']);
    // Its debit call never returns: the run stays leased until the lease (30 s by default) expires, as after a crash.
    expect(await store.leaseOf(run.runId)).toMatchObject({ live: true });
    clock += 30_001;

    stall = false;
    const second = createOrchestrator({ store, sagas: [createMoneyTransfer(() => Promise.resolve(banks))] });
    const outcome = await second.resume(run.runId).outcome;
    expect(outcome.status).toBe('completed');
    expect(outcome.stages['debit']?.attempts).toBe(2);
    expect(await banks.balances()).toEqual({ 'north/alice': 7_500, 'south/bob': 3_000 });
    expect(await banks.ledger('north').entries(`${run.runId}/debit`)).toHaveLength(1);
    await second.close();
    await banks.close();
  });
});
