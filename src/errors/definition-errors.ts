import { SagaError, SagaErrorCode } from './saga-error.js';

/**
 * One problem found in a saga definition or in a run's input.
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
 * `.build()` found problems in a saga definition. `issues` lists every one of them.
 *
 * @remarks
 * Thrown for: duplicate stage names, unknown `after` references, dependency cycles (with
 * their path), invalid policy values (`maxAttempts` not an integer ≥ 1, negative delays,
 * `backoffFactor` < 1, `timeoutMs` ≤ 0, `concurrency` < 1), and misspelt fields.
 *
 * @example
 * ```ts
 * import { SagaDefinitionError } from 'sagaflow';
 * const paths = (error: SagaDefinitionError) => error.issues.map((issue) => issue.path);
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
 * not plain JSON. Thrown before anything is stored.
 *
 * @example
 * ```ts
 * import { SagaInputError } from 'sagaflow';
 * const fields = (error: SagaInputError) => error.issues.map((issue) => issue.path);
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
