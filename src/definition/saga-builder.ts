import type { ZodType } from 'zod';
import { SagaDefinitionError, type Issue } from '../errors/definition-errors.js';
import type { ErrorRedactor } from '../errors/redact-error.js';
import { nameProblem, quoteIdentifier } from './identifier.js';
import { readDefinition, SAGA_OPTION_FIELDS, STAGE_FIELDS, underUnreadable, WAIT_FIELDS } from './read-definition.js';
import { COMPENSATE_RETRY_DEFAULTS, EXECUTE_RETRY_DEFAULTS, resolveRetryPolicy } from './retry-policy.js';
import type { ResolvedSagaPolicies, Saga, SagaPolicies, SagaStage } from './saga.js';
import { positionOf } from '../journal/stage-table.js';
import { topologyOf } from '../journal/topology.js';
import { shapeHash, shapeOf } from './shape-hash.js';
import type { JsonOutput, OutputJsonProblem } from './json-output.js';
import type { StageDefinition } from './stage-definition.js';
import { waitDefinitionProblems, waitStage, type SleepDefinition, type WaitFallback, type WaitForSignalDefinition, type WaitSpec } from './wait-stage.js';
import { validateSagaOptions, validateStages, type DeclaredStage } from './validate-definition.js';

/**
 * What the type system knows of a declared stage: its output and the union of its ancestors'
 * names.
 *
 * @remarks
 * Type-level bookkeeping of {@link SagaBuilder}: the builder's `TStages` parameter maps each stage
 * name to one of these, and `ctx.results` of the next stage is computed from it. It exists only at
 * compile time; you need it only to write generic helpers over builders.
 *
 * @example
 * ```ts
 * import type { StageInfo } from 'sagaflow';
 * type Debit = StageInfo & { output: { entryId: string }; ancestors: never };
 * ```
 */
export interface StageInfo {
  /** What the stage's `execute` returns. */
  readonly output: unknown;
  /** The names of every stage it runs after, directly or transitively. */
  readonly ancestors: string;
}

/**
 * The outputs a stage may read: those of its ancestors.
 *
 * @remarks
 * The type of `ctx.results` for a stage whose ancestors are `TAncestors`. Keys outside it are
 * absent from the type, which is why reading a stage that is not an ancestor is a compile error
 * (and, in untyped code, a `StageResultAccessError` at run time).
 *
 * @example
 * ```ts
 * import type { ResultsOf } from 'sagaflow';
 * type R = ResultsOf<{ debit: { output: { entryId: string }; ancestors: never } }, 'debit'>; // { readonly debit: { entryId: string } }
 * ```
 */
export type ResultsOf<TStages extends Record<string, StageInfo>, TAncestors extends string> = {
  readonly [K in TAncestors & keyof TStages]: TStages[K]['output'];
} & {};

/**
 * The ancestors of a stage that runs after `TAfter`: those stages and their own ancestors.
 *
 * @remarks
 * The transitive closure the builder computes at each `.stage()` call; it mirrors what the runtime
 * allows in `ctx.results`, since every ancestor has completed before a stage starts.
 *
 * @example
 * ```ts
 * import type { AncestorsOf } from 'sagaflow';
 * type A = AncestorsOf<{ a: { output: 1; ancestors: never }; b: { output: 2; ancestors: 'a' } }, ['b']>; // 'a' | 'b'
 * ```
 */
export type AncestorsOf<TStages extends Record<string, StageInfo>, TAfter extends readonly string[]> =
  | TAfter[number]
  | TStages[TAfter[number] & keyof TStages]['ancestors'];

/**
 * The {@link StageInfo} of one declared stage.
 *
 * @remarks
 * What each `.stage()` call adds to the builder's `TStages`, with the output inferred from
 * `execute` (or from the `output` schema) and the ancestors from `after`.
 *
 * @example
 * ```ts
 * import type { DeclaredStageInfo } from 'sagaflow';
 * type Debit = DeclaredStageInfo<{ entryId: string }, never>;
 * ```
 */
export interface DeclaredStageInfo<TOutput, TAncestors extends string> extends StageInfo {
  /** What the stage's `execute` returns. */
  readonly output: TOutput;
  /** The names of every stage it runs after. */
  readonly ancestors: TAncestors;
}

/**
 * The outputs of every stage of a builder, keyed by stage name.
 *
 * @remarks
 * Becomes the `TOutputs` of the built {@link Saga}: what `orchestrator.run()` resolves with and
 * what `SagaOutcome.outputs` holds (as a `Partial`, since a run that did not complete has only
 * some of them). To get it from a built saga, use {@link SagaOutputs}.
 *
 * @example
 * ```ts
 * import type { OutputsOf } from 'sagaflow';
 * type O = OutputsOf<{ debit: { output: { entryId: string }; ancestors: never } }>; // { debit: { entryId: string } }
 * ```
 */
export type OutputsOf<TStages extends Record<string, StageInfo>> = { [K in keyof TStages]: TStages[K]['output'] } & {};

/**
 * The type an `after` list must have: each entry a stage declared before, or, for a name that is
 * not, a message saying so.
 *
 * @remarks
 * Type-level bookkeeping of {@link SagaBuilder.stage}: a stage may only run after stages declared
 * before it, so `.stage('a', { after: ['b'] })` before `b` is declared fails to compile with
 * `Type '"b"' is not assignable to type '"b" & { readonly "stage 'b' is not declared before 'a'": true; }'`:
 * the name, branded with what is wrong with it.
 *
 * @typeParam TAfter - the `after` list as written.
 * @typeParam TDeclared - the names of the stages declared so far.
 * @typeParam TName - the stage being declared.
 *
 * @example
 * ```ts
 * import type { KnownAfter } from 'sagaflow';
 * type Checked = KnownAfter<['quote', 'car'], 'quote', 'pay'>;
 * // readonly ['quote', 'car' & { readonly "stage 'car' is not declared before 'pay'": true }]
 * ```
 */
export type KnownAfter<TAfter extends readonly string[], TDeclared extends string, TName extends string> = {
  // `infer` makes the check distributive over a union of names, so editors still offer the declared ones.
  readonly [I in keyof TAfter]: TAfter[I] extends infer TStage
    ? TStage extends TDeclared
      ? TStage
      : TStage & { readonly [K in `stage '${TStage & string}' is not declared before '${TName}'`]: true }
    : never;
};

/**
 * The stages a stage runs after, as the type system sees them: `TAfter` as written, or, when
 * `after` is omitted, the previously declared stage `TLast`.
 *
 * @remarks
 * Type-level bookkeeping of {@link SagaBuilder.stage}. When `after` is omitted, `TAfter` is left
 * at its constraint (an array of any name), which is told apart from a written list because a
 * written list is a tuple of names.
 *
 * @example
 * ```ts
 * import type { StageAfter } from 'sagaflow';
 * type Written = StageAfter<['quote'], 'flight'>; // ['quote']
 * type Omitted = StageAfter<readonly string[], 'flight'>; // ['flight']
 * ```
 */
export type StageAfter<TAfter extends readonly string[], TLast extends string> = number extends TAfter['length']
  ? string extends TAfter[number]
    ? [TLast]
    : TAfter
  : TAfter;

/**
 * The type a stage's name must have: a name not declared before in the saga, or, for one that
 * is, the name branded with a message saying so.
 *
 * @remarks
 * Type-level bookkeeping of {@link SagaBuilder.stage} (and of `waitForSignal` and `sleep`):
 * `.stage('car', …)` after a stage `'car'` fails to compile with
 * `Argument of type '"car"' is not assignable to parameter of type '"car" & NoInfer<"car" & { readonly "stage 'car' is already declared": true; }>'`.
 * `.build()` still reports a duplicate at run time (`SagaDefinitionError`), for names that are
 * not known at compile time: when a name declared so far is a plain `string`, nothing is checked
 * here.
 *
 * @typeParam TName - the stage being declared.
 * @typeParam TDeclared - the names of the stages declared so far.
 *
 * @example
 * ```ts
 * import type { UniqueStageName } from 'sagaflow';
 * type Fresh = UniqueStageName<'pay', 'quote' | 'car'>; // 'pay'
 * type Taken = UniqueStageName<'car', 'quote' | 'car'>; // 'car' & { readonly "stage 'car' is already declared": true }
 * ```
 */
export type UniqueStageName<TName extends string, TDeclared extends string> = string extends TDeclared
  ? TName
  : TName extends TDeclared
    ? TName & { readonly [K in `stage '${TName}' is already declared`]: true }
    : TName;

interface StageNode {
  readonly previous: StageNode | undefined;
  readonly name: string;
  readonly definition: StageDefinition<never, never, unknown, boolean>;
  /**
   * For a wait stage: what it waits for, its definition as read (checked by `.build()`), and the
   * fields of it that could not be read.
   */
  readonly wait?: { readonly spec: WaitSpec; readonly given: unknown; readonly fallback: WaitFallback | undefined; readonly unreadable: readonly Issue[] };
}

/**
 * Builds a saga stage by stage; made by {@link defineSaga}, finished with `.build()`.
 *
 * @remarks
 * Builders are immutable: `.stage()` returns a new builder, so a partly built saga can be
 * extended in two ways without interference. Types flow through the chain: each stage's
 * `ctx.results` is typed with the outputs of its ancestors only.
 *
 * @typeParam TInput - the saga's validated input.
 * @typeParam TStages - what the type system knows of each declared stage.
 * @typeParam TLast - the name of the last declared stage (the default `after` of the next).
 * @typeParam TRawInput - what callers pass to `start` (before the schema's defaults and transforms).
 * @typeParam TSignals - the payloads (as sent) of the signals its wait stages wait for, by signal name.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineSaga } from 'sagaflow';
 * const trip = defineSaga({ name: 'trip', input: z.object({ city: z.string() }) })
 *   .stage('quote', { execute: async ({ input }) => ({ city: input.city, price: 100 }) })
 *   .stage('flight', { execute: async ({ results }) => ({ pnr: `F-${results.quote.price}` }) })
 *   .stage('hotel', { after: ['quote'], execute: async () => ({ booking: 'H-1' }) })
 *   .stage('pay', { after: ['flight', 'hotel'], execute: async ({ results }) => `${results.flight.pnr}/${results.hotel.booking}` })
 *   .build();
 * ```
 */
export class SagaBuilder<
  TInput,
  TStages extends Record<string, StageInfo> = {},
  TLast extends string = never,
  TRawInput = TInput,
  TSignals = {},
> {
  /** @internal */
  private readonly options: SagaBuilderOptions;
  /** @internal */
  private readonly last: StageNode | undefined;

  /** @internal Use {@link defineSaga}. */
  constructor(options: SagaBuilderOptions, last?: StageNode) {
    this.options = options;
    this.last = last;
  }

  /**
   * Declares a stage.
   *
   * @remarks
   * `definition.after` lists the stages it depends on; omitted, it runs after the previously
   * declared stage; `[]` makes it a root. Declare `execute` before `compensate` so that
   * `compensate`'s `ctx.output` is typed from what `execute` returns. Problems are reported
   * all at once by `.build()`.
   *
   * @param name - unique within the saga: a name declared before is a compile error (see {@link UniqueStageName}) and a `.build()` error.
   * So is an `execute` whose output type would not survive a JSON round-trip (a `Date`, a Promise
   * from a missing `await`…): the message on the name says where and what to return instead
   * (see {@link OutputJsonProblem}); at run time such an output fails the stage, not retried.
   * @param definition - the stage (inline, or made by {@link defineStage}).
   */
  stage<
    const TName extends string,
    TOutput,
    // `string & {}` accepts any name, so that an undeclared one gets the readable message of
    // `KnownAfter` instead of `not assignable to type 'never'`, while editors still complete the
    // declared names. No default: an omitted `after` leaves it at this constraint (see `StageAfter`).
    const TAfter extends readonly ((keyof TStages & string) | (string & {}))[],
    TCompensateOnFailure extends boolean = false,
  >(
    name: TName &
      NoInfer<UniqueStageName<TName, keyof TStages & string>> &
      // An output type that would not survive JSON brands the name with the problem, as its message.
      NoInfer<[OutputJsonProblem<TOutput>] extends [never] ? unknown : { readonly [K in OutputJsonProblem<TOutput>]: true }>,
    definition: StageDefinition<TInput, ResultsOf<TStages, AncestorsOf<TStages, StageAfter<TAfter, TLast>>>, TOutput, TCompensateOnFailure> & {
      readonly after?: (TAfter & NoInfer<KnownAfter<TAfter, keyof TStages & string, TName>>) | undefined;
    },
  ): SagaBuilder<
    TInput,
    TStages & { [K in TName]: DeclaredStageInfo<JsonOutput<TOutput>, AncestorsOf<TStages, StageAfter<TAfter, TLast>>> },
    TName,
    TRawInput,
    TSignals
  > {
    return new SagaBuilder(this.options, {
      previous: this.last,
      name,
      definition: definition as unknown as StageDefinition<never, never, unknown, boolean>,
    });
  }

  /**
   * Declares a wait stage that waits for a named signal; its output is the signal's payload.
   *
   * @remarks
   * The run waits holding no attempt: the wait is journaled (`wait.started`), survives crashes,
   * and ends when `orchestrator.signal(runId, definition.signal, payload)` delivers a payload that
   * `definition.schema` accepts, or at `timeoutMs` (a failure that rolls the saga back, unless
   * `onTimeout` gives the output to complete with). A signal sent before the wait is reached is
   * buffered. `after` works as for {@link SagaBuilder.stage}. See `docs/waits.md`.
   *
   * @param name - unique within the saga: a name declared before is a compile error (see {@link UniqueStageName}) and a `.build()` error.
   * So is a `schema` whose output would not survive a JSON round-trip (`z.coerce.date()`): every
   * signal would be refused (see {@link OutputJsonProblem}).
   * @param definition - the signal's name, its payload schema, and an optional timeout.
   *
   * @example
   * ```ts
   * import { z } from 'zod';
   * import { defineSaga } from 'sagaflow';
   * const payout = defineSaga({ name: 'payout', input: z.object({ cents: z.number() }) })
   *   .stage('hold', { execute: async ({ input }) => ({ holdId: `h-${input.cents}` }), compensate: async () => undefined })
   *   .waitForSignal('approval', { signal: 'approved', schema: z.object({ by: z.string() }), timeoutMs: 60_000 })
   *   .stage('pay', { execute: async ({ results }) => `paid, approved by ${results.approval.by}` })
   *   .build();
   * ```
   */
  waitForSignal<
    const TName extends string,
    TOutput,
    TPayload,
    const TAfter extends readonly ((keyof TStages & string) | (string & {}))[],
    const TSignal extends string = string,
  >(
    name: TName &
      NoInfer<UniqueStageName<TName, keyof TStages & string>> &
      // A schema that returns what JSON cannot hold (a Date) would refuse every signal: brand the name.
      NoInfer<[OutputJsonProblem<TOutput, 'payload'>] extends [never] ? unknown : { readonly [K in OutputJsonProblem<TOutput, 'payload'>]: true }>,
    definition: WaitForSignalDefinition<TOutput, TPayload, TSignal> & {
      readonly after?: (TAfter & NoInfer<KnownAfter<TAfter, keyof TStages & string, TName>>) | undefined;
    },
  ): SagaBuilder<
    TInput,
    TStages & { [K in TName]: DeclaredStageInfo<JsonOutput<TOutput>, AncestorsOf<TStages, StageAfter<TAfter, TLast>>> },
    TName,
    TRawInput,
    TSignals & { [K in TSignal]: TPayload }
  > {
    return this.waitNode(name, 'signal', definition);
  }

  /**
   * Declares a wait stage that waits for time: a duration, or an instant computed from the input
   * and its ancestors' results. Its output is `undefined`.
   *
   * @remarks
   * The wake-up time is computed once, when the wait starts, and journaled (`wait.started`): a run
   * recovered after a crash waits only for what is left, and a run waiting holds no attempt.
   * `after` works as for {@link SagaBuilder.stage}. See `docs/waits.md`.
   *
   * @param name - unique within the saga: a name declared before is a compile error (see {@link UniqueStageName}) and a `.build()` error.
   * @param definition - `{ durationMs }` or `{ until: (ctx) => Date | number }`.
   *
   * @example
   * ```ts
   * import { z } from 'zod';
   * import { defineSaga } from 'sagaflow';
   * const reservation = defineSaga({ name: 'reservation', input: z.object({ seat: z.string() }) })
   *   .stage('reserve', { execute: async ({ input }) => ({ seat: input.seat }), compensate: async () => undefined })
   *   .sleep('cool-off', { durationMs: 15 * 60_000 })
   *   .stage('confirm', { execute: async ({ results }) => `confirmed ${results.reserve.seat}` })
   *   .build();
   * ```
   */
  sleep<const TName extends string, const TAfter extends readonly ((keyof TStages & string) | (string & {}))[]>(
    name: TName & NoInfer<UniqueStageName<TName, keyof TStages & string>>,
    definition: SleepDefinition<TInput, ResultsOf<TStages, AncestorsOf<TStages, StageAfter<TAfter, TLast>>>> & {
      readonly after?: (TAfter & NoInfer<KnownAfter<TAfter, keyof TStages & string, TName>>) | undefined;
    },
  ): SagaBuilder<
    TInput,
    TStages & { [K in TName]: DeclaredStageInfo<undefined, AncestorsOf<TStages, StageAfter<TAfter, TLast>>> },
    TName,
    TRawInput,
    TSignals
  > {
    return this.waitNode(name, 'timer', definition);
  }

  /** A wait stage's node: a stage whose `execute` only says when the wait ends. */
  private waitNode<TNext>(name: string, kind: WaitSpec['kind'], definition: object): TNext {
    // Read once, here: the wait's spec is made now, and build() reports what could not be read.
    const read = readDefinition(definition, WAIT_FIELDS, '');
    const given = (typeof read.value === 'object' && read.value !== null ? read.value : {}) as Parameters<typeof waitStage>[1] & { readonly after?: readonly string[] };
    const { spec, fallback, execute } = waitStage(kind, given);
    const stageDefinition = given.after === undefined ? { execute } : { execute, after: given.after };
    return new SagaBuilder(this.options, {
      previous: this.last,
      name,
      definition: stageDefinition as unknown as StageDefinition<never, never, unknown, boolean>,
      wait: { spec, given: read.value, fallback, unreadable: read.unreadable },
    }) as TNext;
  }

  /**
   * Validates the whole definition and returns the frozen {@link Saga}.
   *
   * @throws {@link SagaDefinitionError} listing every problem: duplicate stage, unknown `after`,
   * dependency cycle (with its path), invalid policy values, unknown fields.
   */
  build(): Saga<TInput, OutputsOf<TStages>, TRawInput, { [K in keyof TSignals]: TSignals[K] }> {
    const nodes: StageNode[] = [];
    for (let node = this.last; node !== undefined; node = node.previous) nodes.push(node);
    nodes.reverse();

    // Every definition object read once, into plain data: checked and built from the same values.
    const declared: DeclaredStage[] = nodes.map((node, index) => {
      const read = node.wait === undefined ? readDefinition(node.definition, STAGE_FIELDS, '') : { value: node.definition, unreadable: [] };
      return {
        name: node.name,
        definition: read.value,
        unreadable: read.unreadable,
        after: declaredAfter(read.value, index === 0 ? undefined : nodes[index - 1]?.name),
      };
    });
    const optionsRead = readDefinition(this.options, SAGA_OPTION_FIELDS, '');
    const options = (optionsRead.value ?? {}) as Partial<SagaBuilderOptions>;
    const name: unknown = options.name;
    const sagaName =
      typeof name !== 'string' || name.trim() === ''
        ? '(unnamed)'
        : nameProblem(name) === undefined
          ? name
          : quoteIdentifier(name);
    const issues: Issue[] = [
      ...optionsRead.unreadable.map((issue) => (issue.path === '' ? { path: '', message: `the saga's options ${issue.message}` } : issue)),
      ...validateSagaOptions(optionsRead.value).filter((issue) => !underUnreadable(issue, optionsRead.unreadable)),
      ...validateStages(declared),
    ];
    // One payload schema per signal name: whichever wait a signal ends, it was checked against it.
    const schemaOfSignal = new Map<string, { readonly stage: string; readonly schema: unknown }>();
    for (const node of nodes) {
      if (node.wait === undefined) continue;
      const waitIssues = [
        ...node.wait.unreadable,
        ...waitDefinitionProblems(node.wait.spec.kind, node.wait.given, node.wait.fallback)
          .map(([path, message]) => ({ path, message }))
          .filter((issue) => !underUnreadable(issue, node.wait?.unreadable ?? [])),
      ];
      for (const { path, message } of waitIssues) {
        issues.push({ path: ['stages', node.name, path].filter((part) => part !== '').join('.'), message });
      }
      const spec = node.wait.spec;
      if (spec.kind !== 'signal') continue;
      const first = schemaOfSignal.get(spec.signal);
      if (first === undefined) schemaOfSignal.set(spec.signal, { stage: node.name, schema: spec.schema });
      else if (first.schema !== spec.schema) {
        issues.push({
          path: `stages.${node.name}.schema`,
          message: `signal '${spec.signal}' is also waited for by stage '${first.stage}' with another schema: a signal has one payload schema per saga, so pass the same schema object to both`,
        });
      }
    }
    if (issues.length > 0) throw new SagaDefinitionError(sagaName, issues);

    const dependents = new Map<string, string[]>();
    for (const stage of declared) dependents.set(stage.name as string, []);
    for (const stage of declared) {
      for (const parent of stage.after ?? []) dependents.get(parent)?.push(stage.name as string);
    }
    const stages: SagaStage[] = declared.map((stage, index) => {
      const definition = stage.definition as StageDefinition<never, never, unknown, boolean>;
      const name = stage.name as string;
      const compensationPolicy = definition.compensation;
      return Object.freeze({
        name,
        index,
        after: Object.freeze([...(stage.after ?? [])]),
        dependents: Object.freeze(dependents.get(name) ?? []),
        execute: definition.execute as SagaStage['execute'],
        ...(definition.compensate === undefined
          ? {}
          : { compensate: definition.compensate as NonNullable<SagaStage['compensate']> }),
        ...(definition.output === undefined ? {} : { output: definition.output }),
        retry: resolveRetryPolicy(definition.retry, EXECUTE_RETRY_DEFAULTS),
        ...(definition.timeoutMs === undefined ? {} : { timeoutMs: definition.timeoutMs }),
        compensation: Object.freeze({
          retry: resolveRetryPolicy(compensationPolicy?.retry, COMPENSATE_RETRY_DEFAULTS),
          ...(compensationPolicy?.timeoutMs === undefined ? {} : { timeoutMs: compensationPolicy.timeoutMs }),
        }),
        compensateOnFailure: definition.compensateOnFailure === true,
        ...(nodes[index]?.wait === undefined ? {} : { wait: nodes[index].wait.spec }),
      });
    });
    const policies: ResolvedSagaPolicies = Object.freeze({
      concurrency: options.concurrency ?? Infinity,
      onFailure: options.onFailure ?? 'compensate',
      onCancel: options.onCancel ?? 'compensate',
      compensation: options.compensation ?? 'sequential',
    });
    const sagaNameChecked = options.name as string;
    // One frozen shape per definition: journaled on every run, and the key of its shared index.
    const shape = Object.freeze(shapeOf({ stages }).map((stage) => Object.freeze({ ...stage, after: Object.freeze(stage.after) })));
    // Stage i of the shape is stages[i]: a lookup by name goes through the index every run of the
    // definition shares, whose last answer is usually the stage the run's state was just read for.
    const topology = topologyOf(shape);
    return Object.freeze({
      name: sagaNameChecked,
      version: options.version ?? '1',
      shapeHash: shapeHash(sagaNameChecked, shape),
      shape,
      input: options.input as ZodType<TInput, TRawInput>,
      stages: Object.freeze(stages),
      policies,
      stage: (name: string) => {
        const position = positionOf(topology, name);
        return position === undefined ? undefined : stages[position];
      },
      ...(options.redactError === undefined ? {} : { redactError: options.redactError }),
    });
  }
}

function declaredAfter(definition: unknown, previous: string | undefined): readonly string[] | undefined {
  const after = typeof definition === 'object' && definition !== null ? (definition as { after?: unknown }).after : undefined;
  if (after === undefined) return previous === undefined ? [] : [previous];
  if (!Array.isArray(after) || !after.every((parent) => typeof parent === 'string')) return undefined;
  return after;
}

/**
 * Options of {@link defineSaga}.
 *
 * @remarks
 * `name` identifies the saga in the store, in workers' claims and in the CLI: renaming a saga
 * orphans its stored runs. `version` is recorded on every run for people; whether a stored run
 * can continue with a definition is decided by its shape hash, not by its version. The policies
 * (see {@link SagaPolicies}) default to `concurrency: Infinity`, `onFailure: 'compensate'`,
 * `onCancel: 'compensate'`, `compensation: 'sequential'`. `redactError` removes secrets from
 * the errors the saga's stages throw before they are journaled ({@link ErrorRedactor}). Unknown fields are reported by `.build()`
 * as a {@link SagaDefinitionError}, so a misspelt policy never goes unnoticed.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import type { SagaBuilderOptions } from 'sagaflow';
 * const options: SagaBuilderOptions = { name: 'refund', version: '2', input: z.object({ orderId: z.string() }), onFailure: 'pause' };
 * ```
 */
export interface SagaBuilderOptions extends SagaPolicies {
  /** The saga's name: how runs, stores and workers refer to it. */
  readonly name: string;
  /** Default `'1'`. Recorded on every run. */
  readonly version?: string | undefined;
  /** zod schema of the input; `start` validates against it before anything is stored. */
  readonly input: ZodType;
  /**
   * Removes secrets from thrown errors before they are journaled, after the default redaction
   * (see {@link ErrorRedactor}). Must be a function.
   */
  readonly redactError?: ErrorRedactor | undefined;
}
