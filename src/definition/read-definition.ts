import type { Issue } from '../errors/definition-errors.js';
import { describeThrown, setField } from '../errors/safe-read.js';
import { isZodSchema } from './is-zod-schema.js';

/**
 * Reading what user code hands `defineSaga`, `.stage()`, `.waitForSignal()` and `.sleep()` (and
 * the options of `createOrchestrator()`, `createWorker()`, `signal()`, `close()` and `stop()`): every
 * read of a definition object may run a getter or a Proxy trap, and so may throw (a revoked Proxy,
 * a getter that throws) or answer differently the next time. The builder reads each definition
 * once, here, into plain data: a read that throws becomes an issue naming its field, which
 * `build()` lists in its `SagaDefinitionError`, and the checks and the built saga see the same
 * values.
 *
 * @internal
 */

/**
 * The fields of a definition object that are copied: a field is a value (kept as read: a
 * function, a schema, a number…), an array of values (`after`), or an object with fields of its
 * own (a retry policy).
 *
 * @internal
 */
export type DefinitionFields = { readonly [field: string]: 'value' | 'array' | DefinitionFields };

/** A definition read by {@link readDefinition}: its copy, and the fields that could not be read. */
export interface ReadDefinition {
  /** The copy: plain objects and arrays; `undefined` where the value as a whole could not be read. */
  readonly value: unknown;
  /** One issue per field whose read threw (`could not be read: …`), with its dotted path. */
  readonly unreadable: readonly Issue[];
}

const RETRY_FIELDS: DefinitionFields = {
  maxAttempts: 'value',
  initialDelayMs: 'value',
  backoffFactor: 'value',
  maxDelayMs: 'value',
  jitter: 'value',
  retryable: 'value',
};

/** The fields of `defineSaga`'s options. */
export const SAGA_OPTION_FIELDS: DefinitionFields = {
  name: 'value',
  version: 'value',
  input: 'value',
  concurrency: 'value',
  onFailure: 'value',
  onCancel: 'value',
  compensation: 'value',
  redactError: 'value',
};

/** The fields of a stage definition. */
export const STAGE_FIELDS: DefinitionFields = {
  after: 'array',
  execute: 'value',
  compensate: 'value',
  output: 'value',
  retry: RETRY_FIELDS,
  timeoutMs: 'value',
  compensation: { retry: RETRY_FIELDS, timeoutMs: 'value' },
  compensateOnFailure: 'value',
};

/** The fields of `createOrchestrator`'s options. */
export const ORCHESTRATOR_OPTION_FIELDS: DefinitionFields = {
  store: 'value',
  sagas: 'array',
  scheduler: 'value',
  random: 'value',
  leaseMs: 'value',
  ownerId: 'value',
  instrumentation: 'value',
  onError: 'value',
};

/** The fields of `createWorker`'s options. */
export const WORKER_OPTION_FIELDS: DefinitionFields = {
  store: 'value',
  sagas: 'array',
  concurrency: 'value',
  leaseMs: 'value',
  pollIntervalMs: 'value',
  parkThresholdMs: 'value',
  workerId: 'value',
  retry: { initialDelayMs: 'value', maxDelayMs: 'value' },
  scheduler: 'value',
  instrumentation: 'value',
  onError: 'value',
};

/**
 * Options (of `createOrchestrator`, `createWorker`, `signal()`, `close()`, `stop()`) read once into
 * plain data; a read that throws is a `TypeError` naming the field (`createWorker: options.leaseMs
 * could not be read: …`), as every other problem with these options is.
 */
export function readOptions(call: string, options: unknown, fields: DefinitionFields): unknown {
  const read = readDefinition(options ?? {}, fields, 'options');
  if (read.unreadable.length > 0) throw new TypeError(`${call}: ${read.unreadable.map((issue) => `${issue.path} ${issue.message}`).join('; ')}.`);
  return read.value ?? {};
}

/** The fields of the options of `orchestrator.signal()`. */
export const SIGNAL_OPTION_FIELDS: DefinitionFields = { signalId: 'value', timeoutMs: 'value' };

/** The fields of the options of `orchestrator.close()` and `worker.stop()`. */
export const SETTLE_OPTION_FIELDS: DefinitionFields = { timeoutMs: 'value' };

/** The fields of a wait stage's definition (`waitForSignal` or `sleep`). */
export const WAIT_FIELDS: DefinitionFields = {
  after: 'array',
  signal: 'value',
  schema: 'value',
  timeoutMs: 'value',
  onTimeout: { output: 'value' },
  durationMs: 'value',
  until: 'value',
};

/**
 * Reads a definition object once into plain data; never throws.
 *
 * @remarks
 * Every field of `fields` is read (own or inherited, as a schema check would), and every other own
 * enumerable key is kept with the value `undefined`, unread, so that a check for unknown fields
 * still reports it. Values that are not plain objects where an object is expected (a primitive, a
 * function, a zod schema) are kept as they are, for the checks to judge.
 *
 * @param path - where the value is in the definition (`stages.charge`), for the issues.
 */
export function readDefinition(value: unknown, fields: DefinitionFields | 'array', path: string): ReadDefinition {
  const unreadable: Issue[] = [];
  return { value: copy(value, fields, path, unreadable), unreadable };
}

/**
 * Whether an issue is about a field {@link readDefinition} could not read, or something inside it:
 * the check saying such a field is missing or of the wrong type would only repeat the read's issue.
 */
export function underUnreadable(issue: Issue, unreadable: readonly Issue[]): boolean {
  return unreadable.some((read) => issue.path === read.path || issue.path.startsWith(`${read.path}.`));
}

function copy(value: unknown, fields: DefinitionFields | 'array' | 'value', path: string, unreadable: Issue[]): unknown {
  if (fields === 'value' || typeof value !== 'object' || value === null || isZodSchema(value)) return value;
  let isArray: boolean;
  let keys: string[];
  try {
    isArray = Array.isArray(value);
    keys = Object.keys(value);
  } catch (error) {
    unreadable.push({ path, message: `could not be read: ${describeThrown(error)}` });
    return undefined;
  }
  if (fields === 'array') {
    if (!isArray) return value;
    // Through `length`, as the check would: a Proxy of an array may list no index among its keys.
    const length = read(value, 'length', 'value', path, unreadable);
    if (typeof length !== 'number') return undefined;
    const items: unknown[] = [];
    for (let index = 0; index < length; index++) items.push(read(value, String(index), 'value', `${path}.${index}`, unreadable));
    return items;
  }
  if (isArray) return value;
  const result: Record<string, unknown> = {};
  for (const key of keys) if (!Object.hasOwn(fields, key)) setField(result, key, undefined);
  for (const [key, nested] of Object.entries(fields)) {
    const field = read(value, key, nested, path === '' ? key : `${path}.${key}`, unreadable);
    if (field !== undefined) setField(result, key, field);
  }
  return result;
}

function read(target: object, key: string, fields: DefinitionFields | 'array' | 'value', path: string, unreadable: Issue[]): unknown {
  let value: unknown;
  try {
    value = (target as Record<string, unknown>)[key];
  } catch (error) {
    unreadable.push({ path, message: `could not be read: ${describeThrown(error)}` });
    return undefined;
  }
  return copy(value, fields, path, unreadable);
}
