// The sagas of the OpenTelemetry tests, shared by the test files and their child processes.
import { trace } from '@opentelemetry/api';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { z } from 'zod';
import { defineSaga, NonRetryableError } from 'sagaflow';

/** Two stages that complete; `call` starts a span inside the stage, as an instrumented client would. */
export const shipment = defineSaga({ name: 'shipment', version: '3', input: z.object({ orderId: z.string() }) })
  .stage('reserve', {
    execute: async ({ input }) => {
      // A span started by the stage's own code, after an await: it must be the attempt's child.
      await nextTurn();
      return trace.getTracer('test-client').startActiveSpan('http.client POST /reservations', (span) => {
        span.end();
        return { reservationId: `r-${input.orderId}` };
      });
    },
    compensate: async () => undefined,
  })
  .stage('label', {
    execute: async ({ results, idempotencyKey }) => ({ label: `label-${results.reserve.reservationId}`, key: idempotencyKey }),
  })
  .build();

/**
 * `debit` and `hold` complete; `charge` fails three times (retried twice, then final); the
 * rollback undoes `hold` (whose compensation fails once, then succeeds) and `debit`.
 */
export function refundSaga(attempts: { hold: number }) {
  return defineSaga({ name: 'refund', input: z.object({ cents: z.number() }) })
    .stage('debit', { execute: async () => ({ entry: 'd-1' }), compensate: async () => undefined })
    .stage('hold', {
      execute: async () => ({ hold: 'h-1' }),
      compensate: async () => {
        attempts.hold++;
        if (attempts.hold === 1) throw new Error('the ledger is busy');
      },
      compensation: { retry: { maxAttempts: 3, initialDelayMs: 1, jitter: false } },
    })
    .stage('charge', {
      execute: async () => {
        throw Object.assign(new Error('card declined'), { code: 'CARD_DECLINED' });
      },
      retry: { maxAttempts: 3, initialDelayMs: 1, jitter: false },
    })
    .build();
}

/** Three stages for the crash test: `charge` blocks forever in the first process (which is killed there). */
export function crashSaga(onCharge: (attempt: number) => Promise<void>) {
  return defineSaga({ name: 'crash-order', input: z.object({ orderId: z.string() }) })
    .stage('reserve', { execute: async () => ({ reserved: true }) })
    .stage('charge', {
      execute: async ({ attempt }) => {
        await onCharge(attempt);
        return { charged: true };
      },
    })
    .stage('ship', { execute: async () => ({ shipped: true }) })
    .build();
}

/** The saga the PostgreSQL worker runs: `book` completes, `pay` fails for good, `book` is undone. */
export const booking = defineSaga({ name: 'otel-booking', input: z.object({ trip: z.string() }) })
  .stage('book', { execute: async ({ input }) => ({ booking: `b-${input.trip}` }), compensate: async () => undefined })
  .stage('pay', {
    execute: async () => {
      throw new NonRetryableError('the card was refused');
    },
  })
  .build();

/** `confirm` fails while `provider.down` (the run pauses); a redrive after it is back completes the run. */
export function pausingSaga(provider: { down: boolean }) {
  return defineSaga({ name: 'pausing', input: z.object({ id: z.string() }), onFailure: 'pause' })
    .stage('prepare', { execute: async () => ({ prepared: true }) })
    .stage('confirm', {
      execute: async () => {
        if (provider.down) throw new Error('the provider is down');
        return { confirmed: true };
      },
    })
    .build();
}
