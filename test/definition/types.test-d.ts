import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, type SagaOutcome, type SagaRun } from 'sagaflow';
import { createSagaTest } from 'sagaflow/testing';

const input = z.object({ from: z.string(), cents: z.number().int(), note: z.string().default('none') });

describe('type inference', () => {
  it('types ctx.input from the schema output, and start() input from the schema input', () => {
    const saga = defineSaga({ name: 't', input })
      .stage('a', {
        execute: ({ input: given }) => {
          expectTypeOf(given).toEqualTypeOf<{ from: string; cents: number; note: string }>();
          return 1;
        },
      })
      .build();
    const orchestrator = createOrchestrator();
    expectTypeOf(orchestrator.start(saga, { from: 'x', cents: 1 })).toEqualTypeOf<SagaRun<{ a: number }>>();
    // @ts-expect-error cents is required
    orchestrator.start(saga, { from: 'x' });
  });

  it('checks the input against the schema, not against what was passed (an enum value is not widened)', async () => {
    const saga = defineSaga({ name: 't', input: z.object({ tenant: z.string(), region: z.enum(['eu', 'us']) }) })
      .stage('a', { execute: async () => 1 })
      .build();
    const orchestrator = createOrchestrator();
    orchestrator.start(saga, { tenant: 'acme', region: 'eu' });
    // @ts-expect-error 'asia' is not a region
    orchestrator.start(saga, { tenant: 'acme', region: 'asia' });
    // @ts-expect-error 'asia' is not a region
    await orchestrator.run(saga, { tenant: 'acme', region: 'asia' }).catch(() => undefined);
    // @ts-expect-error 'asia' is not a region
    await orchestrator.submit(saga, { tenant: 'acme', region: 'asia' }).catch(() => undefined);
    // @ts-expect-error 'asia' is not a region
    await createSagaTest().run(saga, { tenant: 'acme', region: 'asia' });
  });

  it('types ctx.results with the outputs of ancestors only', () => {
    defineSaga({ name: 't', input })
      .stage('quote', { execute: async () => ({ price: 10 }) })
      .stage('flight', {
        execute: async ({ results }) => {
          expectTypeOf(results).toEqualTypeOf<{ readonly quote: { price: number } }>();
          return { pnr: 'F1' };
        },
      })
      .stage('hotel', {
        after: ['quote'],
        execute: async ({ results }) => {
          expectTypeOf(results.quote).toEqualTypeOf<{ price: number }>();
          // @ts-expect-error flight is not an ancestor of hotel
          void results.flight;
          return { booking: 'H1' };
        },
      })
      .stage('pay', {
        after: ['flight', 'hotel'],
        execute: async ({ results }) => {
          expectTypeOf(results).toEqualTypeOf<{
            readonly flight: { pnr: string };
            readonly hotel: { booking: string };
            readonly quote: { price: number };
          }>();
          return results.flight.pnr + results.hotel.booking;
        },
      })
      .build();
  });

  it('rejects an `after` naming an undeclared stage', () => {
    defineSaga({ name: 't', input })
      .stage('a', { execute: () => 1 })
      // @ts-expect-error 'nope' is not a declared stage
      .stage('b', { after: ['nope'], execute: () => 2 });
  });

  it('types ctx.output in compensate with the stage output, optional for compensateOnFailure stages', () => {
    defineSaga({ name: 't', input })
      .stage('debit', {
        execute: async () => ({ entryId: 'e1' }),
        compensate: async ({ output, cause }) => {
          expectTypeOf(output).toEqualTypeOf<{ entryId: string }>();
          expectTypeOf(cause.kind).toEqualTypeOf<'failed' | 'cancelled'>();
        },
      })
      .stage('charge', {
        execute: async () => ({ chargeId: 'c1' }),
        compensateOnFailure: true,
        compensate: async ({ output }) => {
          expectTypeOf(output).toEqualTypeOf<{ chargeId: string } | undefined>();
        },
      })
      .build();
  });

  it('types run() outputs and outcome outputs by stage', async () => {
    const saga = defineSaga({ name: 't', input })
      .stage('a', { execute: async () => ({ x: 1 }) })
      .stage('b', { execute: () => 'done' as const })
      .build();
    const orchestrator = createOrchestrator();
    expectTypeOf(await orchestrator.run(saga, { from: 'a', cents: 1 })).toEqualTypeOf<{ a: { x: number }; b: 'done' }>();
    const run = orchestrator.start(saga, { from: 'a', cents: 1 });
    expectTypeOf(run.outcome).toEqualTypeOf<Promise<SagaOutcome<{ a: { x: number }; b: 'done' }>>>();
    expectTypeOf((await run.outcome).outputs.a).toEqualTypeOf<{ x: number } | undefined>();
  });

  it('infers the output type from an output schema', () => {
    defineSaga({ name: 't', input })
      .stage('a', { output: z.object({ id: z.string() }), execute: async () => ({ id: 'x' }) })
      .stage('b', {
        execute: ({ results }) => {
          expectTypeOf(results.a).toEqualTypeOf<{ id: string }>();
        },
      });
  });
});
