import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrchestrator } from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { demo } from '../../sagas/catalog.js';
import { createMoneyTransfer, createTransferWorld, SqlLedger, type TransferWorld } from '../../sagas/money-transfer/index.js';
import { openDatabase, type SqlDatabase } from '../../sagas/support/sql-database.js';
import { dropSchemas, postgresForTests, uniqueSchema } from '../support/postgres.js';

const moneyTransferDemo = demo('money-transfer');

const url = await postgresForTests();
const schema = uniqueSchema('transfer');
/** `openDatabase` puts the demo tables in `<schema>_demo`. */
const database = (): Promise<SqlDatabase> => openDatabase(`${url ?? ''}?schema=${schema}`);

describe.skipIf(url === undefined)('money-transfer on PostgreSQL: the same ledger code, real tables', () => {
  let banks: TransferWorld;

  beforeAll(async () => {
    banks = await createTransferWorld(await database());
    await banks.ledger('north').openAccount('alice', 10_000);
    await banks.ledger('south').openAccount('bob', 500);
  });

  afterAll(async () => {
    await banks.close();
    if (url !== undefined) await dropSchemas(url, schema, `${schema}_demo`);
  });

  it.each([undefined, 'debit', 'credit', 'notify'])('conserves money with a failure at %s, journaled in PostgresStore', async (failAt) => {
    const store = new PostgresStore({ connectionString: url ?? '', schema });
    const saga = createMoneyTransfer(() => Promise.resolve(banks), failAt === undefined ? {} : { faults: { failAt } });
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const before = await banks.balances();
    const outcome = await orchestrator.start(saga, { from: { bank: 'north', account: 'alice' }, to: { bank: 'south', account: 'bob' }, cents: 100 }).outcome;
    const after = await banks.balances();
    expect(outcome.status).toBe(failAt === undefined ? 'completed' : 'compensated');
    const sum = (balances: Readonly<Record<string, number>>): number => Object.values(balances).reduce((total, cents) => total + cents, 0);
    expect(sum(after)).toBe(sum(before));
    if (failAt === undefined) expect(after['north/alice']).toBe((before['north/alice'] ?? 0) - 100);
    else expect(after).toEqual(before);
    expect((await orchestrator.inspect(outcome.runId)).status).toBe(outcome.status);
    await orchestrator.close();
    await store.close();
  });

  it('concurrent debits with one key, from separate connections, move the money once', async () => {
    // Separate pools, as two workers would have: the unique key serialises them in the database.
    const databases = await Promise.all([0, 1, 2, 3].map(() => database()));
    const ledgers = databases.map((db) => new SqlLedger(db, 'north'));
    const movement = { account: 'alice', cents: 300, idempotencyKey: `dup-${schema}`, reference: 'dup/debit' };
    const before = (await banks.ledger('north').balances())['alice'] ?? 0;
    const entries = await Promise.all(ledgers.map((ledger) => ledger.debit(movement)));
    expect(new Set(entries.map((entry) => entry.entryId)).size).toBe(1);
    expect((await banks.ledger('north').balances())['alice']).toBe(before - 300);
    expect(await banks.ledger('north').entries('dup/debit')).toHaveLength(1);
    await Promise.all(databases.map((db) => db.close()));
  });

  it('the demo runs on PostgreSQL and checks its invariants', async () => {
    const store = new PostgresStore({ connectionString: url ?? '', schema });
    const session = await moneyTransferDemo.open({ database: `${url ?? ''}?schema=${schema}`, failAt: 'credit' });
    const orchestrator = createOrchestrator({ store, sagas: [session.saga] });
    const outcome = await orchestrator.start(session.saga, session.input).outcome;
    expect(outcome.status).toBe('compensated');
    expect((await session.check(outcome)).filter((check) => !check.ok)).toEqual([]);
    await orchestrator.close();
    await session.close();
    await store.close();
  });
});
