import { types } from 'node:util';
import type { ZodType } from 'zod';
import { z } from 'zod';
import { describePrimitive, describeThrown } from '../errors/safe-read.js';
import { WaitUntilError } from '../errors/wait-errors.js';
import { freezeJson } from '../journal/freeze-json.js';
import { nameProblem } from './identifier.js';
import { isZodSchema } from './is-zod-schema.js';
import { copyJson } from '../runtime/json-value.js';
import type { ExecuteContext } from './stage-definition.js';

/**
 * A wait stage that waits for a named signal: what `.waitForSignal(name, definition)` takes.
 *
 * @remarks
 * The stage completes when `orchestrator.signal(runId, signal, payload)` delivers a payload that
 * `schema` accepts: the stage's output is what the schema returns. With `timeoutMs`, a wait that
 * is not signalled in time fails the stage (a `WaitTimeoutError`, code `WAIT_TIMEOUT`), which
 * starts the saga's usual failure path (the rollback, or a pause); with `onTimeout` it completes
 * with `onTimeout.output` instead, read by `schema` as a payload would be. A signal sent before
 * the wait is reached is journaled and buffered, and satisfies the wait as soon as it starts. A
 * wait stage has nothing to compensate.
 *
 * @typeParam TOutput - the payload, as the schema returns it: the stage's output.
 * @typeParam TInput - the payload as sent, which the schema reads (the same as `TOutput` unless the
 *   schema transforms it).
 * @typeParam TSignal - the signal's name: the builder records it, so that the test kit's `signals`
 *   option is typed with the names and payloads a saga waits for.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import type { WaitForSignalDefinition } from 'sagaflow';
 * const approval: WaitForSignalDefinition<{ approved: boolean }> = {
 *   signal: 'approval',
 *   schema: z.object({ approved: z.boolean() }),
 *   timeoutMs: 15 * 60_000,
 * };
 * ```
 */
export interface WaitForSignalDefinition<TOutput, TInput = TOutput, TSignal extends string = string> {
  /** The signal's name, as `orchestrator.signal` and `sagaflow signal` send it. */
  readonly signal: TSignal;
  /** Validates (and may transform) the payload; a payload it refuses is refused by `signal()`. */
  readonly schema: ZodType<TOutput, TInput>;
  /** How long to wait, in ms, from when the wait starts. No limit by default. */
  readonly timeoutMs?: number | undefined;
  /** Completes the stage when the wait times out, instead of failing it. */
  readonly onTimeout?:
    | {
        /**
         * A payload to complete the stage with when the wait times out, as a signal would send it:
         * `build()` reads it with `schema` (refusing one the schema refuses, naming the field) and
         * the stage's output is what the schema returns for it.
         */
        readonly output: NoInfer<TInput>;
      }
    | undefined;
}

/**
 * A wait stage that waits for time: what `.sleep(name, definition)` takes.
 *
 * @remarks
 * Either `durationMs` from when the wait starts, or `until`, an instant computed from the run's
 * input and its ancestors' results (a `Date` or epoch ms). The wake-up time is journaled when the
 * wait starts, so a run recovered after a crash waits only for what is left; an instant in the
 * past completes the stage at once. Its output is `undefined`; it has nothing to compensate.
 * An `until` that returns no instant (`NaN`, an invalid `Date`, a Proxy…) fails the stage at once,
 * not retried, with a `WaitUntilError` (code `WAIT_UNTIL_INVALID`).
 *
 * @typeParam TInput - the saga's input.
 * @typeParam TResults - the outputs of the stage's ancestors.
 *
 * @example
 * ```ts
 * import type { SleepDefinition } from 'sagaflow';
 * const coolOff: SleepDefinition<{ releaseAt: string }, {}> = { until: ({ input }) => new Date(input.releaseAt) };
 * ```
 */
export type SleepDefinition<TInput, TResults> =
  | {
      /** How long to wait, in ms. */
      readonly durationMs: number;
      /** Not with `durationMs`. */
      readonly until?: undefined;
    }
  | {
      /** Not with `until`. */
      readonly durationMs?: undefined;
      /** When to wake up: computed once, when the wait starts, and journaled. */
      readonly until: (context: ExecuteContext<TInput, TResults>) => Date | number;
    };

/**
 * What a built saga's wait stage waits for: `SagaStage.wait`.
 *
 * @remarks
 * `signal`: a named signal, its payload schema, and its timeout and fallback, if any. `timer`: a
 * time, computed by the stage's `execute` when the wait starts. Read by the decider, by
 * `orchestrator.signal` (which validates payloads with `schema`) and by the views.
 *
 * @example
 * ```ts
 * import type { WaitSpec } from 'sagaflow';
 * const describe = (wait: WaitSpec) => (wait.kind === 'signal' ? `signal '${wait.signal}'` : 'a timer');
 * ```
 */
export type WaitSpec =
  | {
      /** Waits for a signal. */
      readonly kind: 'signal';
      /** The signal's name. */
      readonly signal: string;
      /** The payload's schema. */
      readonly schema: ZodType;
      /** The wait's limit, in ms. */
      readonly timeoutMs?: number;
      /** The output on timeout, instead of a failure. */
      readonly onTimeout?: {
        /** The stage's output on timeout. */
        readonly output: unknown;
      };
    }
  | {
      /** Waits for time. */
      readonly kind: 'timer';
    };

/**
 * What a wait stage's `execute` returns to the decider: when the wait ends. Internal.
 *
 * @internal
 */
export interface WaitPlan {
  /** Wait this long from now. */
  readonly delayMs?: number;
  /** Wait until this instant (epoch ms). */
  readonly dueAt?: number;
}

const positiveDuration = z
  .number({ error: 'must be a number' })
  .refine((value) => Number.isFinite(value) && value > 0, { error: 'must be a finite number of milliseconds > 0' });

const signalWaitSchema = z.strictObject(
  {
    after: z.unknown().optional(),
    signal: z
      .string({ error: 'must be a non-empty string' })
      .min(1, { error: 'must be a non-empty string' })
      .superRefine((value, context) => {
        const problem = nameProblem(value);
        if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
      }),
    schema: z.custom<ZodType>(isZodSchema, { error: 'must be a zod schema' }),
    timeoutMs: positiveDuration.optional(),
    onTimeout: z.strictObject({ output: z.unknown() }, { error: 'must be an object { output }' }).optional(),
  },
  { error: 'must be an object with a signal name and a schema' },
);

const sleepSchema = z
  .strictObject(
    {
      after: z.unknown().optional(),
      durationMs: z
        .number({ error: 'must be a number' })
        .refine((value) => Number.isFinite(value) && value >= 0, { error: 'must be a finite number of milliseconds >= 0' })
        .optional(),
      until: z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', { error: 'must be a function' }).optional(),
    },
    { error: 'must be an object with durationMs or until' },
  )
  .refine((value) => (value.durationMs === undefined) !== (value.until === undefined), { error: 'give exactly one of durationMs and until' });

/**
 * Checks a wait stage's definition; returns zod's issues as `[path, message]` pairs. Internal.
 *
 * @internal
 */
export function waitDefinitionProblems(kind: WaitSpec['kind'], definition: unknown, fallback: WaitFallback | undefined): Array<readonly [string, string]> {
  const result = (kind === 'signal' ? signalWaitSchema : sleepSchema).safeParse(definition);
  if (!result.success) return result.error.issues.map((issue) => [issue.path.map(String).join('.'), issue.message] as const);
  return fallback === undefined || fallback.ok ? [] : fallback.problems;
}

/**
 * A signal wait's `onTimeout.output` read once, where the wait is declared ({@link waitStage}):
 * the stage's output on timeout, or what is wrong with it, as `[path, message]` pairs that
 * `build()` reports (after the definition's own problems, a schema that is not one included).
 *
 * @internal
 */
export type WaitFallback = { readonly ok: true; readonly output: unknown } | { readonly ok: false; readonly problems: Array<readonly [string, string]> };

/**
 * What a signal wait completes with on timeout: its `onTimeout.output` read by its schema, as a
 * payload is (JSON the schema accepts), and what the schema returns for it copied as plain JSON
 * (the stage's output, journaled). Never throws: a schema that is not one, or whose transform
 * throws, is a problem like any other.
 */
function fallbackOutput(schema: unknown, given: unknown): WaitFallback {
  const copy = copyJson(given, 'onTimeout.output');
  if (!copy.ok) return { ok: false, problems: [[copy.problem.path, `is not plain JSON: ${copy.problem.problem}`]] };
  // Not a schema: the definition's own check says so (signalWaitSchema), nothing to add here.
  if (!isZodSchema(schema)) return { ok: false, problems: [] };
  let parsed: ReturnType<ZodType['safeParse']>;
  try {
    parsed = schema.safeParse(copy.value);
  } catch (error) {
    return { ok: false, problems: [['onTimeout.output', `could not be read by the signal's schema: it threw ${describeThrown(error)}`]] };
  }
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((issue) => [['onTimeout', 'output', ...issue.path.map(String)].join('.'), `does not match the signal's schema: ${issue.message}`] as const) };
  }
  const output = copyJson(parsed.data, 'onTimeout.output');
  if (!output.ok) return { ok: false, problems: [[output.problem.path, `as the signal's schema returns it, is not plain JSON: ${output.problem.problem}`]] };
  return { ok: true, output: output.value };
}

/**
 * The resolved spec and the `execute` of a wait stage (`execute` only computes when the wait ends:
 * the decider does the waiting, from the journal), and a signal wait's fallback, read once (see
 * {@link WaitFallback}). Internal to the builder.
 *
 * @internal
 */
export function waitStage(
  kind: WaitSpec['kind'],
  definition: Partial<WaitForSignalDefinition<unknown>> & { readonly durationMs?: number; readonly until?: (context: never) => Date | number },
): { readonly spec: WaitSpec; readonly fallback?: WaitFallback | undefined; readonly execute: (context: ExecuteContext<unknown, Record<string, unknown>>) => WaitPlan | undefined } {
  if (kind === 'signal') {
    // Read once, here; build() reports its problems (see WaitFallback).
    // Not an object (null included): the definition's own check says so (signalWaitSchema).
    const onTimeout: unknown = definition.onTimeout;
    const fallback = typeof onTimeout !== 'object' || onTimeout === null ? undefined : fallbackOutput(definition.schema, (onTimeout as { readonly output?: unknown }).output);
    const spec: WaitSpec = Object.freeze({
      kind: 'signal',
      signal: definition.signal as string,
      schema: definition.schema as ZodType,
      ...(definition.timeoutMs === undefined ? {} : { timeoutMs: definition.timeoutMs }),
      ...(fallback?.ok === true ? { onTimeout: Object.freeze({ output: freezeJson(fallback.output) }) } : {}),
    });
    const timeoutMs = definition.timeoutMs;
    return { spec, fallback, execute: () => (timeoutMs === undefined ? undefined : { delayMs: timeoutMs }) };
  }
  const spec: WaitSpec = Object.freeze({ kind: 'timer' });
  const { durationMs, until } = definition;
  if (until === undefined) return { spec, execute: () => ({ delayMs: durationMs ?? 0 }) };
  const compute = until as (context: ExecuteContext<unknown, Record<string, unknown>>) => Date | number;
  return {
    spec,
    execute: (context) => {
      const instant = instantOf(compute(context));
      if (!instant.ok) throw new WaitUntilError(context.saga, context.runId, context.stage, instant.problem);
      return { dueAt: instant.dueAt };
    },
  };
}

/**
 * What `until()` returned, as epoch ms, or what is wrong with it. Never throws: a Date is read
 * with the intrinsic `Date.prototype.getTime` (so a Proxy, revoked or not, or a subclass
 * overriding `getTime` is refused, never asked), and a refused value is described without
 * calling into it.
 */
function instantOf(value: unknown): { readonly ok: true; readonly dueAt: number } | { readonly ok: false; readonly problem: string } {
  if (typeof value === 'number') return Number.isFinite(value) ? { ok: true, dueAt: value } : { ok: false, problem: String(value) };
  if (typeof value !== 'object' || value === null) return { ok: false, problem: describePrimitive(value) };
  if (types.isProxy(value)) return { ok: false, problem: 'a Proxy' };
  if (!types.isDate(value)) return { ok: false, problem: 'an object that is not a Date' };
  const dueAt = Date.prototype.getTime.call(value);
  return Number.isFinite(dueAt) ? { ok: true, dueAt } : { ok: false, problem: 'an invalid Date' };
}
