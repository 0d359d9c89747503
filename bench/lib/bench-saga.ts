import { z } from 'zod';
import { NonRetryableError, type AnySaga } from '../../dist/index.js';
import { FAILING_STEP, STEP_COUNT, type SagaEffects } from '../peers/peer.js';
import { looseSaga } from './loose-builder.js';

/** Effects that do nothing: the durable benchmarks' stages only journal. */
const NO_EFFECTS: SagaEffects = { execute: async () => undefined, compensate: async () => undefined };

/**
 * The benchmarks' saga on sagaflow, the same shape the peers run (PEERS.md): five stages in a
 * chain, each with a compensation, calling `effects` as the peers' steps do; with input
 * `{ fail: true }` stage 5 fails (not retried) after its work, so stages 4..1 are compensated.
 */
export function createBenchSaga(effects: SagaEffects = NO_EFFECTS): AnySaga {
  let builder = looseSaga({ name: 'bench-five-steps', input: z.object({ fail: z.boolean() }) });
  for (let step = 1; step <= STEP_COUNT; step++) {
    builder = builder.stage(`s${step}`, {
      after: step === 1 ? [] : [`s${step - 1}`],
      execute: async ({ input }: { input: { fail: boolean } }) => {
        await effects.execute(step);
        if (input.fail && step === FAILING_STEP) throw new NonRetryableError(`stage s${step} fails on purpose`);
        return step;
      },
      compensate: async () => effects.compensate(step),
    });
  }
  return builder.build();
}

/** {@link createBenchSaga} without effects: what the durable benchmarks and their workers register. */
export const benchSaga = createBenchSaga();
