import type { AnySaga, SagaOutputs } from '../definition/saga.js';
import { SagaRunError, type AnyRunError } from './saga-run-error.js';

/**
 * Tells whether `error` is the error a run of `saga` ended with, typing its `outputs` with the
 * saga's stage outputs.
 *
 * @remarks
 * `error instanceof SagaFailedError` cannot know which saga failed, so its `outputs` is `any`-like
 * and a misspelt stage name compiles. This guard checks that `error` is a {@link SagaRunError}
 * (a `SagaFailedError`, `SagaCancelledError` or `SagaCompensationError`) of a run of this saga
 * (by the saga's name), and narrows it to {@link AnyRunError}`<SagaOutputs<typeof saga>>`:
 * `outputs` is then a `Partial` of the saga's outputs, so reading a stage that does not exist is
 * a compile error. Tell the three endings apart with `instanceof` after the guard (the types
 * stay), by `error.code`, or by `error.outcome.status`.
 *
 * It checks the saga's name, not its version or shape: an error of a run started with another
 * version of the saga passes, and its outputs are those that version's stages produced; its
 * `outcome.stages`, typed with this version's stage names, then holds that version's stages (a
 * stage only this version declares is absent). Compare `error.outcome.version` with
 * `saga.version` when several versions of the saga run side by side.
 *
 * @param saga - the saga whose run may have failed.
 * @param error - anything caught.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { createOrchestrator, defineSaga, isRunError } from 'sagaflow';
 *
 * const order = defineSaga({ name: 'order', input: z.object({ sku: z.string() }) })
 *   .stage('reserve', { execute: async ({ input }) => ({ reservationId: `r-${input.sku}` }) })
 *   .stage('charge', { execute: async (): Promise<{ chargeId: string }> => { throw new Error('card declined'); } })
 *   .build();
 *
 * const orchestrator = createOrchestrator();
 * try {
 *   await orchestrator.run(order, { sku: 'A1' });
 * } catch (error) {
 *   if (!isRunError(order, error)) throw error;
 *   console.log(error.outcome.status, error.outputs.reserve?.reservationId); // 'compensated' 'r-A1'
 * }
 * ```
 */
export function isRunError<TSaga extends AnySaga>(saga: TSaga, error: unknown): error is AnyRunError<SagaOutputs<TSaga>> {
  return error instanceof SagaRunError && error.saga === saga.name;
}
