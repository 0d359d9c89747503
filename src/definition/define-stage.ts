import type { StageDefinition } from './stage-definition.js';

/**
 * Defines a reusable stage, to pass to `.stage(name, definition)` of one or more sagas.
 *
 * @remarks
 * Give the type parameters the input and results the stage needs; any saga whose input and
 * ancestors provide at least those can use it. Inline definitions in `.stage()` infer all of
 * this instead.
 *
 * @typeParam TInput - the part of the saga input the stage reads.
 * @typeParam TResults - the ancestor outputs the stage reads.
 * @typeParam TOutput - what `execute` returns (inferred).
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineSaga, defineStage } from 'sagaflow';
 *
 * const notify = defineStage<{ email: string }>({
 *   execute: async ({ input }) => ({ sentTo: input.email }),
 * });
 *
 * const signup = defineSaga({ name: 'signup', input: z.object({ email: z.string() }) })
 *   .stage('notify', notify)
 *   .build();
 * ```
 */
export function defineStage<TInput = unknown, TResults = {}, TOutput = unknown, TCompensateOnFailure extends boolean = false>(
  definition: StageDefinition<TInput, TResults, TOutput, TCompensateOnFailure>,
): StageDefinition<TInput, TResults, TOutput, TCompensateOnFailure> {
  return definition;
}
