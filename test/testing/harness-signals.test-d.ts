import { describe, it } from 'vitest';
import { z } from 'zod';
import { defineSaga, type Saga } from 'sagaflow';
import { createSagaTest } from 'sagaflow/testing';

// The test kit types the signals it sends with the saga, as `orchestrator.run` types the input
// and the outputs: a misspelt signal name or a payload of the wrong shape is a compile error, not a
// rejection at run time.

const payout = defineSaga({ name: 'payout', input: z.object({ cents: z.number() }) })
  .stage('hold', { execute: async ({ input }) => ({ held: input.cents }), compensate: async () => undefined })
  .waitForSignal('approval', { signal: 'approved', schema: z.object({ by: z.string() }), timeoutMs: 60_000 })
  .waitForSignal('review', { signal: 'reviewed', schema: z.object({ score: z.number().default(1) }) })
  .build();

const plain = defineSaga({ name: 'plain', input: z.object({}) })
  .stage('a', { execute: async () => ({ entryId: 'a-1' }) })
  .build();

describe('the test kit types signals with the saga', () => {
  it('accepts the signals the saga waits for, with their payloads as sent', async () => {
    const harness = createSagaTest();
    await harness.run(payout, { cents: 5 }, { signals: { approved: { by: 'ann' } } });
    // The payload as sent: the schema's default fills `score` in.
    await harness.run(payout, { cents: 5 }, { signals: { approved: { by: 'ann' }, reviewed: {} } });
    await harness.run(payout, { cents: 5 }, { signals: {} });
  });

  it('refuses a misspelt signal name', async () => {
    const harness = createSagaTest();
    // @ts-expect-error 'aproved' is not a signal the saga waits for
    await harness.run(payout, { cents: 5 }, { signals: { aproved: { by: 'ann' } } });
    // @ts-expect-error a saga without waits takes no signals
    await harness.run(plain, {}, { signals: { approved: { by: 'ann' } } });
  });

  it('types the signals of resume() and redrive() with the saga given as { saga }, and takes any without it', async () => {
    const harness = createSagaTest({ sagas: [payout] });
    await harness.resume('r', { saga: payout, signals: { approved: { by: 'ann' } } });
    await harness.redrive('r', { saga: payout, signals: { reviewed: {} } });
    await harness.resume('r', { signals: { anything: 1 } });
    // @ts-expect-error 'aproved' is not a signal the saga waits for
    await harness.resume('r', { saga: payout, signals: { aproved: { by: 'ann' } } });
    // @ts-expect-error `by` is a string
    await harness.redrive('r', { saga: payout, signals: { approved: { by: 1 } } });
  });

  it("refuses a payload the wait's schema would refuse", async () => {
    const harness = createSagaTest();
    // @ts-expect-error `by` is a string
    await harness.run(payout, { cents: 5 }, { signals: { approved: { by: 1 } } });
    // @ts-expect-error `by` is required
    await harness.run(payout, { cents: 5 }, { signals: { approved: {} } });
  });

  it('leaves signals untyped for a saga whose signals are not known', async () => {
    const harness = createSagaTest();
    const untyped: Saga = payout;
    await harness.run(untyped, {}, { signals: { anything: 1 } });
  });
});
