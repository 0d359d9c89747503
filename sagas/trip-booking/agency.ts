import { v7 as uuidv7 } from 'uuid';
import type { SqlDatabase } from '../support/sql-database.js';

/** What can be booked for a trip. */
export type BookingKind = 'flight' | 'hotel' | 'car';

/** A booking with a supplier. */
export interface Booking {
  /** The booking's id. */
  readonly bookingId: string;
  /** The trip it belongs to (the demo uses the run id). */
  readonly trip: string;
  /** Flight, hotel or car. */
  readonly kind: BookingKind;
  /** Its price, in cents. */
  readonly cents: number;
  /** `booked` until it is cancelled. */
  readonly status: 'booked' | 'cancelled';
}

/** A payment captured for a trip. */
export interface Payment {
  /** The payment's id. */
  readonly paymentId: string;
  /** The trip it pays for. */
  readonly trip: string;
  /** The amount, in cents. */
  readonly cents: number;
  /** `captured` until it is refunded. */
  readonly status: 'captured' | 'refunded';
}

/** The suppliers and the payment processor of the trip demo, on SQL tables. */
export interface TravelAgency {
  /** Books a flight, hotel or car; a repeated idempotency key returns the first booking. */
  book(kind: BookingKind, trip: string, cents: number, idempotencyKey: string): Promise<Booking>;
  /** Cancels a booking (idempotent); returns whether there was one. */
  cancel(bookingId: string): Promise<boolean>;
  /** Cancels the booking made with an idempotency key, if one was made (idempotent); returns whether there was one. */
  cancelByKey(idempotencyKey: string): Promise<boolean>;
  /** Captures a payment; a repeated idempotency key returns the first payment. */
  capture(trip: string, cents: number, idempotencyKey: string): Promise<Payment>;
  /** Refunds a payment (idempotent). */
  refund(paymentId: string): Promise<boolean>;
  /** Refunds the payment captured with an idempotency key, if one was (idempotent). */
  refundByKey(idempotencyKey: string): Promise<boolean>;
  /** The bookings of a trip. */
  bookings(trip: string): Promise<Booking[]>;
  /** The payments of a trip. */
  payments(trip: string): Promise<Payment[]>;
  /** Closes the database. */
  close(): Promise<void>;
}

interface BookingRow {
  readonly booking_id: string;
  readonly trip: string;
  readonly kind: BookingKind;
  readonly cents: number | string;
  readonly status: Booking['status'];
}

interface PaymentRow {
  readonly payment_id: string;
  readonly trip: string;
  readonly cents: number | string;
  readonly status: Payment['status'];
}

const toBooking = (row: BookingRow): Booking => ({ bookingId: row.booking_id, trip: row.trip, kind: row.kind, cents: Number(row.cents), status: row.status });
const toPayment = (row: PaymentRow): Payment => ({ paymentId: row.payment_id, trip: row.trip, cents: Number(row.cents), status: row.status });

/** Opens the travel agency's tables in a database (created on first use). */
export async function createTravelAgency(db: SqlDatabase): Promise<TravelAgency> {
  await db.migrate([
    `CREATE TABLE IF NOT EXISTS trip_bookings (
       booking_id      TEXT    NOT NULL PRIMARY KEY,
       idempotency_key TEXT    NOT NULL UNIQUE,
       trip            TEXT    NOT NULL,
       kind            TEXT    NOT NULL,
       cents           INTEGER NOT NULL,
       status          TEXT    NOT NULL
     )`,
    `CREATE TABLE IF NOT EXISTS trip_payments (
       payment_id      TEXT    NOT NULL PRIMARY KEY,
       idempotency_key TEXT    NOT NULL UNIQUE,
       trip            TEXT    NOT NULL,
       cents           INTEGER NOT NULL,
       status          TEXT    NOT NULL
     )`,
  ]);
  return {
    async book(kind, trip, cents, idempotencyKey) {
      await db.query(
        `INSERT INTO trip_bookings (booking_id, idempotency_key, trip, kind, cents, status) VALUES (?, ?, ?, ?, ?, 'booked')
         ON CONFLICT (idempotency_key) DO NOTHING`,
        [uuidv7(), idempotencyKey, trip, kind, cents],
      );
      const rows = await db.query<BookingRow>('SELECT * FROM trip_bookings WHERE idempotency_key = ?', [idempotencyKey]);
      if (rows[0] === undefined) throw new Error(`booking ${idempotencyKey} was not stored; retry`);
      return toBooking(rows[0]);
    },
    async cancel(bookingId) {
      const rows = await db.query("UPDATE trip_bookings SET status = 'cancelled' WHERE booking_id = ? RETURNING booking_id", [bookingId]);
      return rows.length > 0;
    },
    async cancelByKey(idempotencyKey) {
      const rows = await db.query("UPDATE trip_bookings SET status = 'cancelled' WHERE idempotency_key = ? RETURNING booking_id", [idempotencyKey]);
      return rows.length > 0;
    },
    async capture(trip, cents, idempotencyKey) {
      await db.query(
        `INSERT INTO trip_payments (payment_id, idempotency_key, trip, cents, status) VALUES (?, ?, ?, ?, 'captured')
         ON CONFLICT (idempotency_key) DO NOTHING`,
        [uuidv7(), idempotencyKey, trip, cents],
      );
      const rows = await db.query<PaymentRow>('SELECT * FROM trip_payments WHERE idempotency_key = ?', [idempotencyKey]);
      if (rows[0] === undefined) throw new Error(`payment ${idempotencyKey} was not stored; retry`);
      return toPayment(rows[0]);
    },
    async refund(paymentId) {
      const rows = await db.query("UPDATE trip_payments SET status = 'refunded' WHERE payment_id = ? RETURNING payment_id", [paymentId]);
      return rows.length > 0;
    },
    async refundByKey(idempotencyKey) {
      const rows = await db.query("UPDATE trip_payments SET status = 'refunded' WHERE idempotency_key = ? RETURNING payment_id", [idempotencyKey]);
      return rows.length > 0;
    },
    async bookings(trip) {
      return (await db.query<BookingRow>('SELECT * FROM trip_bookings WHERE trip = ? ORDER BY booking_id', [trip])).map(toBooking);
    },
    async payments(trip) {
      return (await db.query<PaymentRow>('SELECT * FROM trip_payments WHERE trip = ? ORDER BY payment_id', [trip])).map(toPayment);
    },
    close: () => db.close(),
  };
}
