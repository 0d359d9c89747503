/**
 * `T` with every property, at every depth, read-only, and its arrays `readonly` arrays.
 *
 * @remarks
 * The type of `ctx.input`, of each output in `ctx.results`, of `compensate`'s `ctx.output`, and of
 * the outputs on an outcome (`outcome.outputs`, a `SagaRunError`'s `outputs`) and from
 * `orchestrator.run()`: the run's own values, shared with its journal and deeply frozen at run
 * time, so that `ctx.input.amount = 0` or `outputs.quote.items.push(x)` is a compile error rather
 * than a `TypeError` in the middle of a run. Functions are left as they
 * are. To change a value, copy it first: a spread (`{ ...ctx.input, amount: 0 }`,
 * `[...ctx.input.lines]`) is mutable at the level it copies; `structuredClone(ctx.input)` copies
 * every level but keeps this type (cast the copy to the input's type to change it deeply). Passing
 * a value where a mutable array is expected (`string[]`) needs such a copy too, or a parameter
 * typed `readonly string[]`. A recursive type (a JSON value's, such as Prisma's `JsonValue`) works too.
 *
 * @typeParam T - the value's type.
 *
 * @example
 * ```ts
 * import type { DeepReadonly } from 'sagaflow';
 * type Order = DeepReadonly<{ id: string; lines: { sku: string }[] }>;
 * // { readonly id: string; readonly lines: readonly { readonly sku: string }[] }
 * ```
 */
export type DeepReadonly<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends readonly (infer TElement)[]
    ? // An array as a `readonly` array type, whose element type is resolved lazily: a recursive type
      // (a JSON value's) is not expanded for ever. A tuple keeps its positions.
      number extends T['length']
      ? readonly DeepReadonly<TElement>[]
      : { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;
