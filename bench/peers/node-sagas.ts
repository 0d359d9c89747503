/**
 * node-sagas 0.0.6: `new SagaBuilder().step().invoke().withCompensation()...build()`.
 *
 * Two facts about the library shape this peer:
 * - A `Saga` is single-use: its flow keeps the steps it entered in an array that is never
 *   cleared and is reversed in place on compensation. So `build()` runs once per saga (the
 *   builder itself, holding stateless steps, is reused).
 * - node-sagas puts a step on the compensation list *before* invoking it, so the failing
 *   step's own compensation runs too. To run the same work as every other peer (steps 4..1
 *   compensated), step 5, the one that fails, gets no compensation; `selfCheck()` proves it.
 */
import { SagaBuilder, SagaExecutionFailed } from 'node-sagas';
import {
  assertCounts,
  assertTrace,
  CountingEffects,
  FAILING_STEP,
  runPool,
  STEP_COUNT,
  StepFailure,
  TracingEffects,
  type Availability,
  type BatchOptions,
  type SagaEffects,
  type SagaEnding,
  type SagaPeer,
} from './peer.js';

/** The saga's parameters: node-sagas passes this object to every invoke and compensation. */
interface Params {
  readonly fail: boolean;
}

/**
 * Builds the 5-step node-sagas builder for `effects`; call `.build()` on it once per saga.
 * @param effects - what each step and compensation does
 */
export function nodeSagasBuilder(effects: SagaEffects): SagaBuilder<Params> {
  const builder = new SagaBuilder<Params>();
  // node-sagas types invoke/withCompensation callbacks as returning void, but awaits what they
  // return (Step.invoke is `async invoke(p) { return this.invocation(p) }`): promises are fine.
  for (let step = 1; step <= STEP_COUNT; step++) {
    builder.step(`step-${step}`);
    if (step === FAILING_STEP) {
      builder.invoke(async (params) => {
        await effects.execute(step);
        if (params.fail) throw new StepFailure(step);
      });
    } else {
      builder.invoke(() => effects.execute(step)).withCompensation(() => effects.compensate(step));
    }
  }
  return builder;
}

/**
 * Runs one saga on a fresh `build()` of `builder`.
 * @param builder - from `nodeSagasBuilder`
 * @param fail - whether step 5 throws
 * @returns how the saga ended; rejects if node-sagas reports anything but success or a completed rollback
 */
export async function runNodeSaga(builder: SagaBuilder<Params>, fail: boolean): Promise<SagaEnding> {
  try {
    await builder.build().execute({ fail });
    return 'completed';
  } catch (error) {
    if (error instanceof SagaExecutionFailed) return 'compensated';
    throw error;
  }
}

class NodeSagasPeer implements SagaPeer {
  readonly name = 'node-sagas';
  readonly durable = false;
  readonly #counts = new CountingEffects();
  readonly #builder = nodeSagasBuilder(this.#counts);

  async setup(): Promise<void> {
    await this.selfCheck();
  }

  async selfCheck(): Promise<void> {
    for (const fail of [false, true]) {
      const tracing = new TracingEffects();
      const builder = nodeSagasBuilder(tracing);
      const ending = await runNodeSaga(builder, fail);
      assertTrace(this.name, fail, ending, tracing.trace);
      // And the single-use trap: a second saga from the same builder must start clean.
      tracing.trace.length = 0;
      const again = await runNodeSaga(builder, fail);
      assertTrace(this.name, fail, again, tracing.trace);
    }
  }

  async runBatch(options: BatchOptions): Promise<void> {
    const counts = this.#counts;
    const builder = this.#builder;
    const { fail } = options;
    const expected: SagaEnding = fail ? 'compensated' : 'completed';
    counts.reset();
    await runPool(options.count, options.concurrency, async () => {
      const ending = await runNodeSaga(builder, fail);
      if (ending !== expected) throw new Error(`node-sagas: saga ended ${ending}, expected ${expected}`);
    });
    assertCounts(this.name, options, counts, false);
  }

  async teardown(): Promise<void> {}
}

/** Available when `bench/peers` is installed (checked by `./index.ts` before loading this module). */
export async function probe(): Promise<Availability> {
  return { ok: true };
}

/** A new node-sagas peer. */
export function createPeer(): SagaPeer {
  return new NodeSagasPeer();
}
