import type { SagaOutcome } from 'sagaflow';
import type { DemoCheck, DemoOptions, DemoSession } from '../support/demo.js';
import { openDatabase } from '../support/sql-database.js';
import { formatCents } from '../money-transfer/ledger.js';
import { createOrderFulfillment, type OrderInput } from './saga.js';
import { createShop, type OrderState } from './shop.js';

const CATALOG = { mug: { stock: 10, unitCents: 1_200 }, tea: { stock: 5, unitCents: 850 } } as const;
const ORDER: OrderInput = { orderId: 'order-1001', customer: 'grace', lines: [{ sku: 'mug', quantity: 2 }, { sku: 'tea', quantity: 1 }] };
const TOTAL = ORDER.lines.reduce((total, line) => total + line.quantity * CATALOG[line.sku as keyof typeof CATALOG].unitCents, 0);

/** `sagaflow demo order-fulfillment`: two mugs and a tea for grace. */
export async function openOrderFulfillmentDemo(options: DemoOptions): Promise<DemoSession> {
  const shop = await createShop(await openDatabase(options.database));
  // A delivery before each demo keeps it repeatable.
  for (const [sku, item] of Object.entries(CATALOG)) await shop.restock(sku, item.stock, item.unitCents);
  const before = await shop.stock();
  const saga = createOrderFulfillment(() => Promise.resolve(shop), {
    ...(options.failAt === undefined ? {} : { faults: { failAt: options.failAt } }),
    pause: options.pause === true,
  });
  const stockLine = async (): Promise<string> => `stock: ${Object.entries(await shop.stock()).map(([sku, units]) => `${sku} ${units}`).join(', ')}`;
  const orderLines = (state: OrderState): string[] => [
    `held for the order: ${state.held.map((line) => `${line.sku} ×${line.quantity}`).join(', ') || 'nothing'}`,
    `charges: ${state.charges.map((charge) => `${formatCents(charge.cents)} ${charge.status}`).join(', ') || 'none'}`,
    `shipments: ${state.shipments.map((shipment) => shipment.tracking).join(', ') || 'none'}`,
  ];
  const faults: Readonly<Record<string, string>> = {
    reserve: "the warehouse is down: every attempt of 'reserve' fails",
    charge: "the payment gateway takes the charge, then its answer is lost: every attempt of 'charge' times out",
    ship: "the carrier is down: every attempt of 'ship' fails",
  };
  return {
    ...(options.failAt === undefined ? {} : { fault: faults[options.failAt] ?? `every attempt of '${options.failAt}' fails` }),
    title: `Order ${ORDER.orderId} for ${ORDER.customer}: ${ORDER.lines.map((line) => `${line.sku} ×${line.quantity}`).join(', ')}, ${formatCents(TOTAL)}${options.pause === true ? ' (pauses on failure)' : ''}`,
    saga,
    input: ORDER,
    async describe(outcome) {
      if (outcome === undefined) return [await stockLine()];
      return [await stockLine(), ...orderLines(await shop.order(outcome.runId))];
    },
    async check(outcome: SagaOutcome): Promise<DemoCheck[]> {
      const after = await shop.stock();
      const state = await shop.order(outcome.runId);
      const charged = state.charges.filter((charge) => charge.status === 'charged');
      const units = (stock: Readonly<Record<string, number>>): number => Object.values(stock).reduce((total, count) => total + count, 0);
      const ordered = ORDER.lines.reduce((total, line) => total + line.quantity, 0);
      const once: DemoCheck = { ok: state.charges.length <= 1, description: `${state.charges.length} charge(s) made for the order (never more than one)` };
      switch (outcome.status) {
        case 'completed':
          return [
            { ok: units(before) - units(after) === ordered, description: `${ordered} units left the warehouse (${units(before)} → ${units(after)})` },
            { ok: charged.length === 1 && charged[0]?.cents === TOTAL, description: `charged ${formatCents(charged[0]?.cents ?? 0)} for an order of ${formatCents(TOTAL)}` },
            once,
            {
              ok: state.shipments.length === 1 && state.held.length === 0,
              description: `shipped once (${state.shipments.map((shipment) => shipment.tracking).join(', ')}), nothing left on hold`,
            },
          ];
        case 'compensated':
        case 'cancelled':
          return [
            { ok: units(after) === units(before) && state.held.length === 0, description: `stock restored: ${units(before)} units before, ${units(after)} after` },
            { ok: charged.length === 0, description: charged.length === 0 ? 'nothing left charged' : `still charged: ${formatCents(charged[0]?.cents ?? 0)}` },
            once,
            { ok: state.shipments.length === 0, description: 'nothing shipped' },
          ];
        case 'paused': {
          const reserved = outcome.completionOrder.includes('reserve');
          return [
            {
              ok: reserved ? units(before) - units(after) === ordered && state.held.length === ORDER.lines.length : units(before) === units(after),
              description: reserved ? `stock still held for the paused order (${units(before) - units(after)} units)` : 'no stock held (reserve did not complete)',
            },
            once,
            { ok: state.shipments.length === 0, description: 'nothing shipped yet' },
          ];
        }
        case 'compensation_failed':
        case 'queued':
        case 'running':
        case 'compensating':
          return [once];
      }
    },
    close: () => shop.close(),
  };
}
