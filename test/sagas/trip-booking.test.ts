import { describe, expect, it } from 'vitest';
import { createOrchestrator, type SagaOutcome } from 'sagaflow';
import { openDatabase } from '../../sagas/support/sql-database.js';
import { demo } from '../../sagas/catalog.js';
import { createTravelAgency, createTripBooking, quote, type TravelAgency, type TripInput } from '../../sagas/trip-booking/index.js';

const tripBookingDemo = demo('trip-booking');

const TRIP: TripInput = { traveller: 'ada', destination: 'Lisbon', nights: 3 };

async function book(failAt?: string): Promise<{ outcome: SagaOutcome; agency: TravelAgency }> {
  const agency = await createTravelAgency(await openDatabase('memory:'));
  const saga = createTripBooking(() => Promise.resolve(agency), failAt === undefined ? {} : { faults: { failAt } });
  const orchestrator = createOrchestrator({ sagas: [saga] });
  const outcome = await orchestrator.start(saga, TRIP).outcome;
  await orchestrator.close();
  return { outcome, agency };
}

describe('trip-booking', () => {
  it('books flight, hotel and car in parallel after the quote, then captures the payment', async () => {
    const { outcome, agency } = await book();
    expect(outcome.status).toBe('completed');
    // The suppliers answer in 40 (hotel), 80 (flight) and 120 ms (car): they ran side by side.
    expect(outcome.completionOrder).toEqual(['quote', 'hotel', 'flight', 'car', 'payment']);
    const started = (stage: string): number => outcome.stages[stage]?.startedAt ?? Number.NaN;
    expect(started('car')).toBeLessThan(outcome.stages['hotel']?.endedAt ?? 0);
    const bookings = await agency.bookings(outcome.runId);
    expect(bookings.map((booking) => [booking.kind, booking.status])).toEqual([
      ['hotel', 'booked'],
      ['flight', 'booked'],
      ['car', 'booked'],
    ]);
    expect((await agency.payments(outcome.runId)).map((payment) => [payment.status, payment.cents])).toEqual([['captured', quote(TRIP).totalCents]]);
    await agency.close();
  });

  it('the car failing cancels the flight and hotel in reverse completion order, and nothing is charged', async () => {
    const { outcome, agency } = await book('car');
    expect(outcome.status).toBe('compensated');
    expect(outcome.failure?.stage).toBe('car');
    expect(outcome.stages['car']?.attempts).toBe(2);
    expect(outcome.completionOrder).toEqual(['quote', 'hotel', 'flight']);
    expect(outcome.compensationOrder).toEqual(['flight', 'hotel']);
    expect(outcome.stages['payment']?.status).toBe('not_started');
    expect((await agency.bookings(outcome.runId)).map((booking) => [booking.kind, booking.status])).toEqual([
      ['hotel', 'cancelled'],
      ['flight', 'cancelled'],
    ]);
    expect(await agency.payments(outcome.runId)).toEqual([]);
    await agency.close();
  });

  it.each(['quote', 'flight', 'hotel', 'payment'])('a failure at %s leaves nothing booked or charged', async (failAt) => {
    const { outcome, agency } = await book(failAt);
    expect(outcome.status).toBe('compensated');
    expect(outcome.failure?.stage).toBe(failAt);
    const compensable = outcome.completionOrder.filter((stage) => stage !== 'quote');
    expect(outcome.compensationOrder).toEqual([...compensable].reverse());
    expect((await agency.bookings(outcome.runId)).filter((booking) => booking.status === 'booked')).toEqual([]);
    expect((await agency.payments(outcome.runId)).filter((payment) => payment.status === 'captured')).toEqual([]);
    await agency.close();
  });

  it('a branch still in flight when another fails is aborted and books nothing', async () => {
    // The flight fails at 80 ms while the car (120 ms) is still waiting for its supplier.
    const { outcome, agency } = await book('flight');
    expect(outcome.stages['car']?.status).toBe('cancelled');
    expect(outcome.stages['hotel']?.status).toBe('compensated');
    expect((await agency.bookings(outcome.runId)).map((booking) => booking.kind)).toEqual(['hotel']);
    await agency.close();
  });

  it('a compensation with an unknown outcome cancels the booking made under the execute key, and tolerates none', async () => {
    const agency = await createTravelAgency(await openDatabase('memory:'));
    const saga = createTripBooking(() => Promise.resolve(agency));
    await agency.book('hotel', 'trip-1', 33_000, 'execute-hotel');
    await agency.capture('trip-1', 99_000, 'execute-payment');
    const unknownOutcome = (stage: string, executeIdempotencyKey: string) => ({
      runId: 'trip-1',
      saga: 'trip-booking',
      stage,
      attempt: 1,
      input: TRIP,
      outcome: 'unknown' as const,
      output: undefined,
      results: {},
      idempotencyKey: `compensate-${executeIdempotencyKey}`,
      executeIdempotencyKey,
      signal: new AbortController().signal,
      cause: { kind: 'cancelled' as const, reason: 'customer left', by: 'external' },
    });
    await saga.stage('hotel')?.compensate?.(unknownOutcome('hotel', 'execute-hotel'));
    await saga.stage('flight')?.compensate?.(unknownOutcome('flight', 'never-booked'));
    await saga.stage('payment')?.compensate?.(unknownOutcome('payment', 'execute-payment'));
    expect((await agency.bookings('trip-1')).map((booking) => [booking.kind, booking.status])).toEqual([['hotel', 'cancelled']]);
    expect((await agency.payments('trip-1')).map((payment) => payment.status)).toEqual(['refunded']);
    await agency.close();
  });

  it('the demo checks its invariants at every failure point', async () => {
    for (const failAt of [undefined, ...tripBookingDemo.failurePoints]) {
      const session = await tripBookingDemo.open({ database: 'memory:', ...(failAt === undefined ? {} : { failAt }) });
      const orchestrator = createOrchestrator({ sagas: [session.saga] });
      const outcome = await orchestrator.start(session.saga, session.input).outcome;
      expect(outcome.status).toBe(failAt === undefined ? 'completed' : 'compensated');
      const checks = await session.check(outcome);
      expect(checks.length).toBeGreaterThanOrEqual(2);
      expect(checks.filter((check) => !check.ok)).toEqual([]);
      await orchestrator.close();
      await session.close();
    }
  });
});
