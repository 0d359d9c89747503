import { describe, expect, it } from 'vitest';
import { createOrchestrator, MemoryStore, type SagaOutcome } from 'sagaflow';
import { demo } from '../../sagas/catalog.js';
import { createOrderFulfillment, createShop, type OrderInput, type Shop } from '../../sagas/order-fulfillment/index.js';
import { openDatabase } from '../../sagas/support/sql-database.js';

const orderFulfillmentDemo = demo('order-fulfillment');

const ORDER: OrderInput = { orderId: 'order-1', customer: 'grace', lines: [{ sku: 'mug', quantity: 2 }, { sku: 'tea', quantity: 1 }] };

async function shop(): Promise<Shop> {
  const opened = await createShop(await openDatabase('memory:'));
  await opened.restock('mug', 10, 1_200);
  await opened.restock('tea', 5, 850);
  return opened;
}

async function order(failAt?: string, pause = false): Promise<{ outcome: SagaOutcome; store: MemoryStore; shop: Shop }> {
  const opened = await shop();
  const store = new MemoryStore();
  const saga = createOrderFulfillment(() => Promise.resolve(opened), { ...(failAt === undefined ? {} : { faults: { failAt } }), pause });
  const orchestrator = createOrchestrator({ store, sagas: [saga] });
  const outcome = await orchestrator.start(saga, ORDER).outcome;
  await orchestrator.close();
  return { outcome, store, shop: opened };
}

describe('order-fulfillment', () => {
  it('reserves, charges once and ships', async () => {
    const { outcome, shop } = await order();
    expect(outcome.status).toBe('completed');
    expect(await shop.stock()).toEqual({ mug: 8, tea: 4 });
    const state = await shop.order(outcome.runId);
    expect(state.charges.map((charge) => [charge.status, charge.cents])).toEqual([['charged', 3_250]]);
    expect(state.shipments).toHaveLength(1);
    expect(state.held).toEqual([]);
    await shop.close();
  });

  it('a charge that times out after going through is refunded by its own compensation (compensateOnFailure), and charged once', async () => {
    const { outcome, shop } = await order('charge');
    expect(outcome.status).toBe('compensated');
    expect(outcome.failure?.error.name).toBe('StageTimeoutError');
    expect(outcome.stages['charge']?.attempts).toBe(2);
    expect(outcome.stages['charge']?.status).toBe('compensated');
    expect(outcome.compensationOrder).toEqual(['charge', 'reserve']);
    const state = await shop.order(outcome.runId);
    // Two attempts, one idempotency key: one charge, refunded.
    expect(state.charges.map((charge) => charge.status)).toEqual(['refunded']);
    expect(state.held).toEqual([]);
    expect(await shop.stock()).toEqual({ mug: 10, tea: 5 });
    await shop.close();
  });

  it.each([
    { failAt: 'reserve', compensated: [] },
    { failAt: 'ship', compensated: ['charge', 'reserve'] },
  ])('a failure at $failAt leaves nothing charged, held or shipped', async ({ failAt, compensated }) => {
    const { outcome, shop } = await order(failAt);
    expect(outcome.status).toBe('compensated');
    expect(outcome.compensationOrder).toEqual(compensated);
    const state = await shop.order(outcome.runId);
    expect(state.charges.filter((charge) => charge.status === 'charged')).toEqual([]);
    expect(state.held).toEqual([]);
    expect(state.shipments).toEqual([]);
    expect(await shop.stock()).toEqual({ mug: 10, tea: 5 });
    await shop.close();
  });

  it("the 'pause' variant keeps what was done when shipping fails; once the carrier is back, a redrive ships it", async () => {
    const { outcome, store, shop } = await order('ship', true);
    expect(outcome.saga).toBe('order-fulfillment-pausing');
    expect(outcome.status).toBe('paused');
    expect(Object.keys(outcome.outputs)).toEqual(['reserve', 'charge']);
    expect((await shop.order(outcome.runId)).held).toHaveLength(2);

    // The fault is fixed: the same saga without the outage, on the same store and shop.
    const fixed = createOrderFulfillment(() => Promise.resolve(shop), { pause: true });
    const orchestrator = createOrchestrator({ store, sagas: [fixed] });
    const redriven = await orchestrator.redrive(outcome.runId).outcome;
    expect(redriven.status).toBe('completed');
    expect(redriven.stages['ship']?.attempts).toBe(3);
    expect(redriven.stages['charge']?.attempts).toBe(1);
    const state = await shop.order(outcome.runId);
    expect(state.charges.map((charge) => charge.status)).toEqual(['charged']);
    expect(state.shipments).toHaveLength(1);
    expect(await shop.stock()).toEqual({ mug: 8, tea: 4 });
    await orchestrator.close();
    await shop.close();
  });

  it('a paused charge that timed out is redriven under the same key: still one charge', async () => {
    const { outcome, store, shop } = await order('charge', true);
    expect(outcome.status).toBe('paused');
    expect((await shop.order(outcome.runId)).charges).toHaveLength(1);
    const orchestrator = createOrchestrator({ store, sagas: [createOrderFulfillment(() => Promise.resolve(shop), { pause: true })] });
    expect((await orchestrator.redrive(outcome.runId).outcome).status).toBe('completed');
    expect((await shop.order(outcome.runId)).charges.map((charge) => charge.status)).toEqual(['charged']);
    await orchestrator.close();
    await shop.close();
  });

  it('a paused order can be compensated instead: refunded and restocked', async () => {
    const { outcome, store, shop } = await order('ship', true);
    const orchestrator = createOrchestrator({ store, sagas: [createOrderFulfillment(() => Promise.resolve(shop), { pause: true })] });
    const rolledBack = await orchestrator.compensate(outcome.runId).outcome;
    expect(rolledBack.status).toBe('compensated');
    expect(rolledBack.compensationOrder).toEqual(['charge', 'reserve']);
    const state = await shop.order(outcome.runId);
    expect(state.charges.map((charge) => charge.status)).toEqual(['refunded']);
    expect(state.held).toEqual([]);
    expect(await shop.stock()).toEqual({ mug: 10, tea: 5 });
    await orchestrator.close();
    await shop.close();
  });

  it('the demo checks its invariants at every failure point, in both variants', async () => {
    for (const pause of [false, true]) {
      for (const failAt of [undefined, ...orderFulfillmentDemo.failurePoints]) {
        const session = await orderFulfillmentDemo.open({ database: 'memory:', ...(failAt === undefined ? {} : { failAt }), pause });
        const orchestrator = createOrchestrator({ sagas: [session.saga] });
        const outcome = await orchestrator.start(session.saga, session.input).outcome;
        expect(outcome.status).toBe(failAt === undefined ? 'completed' : pause ? 'paused' : 'compensated');
        const checks = await session.check(outcome);
        expect(checks.length).toBeGreaterThanOrEqual(2);
        expect(checks.filter((check) => !check.ok)).toEqual([]);
        await orchestrator.close();
        await session.close();
      }
    }
  });
});
