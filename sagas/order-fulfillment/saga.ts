import { z } from 'zod';
import { defineSaga } from 'sagaflow';
import { hangUntilAborted, injectFault, type FaultPlan } from '../support/faults.js';
import type { Shop } from './shop.js';

/** The input of an order: who ordered what. */
export const orderInput = z.object({
  orderId: z.string().min(1),
  customer: z.string().min(1),
  lines: z.array(z.object({ sku: z.string().min(1), quantity: z.number().int().positive() })).min(1),
});

/** An order's input. */
export type OrderInput = z.infer<typeof orderInput>;

/** How long the payment gateway gets to answer, per attempt. */
export const CHARGE_TIMEOUT_MS = 300;

/** Options of {@link createOrderFulfillment}. */
export interface OrderFulfillmentOptions {
  /**
   * Make a stage fail on every attempt (the demo's `--fail-at`). At `charge` the gateway
   * records the charge and its answer is lost: the attempt times out with the charge made.
   */
  readonly faults?: FaultPlan;
  /**
   * The `onFailure: 'pause'` variant, saga `order-fulfillment-pausing`: a failure keeps what
   * was done and waits for an operator to redrive (after fixing the cause) or compensate.
   */
  readonly pause?: boolean;
}

/**
 * The order: reserve inventory → charge payment → ship.
 *
 * @remarks
 * `charge` is `compensateOnFailure`: a charge that timed out may have gone through at the
 * gateway, so after its final failure its own compensation runs too (with `output: undefined`)
 * and refunds whatever the gateway charged under the stage's execute key
 * (`executeIdempotencyKey`). The retry of
 * a timed-out charge reuses the idempotency key, so the customer is charged once at most.
 *
 * @param shop - the warehouse, gateway and carrier; called on first use.
 */
export function createOrderFulfillment(shop: () => Promise<Shop>, options: OrderFulfillmentOptions = {}) {
  const { faults } = options;
  return defineSaga({
    name: options.pause === true ? 'order-fulfillment-pausing' : 'order-fulfillment',
    input: orderInput,
    onFailure: options.pause === true ? 'pause' : 'compensate',
  })
    .stage('reserve', {
      execute: async ({ input, runId, stage, idempotencyKey }) => {
        injectFault(faults, stage, 'the warehouse');
        return (await shop()).reserve(`${runId}/${stage}`, input.lines, idempotencyKey);
      },
      compensate: async ({ output, runId, stage }) => {
        await (await shop()).release(output === undefined ? { reference: `${runId}/${stage}` } : { reservationIds: output.reservationIds });
      },
    })
    .stage('charge', {
      retry: { maxAttempts: 2, initialDelayMs: 100 },
      timeoutMs: CHARGE_TIMEOUT_MS,
      compensateOnFailure: true,
      execute: async ({ runId, stage, idempotencyKey, signal, results }) => {
        const lostAnswer = faults?.failAt === stage ? () => hangUntilAborted(signal) : undefined;
        const charge = await (await shop()).charge(`${runId}/${stage}`, results.reserve.totalCents, idempotencyKey, lostAnswer);
        return { chargeId: charge.chargeId, cents: charge.cents };
      },
      compensate: async ({ output, executeIdempotencyKey }) => {
        // No output: the charge timed out and may have gone through; refund whatever the gateway holds under its key.
        await (await shop()).refund(output === undefined ? { idempotencyKey: executeIdempotencyKey } : { chargeId: output.chargeId });
      },
    })
    .stage('ship', {
      retry: { maxAttempts: 2, initialDelayMs: 100 },
      execute: async ({ runId, stage, idempotencyKey, results }) => {
        injectFault(faults, stage, 'the carrier');
        return (await shop()).ship(`${runId}/${stage}`, results.reserve.reservationIds, idempotencyKey);
      },
    })
    .build();
}

/** The order-fulfillment saga's type. */
export type OrderFulfillmentSaga = ReturnType<typeof createOrderFulfillment>;
