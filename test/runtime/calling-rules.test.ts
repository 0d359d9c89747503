import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, RunNotFoundError, SagaFailedError, SagaInputError } from 'sagaflow';
import { createSagaTest } from 'sagaflow/testing';
import { revokedProxy, withThrowingGetter } from '../support/hostile.js';

const saga = defineSaga({ name: 'calling-rules', input: z.object({ cents: z.number().int() }) })
  .stage('debit', { execute: async ({ input }) => ({ entryId: `d-${input.cents}` }), compensate: async () => undefined })
  .stage('credit', {
    execute: async ({ input }): Promise<{ entryId: string }> => {
      if (input.cents > 100) throw new Error('limit exceeded');
      return { entryId: 'c-1' };
    },
  })
  .build();

/** Calls `call` and tells how it reported its error: a synchronous throw, or a rejection. */
function howItFails(call: () => unknown): Promise<{ readonly how: 'threw' | 'rejected' | 'resolved'; readonly error?: unknown }> {
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    return Promise.resolve({ how: 'threw', error });
  }
  return Promise.resolve(result).then(
    () => ({ how: 'resolved' }),
    (error: unknown) => ({ how: 'rejected', error }),
  );
}

describe('one rule for bad input: a function returning a promise rejects; start() returning a handle throws', () => {
  const bad = { cents: 1.5 };

  it('orchestrator.run() and submit() reject with SagaInputError, never throw', async () => {
    const orchestrator = createOrchestrator();
    const run = await howItFails(() => orchestrator.run(saga, bad));
    expect(run.how).toBe('rejected');
    expect(run.error).toBeInstanceOf(SagaInputError);
    const submit = await howItFails(() => orchestrator.submit(saga, bad));
    expect(submit.how).toBe('rejected');
    expect(submit.error).toBeInstanceOf(SagaInputError);
    await orchestrator.close();
  });

  it('orchestrator.start() throws SagaInputError synchronously, before a handle or anything stored exists', async () => {
    const orchestrator = createOrchestrator();
    const start = await howItFails(() => orchestrator.start(saga, bad));
    expect(start.how).toBe('threw');
    expect(start.error).toBeInstanceOf(SagaInputError);
    expect(await orchestrator.store.listRuns({})).toEqual([]);
    await orchestrator.close();
  });

  it.each([
    ['a revoked Proxy', () => revokedProxy(), 'a Proxy object'],
    ['an object with no prototype', () => Object.create(null) as object, 'an object that is not an Error'],
    ['an Error whose message getter throws', () => withThrowingGetter(new Error('x'), 'message', new Error('no message')), 'Error'],
  ])('an input whose getter throws %s: start() throws SagaInputError at input, saying what was thrown (it threw a TypeError from reading the thrown value)', async (_, thrown, said) => {
    const orchestrator = createOrchestrator();
    const hostile = withThrowingGetter({}, 'cents', thrown());
    const start = await howItFails(() => orchestrator.start(saga, hostile as never));
    expect(start.how).toBe('threw');
    expect(start.error).toBeInstanceOf(SagaInputError);
    expect((start.error as SagaInputError).issues).toEqual([{ path: 'input', message: `could not be read: ${said}` }]);
    expect(await orchestrator.store.listRuns({})).toEqual([]);
    await orchestrator.close();
  });

  it('createSagaTest().run rejects with SagaInputError (await expect(…).rejects works)', async () => {
    const harness = createSagaTest();
    const run = await howItFails(() => harness.run(saga, bad));
    expect(run.how).toBe('rejected');
    expect(run.error).toBeInstanceOf(SagaInputError);
    await expect(harness.run(saga, bad)).rejects.toThrow(SagaInputError);
    await harness.close();
  });

  it('createSagaTest().resume, redrive and compensate reject for an unknown run id', async () => {
    const harness = createSagaTest({ sagas: [saga] });
    for (const call of [() => harness.resume('missing'), () => harness.redrive('missing'), () => harness.compensate('missing')]) {
      const result = await howItFails(call);
      expect(result.how).toBe('rejected');
      expect(result.error).toBeInstanceOf(RunNotFoundError);
    }
    await harness.close();
  });
});

describe('run() rejects on every ending but completed; start().outcome resolves for every ending', () => {
  it('a run id that is not a string (a number, undefined, a revoked Proxy) is refused by each call, naming it; a saga that cannot be read, by run() and submit()', async () => {
    const orchestrator = createOrchestrator({ sagas: [saga] });
    for (const [given, shown] of [
      [123, '123'],
      [undefined, 'undefined'],
      [revokedProxy(), 'an object'],
    ] as const) {
      const runId = given as unknown as string;
      const calls = {
        'inspect()': () => orchestrator.inspect(runId),
        'cancel()': () => orchestrator.cancel(runId),
        'signal()': () => orchestrator.signal(runId, 'approved'),
        'resume()': () => orchestrator.resume(runId).outcome,
        'redrive()': () => orchestrator.redrive(runId).outcome,
        'compensate()': () => orchestrator.compensate(runId).outcome,
        'watch()': () => new Promise((resolve, reject) => orchestrator.watch(runId).subscribe({ complete: () => resolve(undefined), error: reject })),
      };
      for (const [call, make] of Object.entries(calls)) {
        const { how, error } = await howItFails(make);
        expect([call, how]).toEqual([call, 'rejected']);
        expect(error).toBeInstanceOf(TypeError);
        expect((error as Error).message).toBe(`${call}: the run id must be a string (a run's runId), got ${shown}.`);
      }
    }
    for (const [call, make] of [
      ['start() / run()', () => orchestrator.run(revokedProxy() as unknown as typeof saga, { cents: 1 })],
      ['submit()', () => orchestrator.submit(revokedProxy() as unknown as typeof saga, { cents: 1 })],
    ] as const) {
      const { how, error } = await howItFails(make);
      expect(how).toBe('rejected');
      expect((error as Error).message).toMatch(new RegExp(`^${call.replace(/[()/]/g, '\\$&')}: the saga argument could not be read \\(TypeError: Cannot perform 'get' on a proxy that has been revoked\\): pass what defineSaga`));
    }
    await orchestrator.close();
  });

  it('the same failed run: run() rejects with SagaFailedError, start().outcome resolves with status compensated', async () => {
    const orchestrator = createOrchestrator();
    const rejected = await howItFails(() => orchestrator.run(saga, { cents: 500 }));
    expect(rejected.how).toBe('rejected');
    expect(rejected.error).toBeInstanceOf(SagaFailedError);
    expect((rejected.error as SagaFailedError).outcome.status).toBe('compensated');

    const outcome = await orchestrator.start(saga, { cents: 500 }).outcome;
    expect(outcome.status).toBe('compensated');
    expect(outcome.outputs.debit).toEqual({ entryId: 'd-500' });
    await orchestrator.close();
  });

  it("a completed outcome has every output", async () => {
    const orchestrator = createOrchestrator();
    const outcome = await orchestrator.start(saga, { cents: 5 }).outcome;
    if (outcome.status !== 'completed') throw new Error(`expected completed, got ${outcome.status}`);
    expect(outcome.outputs.credit.entryId).toBe('c-1');
    expect(await orchestrator.run(saga, { cents: 5 })).toEqual(outcome.outputs);
    await orchestrator.close();
  });
});
