/**
 * The hand-written baseline: plain async/await with a try/catch that compensates completed
 * steps in reverse. No engine, no journal, no allocation beyond the error: the in-memory
 * physical limit the other peers are compared with.
 */
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

/**
 * Runs the 5-step saga by hand.
 * @param effects - what each step and compensation does
 * @param fail - when true, step 5 throws and steps 4..1 are compensated in reverse
 * @returns how the saga ended
 */
export async function runHandWrittenSaga(effects: SagaEffects, fail: boolean): Promise<SagaEnding> {
  let done = 0;
  try {
    while (done < STEP_COUNT) {
      const step = done + 1;
      await effects.execute(step);
      if (fail && step === FAILING_STEP) throw new StepFailure(step);
      done = step;
    }
    return 'completed';
  } catch (error) {
    if (!(error instanceof StepFailure)) throw error;
    for (let step = done; step >= 1; step--) await effects.compensate(step);
    return 'compensated';
  }
}

class HandWrittenPeer implements SagaPeer {
  readonly name = 'hand-written';
  readonly durable = false;
  readonly #counts = new CountingEffects();

  async setup(): Promise<void> {
    await this.selfCheck();
  }

  async selfCheck(): Promise<void> {
    for (const fail of [false, true]) {
      const tracing = new TracingEffects();
      const ending = await runHandWrittenSaga(tracing, fail);
      assertTrace(this.name, fail, ending, tracing.trace);
    }
  }

  async runBatch(options: BatchOptions): Promise<void> {
    const counts = this.#counts;
    const { fail } = options;
    const expected: SagaEnding = fail ? 'compensated' : 'completed';
    counts.reset();
    await runPool(options.count, options.concurrency, async () => {
      const ending = await runHandWrittenSaga(counts, fail);
      if (ending !== expected) throw new Error(`hand-written: saga ended ${ending}, expected ${expected}`);
    });
    assertCounts(this.name, options, counts, false);
  }

  async teardown(): Promise<void> {}
}

/** Always available: it needs nothing. */
export async function probe(): Promise<Availability> {
  return { ok: true };
}

/** A new hand-written peer. */
export function createPeer(): SagaPeer {
  return new HandWrittenPeer();
}
