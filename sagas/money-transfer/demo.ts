import type { SagaOutcome } from 'sagaflow';
import type { DemoCheck, DemoOptions, DemoSession } from '../support/demo.js';
import { openDatabase } from '../support/sql-database.js';
import { formatCents } from './ledger.js';
import { createMoneyTransfer, type TransferInput } from './saga.js';
import { createTransferWorld } from './world.js';

/** Opening balances, set the first time a database holds the demo's banks. */
const OPENING = { 'north/alice': 10_000, 'south/bob': 500 } as const;

const TRANSFER: TransferInput = { from: { bank: 'north', account: 'alice' }, to: { bank: 'south', account: 'bob' }, cents: 2_500 };

const sum = (balances: Readonly<Record<string, number>>): number => Object.values(balances).reduce((total, cents) => total + cents, 0);

/** `sagaflow demo money-transfer`: 25.00 from north/alice to south/bob. */
export async function openMoneyTransferDemo(options: DemoOptions): Promise<DemoSession> {
  if (options.pause === true) throw new TypeError('the money-transfer demo has no pause variant');
  const world = await createTransferWorld(await openDatabase(options.database));
  await world.ledger('north').openAccount('alice', OPENING['north/alice']);
  await world.ledger('south').openAccount('bob', OPENING['south/bob']);
  const before = await world.balances();
  const saga = createMoneyTransfer(() => Promise.resolve(world), options.failAt === undefined ? {} : { faults: { failAt: options.failAt } });
  const from = `${TRANSFER.from.bank}/${TRANSFER.from.account}`;
  const to = `${TRANSFER.to.bank}/${TRANSFER.to.account}`;
  const systems: Readonly<Record<string, string>> = { debit: 'the north bank is down', credit: 'the south bank is down', notify: 'the notification service is down' };
  return {
    title: `Transfer ${formatCents(TRANSFER.cents)} from ${from} to ${to}`,
    ...(options.failAt === undefined ? {} : { fault: `${systems[options.failAt] ?? 'an outage'}: every attempt of '${options.failAt}' fails` }),
    saga,
    input: TRANSFER,
    async describe() {
      const balances = await world.balances();
      const width = Math.max(...Object.keys(balances).map((account) => account.length));
      return [
        ...Object.entries(balances).map(([account, cents]) => `${account.padEnd(width)}  ${formatCents(cents).padStart(10)}`),
        `${'total'.padEnd(width)}  ${formatCents(sum(balances)).padStart(10)}`,
      ];
    },
    async check(outcome: SagaOutcome): Promise<DemoCheck[]> {
      const after = await world.balances();
      const checks: DemoCheck[] = [
        {
          ok: sum(after) === sum(before),
          description: `total money conserved: ${formatCents(sum(before))} before, ${formatCents(sum(after))} after`,
        },
      ];
      const delta = (account: string): number => (after[account] ?? 0) - (before[account] ?? 0);
      switch (outcome.status) {
        case 'completed':
          checks.push({
            ok: delta(from) === -TRANSFER.cents && delta(to) === TRANSFER.cents,
            description: `${from} ${formatCents(delta(from))}, ${to} +${formatCents(delta(to))}`,
          });
          break;
        case 'compensated':
        case 'cancelled': {
          const moved = Object.keys({ ...before, ...after }).filter((account) => delta(account) !== 0);
          checks.push({
            ok: moved.length === 0,
            description: moved.length === 0 ? 'rolled back: every balance is what it was before' : `not rolled back: ${moved.join(', ')} changed`,
          });
          break;
        }
        case 'compensation_failed':
        case 'paused':
        case 'queued':
        case 'running':
        case 'compensating':
          break;
      }
      return checks;
    },
    close: () => world.close(),
  };
}
