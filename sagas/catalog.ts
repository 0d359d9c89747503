/**
 * The demos `sagaflow demo <name>` offers. The CLI imports this module at run time (from
 * `dist/sagas/catalog.js` once built), so the demos stay ordinary code against the public API.
 * It is light on purpose: a demo's code (and sagaflow with it) loads only when the demo opens.
 */
import { siblingModule, type DemoDefinition } from './support/demo.js';

export type { DemoCheck, DemoDefinition, DemoOptions, DemoSession } from './support/demo.js';

/** Every demo, by name. */
export const demos: readonly DemoDefinition[] = [
  {
    name: 'money-transfer',
    summary: 'debit → credit → notify across two bank ledgers; a failure refunds what was taken',
    failurePoints: ['debit', 'credit', 'notify'],
    pausable: false,
    sagasModule: siblingModule(import.meta.url, 'money-transfer/index'),
    open: async (options) => (await import('./money-transfer/demo.js')).openMoneyTransferDemo(options),
  },
  {
    name: 'trip-booking',
    summary: 'a quote, then flight, hotel and car in parallel, then payment; a failure cancels the bookings in reverse completion order',
    failurePoints: ['quote', 'flight', 'hotel', 'car', 'payment'],
    pausable: false,
    sagasModule: siblingModule(import.meta.url, 'trip-booking/index'),
    open: async (options) => (await import('./trip-booking/demo.js')).openTripBookingDemo(options),
  },
  {
    name: 'order-fulfillment',
    summary: "reserve → charge (compensateOnFailure: a timed-out charge is refunded) → ship; --pause runs the onFailure: 'pause' variant",
    failurePoints: ['reserve', 'charge', 'ship'],
    pausable: true,
    sagasModule: siblingModule(import.meta.url, 'order-fulfillment/index'),
    open: async (options) => (await import('./order-fulfillment/demo.js')).openOrderFulfillmentDemo(options),
  },
];

/**
 * A demo by name.
 *
 * @throws `Error` for a name that is not in {@link demos}.
 */
export function demo(name: string): DemoDefinition {
  const found = demos.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no demo named '${name}'`);
  return found;
}
