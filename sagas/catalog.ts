/**
 * The demos `sagaflow demo <name>` offers. The CLI imports this module at run time (from
 * `dist/sagas/catalog.js` once built), so the demos stay ordinary code against the public API.
 */
import type { DemoDefinition } from './support/demo.js';
import { moneyTransferDemo } from './money-transfer/demo.js';
import { orderFulfillmentDemo } from './order-fulfillment/demo.js';
import { tripBookingDemo } from './trip-booking/demo.js';

export type { DemoCheck, DemoDefinition, DemoOptions, DemoSession } from './support/demo.js';

/** Every demo, by name. */
export const demos: readonly DemoDefinition[] = [moneyTransferDemo, tripBookingDemo, orderFulfillmentDemo];
