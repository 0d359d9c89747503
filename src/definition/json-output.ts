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

/**
 * Why an output of type `T` would not survive a JSON round-trip, as a message naming the path
 * (`'output.quote.validUntil is a Date instance, …'`), or `never` when its type shows no reason.
 *
 * @remarks
 * Outputs are journaled as JSON, so a stage that returns a `Date`, a `Map` or `Set`, a `bigint`, a
 * function, a Promise (a missing `await`: `return { booking: api.book() }`) or an array that may
 * hold `undefined` fails at run time, not retried, with a `StageOutputError`: in production, after
 * the call it returns from has taken effect. `.stage()` checks the type `execute` returns with
 * this, and a problem is a compile error on the stage's name whose message is this text. What a
 * type cannot show (`NaN`, a class instance typed as a plain object, a cycle) is still refused at
 * run time only. Types it cannot see into (`unknown`, `any`) pass; past ten levels deep (a
 * recursive type) nothing more is checked.
 *
 * @typeParam T - what `execute` returns.
 * @typeParam TPath - the path of `T` in the output, for the message.
 * @typeParam TDepth - how deep the type being checked sits (internal: leave it out).
 *
 * @example
 * ```ts
 * import type { OutputJsonProblem } from 'sagaflow';
 * type Problem = OutputJsonProblem<{ validUntil: Date }>;
 * // 'output.validUntil is a Date instance, which does not survive a JSON round-trip (use an ISO string or epoch ms for dates)'
 * ```
 */
export type OutputJsonProblem<T, TPath extends string = 'output', TDepth extends readonly unknown[] = []> = TDepth['length'] extends 10
  ? never
  : 0 extends 1 & T
    ? never
    : unknown extends T
      ? never
      : T extends string | number | boolean | null | undefined | void
        ? never
        : T extends bigint
          ? `${TPath} is a bigint, which JSON cannot represent (convert it to a string)`
          : T extends PromiseLike<unknown>
            ? `${TPath} is a Promise, which does not survive a JSON round-trip (a missing await? await it and return what it resolves to)`
            : T extends (...args: never[]) => unknown
              ? `${TPath} is a function, which JSON cannot represent`
              : T extends Date
                ? `${TPath} is a Date instance, which does not survive a JSON round-trip (use an ISO string or epoch ms for dates)`
                : T extends ReadonlyMap<unknown, unknown>
                  ? `${TPath} is a Map instance, which does not survive a JSON round-trip (Object.fromEntries(map) makes a plain object of a Map with string keys)`
                  : T extends ReadonlySet<unknown>
                    ? `${TPath} is a Set instance, which does not survive a JSON round-trip ([...set] makes an array of a Set)`
                    : T extends readonly (infer TElement)[]
                      ? unknown extends TElement
                        ? never
                        : undefined extends TElement
                          ? `${TPath}[] may be undefined, which an array cannot hold in JSON (it would read back as null: use null)`
                          : OutputJsonProblem<TElement, `${TPath}[]`, [...TDepth, unknown]>
                      : T extends object
                        ? { [K in keyof T & string]-?: OutputJsonProblem<T[K], `${TPath}.${K}`, [...TDepth, unknown]> }[keyof T & string]
                        : never;
