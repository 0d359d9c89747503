import { z } from 'zod';

/**
 * An error as it is stored in the journal: plain JSON, so it survives a store round-trip.
 *
 * @remarks
 * Every error that reaches an event (a stage failure, a retry, a compensation failure) is
 * serialised with {@link serializeError}. `data` holds the error's own enumerable fields
 * (and `cause`, serialised the same way) when they are JSON-safe.
 *
 * @example
 * ```ts
 * import type { SerializedError } from 'sagaflow';
 * const error: SerializedError = { name: 'TypeError', message: 'boom' };
 * ```
 */
export interface SerializedError {
  /** The error's class name (`TypeError`, `StageTimeoutError`, …), or `NonErrorThrown`. */
  readonly name: string;
  /** The error's message. */
  readonly message: string;
  /** The error's `code`, when it has a string one. */
  readonly code?: string;
  /** The stack trace captured where the error was created, when there was one. */
  readonly stack?: string;
  /** Extra JSON-safe fields of the error, and its serialised `cause`. */
  readonly data?: Readonly<Record<string, unknown>>;
}

/**
 * zod schema of {@link SerializedError}, used to validate events read back from a store.
 *
 * @remarks
 * Part of {@link sagaEventSchema}; use it on its own to validate an error that crossed a boundary
 * outside a whole event (an error field exported from a journal, an HTTP payload). It checks the
 * shape only: `data` may hold any JSON values.
 *
 * @example
 * ```ts
 * import { serializedErrorSchema } from 'sagaflow';
 * const parsed = serializedErrorSchema.safeParse(JSON.parse('{"name":"StageTimeoutError","message":"timed out","code":"STAGE_TIMEOUT"}'));
 * if (parsed.success && parsed.data.code === 'STAGE_TIMEOUT') console.log('the attempt timed out:', parsed.data.message);
 * ```
 */
export const serializedErrorSchema: z.ZodType<SerializedError> = z.object({
  name: z.string(),
  message: z.string(),
  code: z.string().optional(),
  stack: z.string().optional(),
  data: z.record(z.string(), z.unknown()).optional(),
}) as z.ZodType<SerializedError>;

const MAX_CAUSE_DEPTH = 5;
const OMITTED_FIELDS = new Set(['name', 'message', 'stack', 'code', 'cause']);

/**
 * Turns anything a user function threw into a {@link SerializedError}.
 *
 * @remarks
 * JavaScript can throw any value. Strings, `undefined`, plain objects and numbers all give a
 * readable error named `NonErrorThrown` whose message shows the value, so a journal never holds
 * an empty error. The error's `cause` chain is kept (up to five levels) under `data.cause`.
 *
 * @example
 * ```ts
 * import { serializeError } from 'sagaflow';
 * serializeError('out of stock'); // { name: 'NonErrorThrown', message: 'A non-Error value was thrown: "out of stock"', data: { value: 'out of stock' } }
 * ```
 */
export function serializeError(thrown: unknown): SerializedError {
  return serializeAtDepth(thrown, 0);
}

function serializeAtDepth(thrown: unknown, depth: number): SerializedError {
  if (thrown instanceof Error) {
    const data: Record<string, unknown> = {};
    for (const key of Object.keys(thrown)) {
      if (OMITTED_FIELDS.has(key)) continue;
      const value = (thrown as unknown as Record<string, unknown>)[key];
      if (isJsonSafe(value)) data[key] = value;
    }
    if (thrown.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
      data.cause = serializeAtDepth(thrown.cause, depth + 1);
    }
    const code = (thrown as { code?: unknown }).code;
    return {
      name: thrown.name || 'Error',
      message: thrown.message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(thrown.stack === undefined ? {} : { stack: thrown.stack }),
      ...(Object.keys(data).length > 0 ? { data } : {}),
    };
  }
  const shown = describeValue(thrown);
  return {
    name: 'NonErrorThrown',
    message: `A non-Error value was thrown: ${shown}`,
    ...(thrown !== undefined && isJsonSafe(thrown) ? { data: { value: thrown } } : {}),
  };
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol' || typeof value === 'function') return String(value);
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return Object.prototype.toString.call(value);
    return text.length > 500 ? `${text.slice(0, 500)}…` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function isJsonSafe(value: unknown): boolean {
  try {
    const text = JSON.stringify(value);
    return text !== undefined && text.length <= 10_000;
  } catch {
    return false;
  }
}
