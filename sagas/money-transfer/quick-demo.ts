/**
 * The smallest failure-and-rollback demo: a transfer whose credit fails, on the embedded
 * SQLite store, with balances in a Map. `npm run demo` runs the full demo (real ledgers, through
 * the CLI); this file is the code to read first. Run it with `npx tsx sagas/money-transfer/quick-demo.ts`.
 */
import { z } from 'zod';
import { createOrchestrator, defineSaga, SagaFailedError } from 'sagaflow';
import { SqliteStore } from 'sagaflow/sqlite';

const balances = new Map([
  ['alice', 10_000],
  ['bob', 500],
]);

const transfer = defineSaga({
  name: 'money-transfer',
  input: z.object({ from: z.string(), to: z.string(), cents: z.number().int().positive() }),
})
  .stage('debit', {
    execute: ({ input }) => {
      balances.set(input.from, (balances.get(input.from) ?? 0) - input.cents);
      return { account: input.from, cents: input.cents };
    },
    compensate: ({ outcome, output }) => {
      // The debit runs synchronously, so it completed whenever it is compensated; a real ledger would
      // look an unknown debit up by `executeIdempotencyKey`.
      if (outcome === 'completed') balances.set(output.account, (balances.get(output.account) ?? 0) + output.cents);
    },
  })
  .stage('credit', {
    execute: ({ input }) => {
      throw new Error(`bank of ${input.to} is down`);
    },
  })
  .build();

const store = new SqliteStore({ path: '.sagaflow/quick-demo.db' });
const orchestrator = createOrchestrator({ store, sagas: [transfer] });
console.log('before', Object.fromEntries(balances));
try {
  await orchestrator.run(transfer, { from: 'alice', to: 'bob', cents: 2_500 });
} catch (error) {
  if (!(error instanceof SagaFailedError)) throw error;
  console.log(error.message);
  console.log('outputs kept on the error:', error.outputs);
}
console.log('after ', Object.fromEntries(balances));
await orchestrator.close();
await store.close();
