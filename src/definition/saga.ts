import type { ZodType } from 'zod';
import type { ErrorRedactor } from '../errors/redact-error.js';
import type { ResolvedRetryPolicy } from './retry-policy.js';
import type { CompensateContextBase, ExecuteContext } from './stage-definition.js';
import type { WaitSpec } from './wait-stage.js';
import type { RecordedStageShape } from '../journal/saga-event.js';

/**
 * Policies of a saga, with their defaults.
 *
 * @remarks
 * Part of {@link SagaBuilderOptions}; on a built saga, `saga.policies` has every default filled
 * in. They interact as follows:
 * - `concurrency` bounds the `execute` calls in flight in one run; compensations are not bounded
 *   by it (in `parallel` mode every compensation that is ready runs at once).
 * - `onFailure: 'pause'` applies to failures only; a cancelled run follows `onCancel`.
 * - `onCancel: 'keep'` ends a cancelled run `cancelled` without compensating anything; its
 *   completed outputs stay on the outcome.
 * - `compensation` orders every rollback: after a failure, after a cancellation, and after an
 *   operator's `compensate` of a paused run.
 *
 * Policies are not part of the shape hash: changing them keeps stored runs resumable, and a
 * resumed run follows the policies of the definition it is resumed with.
 *
 * @example
 * ```ts
 * import type { SagaPolicies } from 'sagaflow';
 * const careful: SagaPolicies = { concurrency: 4, onFailure: 'pause', compensation: 'parallel' };
 * ```
 */
export interface SagaPolicies {
  /** Max stages in flight within one run. Default `Infinity`. */
  readonly concurrency?: number | undefined;
  /** `'compensate'` (default): roll back after a failure. `'pause'`: keep outputs, wait for `redrive`/`compensate`. */
  readonly onFailure?: 'compensate' | 'pause' | undefined;
  /** `'compensate'` (default): roll back a cancelled run. `'keep'`: stop, keep outputs, compensate nothing. */
  readonly onCancel?: 'compensate' | 'keep' | undefined;
  /**
   * `'sequential'` (default): one compensation at a time, in strict reverse completion order.
   * `'parallel'`: a compensation starts once every completed stage depending on it is
   * compensated; independent ones run concurrently.
   */
  readonly compensation?: 'sequential' | 'parallel' | undefined;
}

/**
 * A built saga's {@link SagaPolicies}, every default filled in.
 *
 * @remarks
 * Found on {@link Saga.policies}: what `.build()` resolved from the policies passed to
 * `defineSaga` (`concurrency` is `Infinity` when there is no limit).
 *
 * @example
 * ```ts
 * import type { ResolvedSagaPolicies } from 'sagaflow';
 * const pausesOnFailure = (policies: ResolvedSagaPolicies) => policies.onFailure === 'pause';
 * ```
 */
export type ResolvedSagaPolicies = { readonly [K in keyof SagaPolicies]-?: Exclude<SagaPolicies[K], undefined> };

/**
 * The compensation policy of a built stage, defaults filled in.
 *
 * @remarks
 * Found on {@link SagaStage.compensation}: the stage's {@link CompensationPolicy} resolved by
 * `.build()`. Compensations default to five attempts because a rollback that gives up leaves the
 * run `compensation_failed` for an operator; `timeoutMs` is absent when there is no limit.
 *
 * @example
 * ```ts
 * import type { ResolvedCompensationPolicy } from 'sagaflow';
 * const patient = (policy: ResolvedCompensationPolicy) => policy.retry.maxAttempts > 3;
 * ```
 */
export interface ResolvedCompensationPolicy {
  /** Retries of `compensate` (default 5 attempts). */
  readonly retry: ResolvedRetryPolicy;
  /** Limit of each `compensate` attempt, in ms, if any. */
  readonly timeoutMs?: number;
}

/**
 * A stage of a built saga: its definition, normalised, with every default filled in.
 *
 * @remarks
 * Read it from `saga.stages` (declaration order) or `saga.stage(name)` to inspect a graph: `after`
 * and `dependents` give the edges both ways. It is frozen; call `execute` and `compensate`
 * only through an orchestrator, which provides their context, journals them and applies the
 * policies.
 *
 * @example
 * ```ts
 * import type { SagaStage } from 'sagaflow';
 * const edges = (stage: SagaStage) => stage.after.map((parent) => `${parent} -> ${stage.name}`);
 * ```
 */
export interface SagaStage {
  /** The stage's name, unique within its saga. */
  readonly name: string;
  /** Position in declaration order. */
  readonly index: number;
  /** The stages it depends on, after defaults (the previous stage when `after` was omitted). */
  readonly after: readonly string[];
  /** The stages that depend on it directly. */
  readonly dependents: readonly string[];
  /** Does the stage's work. */
  readonly execute: (context: ExecuteContext<unknown, Record<string, unknown>>) => unknown;
  /**
   * Undoes the stage's work; absent when the stage has nothing to undo. Its context is the
   * stage's `CompensateContext` with the output type erased.
   */
  readonly compensate?: (
    context: CompensateContextBase<unknown, Record<string, unknown>> & { readonly outcome: 'completed' | 'unknown'; readonly output: unknown },
  ) => unknown;
  /** Validates what `execute` returns. */
  readonly output?: ZodType;
  /** Retries of `execute`. */
  readonly retry: ResolvedRetryPolicy;
  /** Limit of each `execute` attempt, in ms. */
  readonly timeoutMs?: number;
  /** Retries and per-attempt timeout of `compensate`. */
  readonly compensation: ResolvedCompensationPolicy;
  /** Whether `compensate` also runs after the stage's own final failure. */
  readonly compensateOnFailure: boolean;
  /** For a wait stage (`.waitForSignal`, `.sleep`): what it waits for. Its `execute` only computes when the wait ends. */
  readonly wait?: WaitSpec;
}

/**
 * A validated, frozen saga, made by `defineSaga(…).build()`: a named, versioned DAG of stages.
 *
 * @remarks
 * Definitions are code and are never stored: a run records the saga's name, version and
 * {@link Saga.shapeHash | shape hash}, and an orchestrator is given the definitions it may
 * run or resume.
 *
 * @typeParam TInput - the validated input type.
 * @typeParam TOutputs - the outputs of its stages, keyed by stage name.
 * @typeParam TRawInput - what `start` accepts, before the schema's defaults and transforms.
 * @typeParam TSignals - the payloads (as sent) of the signals its wait stages wait for, keyed by
 *   signal name; `unknown` when they are not known.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineSaga, type Saga } from 'sagaflow';
 * const ping: Saga<{ host: string }, { ping: number }> = defineSaga({ name: 'ping', input: z.object({ host: z.string() }) })
 *   .stage('ping', { execute: async () => 42 })
 *   .build();
 * ```
 */
export interface Saga<TInput = unknown, TOutputs = Record<string, unknown>, TRawInput = TInput, TSignals = unknown> {
  /** The saga's name: how runs, stores and workers refer to it. */
  readonly name: string;
  /** The saga's version, recorded on every run. */
  readonly version: string;
  /**
   * sha-256 of the saga's shape: its name and, in declaration order, each stage's name, its
   * dependencies, whether it compensates and whether it sets `compensateOnFailure`.
   */
  readonly shapeHash: string;
  /**
   * The shape the hash covers, stage by stage (dependencies, whether each compensates). Journaled
   * on every run's `run.started`, so a run continued on another definition can say what changed.
   */
  readonly shape: readonly RecordedStageShape[];
  /** The input schema. `start` takes what it accepts (`TRawInput`); stages see what it returns (`TInput`). */
  readonly input: ZodType<TInput, TRawInput>;
  /** Stages in declaration order. */
  readonly stages: readonly SagaStage[];
  /** The saga's policies, defaults filled in. */
  readonly policies: ResolvedSagaPolicies;
  /** Looks a stage up by name. */
  readonly stage: (name: string) => SagaStage | undefined;
  /**
   * The saga's hook that removes secrets from thrown errors before they are journaled, after the
   * default redaction; absent when the saga has none (the default redaction still applies).
   */
  readonly redactError?: ErrorRedactor;
  /** Type-only marker carrying the stage outputs; always undefined at run time. */
  readonly __outputs?: TOutputs;
  /** Type-only marker carrying the signals its waits take, by name; always undefined at run time. */
  readonly __signals?: TSignals;
}

/**
 * The input type of a saga.
 *
 * @remarks
 * The validated input, as stages see it in `ctx.input` (after the schema's defaults and
 * transforms). What callers pass to `start` may differ when the schema transforms; that type is
 * `z.input` of `saga.input`.
 *
 * @example
 * ```ts
 * import type { Saga, SagaInput } from 'sagaflow';
 * type TransferInput = SagaInput<Saga<{ cents: number }, {}>>; // { cents: number }
 * ```
 */
export type SagaInput<TSaga> = TSaga extends Saga<infer TInput, infer _TOutputs, infer _TRawInput, infer _TSignals> ? TInput : never;

/**
 * The stage outputs of a saga, keyed by stage name.
 *
 * @remarks
 * What `orchestrator.run(saga, input)` resolves with; `SagaOutcome<SagaOutputs<typeof saga>>`
 * types an outcome's `outputs` (a `Partial` of it).
 *
 * @example
 * ```ts
 * import type { Saga, SagaOutputs } from 'sagaflow';
 * type Outputs = SagaOutputs<Saga<unknown, { debit: { entryId: string } }>>; // { debit: { entryId: string } }
 * ```
 */
export type SagaOutputs<TSaga> = TSaga extends Saga<infer _TInput, infer TOutputs, infer _TRawInput, infer _TSignals> ? TOutputs : never;

/**
 * Any saga, whatever its input and outputs: the element type of `createOrchestrator({ sagas })`
 * and `createWorker({ sagas })`.
 *
 * @remarks
 * Its type parameters are `any` so that sagas of different types fit in one array. Prefer the
 * precise `Saga<…>` type (or the inferred one) wherever one saga is used: `start` and `run` then
 * type-check the input and the outputs.
 *
 * @example
 * ```ts
 * import type { AnySaga } from 'sagaflow';
 * const byName = (sagas: readonly AnySaga[]) => new Map(sagas.map((saga) => [saga.name, saga]));
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds sagas of every input and output type
export type AnySaga = Saga<any, any, any, any>;
