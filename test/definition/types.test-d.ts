import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  createOrchestrator,
  defineSaga,
  isRunError,
  runErrorFor,
  type AnyRunError,
  SagaFailedError,
  type CompensateContext,
  type CompletedSagaOutcome,
  type DeepReadonly,
  type KnownAfter,
  type RunStatus,
  type SagaOutcome,
  type SagaRun,
  type SagaRunError,
  type StageFailure,
  type StageRecord,
  type UniqueStageName,
} from 'sagaflow';
import { createSagaTest } from 'sagaflow/testing';

const input = z.object({ from: z.string(), cents: z.number().int(), note: z.string().default('none') });

describe('type inference', () => {
  it('types ctx.input from the schema output, and start() input from the schema input', () => {
    const saga = defineSaga({ name: 't', input })
      .stage('a', {
        execute: ({ input: given }) => {
          expectTypeOf(given).toEqualTypeOf<{ readonly from: string; readonly cents: number; readonly note: string }>();
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
          expectTypeOf(results).toEqualTypeOf<{ readonly quote: { readonly price: number } }>();
          return { pnr: 'F1' };
        },
      })
      .stage('hotel', {
        after: ['quote'],
        execute: async ({ results }) => {
          expectTypeOf(results.quote).toEqualTypeOf<{ readonly price: number }>();
          // @ts-expect-error flight is not an ancestor of hotel
          void results.flight;
          return { booking: 'H1' };
        },
      })
      .stage('pay', {
        after: ['flight', 'hotel'],
        execute: async ({ results }) => {
          expectTypeOf(results).toEqualTypeOf<{
            readonly flight: { readonly pnr: string };
            readonly hotel: { readonly booking: string };
            readonly quote: { readonly price: number };
          }>();
          return results.flight.pnr + results.hotel.booking;
        },
      })
      .build();
  });

  it('types ctx.input and ctx.results read-only at every depth, as they are frozen at run time', () => {
    const order = z.object({ amount: z.number(), customer: z.object({ id: z.string() }), lines: z.array(z.object({ sku: z.string() })) });
    defineSaga({ name: 't', input: order })
      .stage('quote', { execute: async () => ({ price: 10, items: [{ sku: 'a' }], at: { day: 1 } }) })
      .stage('pay', {
        execute: async ({ input: given, results }) => {
          // @ts-expect-error ctx.input is read-only
          given.amount = 0;
          // @ts-expect-error ... at every depth
          given.customer.id = 'other';
          // @ts-expect-error ... arrays included
          given.lines.push({ sku: 'b' });
          // @ts-expect-error ... and their elements
          given.lines[0]!.sku = 'b';
          // @ts-expect-error ctx.results is read-only
          results.quote.price = 0;
          // @ts-expect-error ... at every depth
          results.quote.items[0]!.sku = 'b';
          // @ts-expect-error ... arrays included
          results.quote.items.length = 0;
          // @ts-expect-error ... nested objects too
          results.quote.at.day = 2;
          expectTypeOf(given.lines).toEqualTypeOf<readonly { readonly sku: string }[]>();
          expectTypeOf(results.quote.items).toEqualTypeOf<readonly { readonly sku: string }[]>();
          // Reading, and copying to change, still work: a spread copy is mutable at its level.
          const copy = { ...given, lines: [...given.lines] };
          copy.amount = 0;
          copy.lines.push({ sku: 'b' });
          return { total: given.amount + results.quote.price, skus: given.lines.map((line) => line.sku) };
        },
        compensate: async ({ input: given, results }) => {
          // @ts-expect-error read-only in compensate too
          given.customer.id = 'other';
          // @ts-expect-error read-only in compensate too
          results.quote.price = 0;
        },
      })
      .sleep('later', {
        until: ({ input: given }) => {
          // @ts-expect-error read-only in a sleep's `until` too
          given.amount = 0;
          return Date.now();
        },
      })
      .build();
    // Functions are left as they are (a stage can still call them), and optional values keep `undefined`.
    expectTypeOf<DeepReadonly<{ f: (x: number[]) => void; n: number | undefined }>>().toEqualTypeOf<{
      readonly f: (x: number[]) => void;
      readonly n: number | undefined;
    }>();
  });

  it('rejects an `after` naming an undeclared stage', () => {
    defineSaga({ name: 't', input })
      .stage('a', { execute: () => 1 })
      // @ts-expect-error 'nope' is not a declared stage
      .stage('b', { after: ['nope'], execute: () => 2 });
  });

  it('rejects a stage name declared before, saying which, for stages and wait stages alike', () => {
    type Checked = UniqueStageName<'car', 'quote' | 'car'>;
    expectTypeOf<Checked>().toEqualTypeOf<'car' & { readonly "stage 'car' is already declared": true }>();
    expectTypeOf<UniqueStageName<'pay', 'quote' | 'car'>>().toEqualTypeOf<'pay'>();
    // A name only known at run time is left to .build().
    expectTypeOf<UniqueStageName<'pay', string>>().toEqualTypeOf<'pay'>();
    const base = defineSaga({ name: 't', input })
      .stage('quote', { execute: () => 1 })
      .stage('car', { execute: () => 2 });
    // @ts-expect-error stage 'car' is already declared
    base.stage('car', { execute: () => 3 });
    // @ts-expect-error stage 'quote' is already declared, even far back and with another `after`
    base.stage('quote', { after: [], execute: () => 3 });
    // @ts-expect-error stage 'car' is already declared
    base.waitForSignal('car', { signal: 'go', schema: z.object({}) });
    // @ts-expect-error stage 'quote' is already declared
    base.sleep('quote', { durationMs: 1 });
    // Fresh names still compile, and so do names chosen at run time.
    base.stage('pay', { execute: () => 4 }).sleep('cool-off', { durationMs: 1 }).build();
    const dynamic: string = 'x';
    base.stage(dynamic, { execute: () => 5 }).stage('again', { execute: () => 6 });
  });

  it('says which stage is not declared before which, for a forward reference', () => {
    type Checked = KnownAfter<['b'], never, 'a'>;
    expectTypeOf<Checked[0]>().toEqualTypeOf<'b' & { readonly "stage 'b' is not declared before 'a'": true }>();
    expectTypeOf<KnownAfter<['x', 'b'], 'x', 'a'>[0]>().toEqualTypeOf<'x'>();
    defineSaga({ name: 't', input })
      // @ts-expect-error stage 'b' is not declared before 'a'
      .stage('a', { after: ['b'], execute: () => 1 })
      .stage('b', { execute: () => 2 });
  });

  it('accepts an after list chosen at run time (a union of tuples), a root, and the default chain', () => {
    const extraEdge = Math.random() > 0.5;
    defineSaga({ name: 't', input })
      .stage('a', { execute: () => ({ a: 1 }) })
      .stage('b', { after: [], execute: ({ results }) => expectTypeOf(results).toEqualTypeOf<{}>() })
      .stage('c', { after: extraEdge ? ['a'] : [], execute: () => 3 })
      .stage('d', { execute: ({ results }) => expectTypeOf(results.c).toEqualTypeOf<number>() })
      .build();
  });

  it("types ctx.output in compensate with the stage output only once ctx.outcome is 'completed'", () => {
    defineSaga({ name: 't', input })
      .stage('debit', {
        execute: async () => ({ entryId: 'e1' }),
        compensate: async (context) => {
          expectTypeOf(context.outcome).toEqualTypeOf<'completed' | 'unknown'>();
          expectTypeOf(context.output).toEqualTypeOf<{ readonly entryId: string } | undefined>();
          expectTypeOf(context.cause.kind).toEqualTypeOf<'failed' | 'cancelled'>();
          // @ts-expect-error the outcome may be unknown: output may be undefined
          void context.output.entryId;
          if (context.outcome === 'completed') expectTypeOf(context.output).toEqualTypeOf<{ readonly entryId: string }>();
          else expectTypeOf(context.output).toEqualTypeOf<undefined>();
        },
      })
      .stage('refund', {
        execute: async () => ({ refundId: 'r1' }),
        // Destructured, the check narrows too.
        compensate: async ({ outcome, output }) => {
          if (outcome === 'completed') expectTypeOf(output).toEqualTypeOf<{ readonly refundId: string }>();
        },
      })
      .stage('charge', {
        execute: async () => ({ chargeId: 'c1' }),
        compensateOnFailure: true,
        compensate: async ({ output }) => {
          expectTypeOf(output).toEqualTypeOf<{ readonly chargeId: string } | undefined>();
          // @ts-expect-error output may be undefined
          void output.chargeId;
        },
      })
      .stage('log', {
        // A stage that returns nothing needs no check.
        execute: async () => undefined,
        compensate: async ({ output }) => {
          expectTypeOf(output).toEqualTypeOf<undefined>();
        },
      })
      .build();
  });

  it('types the context of a compensation written apart, with CompensateContext', () => {
    const refund = async (context: CompensateContext<{ from: string }, {}, { entryId: string }>): Promise<string> =>
      context.outcome === 'completed' ? context.output.entryId : context.executeIdempotencyKey;
    defineSaga({ name: 't', input })
      .stage('debit', { execute: async () => ({ entryId: 'e1' }), compensate: refund })
      .build();
    // @ts-expect-error the stage's output has no entryId
    defineSaga({ name: 't', input }).stage('debit', { execute: async () => ({ other: 1 }), compensate: refund });
  });

  it('types run() outputs and outcome outputs by stage', async () => {
    const saga = defineSaga({ name: 't', input })
      .stage('a', { execute: async () => ({ x: 1 }) })
      .stage('b', { execute: () => 'done' as const })
      .build();
    const orchestrator = createOrchestrator();
    expectTypeOf(await orchestrator.run(saga, { from: 'a', cents: 1 })).toEqualTypeOf<{ readonly a: { readonly x: number }; readonly b: 'done' }>();
    const run = orchestrator.start(saga, { from: 'a', cents: 1 });
    expectTypeOf(run.outcome).toEqualTypeOf<Promise<SagaOutcome<{ a: { x: number }; b: 'done' }>>>();
    expectTypeOf((await run.outcome).outputs.a).toEqualTypeOf<{ readonly x: number } | undefined>();
  });

  it('types outputs read-only at every depth, as they are frozen at run time', async () => {
    const saga = defineSaga({ name: 't', input })
      .stage('a', {
        execute: async () => ({ x: 1, items: [{ sku: 's' }] }),
        compensate: async (context) => {
          if (context.outcome !== 'completed') return;
          // @ts-expect-error ctx.output is deeply frozen
          context.output.items[0].sku = 'changed';
        },
      })
      .build();
    const orchestrator = createOrchestrator();
    const outputs = await orchestrator.run(saga, { from: 'a', cents: 1 });
    // @ts-expect-error run() resolves with the run's frozen outputs
    outputs.a.x = 2;
    // @ts-expect-error nested arrays too
    outputs.a.items.push({ sku: 't' });
    const outcome = await orchestrator.start(saga, { from: 'a', cents: 1 }).outcome;
    // @ts-expect-error outcome.outputs likewise
    if (outcome.outputs.a !== undefined) outcome.outputs.a.x = 3;
    // A copy is mutable where it copies.
    const copy = { ...outputs.a, x: 4 };
    copy.x = 5;
  });

  it("narrows outcome.outputs to every stage's output once status is 'completed'", async () => {
    const saga = defineSaga({ name: 't', input })
      .stage('a', { execute: async () => ({ x: 1 }) })
      .stage('b', { execute: () => 'done' as const })
      .build();
    const outcome = await createOrchestrator().start(saga, { from: 'a', cents: 1 }).outcome;
    // @ts-expect-error before the check, a stage may not have completed
    void outcome.outputs.a.x;
    if (outcome.status === 'completed') {
      expectTypeOf(outcome).toEqualTypeOf<CompletedSagaOutcome<{ a: { x: number }; b: 'done' }>>();
      expectTypeOf(outcome.outputs).toEqualTypeOf<{ readonly a: { readonly x: number }; readonly b: 'done' }>();
    } else {
      expectTypeOf(outcome.status).toEqualTypeOf<Exclude<RunStatus, 'completed'>>();
      expectTypeOf(outcome.outputs.b).toEqualTypeOf<'done' | undefined>();
    }
    // An outcome of any saga still fits the untyped SagaOutcome, and back through unknown.
    const untyped: SagaOutcome = outcome;
    const anySaga: SagaOutcome<unknown> = untyped;
    void anySaga;
  });

  it("keys outcome.stages by the saga's stage names: every one a StageRecord of its output, a misspelt one a compile error", async () => {
    const saga = defineSaga({ name: 'trip', input })
      .stage('flight', { execute: async () => ({ pnr: 'FL1' }) })
      .stage('car', { after: [], execute: async () => ({ rentalId: 'C1' }) })
      .build();
    const outcome = await createOrchestrator().start(saga, { from: 'a', cents: 1 }).outcome;
    // Present for every stage, whether or not it ran (not_started): no `undefined` to rule out.
    expectTypeOf(outcome.stages.car).toEqualTypeOf<StageRecord<{ readonly rentalId: string }>>();
    expectTypeOf(outcome.stages.flight.status).toEqualTypeOf<StageRecord['status']>();
    // @ts-expect-error a misspelt stage name (with Record<string, StageRecord> it compiled and read undefined)
    void outcome.stages.cra;
    // Iterating still gives records, and the outcome still fits the untyped one and SagaOutcome<unknown>.
    expectTypeOf(Object.entries(outcome.stages)).toEqualTypeOf<[string, StageRecord<{ readonly pnr: string }> | StageRecord<{ readonly rentalId: string }>][]>();
    const untyped: SagaOutcome = outcome;
    expectTypeOf(untyped.stages['anything']).toEqualTypeOf<StageRecord | undefined>();
    // A name held in a string is looked up through the untyped outcome, as the TSDoc says.
    for (const name of outcome.completionOrder) expectTypeOf(untyped.stages[name]).toEqualTypeOf<StageRecord | undefined>();
    const anySaga: SagaOutcome<unknown> = outcome;
    void anySaga;
    // So do a run error's outcome and the test kit's.
    try {
      await createOrchestrator().run(saga, { from: 'a', cents: 1 });
    } catch (error) {
      if (isRunError(saga, error)) {
        expectTypeOf(error.outcome.stages.car).toEqualTypeOf<StageRecord<{ readonly rentalId: string }>>();
        // @ts-expect-error a misspelt stage name on the error's outcome
        void error.outcome.stages.flihgt;
      }
    }
    const tested = await createSagaTest().run(saga, { from: 'a', cents: 1 });
    expectTypeOf(tested.outcome.stages.flight).toEqualTypeOf<StageRecord<{ readonly pnr: string }>>();
    // @ts-expect-error a misspelt stage name on the test kit's outcome
    void tested.outcome.stages.flihgt;
  });

  it("types each stage record's output, failure.stage, cancellation.by and both orders with the saga's stages", async () => {
    const saga = defineSaga({ name: 'trip', input })
      .stage('flight', { execute: async () => ({ pnr: 'FL1' }) })
      .stage('car', { after: [], execute: async () => ({ rentalId: 'C1' }) })
      .sleep('cool-off', { durationMs: 1 })
      .build();
    type Stage = 'flight' | 'car' | 'cool-off';
    const outcome = await createOrchestrator().start(saga, { from: 'a', cents: 1 }).outcome;
    // The record's output is the stage's own, frozen (it was `unknown`: `output.pnr` did not compile).
    expectTypeOf(outcome.stages.flight.output).toEqualTypeOf<{ readonly pnr: string } | undefined>();
    expectTypeOf(outcome.stages['cool-off'].output).toEqualTypeOf<undefined>();
    // @ts-expect-error a field the stage does not return
    void outcome.stages.car.output?.pnr;
    expectTypeOf(outcome.stages.car).toEqualTypeOf<StageRecord<{ readonly rentalId: string }>>();
    // The names the outcome lists are the saga's stages (they were `string`).
    expectTypeOf(outcome.completionOrder).toEqualTypeOf<readonly Stage[]>();
    expectTypeOf(outcome.compensationOrder).toEqualTypeOf<readonly Stage[]>();
    expectTypeOf(outcome.failure).toEqualTypeOf<StageFailure<Stage> | undefined>();
    expectTypeOf(outcome.cancellation?.by).toEqualTypeOf<'external' | Stage | undefined>();
    // @ts-expect-error a comparison with a misspelt stage is a compile error, not a silent `false`
    if (outcome.failure?.stage === 'flihgt') return;
    // So a name from either order looks its record up directly, no untyped detour.
    for (const name of outcome.completionOrder) expectTypeOf(outcome.stages[name]).toEqualTypeOf<StageRecord<{ readonly pnr: string }> | StageRecord<{ readonly rentalId: string }> | StageRecord<undefined>>();
    // The same on a run error's outcome and the test kit's.
    try {
      await createOrchestrator().run(saga, { from: 'a', cents: 1 });
    } catch (error) {
      if (isRunError(saga, error)) {
        expectTypeOf(error.outcome.failure?.stage).toEqualTypeOf<Stage | undefined>();
        expectTypeOf(error.outcome.stages.flight.output).toEqualTypeOf<{ readonly pnr: string } | undefined>();
      }
    }
    const tested = await createSagaTest().run(saga, { from: 'a', cents: 1 });
    expectTypeOf(tested.outcome.completionOrder).toEqualTypeOf<readonly Stage[]>();
    // Untyped outcomes (inspect, resume) keep strings and unknown outputs; a typed one still fits them.
    const untyped: SagaOutcome = outcome;
    expectTypeOf(untyped.completionOrder).toEqualTypeOf<readonly string[]>();
    expectTypeOf(untyped.failure).toEqualTypeOf<StageFailure | undefined>();
    expectTypeOf(untyped.stages['anything']).toEqualTypeOf<StageRecord | undefined>();
    expectTypeOf<StageRecord['output']>().toBeUnknown();
    const anySaga: SagaOutcome<unknown> = outcome;
    expectTypeOf(anySaga.completionOrder).toEqualTypeOf<readonly string[]>();
  });

  it("types a signal wait's onTimeout.output as a payload the schema reads, and the stage's output as what it returns", () => {
    const schema = z.object({ cents: z.string().transform(Number) });
    const saga = defineSaga({ name: 'tip', input })
      .waitForSignal('tip', { signal: 'tipped', schema, timeoutMs: 1, onTimeout: { output: { cents: '0' } } })
      .stage('thank', {
        execute: ({ results }) => {
          expectTypeOf(results.tip.cents).toEqualTypeOf<number>();
          return 'thanks';
        },
      })
      .build();
    void saga;
    defineSaga({ name: 'tip-wrong', input })
      // @ts-expect-error the schema's output is not a payload it reads (build() would refuse it)
      .waitForSignal('tip', { signal: 'tipped', schema, timeoutMs: 1, onTimeout: { output: { cents: 0 } } });
  });

  it('types a run error of a saga with isRunError, where instanceof alone cannot', async () => {
    const saga = defineSaga({ name: 'order', input })
      .stage('reserveInventory', { execute: async () => ({ reservationId: 'r' }) })
      .stage('charge', { execute: async () => ({ chargeId: 'c' }) })
      .build();
    try {
      await createOrchestrator().run(saga, { from: 'a', cents: 1 });
    } catch (error) {
      if (isRunError(saga, error)) {
        expectTypeOf(error).toEqualTypeOf<AnyRunError<{ reserveInventory: { reservationId: string }; charge: { chargeId: string } }>>();
        expectTypeOf(error).toExtend<SagaRunError<{ reserveInventory: { reservationId: string }; charge: { chargeId: string } }>>();
        expectTypeOf(error.outputs.reserveInventory).toEqualTypeOf<{ readonly reservationId: string } | undefined>();
        // @ts-expect-error a misspelt stage name
        void error.outputs.reserveInventroy;
        if (error instanceof SagaFailedError) expectTypeOf(error.outputs.charge).toEqualTypeOf<{ readonly chargeId: string } | undefined>();
      }
      if (error instanceof SagaFailedError) {
        // instanceof alone cannot know the saga: its outputs are untyped.
        expectTypeOf(error.outputs.reserveInventroy).toBeAny();
      }
    }
  });

  it('types runErrorFor with the outcome it is given', async () => {
    const saga = defineSaga({ name: 'order', input }).stage('a', { execute: async () => 1 }).build();
    const outcome = await createOrchestrator().start(saga, { from: 'a', cents: 1 }).outcome;
    expectTypeOf(runErrorFor(outcome).outputs).toEqualTypeOf<{ readonly a?: number }>();
  });

  it('types a stage with an output schema by what execute returns, not by what the schema returns (as its TSDoc says)', () => {
    defineSaga({ name: 't', input })
      .stage('a', { output: z.object({ id: z.string(), n: z.number().default(3) }), execute: async () => ({ id: 'x' }) })
      .stage('b', {
        execute: ({ results }) => {
          expectTypeOf(results.a).toEqualTypeOf<{ readonly id: string }>(); // at run time { id: 'x', n: 3 }
        },
      });
    defineSaga({ name: 't', input }).stage('a', {
      // @ts-expect-error a transform to another type does not compile: the output type is what execute returns
      output: z.object({ cents: z.string().transform(Number) }),
      execute: async () => ({ cents: '12' }),
    });
  });

  it('infers the output type from an output schema', () => {
    defineSaga({ name: 't', input })
      .stage('a', { output: z.object({ id: z.string() }), execute: async () => ({ id: 'x' }) })
      .stage('b', {
        execute: ({ results }) => {
          expectTypeOf(results.a).toEqualTypeOf<{ readonly id: string }>();
        },
      });
  });
});
