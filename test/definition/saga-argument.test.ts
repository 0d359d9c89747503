import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, createWorker, defineSaga, MemoryStore, type AnySaga } from 'sagaflow';
import { createSagaTest, failStage, withFaults, createVirtualClock } from 'sagaflow/testing';

// The first-hour mistake: a defineSaga(…).stage(…) chain without its .build(). The types refuse
// it; JavaScript, a cast or an `any` get it through, and then the input check blamed the input.
const unbuilt = defineSaga({ name: 'nobuild', input: z.object({}) }).stage('a', { execute: async () => 1 }) as unknown as AnySaga;
const notBuilt = "saga 'nobuild' is not built: end its defineSaga(…).stage(…) chain with .build() and pass what that returns.";

describe('a saga builder given where a built saga is expected', () => {
  it('start() throws and run() rejects with a TypeError that says to call .build(), not an input error; nothing is stored', async () => {
    const store = new MemoryStore();
    const orchestrator = createOrchestrator({ store });
    expect(() => orchestrator.start(unbuilt, {})).toThrow(new TypeError(`start() / run(): ${notBuilt}`));
    await expect(orchestrator.run(unbuilt, {})).rejects.toThrow(new TypeError(`start() / run(): ${notBuilt}`));
    expect(await store.listRuns({})).toEqual([]);
    await orchestrator.close();
  });

  it('createOrchestrator, createWorker and the test kit refuse it at once, naming its place in `sagas`', async () => {
    const built = defineSaga({ name: 'built', input: z.object({}) }).stage('a', { execute: async () => 1 }).build();
    expect(() => createOrchestrator({ sagas: [built, unbuilt] })).toThrow(new TypeError(`createOrchestrator: sagas[1]: ${notBuilt}`));
    // createWorker refuses a store that is not a work queue first: one that says it is one gets to the sagas.
    const queue = Object.assign(new MemoryStore(), { workQueue: true });
    expect(() => createWorker({ store: queue, sagas: [unbuilt] })).toThrow(new TypeError(`createWorker: sagas[0]: ${notBuilt}`));
    expect(() => withFaults(unbuilt, [failStage('a')], createVirtualClock())).toThrow(new TypeError(`withFaults: ${notBuilt}`));
    await expect(createSagaTest().run(unbuilt, {})).rejects.toThrow(new TypeError(`withFaults: ${notBuilt}`));
  });

  it('something else altogether is named for what it is', () => {
    const orchestrator = createOrchestrator();
    expect(() => orchestrator.start(undefined as unknown as AnySaga, {})).toThrow(
      new TypeError('start() / run(): undefined is not a saga: make one with defineSaga(…).stage(…).build().'),
    );
    expect(() => orchestrator.start({ name: 'x' } as unknown as AnySaga, {})).toThrow(
      new TypeError('start() / run(): an object that is not a saga was given: make one with defineSaga(…).stage(…).build().'),
    );
  });
});
