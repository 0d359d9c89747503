import type { SagaOutcome } from 'sagaflow';
import type { DemoCheck, DemoOptions, DemoSession } from '../support/demo.js';
import { openDatabase } from '../support/sql-database.js';
import { formatCents } from '../money-transfer/ledger.js';
import { createTravelAgency } from './agency.js';
import { createTripBooking, quote, type TripInput } from './saga.js';

const TRIP: TripInput = { traveller: 'ada', destination: 'Lisbon', nights: 3 };

/** `sagaflow demo trip-booking`: 3 nights in Lisbon. */
export async function openTripBookingDemo(options: DemoOptions): Promise<DemoSession> {
  if (options.pause === true) throw new TypeError('the trip-booking demo has no pause variant');
  const agency = await createTravelAgency(await openDatabase(options.database));
  const saga = createTripBooking(() => Promise.resolve(agency), options.failAt === undefined ? {} : { faults: { failAt: options.failAt } });
  const price = quote(TRIP);
  const systems: Readonly<Record<string, string>> = {
    quote: 'the pricing service is down',
    flight: 'the flight supplier is down',
    hotel: 'the hotel supplier is down',
    car: 'the car supplier is down',
    payment: 'the payment processor is down',
  };
  return {
    ...(options.failAt === undefined ? {} : { fault: `${systems[options.failAt] ?? 'an outage'}: every attempt of '${options.failAt}' fails` }),
    title: `Book ${TRIP.nights} nights in ${TRIP.destination} for ${TRIP.traveller}: flight ${formatCents(price.flightCents)}, hotel ${formatCents(price.hotelCents)}, car ${formatCents(price.carCents)}`,
    saga,
    input: TRIP,
    async describe(outcome) {
      if (outcome === undefined) return ['a new trip: nothing booked or charged'];
      const trip = outcome.runId;
      const bookings = await agency.bookings(trip);
      const payments = await agency.payments(trip);
      return [
        ...bookings.map((booking) => `${booking.kind.padEnd(7)} ${booking.status.padEnd(9)} ${formatCents(booking.cents).padStart(9)}`),
        ...payments.map((payment) => `payment ${payment.status.padEnd(9)} ${formatCents(payment.cents).padStart(9)}`),
        ...(bookings.length + payments.length === 0 ? ['nothing was booked or charged'] : []),
      ];
    },
    async check(outcome: SagaOutcome): Promise<DemoCheck[]> {
      const bookings = await agency.bookings(outcome.runId);
      const payments = await agency.payments(outcome.runId);
      const booked = bookings.filter((booking) => booking.status === 'booked');
      const captured = payments.filter((payment) => payment.status === 'captured');
      switch (outcome.status) {
        case 'completed':
          return [
            { ok: booked.length === 3, description: `${booked.length} of 3 bookings held (${booked.map((booking) => booking.kind).join(', ')})` },
            {
              ok: captured.length === 1 && captured[0]?.cents === price.totalCents,
              description: `payment of ${formatCents(captured[0]?.cents ?? 0)} captured for a quote of ${formatCents(price.totalCents)}`,
            },
          ];
        case 'compensated':
        case 'cancelled':
          return [
            { ok: booked.length === 0, description: booked.length === 0 ? 'nothing left booked' : `still booked: ${booked.map((booking) => booking.kind).join(', ')}` },
            { ok: captured.length === 0, description: captured.length === 0 ? 'nothing left charged' : `still charged: ${formatCents(captured[0]?.cents ?? 0)}` },
            {
              ok: outcome.compensationOrder.join() === [...outcome.completionOrder].reverse().filter((stage) => stage !== 'quote').join(),
              description: `cancelled in reverse completion order: completed ${outcome.completionOrder.join(', ')}; compensated ${outcome.compensationOrder.join(', ') || 'nothing'}`,
            },
          ];
        case 'compensation_failed':
        case 'paused':
        case 'queued':
        case 'running':
        case 'compensating':
          return [];
      }
    },
    close: () => agency.close(),
  };
}
