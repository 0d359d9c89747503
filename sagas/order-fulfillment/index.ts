/**
 * The order-fulfillment demo: reserve inventory → charge payment → ship, and a variant that
 * pauses on failure for an operator to redrive. `sagaflow demo order-fulfillment` runs it;
 * this module is what `--sagas` and `graph` load.
 */
import { defaultDatabaseUrl, openDatabase } from '../support/sql-database.js';
import { createOrderFulfillment } from './saga.js';
import { createShop, type Shop } from './shop.js';

export { createOrderFulfillment, orderInput, CHARGE_TIMEOUT_MS, type OrderFulfillmentOptions, type OrderFulfillmentSaga, type OrderInput } from './saga.js';
export { createShop, OutOfStockError, type Charge, type OrderLine, type OrderState, type Reservation, type Shipment, type Shop } from './shop.js';

let shop: Promise<Shop> | undefined;

/** The shop in the database of `SAGAFLOW_STORE` (default `sqlite:.sagaflow/sagaflow.db`), opened on first use. */
function defaultShop(): Promise<Shop> {
  shop ??= openDatabase(defaultDatabaseUrl())
    .then(createShop)
    .catch((error: unknown) => {
      shop = undefined; // let the next attempt try again
      throw error;
    });
  return shop;
}

/** The order, rolled back on failure. */
export const orderFulfillment = createOrderFulfillment(defaultShop);

/** The same order, paused on failure until an operator redrives or compensates it. */
export const orderFulfillmentPausing = createOrderFulfillment(defaultShop, { pause: true });
