import type { StageDefinition } from './stage-definition.js';

/**
 * Defines a reusable stage, to pass to `.stage(name, definition)` of one or more sagas.
 *
 * @remarks
 * Annotate `execute`'s context with the input and results the stage needs (or pass all three
 * type parameters); any saga whose input and ancestors provide at least those can use it.
 * Inline definitions in `.stage()` infer all of this instead. To place it in a graph, spread it:
 * `.stage('notify', { ...notify, after: ['pay'] })`.
 *
 * @typeParam TInput - the part of the saga input the stage reads.
 * @typeParam TResults - the ancestor outputs the stage reads.
 * @typeParam TOutput - what `execute` returns (inferred).
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineSaga, defineStage, type ExecuteContext } from 'sagaflow';
 *
 * const notify = defineStage({
 *   execute: async ({ input }: ExecuteContext<{ email: string }, {}>) => ({ sentTo: input.email }),
 * });
 *
 * const signup = defineSaga({ name: 'signup', input: z.object({ email: z.string() }) })
 *   .stage('notify', notify)
 *   .build();
 * ```
 */
export function defineStage<TInput = unknown, TResults = {}, TOutput = unknown, TCompensateOnFailure extends boolean = false>(
  definition: ReusableStage<TInput, TResults, TOutput, TCompensateOnFailure>,
): ReusableStage<TInput, TResults, TOutput, TCompensateOnFailure> {
  return definition;
}

/**
 * A stage definition without `after`: where it sits in the graph is decided by each saga that
 * uses it (`.stage(name, { ...stage, after: [...] })`).
 *
 * @example
 * ```ts
 * import type { ReusableStage } from 'sagaflow';
 * const audit: ReusableStage<unknown, {}, void> = { execute: async () => undefined };
 * ```
 */
export type ReusableStage<TInput = unknown, TResults = {}, TOutput = unknown, TCompensateOnFailure extends boolean = false> = Omit<
  StageDefinition<TInput, TResults, TOutput, TCompensateOnFailure>,
  'after'
>;
