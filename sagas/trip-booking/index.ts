/**
 * The trip-booking demo: a quote, then flight, hotel and car booked in parallel, then the
 * payment; a failing car cancels the others in reverse completion order. `sagaflow demo
 * trip-booking` runs it; this module is what `--sagas` and `graph` load.
 */
import { defaultDatabaseUrl, openDatabase } from '../support/sql-database.js';
import { createTravelAgency, type TravelAgency } from './agency.js';
import { createTripBooking } from './saga.js';

export { createTripBooking, quote, tripInput, SUPPLIER_LATENCY_MS, type Quote, type TripBookingOptions, type TripBookingSaga, type TripInput } from './saga.js';
export { createTravelAgency, type Booking, type BookingKind, type Payment, type TravelAgency } from './agency.js';

let agency: Promise<TravelAgency> | undefined;

/** The trip, wired to the agency in the database of `SAGAFLOW_STORE` (default `sqlite:.sagaflow/sagaflow.db`), opened on first use. */
export const tripBooking = createTripBooking(() => {
  agency ??= openDatabase(defaultDatabaseUrl())
    .then(createTravelAgency)
    .catch((error: unknown) => {
      agency = undefined; // let the next attempt try again
      throw error;
    });
  return agency;
});
