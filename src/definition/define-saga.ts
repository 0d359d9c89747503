import type { z } from 'zod';
import { SagaBuilder, type SagaBuilderOptions } from './saga-builder.js';

/**
 * Starts the definition of a saga: a named, versioned DAG of stages.
 *
 * @remarks
 * Chain `.stage(name, definition)` calls and finish with `.build()`, which validates
 * everything at once. The input schema types `ctx.input` in every stage.
 *
 * @param options - name, version (default `'1'`), input schema and policies:
 * `concurrency` (default `Infinity`), `onFailure` (`'compensate'` | `'pause'`), `onCancel`
 * (`'compensate'` | `'keep'`), `compensation` (`'sequential'` | `'parallel'`), and `redactError`
 * (a hook that removes secrets from thrown errors before they are journaled).
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineSaga } from 'sagaflow';
 *
 * export const transfer = defineSaga({
 *   name: 'money-transfer',
 *   input: z.object({ from: z.string(), to: z.string(), cents: z.number().int().positive() }),
 * })
 *   .stage('debit', {
 *     execute: async ({ input }) => ({ entryId: `debit:${input.from}:${input.cents}` }),
 *     // Check the outcome first: 'unknown' when the process died while the run was stopping.
 *     compensate: async ({ outcome, output }) => {
 *       if (outcome === 'completed') console.log('refund', output.entryId);
 *     },
 *   })
 *   .stage('credit', {
 *     execute: async ({ input, results }) => ({ entryId: `credit:${input.to}:${results.debit.entryId}` }),
 *     retry: { maxAttempts: 5 },
 *     timeoutMs: 2_000,
 *   })
 *   .build();
 * ```
 */
export function defineSaga<TSchema extends z.ZodType>(
  options: SagaBuilderOptions & { readonly input: TSchema },
): SagaBuilder<z.output<TSchema>, {}, never, z.input<TSchema>> {
  return new SagaBuilder(options);
}
