import { NonRetryableError } from 'sagaflow';
import { v7 as uuidv7 } from 'uuid';
import type { SqlDatabase } from '../support/sql-database.js';

/** One line of an order. */
export interface OrderLine {
  /** The product. */
  readonly sku: string;
  /** How many. */
  readonly quantity: number;
}

/** A hold on stock for an order. */
export interface Reservation {
  /** The reservation's ids, one per order line. */
  readonly reservationIds: readonly string[];
  /** The order's price, in cents, at the time of the reservation. */
  readonly totalCents: number;
}

/** A card charge at the payment gateway. */
export interface Charge {
  /** The charge's id. */
  readonly chargeId: string;
  /** The amount, in cents. */
  readonly cents: number;
  /** `charged` until it is refunded. */
  readonly status: 'charged' | 'refunded';
}

/** A parcel handed to the carrier. */
export interface Shipment {
  /** The shipment's id. */
  readonly shipmentId: string;
  /** The carrier's tracking number. */
  readonly tracking: string;
}

/** What the shop's tables say about one order (by its reference prefix, the run id). */
export interface OrderState {
  /** Stock held for it. */
  readonly held: readonly OrderLine[];
  /** Its charges, refunded or not. */
  readonly charges: readonly Charge[];
  /** Its shipments. */
  readonly shipments: readonly Shipment[];
}

/** Not enough stock: retrying will not help. */
export class OutOfStockError extends NonRetryableError {
  override readonly name = 'OutOfStockError';
}

/**
 * The shop's warehouse, payment gateway and carrier, on SQL tables. Every write is made under
 * the caller's idempotency key (a unique key), so a retried call does not reserve, charge or
 * ship twice.
 */
export interface Shop {
  /** Brings a product's stock up to at least `quantity` (a delivery), at a unit price. */
  restock(sku: string, quantity: number, unitCents: number): Promise<void>;
  /** Units on hand, by sku. */
  stock(): Promise<Readonly<Record<string, number>>>;
  /**
   * Holds stock for every line of an order, all or nothing.
   *
   * @throws {@link OutOfStockError} when a line cannot be served.
   */
  reserve(reference: string, lines: readonly OrderLine[], idempotencyKey: string): Promise<Reservation>;
  /** Releases holds (idempotent): by id, or every hold under a reference. */
  release(target: { readonly reservationIds: readonly string[] } | { readonly reference: string }): Promise<void>;
  /**
   * Charges the customer's card; `afterCharge` runs once the charge is recorded, before the
   * answer returns (the demo's fault makes the answer get lost there).
   */
  charge(reference: string, cents: number, idempotencyKey: string, afterCharge?: () => Promise<void>): Promise<Charge>;
  /** Refunds a charge (idempotent): by id, or by the idempotency key it was made under. */
  refund(target: { readonly chargeId: string } | { readonly idempotencyKey: string }): Promise<void>;
  /** Hands the parcel to the carrier; the held stock leaves the warehouse with it. */
  ship(reference: string, reservationIds: readonly string[], idempotencyKey: string): Promise<Shipment>;
  /** What the tables hold for references starting with `prefix` (the demo passes the run id). */
  order(prefix: string): Promise<OrderState>;
  /** Closes the database. */
  close(): Promise<void>;
}

interface ChargeRow {
  readonly charge_id: string;
  readonly cents: number | string;
  readonly status: Charge['status'];
}

const toCharge = (row: ChargeRow): Charge => ({ chargeId: row.charge_id, cents: Number(row.cents), status: row.status });

/** Opens the shop's tables in a database (created on first use). */
export async function createShop(db: SqlDatabase): Promise<Shop> {
  await db.migrate([
    `CREATE TABLE IF NOT EXISTS shop_stock (
       sku        TEXT    NOT NULL PRIMARY KEY,
       on_hand    INTEGER NOT NULL CHECK (on_hand >= 0),
       unit_cents INTEGER NOT NULL
     )`,
    `CREATE TABLE IF NOT EXISTS shop_reservations (
       reservation_id  TEXT    NOT NULL PRIMARY KEY,
       idempotency_key TEXT    NOT NULL UNIQUE,
       reference       TEXT    NOT NULL,
       sku             TEXT    NOT NULL,
       quantity        INTEGER NOT NULL,
       unit_cents      INTEGER NOT NULL,
       status          TEXT    NOT NULL
     )`,
    `CREATE TABLE IF NOT EXISTS shop_charges (
       charge_id       TEXT    NOT NULL PRIMARY KEY,
       idempotency_key TEXT    NOT NULL UNIQUE,
       reference       TEXT    NOT NULL,
       cents           INTEGER NOT NULL,
       status          TEXT    NOT NULL
     )`,
    `CREATE TABLE IF NOT EXISTS shop_shipments (
       shipment_id     TEXT    NOT NULL PRIMARY KEY,
       idempotency_key TEXT    NOT NULL UNIQUE,
       reference       TEXT    NOT NULL,
       tracking        TEXT    NOT NULL
     )`,
  ]);
  return {
    async restock(sku, quantity, unitCents) {
      await db.query(
        `INSERT INTO shop_stock (sku, on_hand, unit_cents) VALUES (?, ?, ?)
         ON CONFLICT (sku) DO UPDATE SET on_hand = CASE WHEN shop_stock.on_hand < ? THEN ? ELSE shop_stock.on_hand END, unit_cents = ?`,
        [sku, quantity, unitCents, quantity, quantity, unitCents],
      );
    },
    async stock() {
      const rows = await db.query<{ sku: string; on_hand: number | string }>('SELECT sku, on_hand FROM shop_stock ORDER BY sku');
      return Object.fromEntries(rows.map((row) => [row.sku, Number(row.on_hand)]));
    },
    reserve(reference, lines, idempotencyKey) {
      return db.transaction(async (tx) => {
        const reservationIds: string[] = [];
        let totalCents = 0;
        for (const [index, line] of lines.entries()) {
          const key = `${idempotencyKey}/${index}`;
          const inserted = await tx.query<{ reservation_id: string }>(
            `INSERT INTO shop_reservations (reservation_id, idempotency_key, reference, sku, quantity, unit_cents, status)
             SELECT ?, ?, ?, sku, ?, unit_cents, 'held' FROM shop_stock WHERE sku = ?
             ON CONFLICT DO NOTHING
             RETURNING reservation_id`,
            [uuidv7(), key, reference, line.quantity, line.sku],
          );
          if (inserted[0] !== undefined) {
            const taken = await tx.query('UPDATE shop_stock SET on_hand = on_hand - ? WHERE sku = ? AND on_hand >= ? RETURNING on_hand', [line.quantity, line.sku, line.quantity]);
            // Throwing rolls every line back with the transaction.
            if (taken.length === 0) throw new OutOfStockError(`not enough '${line.sku}' in stock for ${line.quantity}`);
          }
          const rows = await tx.query<{ reservation_id: string; quantity: number | string; unit_cents: number | string }>(
            'SELECT reservation_id, quantity, unit_cents FROM shop_reservations WHERE idempotency_key = ?',
            [key],
          );
          const row = rows[0];
          if (row === undefined) throw new OutOfStockError(`the shop does not sell '${line.sku}'`);
          reservationIds.push(row.reservation_id);
          totalCents += Number(row.quantity) * Number(row.unit_cents);
        }
        return { reservationIds, totalCents };
      });
    },
    release(target) {
      return db.transaction(async (tx) => {
        const released =
          'reference' in target
            ? await tx.query<{ sku: string; quantity: number | string }>(
                "UPDATE shop_reservations SET status = 'released' WHERE reference = ? AND status = 'held' RETURNING sku, quantity",
                [target.reference],
              )
            : (
                await Promise.all(
                  target.reservationIds.map((id) =>
                    tx.query<{ sku: string; quantity: number | string }>(
                      "UPDATE shop_reservations SET status = 'released' WHERE reservation_id = ? AND status = 'held' RETURNING sku, quantity",
                      [id],
                    ),
                  ),
                )
              ).flat();
        for (const line of released) await tx.query('UPDATE shop_stock SET on_hand = on_hand + ? WHERE sku = ?', [Number(line.quantity), line.sku]);
      });
    },
    async charge(reference, cents, idempotencyKey, afterCharge) {
      await db.query(
        `INSERT INTO shop_charges (charge_id, idempotency_key, reference, cents, status) VALUES (?, ?, ?, ?, 'charged')
         ON CONFLICT (idempotency_key) DO NOTHING`,
        [uuidv7(), idempotencyKey, reference, cents],
      );
      const rows = await db.query<ChargeRow>('SELECT charge_id, cents, status FROM shop_charges WHERE idempotency_key = ?', [idempotencyKey]);
      if (rows[0] === undefined) throw new Error(`charge ${idempotencyKey} was not stored; retry`);
      await afterCharge?.();
      return toCharge(rows[0]);
    },
    async refund(target) {
      if ('idempotencyKey' in target) {
        await db.query("UPDATE shop_charges SET status = 'refunded' WHERE idempotency_key = ? AND status = 'charged'", [target.idempotencyKey]);
      }
      else await db.query("UPDATE shop_charges SET status = 'refunded' WHERE charge_id = ? AND status = 'charged'", [target.chargeId]);
    },
    ship(reference, reservationIds, idempotencyKey) {
      return db.transaction(async (tx) => {
        const inserted = await tx.query(
          `INSERT INTO shop_shipments (shipment_id, idempotency_key, reference, tracking) VALUES (?, ?, ?, ?)
           ON CONFLICT (idempotency_key) DO NOTHING
           RETURNING shipment_id`,
          [uuidv7(), idempotencyKey, reference, `TRK-${idempotencyKey.slice(0, 8).toUpperCase()}`],
        );
        if (inserted.length > 0) {
          for (const id of reservationIds) await tx.query("UPDATE shop_reservations SET status = 'shipped' WHERE reservation_id = ? AND status = 'held'", [id]);
        }
        const rows = await tx.query<{ shipment_id: string; tracking: string }>('SELECT shipment_id, tracking FROM shop_shipments WHERE idempotency_key = ?', [idempotencyKey]);
        if (rows[0] === undefined) throw new Error(`shipment ${idempotencyKey} was not stored; retry`);
        return { shipmentId: rows[0].shipment_id, tracking: rows[0].tracking };
      });
    },
    async order(prefix) {
      const like = `${prefix}/%`;
      const held = await db.query<{ sku: string; quantity: number | string }>(
        "SELECT sku, quantity FROM shop_reservations WHERE reference LIKE ? AND status = 'held' ORDER BY reservation_id",
        [like],
      );
      const charges = await db.query<ChargeRow>('SELECT charge_id, cents, status FROM shop_charges WHERE reference LIKE ? ORDER BY charge_id', [like]);
      const shipments = await db.query<{ shipment_id: string; tracking: string }>('SELECT shipment_id, tracking FROM shop_shipments WHERE reference LIKE ? ORDER BY shipment_id', [like]);
      return {
        held: held.map((row) => ({ sku: row.sku, quantity: Number(row.quantity) })),
        charges: charges.map(toCharge),
        shipments: shipments.map((row) => ({ shipmentId: row.shipment_id, tracking: row.tracking })),
      };
    },
    close: () => db.close(),
  };
}
