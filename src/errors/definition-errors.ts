import { SagaError, SagaErrorCode } from './saga-error.js';

/**
 * One problem found in a saga definition or in a run's input.
 *
 * @remarks
 * Carried by {@link SagaDefinitionError.issues} and {@link SagaInputError.issues}; every problem
 * is listed, not only the first. `path` is dotted from the root of what was checked:
 * `stages.credit.retry.maxAttempts` or `concurrency` for a definition, `input.cents` for an
 * input, `options.runId` for a bad run id. It is `''` only when the problem concerns the value as
 * a whole.
 *
 * @example
 * ```ts
 * import type { Issue } from 'sagaflow';
 * const line = (issue: Issue) => `${issue.path}: ${issue.message}`;
 * ```
 */
export interface Issue {
  /** Where the problem is: `stages.credit.retry.maxAttempts`, `input.cents`… */
  readonly path: string;
  /** What is wrong there. */
  readonly message: string;
}

function listIssues(issues: readonly Issue[]): string {
  return issues.map((issue) => (issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`)).join('; ');
}

/**
 * `.build()` found problems in a saga definition; `issues` lists every one of them.
 *
 * @remarks
 * Thrown synchronously by `.build()`, so a bad definition fails where the saga is built
 * (usually at module load), never in the middle of a run. Thrown for: a saga without stages,
 * an empty or duplicate stage name, unknown or self `after` references, a stage listed twice in
 * `after`, dependency cycles (with their path), invalid policy values (`maxAttempts` not an
 * integer ≥ 1, negative delays, `backoffFactor` < 1, `timeoutMs` ≤ 0, `concurrency` not an
 * integer ≥ 1 or `Infinity`), an empty `name` or `version`, a saga name, version or stage name
 * that holds a NUL character or ill-formed Unicode (a lone surrogate) or is longer than 200
 * characters (they are stored and hashed), a missing `execute` or input schema, unknown
 * (misspelt) fields, and a definition object or field whose read throws (a revoked Proxy, a
 * throwing getter: the issue names the field, `could not be read: …`).
 * Fix the definition: there is nothing to retry.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineSaga, SagaDefinitionError } from 'sagaflow';
 * try {
 *   defineSaga({ name: 'broken', input: z.object({}) })
 *     .stage('a', { execute: async () => 1, retry: { maxAttempts: 0 } })
 *     .stage('b', { execute: async () => 2, timeoutMs: 0 })
 *     .build();
 * } catch (error) {
 *   if (!(error instanceof SagaDefinitionError)) throw error;
 *   for (const issue of error.issues) console.error(`${issue.path}: ${issue.message}`);
 *   // stages.a.retry.maxAttempts: must be an integer >= 1
 *   // stages.b.timeoutMs: must be a finite number of milliseconds > 0
 * }
 * ```
 */
export class SagaDefinitionError extends SagaError {
  /** Always `'SagaDefinitionError'`. */
  override readonly name = 'SagaDefinitionError';
  readonly code = SagaErrorCode.DefinitionInvalid;

  /**
   * @param saga - the saga's name (or a placeholder when the name itself is invalid).
   * @param issues - every problem found.
   */
  constructor(
    readonly saga: string,
    readonly issues: readonly Issue[],
  ) {
    super(
      `Saga '${saga}' has ${issues.length} definition problem${issues.length === 1 ? '' : 's'}: ${listIssues(issues)}.`,
    );
  }
}

/**
 * The input given to `start`, `run` or `submit` does not match the saga's input schema, or is
 * not plain JSON.
 *
 * @remarks
 * Raised before anything is stored, so no run exists and there is nothing to clean up: `start`
 * throws it synchronously, `run` and `submit` reject with it. The input is checked after the
 * schema's own transforms, so a schema that produces a `Date`, a `Map` or a bigint fails here
 * (the journal keeps JSON). A `runId` in the options that is empty or longer than 200 characters
 * is reported the same way, at path `options.runId`. `cause` is the zod error when the schema
 * refused the input.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { createOrchestrator, defineSaga, SagaInputError } from 'sagaflow';
 * const pay = defineSaga({ name: 'pay', input: z.object({ cents: z.number().int().positive() }) })
 *   .stage('charge', { execute: async () => 'ok' })
 *   .build();
 * const orchestrator = createOrchestrator({ sagas: [pay] });
 * try {
 *   orchestrator.start(pay, { cents: -5 });
 * } catch (error) {
 *   if (!(error instanceof SagaInputError)) throw error;
 *   console.error(error.issues); // [{ path: 'input.cents', message: 'Too small: expected number to be >0' }]
 * }
 * ```
 */
export class SagaInputError extends SagaError {
  /** Always `'SagaInputError'`. */
  override readonly name = 'SagaInputError';
  readonly code = SagaErrorCode.InputInvalid;

  /**
   * @param saga - the saga's name.
   * @param issues - every problem found, with paths starting at `input`.
   * @param options - `cause`: the zod error, when there is one.
   */
  constructor(
    readonly saga: string,
    readonly issues: readonly Issue[],
    options?: { cause?: unknown },
  ) {
    super(`Invalid input for saga '${saga}': ${listIssues(issues)}.`, options);
  }
}
