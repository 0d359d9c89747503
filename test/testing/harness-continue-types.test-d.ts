import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, type ContinueOptions, type SagaRun } from 'sagaflow';
import { createSagaTest, type SagaTestResult } from 'sagaflow/testing';

// A resumed, redriven or compensated run's result is typed like run()'s when the call says which
// saga the run is of (`{ saga }`, which the orchestrator checks against the run's saga name).

const plain = defineSaga({ name: 'plain', input: z.object({}) })
  .stage('a', { execute: async () => ({ entryId: 'a-1' }) })
  .build();

describe("the test kit's resume, redrive and compensate type the outcome with the saga", () => {
  it('types the result by the saga passed in options', async () => {
    const harness = createSagaTest({ sagas: [plain] });
    expectTypeOf(await harness.resume('r', { saga: plain })).toEqualTypeOf<SagaTestResult<{ a: { entryId: string } }>>();
    expectTypeOf(await harness.redrive('r', { saga: plain })).toEqualTypeOf<SagaTestResult<{ a: { entryId: string } }>>();
    expectTypeOf(await harness.compensate('r', { saga: plain })).toEqualTypeOf<SagaTestResult<{ a: { entryId: string } }>>();
    const redriven = await harness.redrive('r', { saga: plain });
    expectTypeOf(redriven.outcome.outputs.a).toEqualTypeOf<{ readonly entryId: string } | undefined>();
    expectTypeOf(redriven.outcome.compensationOrder).toEqualTypeOf<readonly 'a'[]>();
    // @ts-expect-error a misspelt stage name
    void redriven.outcome.outputs.b;
  });

  it('stays untyped when nothing says which saga', async () => {
    const harness = createSagaTest({ sagas: [plain] });
    expectTypeOf(await harness.resume('r')).toEqualTypeOf<SagaTestResult>();
    expectTypeOf(await harness.redrive('r', {})).toEqualTypeOf<SagaTestResult>();
  });
});

describe("the orchestrator's resume, redrive and compensate type their handle the same way", () => {
  it('types the handle by the saga passed in options, as start() does', () => {
    const orchestrator = createOrchestrator({ sagas: [plain] });
    expectTypeOf(orchestrator.resume('r', { saga: plain })).toEqualTypeOf<SagaRun<{ a: { entryId: string } }>>();
    expectTypeOf(orchestrator.redrive('r', { saga: plain })).toEqualTypeOf<SagaRun<{ a: { entryId: string } }>>();
    expectTypeOf(orchestrator.compensate('r', { saga: plain })).toEqualTypeOf<SagaRun<{ a: { entryId: string } }>>();
    expectTypeOf(orchestrator.resume('r')).toEqualTypeOf<SagaRun>();
  });

  it('stays untyped, never `any`, for options typed ContinueOptions (a saga the type does not name)', async () => {
    const options: ContinueOptions = { saga: plain };
    expectTypeOf(createOrchestrator({ sagas: [plain] }).redrive('r', options)).toEqualTypeOf<SagaRun>();
    expectTypeOf(await createSagaTest({ sagas: [plain] }).redrive('r', options)).toEqualTypeOf<SagaTestResult>();
  });
});
