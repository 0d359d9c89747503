import { z } from 'zod';
import type { Issue } from '../errors/definition-errors.js';
import { nameProblem, quoteIdentifier } from './identifier.js';
import { isZodSchema } from './is-zod-schema.js';
import { underUnreadable } from './read-definition.js';

const isFunction = (value: unknown): boolean => typeof value === 'function';

const fn = z.custom<(...args: never[]) => unknown>(isFunction, { error: 'must be a function' });
const zodSchema = z.custom<z.ZodType>(isZodSchema, { error: 'must be a zod schema' });
const nonNegative = z.number({ error: 'must be a number' }).refine((value) => Number.isFinite(value) && value >= 0, {
  error: 'must be a finite number >= 0',
});
const positiveDuration = z
  .number({ error: 'must be a number' })
  .refine((value) => Number.isFinite(value) && value > 0, { error: 'must be a finite number of milliseconds > 0' });

const retryPolicySchema = z.strictObject(
  {
    maxAttempts: z
      .number({ error: 'must be a number' })
      .refine((value) => Number.isInteger(value) && value >= 1, { error: 'must be an integer >= 1' })
      .optional(),
    initialDelayMs: nonNegative.optional(),
    backoffFactor: z
      .number({ error: 'must be a number' })
      .refine((value) => Number.isFinite(value) && value >= 1, { error: 'must be a finite number >= 1' })
      .optional(),
    maxDelayMs: nonNegative.optional(),
    jitter: z.boolean({ error: 'must be a boolean' }).optional(),
    retryable: fn.optional(),
  },
  { error: 'must be an object' },
);

const stageDefinitionSchema = z.strictObject(
  {
    after: z.array(z.string({ error: 'must be a stage name' }), { error: 'must be an array of stage names' }).optional(),
    execute: fn,
    compensate: fn.optional(),
    output: zodSchema.optional(),
    retry: retryPolicySchema.optional(),
    timeoutMs: positiveDuration.optional(),
    compensation: z
      .strictObject({ retry: retryPolicySchema.optional(), timeoutMs: positiveDuration.optional() }, { error: 'must be an object' })
      .optional(),
    compensateOnFailure: z.boolean({ error: 'must be a boolean' }).optional(),
  },
  { error: 'must be an object with an execute function' },
);

/** A saga name, version or stage name: stored, hashed and part of idempotency keys. */
const identifier = z.string({ error: 'must be a non-empty string' }).superRefine((value, context) => {
  const problem = nameProblem(value);
  if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
});

const sagaOptionsSchema = z.strictObject(
  {
    name: identifier,
    version: identifier.optional(),
    input: zodSchema,
    concurrency: z
      .number({ error: 'must be a number' })
      .refine((value) => value === Infinity || (Number.isInteger(value) && value >= 1), {
        error: 'must be an integer >= 1 or Infinity',
      })
      .optional(),
    onFailure: z.enum(['compensate', 'pause'], { error: "must be 'compensate' or 'pause'" }).optional(),
    onCancel: z.enum(['compensate', 'keep'], { error: "must be 'compensate' or 'keep'" }).optional(),
    compensation: z.enum(['sequential', 'parallel'], { error: "must be 'sequential' or 'parallel'" }).optional(),
    redactError: fn.optional(),
  },
  { error: 'must be an object' },
);

function toIssues(error: z.ZodError, prefix: string): Issue[] {
  return error.issues.map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter((part) => part !== '').join('.');
    if (issue.code === 'unrecognized_keys') {
      return { path, message: `unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map((key) => `'${key}'`).join(', ')}` };
    }
    return { path, message: issue.message };
  });
}

/** Checks the options given to `defineSaga`. */
export function validateSagaOptions(options: unknown): Issue[] {
  const result = sagaOptionsSchema.safeParse(options);
  return result.success ? [] : toIssues(result.error, '');
}

/** A declared stage, before graph checks. */
export interface DeclaredStage {
  readonly name: unknown;
  readonly definition: unknown;
  /** Fields of the definition whose read threw (see `readDefinition`), with paths relative to the stage. */
  readonly unreadable: readonly Issue[];
  /** Dependencies after defaults; undefined when `after` itself is invalid. */
  readonly after: readonly string[] | undefined;
}

/**
 * Checks every stage and the graph they form: invalid fields, duplicate names, unknown and
 * self references, cycles (each reported once, with its path).
 */
export function validateStages(stages: readonly DeclaredStage[]): Issue[] {
  const issues: Issue[] = [];
  if (stages.length === 0) issues.push({ path: 'stages', message: 'a saga needs at least one stage' });
  const names = new Set<string>();
  /** Stages declared again under a name already taken: their own checks are about that second declaration. */
  const duplicates = new Set<DeclaredStage>();
  for (const [index, stage] of stages.entries()) {
    const problem = nameProblem(stage.name);
    const label = stageLabel(stage.name, index);
    if (typeof stage.name !== 'string' || stage.name.trim() === '') {
      issues.push({ path: `stages.${label}`, message: 'a stage name must be a non-empty string' });
    } else if (problem !== undefined) {
      issues.push({ path: `stages.${label}`, message: `the stage name ${problem}` });
    } else if (stage.name === '__proto__') {
      // Outcomes key outputs and stage records by name: this key sets an object's prototype instead.
      issues.push({ path: `stages.${label}`, message: "the stage name '__proto__' is reserved: as a key of outcome.outputs and outcome.stages it would set their prototype, and the stage's output would vanish from them" });
      names.add(stage.name);
    } else if (names.has(stage.name)) {
      issues.push({ path: `stages.${label}`, message: `duplicate stage name '${stage.name}'` });
      duplicates.add(stage);
    } else {
      names.add(stage.name);
    }
    const result = stageDefinitionSchema.safeParse(stage.definition);
    const own = result.success ? [] : toIssues(result.error, '').filter((issue) => !underUnreadable(issue, stage.unreadable));
    for (const issue of [...stage.unreadable, ...own]) issues.push({ path: issue.path === '' ? `stages.${label}` : `stages.${label}.${issue.path}`, message: issue.message });
  }
  for (const stage of stages) {
    if (typeof stage.name !== 'string' || nameProblem(stage.name) !== undefined || stage.after === undefined) continue;
    const seen = new Set<string>();
    for (const parent of stage.after) {
      // A duplicate's `after` naming its own name (by default: the previous stage, the first
      // declaration) points at the other declaration, not at itself: the duplicate is the problem.
      if (parent === stage.name && duplicates.has(stage)) {
        continue;
      } else if (parent === stage.name) {
        issues.push({ path: `stages.${stage.name}.after`, message: `stage '${stage.name}' cannot depend on itself` });
      } else if (!names.has(parent)) {
        issues.push({ path: `stages.${stage.name}.after`, message: `unknown stage ${nameProblem(parent) === undefined ? `'${parent}'` : quoteIdentifier(parent)}` });
      } else if (seen.has(parent)) {
        issues.push({ path: `stages.${stage.name}.after`, message: `'${parent}' is listed twice` });
      }
      seen.add(parent);
    }
  }
  issues.push(...findCycles(stages, names));
  return issues;
}

/** How a stage is named in an issue's path: its name, JSON-escaped if it is not a valid one, or its position. */
function stageLabel(name: unknown, index: number): string {
  if (typeof name !== 'string' || name.trim() === '') return `#${index}`;
  return nameProblem(name) === undefined ? name : quoteIdentifier(name);
}

/** Depth-first search with an explicit stack (deep chains must not overflow the call stack). */
function findCycles(stages: readonly DeclaredStage[], names: ReadonlySet<string>): Issue[] {
  const parents = new Map<string, readonly string[]>();
  for (const stage of stages) {
    if (typeof stage.name === 'string' && !parents.has(stage.name)) {
      parents.set(
        stage.name,
        (stage.after ?? []).filter((parent) => parent !== stage.name && names.has(parent)),
      );
    }
  }
  const order = new Map([...parents.keys()].map((name, index) => [name, index]));
  const state = new Map<string, 'visiting' | 'done'>();
  const issues: Issue[] = [];
  const reported = new Set<string>();
  for (const root of parents.keys()) {
    if (state.has(root)) continue;
    const path: string[] = [];
    const stack: Array<{ name: string; next: number }> = [{ name: root, next: 0 }];
    state.set(root, 'visiting');
    path.push(root);
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as { name: string; next: number };
      const edges = parents.get(frame.name) ?? [];
      if (frame.next >= edges.length) {
        state.set(frame.name, 'done');
        stack.pop();
        path.pop();
        continue;
      }
      const parent = edges[frame.next++] as string;
      const seen = state.get(parent);
      if (seen === 'visiting') {
        // `path` runs from dependents to dependencies; a cycle reads best in execution order.
        const reversed = path.slice(path.indexOf(parent)).reverse();
        // Start the reported cycle at its earliest declared stage, so it reads the same however it was found.
        const first = reversed.reduce((best, name, index) => ((order.get(name) ?? 0) < (order.get(reversed[best] as string) ?? 0) ? index : best), 0);
        const cycle = [...reversed.slice(first), ...reversed.slice(0, first)];
        const key = [...cycle].sort().join('\u0000');
        if (!reported.has(key)) {
          reported.add(key);
          issues.push({
            path: `stages.${parent}.after`,
            message: `dependency cycle: ${[...cycle, cycle[0]].join(' -> ')}`,
          });
        }
      } else if (seen === undefined) {
        state.set(parent, 'visiting');
        path.push(parent);
        stack.push({ name: parent, next: 0 });
      }
    }
  }
  return issues;
}
