import { z } from 'zod';
import { defineSaga, type CompensateOutput } from 'sagaflow';
import { injectFault, latency, type FaultPlan } from '../support/faults.js';
import type { BookingKind, TravelAgency } from './agency.js';

/** The input of a trip: who travels where, for how many nights. */
export const tripInput = z.object({
  traveller: z.string().min(1),
  destination: z.string().min(1),
  nights: z.number().int().min(1).max(30),
});

/** A trip's input. */
export type TripInput = z.infer<typeof tripInput>;

/** How long each supplier takes to answer, in ms: hotel first, then flight, then car. */
export const SUPPLIER_LATENCY_MS: Readonly<Record<BookingKind, number>> = { hotel: 40, flight: 80, car: 120 };

/** Options of {@link createTripBooking}. */
export interface TripBookingOptions {
  /** Make a stage fail on every attempt (the demo's `--fail-at`). */
  readonly faults?: FaultPlan;
}

/**
 * The trip: a quote, then flight, hotel and car booked in parallel, then the payment captured.
 *
 * @remarks
 * When the car (or any stage) fails, sagaflow aborts the bookings still in flight, waits for
 * them, and cancels the completed ones one at a time in reverse completion order: a hotel that
 * answered first is cancelled last. The bookings are keyed by the stage's idempotency key, and
 * the run id is the trip's id.
 *
 * @param agency - the suppliers and the payment processor; called on first use.
 */
export function createTripBooking(agency: () => Promise<TravelAgency>, options: TripBookingOptions = {}) {
  const { faults } = options;
  /** A supplier answers after a while; an abort (another branch failed) means no booking is made. */
  const book = async (kind: BookingKind, { runId, stage, idempotencyKey, signal, results }: BookingContext) => {
    await latency(SUPPLIER_LATENCY_MS[kind], signal);
    injectFault(faults, stage, `the ${kind} supplier`);
    const made = await (await agency()).book(kind, runId, results.quote[`${kind}Cents`], idempotencyKey);
    return { bookingId: made.bookingId };
  };
  /** Cancels the booking; when the stage's outcome is unknown (see `CompensateOutput`), the one made under its key, if any. */
  const cancel = async (context: CancelContext) => {
    if (context.outcome === 'completed') await (await agency()).cancel(context.output.bookingId);
    else await (await agency()).cancelByKey(context.executeIdempotencyKey);
  };
  return defineSaga({ name: 'trip-booking', input: tripInput })
    .stage('quote', {
      execute: ({ input, stage }) => {
        injectFault(faults, stage, 'the pricing service');
        return quote(input);
      },
    })
    .stage('flight', { after: ['quote'], execute: (ctx) => book('flight', ctx), compensate: cancel })
    .stage('hotel', { after: ['quote'], execute: (ctx) => book('hotel', ctx), compensate: cancel })
    .stage('car', { after: ['quote'], execute: (ctx) => book('car', ctx), compensate: cancel, retry: { maxAttempts: 2, initialDelayMs: 100 } })
    .stage('payment', {
      after: ['flight', 'hotel', 'car'],
      execute: async ({ runId, stage, idempotencyKey, results }) => {
        injectFault(faults, stage, 'the payment processor');
        const payment = await (await agency()).capture(runId, results.quote.totalCents, idempotencyKey);
        return { paymentId: payment.paymentId, cents: payment.cents };
      },
      compensate: async ({ outcome, output, executeIdempotencyKey }) => {
        if (outcome === 'completed') await (await agency()).refund(output.paymentId);
        else await (await agency()).refundByKey(executeIdempotencyKey);
      },
    })
    .build();
}

/** What a booking stage reads from its context. */
interface BookingContext {
  readonly runId: string;
  readonly stage: string;
  readonly idempotencyKey: string;
  readonly signal: AbortSignal;
  readonly results: { readonly quote: Quote };
}

/** What a booking's compensation reads from its context. */
type CancelContext = CompensateOutput<{ readonly bookingId: string }> & { readonly executeIdempotencyKey: string };

/** The prices of a trip, in cents. */
export interface Quote {
  readonly flightCents: number;
  readonly hotelCents: number;
  readonly carCents: number;
  readonly totalCents: number;
}

/** Prices a trip: a flat fare, and per-night hotel and car rates. */
export function quote(input: TripInput): Quote {
  const flightCents = 32_000;
  const hotelCents = 11_000 * input.nights;
  const carCents = 4_500 * input.nights;
  return { flightCents, hotelCents, carCents, totalCents: flightCents + hotelCents + carCents };
}

/** The trip-booking saga's type. */
export type TripBookingSaga = ReturnType<typeof createTripBooking>;
