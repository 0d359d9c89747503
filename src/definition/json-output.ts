/**
 * What a stage's output of type `T` is once journaled: every object property whose type admits
 * `undefined` is optional, at every depth.
 *
 * @remarks
 * Outputs are journaled as JSON on every run, not only after a resume, and JSON drops a property
 * whose value is `undefined`: a stage returning `{ entryId, note: undefined }` has the output
 * `{ entryId }`, where `'note' in output` is `false` and `Object.keys` does not list `note`. So
 * `{ note: string | undefined }` becomes `{ note?: string }`: reading `output.note` still gives
 * `string | undefined`, and code that relies on the key being there (`in`, `Object.keys`, a spread
 * over a template) is told it may not be. Return `null` for a field that must be there with no value.
 *
 * The builder applies it to what each stage's `execute` returns (and to a signal wait's payload),
 * so `ctx.results`, `compensate`'s `ctx.output`, what `orchestrator.run()` resolves with and
 * `outcome.outputs` are typed with it. A stage whose whole output is `undefined` keeps its key on
 * the outputs; arrays keep their elements' types (`undefined` in an array is refused at run time).
 * An output type without such properties is left as it is; a recursive type (a JSON value's, such
 * as Prisma's `JsonValue`) works too.
 *
 * @typeParam T - what `execute` returns.
 *
 * @example
 * ```ts
 * import type { JsonOutput } from 'sagaflow';
 * type Hold = JsonOutput<{ holdId: string; note: string | undefined }>; // { holdId: string; note?: string }
 * ```
 */
export type JsonOutput<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends readonly (infer TElement)[]
    ? // An array as an array type, whose element type is resolved lazily: a recursive type (a JSON
      // value's) is not expanded for ever. A tuple keeps its positions.
      number extends T['length']
      ? T extends unknown[]
        ? JsonOutput<TElement>[]
        : readonly JsonOutput<TElement>[]
      : { [K in keyof T]: JsonOutput<T[K]> }
    : T extends object
      ? // The keys whose property may hold `undefined`: none leaves the type as it is.
        { [K in keyof T]-?: undefined extends T[K] ? K : never }[keyof T] extends infer TDropped
        ? [TDropped] extends [never]
          ? { [K in keyof T]: JsonOutput<T[K]> }
          : { [K in keyof T as K extends TDropped ? never : K]: JsonOutput<T[K]> } & {
              [K in keyof T as K extends TDropped ? K : never]?: JsonOutput<Exclude<T[K], undefined>>;
            } extends infer TJournaled
            ? { [K in keyof TJournaled]: TJournaled[K] }
            : never
        : never
      : T;
