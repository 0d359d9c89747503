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
 * @remarks
 * What {@link defineStage} returns. `TInput` and `TResults` are what the stage needs, not what a
 * saga has: a saga can use it when its input and its ancestors' outputs are assignable to them.
 * The stage's name is given by each saga, so one definition can appear twice in a saga under two
 * names (each with its own idempotency key).
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineSaga, type ReusableStage } from 'sagaflow';
 * const audit: ReusableStage<{ orderId: string }, {}, void> = {
 *   execute: async ({ input, stage }) => console.log(`audit ${stage} of ${input.orderId}`),
 * };
 * const order = defineSaga({ name: 'order', input: z.object({ orderId: z.string(), sku: z.string() }) })
 *   .stage('auditStart', audit)
 *   .stage('reserve', { execute: async ({ input }) => ({ holdId: `hold-${input.sku}` }) })
 *   .stage('auditEnd', { ...audit, after: ['reserve'] })
 *   .build();
 * ```
 */
export type ReusableStage<TInput = unknown, TResults = {}, TOutput = unknown, TCompensateOnFailure extends boolean = false> = Omit<
  StageDefinition<TInput, TResults, TOutput, TCompensateOnFailure>,
  'after'
>;
