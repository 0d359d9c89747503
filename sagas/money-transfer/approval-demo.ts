/**
 * `npm run demo:approval -- [approve | reject | timeout | wait]`: a large transfer held for a
 * person's approval, on the demo's two bank ledgers in SQLite (the database of `SAGAFLOW_STORE`,
 * by default `.sagaflow/sagaflow.db`, the same as `npm run demo`'s).
 *
 * The saga debits a hold from north/alice, waits for the `approval` signal, then credits
 * south/bob. `approve` and `reject` send the decision from this process once the run waits;
 * `timeout` sends nothing and the wait fails after `--timeout-ms`; `wait` (the default) prints the
 * `sagaflow signal` command to run from another terminal and waits for it. Each branch ends with
 * the balances and a check that the total is what it was: exit 0 when money was conserved.
 */
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { createOrchestrator, type SagaEvent } from 'sagaflow';
import { SqliteStore } from 'sagaflow/sqlite';
import { defaultDatabaseUrl, openDatabase } from '../support/sql-database.js';
import { siblingModule } from '../support/demo.js';
import { createApprovedTransfer } from './approved-transfer.js';
import { formatCents } from './ledger.js';
import type { TransferInput } from './saga.js';
import { createTransferWorld } from './world.js';

const DECISIONS = ['approve', 'reject', 'timeout', 'wait'] as const;
type Decision = (typeof DECISIONS)[number];

const TRANSFER: TransferInput = { from: { bank: 'north', account: 'alice' }, to: { bank: 'south', account: 'bob' }, cents: 2_500 };

const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'timeout-ms': { type: 'string' } } });
const decision = (positionals[0] ?? 'wait') as Decision;
if (!DECISIONS.includes(decision) || positionals.length > 1) {
  console.error(`usage: npm run demo:approval -- [${DECISIONS.join(' | ')}] [--timeout-ms N]`);
  process.exit(2);
}
const timeoutMs = Number(values['timeout-ms'] ?? (decision === 'wait' ? 120_000 : 2_000));
if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
  console.error(`--timeout-ms must be a positive integer of milliseconds, not ${values['timeout-ms'] ?? ''}`);
  process.exit(2);
}
const url = defaultDatabaseUrl();
if (!url.startsWith('sqlite:')) {
  console.error(`This demo runs on SQLite: set SAGAFLOW_STORE to sqlite:PATH (it is ${url.replace(/\/\/[^@/]*@/, '//***@')}).`);
  process.exit(2);
}

const world = await createTransferWorld(await openDatabase(url));
await world.ledger('north').openAccount('alice', 10_000);
await world.ledger('south').openAccount('bob', 500);
const saga = createApprovedTransfer(() => Promise.resolve(world), { approvalTimeoutMs: timeoutMs });
const store = new SqliteStore({ path: url.slice('sqlite:'.length) });
const orchestrator = createOrchestrator({ store, sagas: [saga] });

const total = (balances: Readonly<Record<string, number>>): number => Object.values(balances).reduce((sum, cents) => sum + cents, 0);
const show = (title: string, balances: Readonly<Record<string, number>>): void => {
  console.log(title);
  for (const [account, cents] of Object.entries(balances)) console.log(`  ${account.padEnd(12)} ${formatCents(cents).padStart(10)}`);
  console.log(`  ${'total'.padEnd(12)} ${formatCents(total(balances)).padStart(10)}`);
};

const before = await world.balances();
show(`Transfer ${formatCents(TRANSFER.cents)} from north/alice to south/bob, held for approval (${decision}):`, before);
const run = orchestrator.start(saga, TRANSFER);
run.events$.subscribe((event: SagaEvent) => {
  if (event.type === 'stage.completed') console.log(`  ✔ ${event.stage}`);
  if (event.type === 'wait.started') {
    console.log(`  … ${event.stage}: waiting for the '${event.signal ?? ''}' signal, at most ${timeoutMs} ms`);
    if (decision === 'approve' || decision === 'reject') {
      void orchestrator.signal(run.runId, 'approval', { approved: decision === 'approve', by: 'ann' }).then(() => console.log(`  → signal 'approval' sent: ${decision === 'approve' ? 'approved' : 'rejected'} by ann`));
    } else if (decision === 'wait') {
      const sagas = relative(process.cwd(), siblingModule(import.meta.url, 'approval'));
      console.log('    decide from another terminal (same folder), e.g.:');
      console.log(`    npx sagaflow signal ${run.runId} approval '{"approved":false,"by":"ann"}' --sagas ${sagas} --store ${url}`);
    }
  }
  if (event.type === 'stage.failed') console.log(`  ✘ ${event.stage}: ${event.error.message}`);
  if (event.type === 'run.cancelling') console.log(`  ✘ cancelled: ${event.reason}`);
  if (event.type === 'compensation.completed') console.log(`  ↺ ${event.stage} undone`);
});
const outcome = await run.outcome;
await orchestrator.close();
const after = await world.balances();
show(`Run ${run.runId} ended ${outcome.status}:`, after);
const conserved = total(after) === total(before);
console.log(`${conserved ? '✔' : '✘'} total money conserved: ${formatCents(total(before))} before, ${formatCents(total(after))} after`);
await store.close();
await world.close();
process.exit(conserved ? 0 : 1);
