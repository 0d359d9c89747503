import { types } from 'node:util';
import { describeThrown } from './safe-read.js';
import { SERIALIZATION_NOTES_KEY, serializedErrorSchema, type SerializationNotes, type SerializedError } from './serialize-error.js';

/**
 * Where an error being journaled was thrown: passed to a saga's `redactError` hook.
 *
 * @remarks
 * `phase` is `'execute'` for errors of a stage's `execute` (retries, final failures, errors of a
 * stage cancelled while stopping) and `'compensate'` for errors of its `compensate`.
 *
 * @example
 * ```ts
 * import type { ErrorRedactionContext } from 'sagaflow';
 * const where = (context: ErrorRedactionContext) => `${context.saga}/${context.stage} (${context.phase})`;
 * ```
 */
export interface ErrorRedactionContext {
  /** The saga's name. */
  readonly saga: string;
  /** The stage whose `execute` or `compensate` threw. */
  readonly stage: string;
  /** Which of the stage's functions threw. */
  readonly phase: 'execute' | 'compensate';
}

/**
 * A saga's hook that removes secrets from a thrown error before it is journaled:
 * `defineSaga({ …, redactError })`.
 *
 * @remarks
 * It receives a copy of the error that the default redaction ({@link redactSerializedError}) has
 * already been applied to, and returns what is journaled: a {@link SerializedError} (plain
 * JSON). Return the error unchanged, change fields, or drop `data` entirely. It must not throw;
 * if it does, or returns something that is not a serialised error, the journal fails closed: it
 * keeps the error's `name` and `code` only, with {@link WITHHELD_ERROR_MESSAGE} as its message and
 * `data.$sagaflow.redactErrorFailed` saying why (message, stack and `data` may hold what the hook
 * was there to remove). It runs for every journaled error (each retry too), so keep it cheap and
 * synchronous.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineSaga, type ErrorRedactor } from 'sagaflow';
 * const keepOnlyStatus: ErrorRedactor = (error) => {
 *   const { data, ...rest } = error;
 *   return data?.['status'] === undefined ? rest : { ...rest, data: { status: data['status'] } };
 * };
 * export const refund = defineSaga({ name: 'refund', input: z.object({ orderId: z.string() }), redactError: keepOnlyStatus })
 *   .stage('refund', { execute: async () => ({ refunded: true }) })
 *   .build();
 * ```
 */
export type ErrorRedactor = (error: SerializedError, context: ErrorRedactionContext) => SerializedError;

/**
 * What a redacted value is replaced with.
 *
 * @remarks
 * The default redaction replaces the whole value under a secret key (a string, an object or an
 * array) with this string, and the secret part of a string (a password in a URL, the value of an
 * `Authorization:` header line) likewise.
 *
 * @example
 * ```ts
 * import { REDACTED } from 'sagaflow';
 * const wasRedacted = (value: unknown) => value === REDACTED;
 * ```
 */
export const REDACTED = '[redacted]';

/** Normalised key endings that name a secret: `Authorization`, `set-cookie`, `x-api-key`, `db_password`, `accessToken`… */
const SECRET_KEY = /(?:authorization|cookies?|passwords?|passwd|secrets?|tokens?|apikeys?)$/;

/** Whether a field or header name names a secret (case-insensitive; `-`, `_`, `.` and spaces ignored). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.toLowerCase().replace(/[^a-z0-9]/g, ''));
}

const SECRET_WORD = String.raw`[\w.-]*?(?:authorization|cookies?|passwords?|passwd|secrets?|tokens?|api[-_]?keys?)`;

/** Secrets inside text: what each pattern finds, and what it leaves. */
const TEXT_SECRETS: ReadonlyArray<readonly [RegExp, string]> = [
  // user:password@ in URLs (postgres://user:pw@host, https://user:pw@host). The scheme is bounded (no
  // real one is near 64 characters): unbounded, a text with a word boundary at every other character
  // ('a.a.a.…', an echoed input) was scanned to its end from each, in quadratic time.
  [/\b([a-z][a-z0-9+.-]{0,63}:\/\/[^\s:@/?#]*):[^\s@/?#]*@/gi, `$1:${REDACTED}@`],
  // header lines: "Authorization: Bearer …", "Cookie: a=b" (raw requests, e.g. Node's ClientRequest._header)
  [/^([ \t]*(?:proxy-authorization|authorization|cookie|set-cookie|x-api-key|api-key)[ \t]*:)[^\r\n]*/gim, `$1 ${REDACTED}`],
  // credentials anywhere in text
  [/\b(Bearer|Basic)[ \t]+[A-Za-z0-9\-._~+/]+=*/g, `$1 ${REDACTED}`],
  // query parameters: ?token=…&api_key=…
  [new RegExp(String.raw`([?&;]${SECRET_WORD}=)[^&\s#"']*`, 'gi'), `$1${REDACTED}`],
  // JSON inside text: "password": "…"
  [new RegExp(String.raw`("${SECRET_WORD}"\s*:\s*)"(?:[^"\\]|\\.)*"`, 'gi'), `$1"${REDACTED}"`],
];

/** Every text pattern above needs one of these: text without any (most stack traces) is left as is at once. */
const MAY_HOLD_SECRET = /@|bearer|basic|authoriz|cookie|passw|secret|token|api[-_]?key/i;

/** `text` with the secrets it visibly holds replaced by {@link REDACTED}. */
export function redactText(text: string): string {
  if (!MAY_HOLD_SECRET.test(text)) return text;
  let result = text;
  for (const [pattern, replacement] of TEXT_SECRETS) result = result.replace(pattern, replacement);
  return result;
}

/**
 * The default redaction of a journaled error, then the saga's hook, if any. Never throws.
 *
 * @remarks
 * The runtime calls it on every error it journals, right after {@link serializeError}, because a
 * thrown error's enumerable fields go to the journal: an HTTP client's error carries its request
 * (`config.headers.Authorization`), a database driver's its connection string. The default,
 * always applied:
 * - in `data`, at any depth (causes included), a value under a key that names a secret is
 *   replaced by `'[redacted]'`: keys ending (case-insensitively, ignoring `-`, `_` and `.`) in
 *   `authorization`, `cookie`, `password`, `passwd`, `secret`, `token` or `apikey`, so
 *   `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`, `password`, `client_secret`,
 *   `accessToken`, `api-key`, `X-API-Key`; the same for header lists as arrays (`rawHeaders`:
 *   `['Authorization', 'Bearer …']`, or `[name, value]` pairs);
 * - in every string (message, stack, values in `data`): the password of a URL
 *   (`postgres://user:[redacted]@host`), header lines such as `Authorization: …`, `Bearer …` and
 *   `Basic …` credentials, secret query parameters (`?token=…`) and `"password": "…"` in JSON text.
 *
 * Then `redactor` (the saga's `redactError`), if given, receives a copy of that and returns what
 * is journaled; if it throws or returns something that is not a serialised error, only the error's
 * `name` and `code` are kept, with {@link WITHHELD_ERROR_MESSAGE} as its message and
 * `data.$sagaflow.redactErrorFailed` saying why (it fails closed: what the hook was given to
 * remove is not journaled).
 *
 * @param error - the serialised error.
 * @param context - where it was thrown, passed to `redactor`.
 * @param redactor - the saga's `redactError` hook.
 *
 * @example
 * ```ts
 * import { redactSerializedError, serializeError } from 'sagaflow';
 * const thrown = Object.assign(new Error('Request failed with status code 401'), {
 *   config: { url: 'https://api.example.com/charge', headers: { Authorization: 'Bearer sk_live_123' } },
 * });
 * const journaled = redactSerializedError(serializeError(thrown), { saga: 'checkout', stage: 'charge', phase: 'execute' });
 * // journaled.data: { config: { url: 'https://api.example.com/charge', headers: { Authorization: '[redacted]' } } }
 * ```
 */
export function redactSerializedError(error: SerializedError, context: ErrorRedactionContext, redactor?: ErrorRedactor): SerializedError {
  const redacted = redactSecrets(error);
  if (redactor === undefined) return redacted;
  let result: unknown;
  try {
    result = redactor(JSON.parse(JSON.stringify(redacted)) as SerializedError, context);
  } catch (thrown) {
    return withheld(redacted, `the redactError hook of saga '${context.saga}' threw ${describeThrown(thrown)} for stage '${context.stage}'`);
  }
  const checked = asSerializedError(result);
  if (typeof checked === 'string') {
    return withheld(redacted, `the redactError hook of saga '${context.saga}' returned ${checked} for stage '${context.stage}'`);
  }
  return checked;
}

/**
 * The message journaled in place of an error's own when the saga's `redactError` hook failed.
 *
 * @remarks
 * The hook is there to remove what the default redaction does not know about, so when it throws
 * or returns something that is not a serialised error, nothing it might have removed is journaled:
 * the error keeps its `name` and `code`, this message, and `data.$sagaflow.redactErrorFailed`
 * saying why (see {@link redactSerializedError}).
 *
 * @example
 * ```ts
 * import { WITHHELD_ERROR_MESSAGE, type SagaOutcome } from 'sagaflow';
 * const hookFailed = (outcome: SagaOutcome) => outcome.failure?.error.message === WITHHELD_ERROR_MESSAGE;
 * ```
 */
export const WITHHELD_ERROR_MESSAGE = "[withheld: the saga's redactError hook failed; see data.$sagaflow.redactErrorFailed]";

/**
 * What is journaled when the saga's hook failed: it was given to remove what the default
 * redaction does not know about, so nothing it might have removed is kept (message, stack,
 * `data`); the error's `name` and `code`, sagaflow's own notes, and why.
 */
function withheld(error: SerializedError, why: string): SerializedError {
  const notes = error.data?.[SERIALIZATION_NOTES_KEY] as SerializationNotes | undefined;
  return {
    name: error.name,
    message: WITHHELD_ERROR_MESSAGE,
    ...(error.code === undefined ? {} : { code: error.code }),
    data: { [SERIALIZATION_NOTES_KEY]: { ...notes, redactErrorFailed: why } },
  };
}

/** The default redaction alone (see {@link redactSerializedError}). */
function redactSecrets(error: SerializedError): SerializedError {
  // Field by field rather than spreads of `{}`: one object per failed attempt instead of four.
  const redacted: { -readonly [K in keyof SerializedError]: SerializedError[K] } = { name: error.name, message: redactText(error.message) };
  if (error.code !== undefined) redacted.code = error.code;
  if (error.stack !== undefined) redacted.stack = redactText(error.stack);
  if (error.data !== undefined) redacted.data = redactRecord(error.data);
  return redacted;
}

function redactRecord(record: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    copy[key] = key === SERIALIZATION_NOTES_KEY ? value : isSecretKey(key) && value !== null && value !== undefined ? REDACTED : redactValue(value);
  }
  return copy;
}

function redactValue(value: unknown): unknown {
  if (typeof value === 'string') return redactText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return redactList(value);
  return redactRecord(value as Record<string, unknown>);
}

/** An array, with header lists in it redacted: `[name, value, name, value…]` and `[[name, value]…]`. */
function redactList(list: readonly unknown[]): unknown[] {
  const copy = list.map((item) => {
    if (Array.isArray(item) && item.length === 2 && typeof item[0] === 'string' && isSecretKey(item[0])) return [item[0], REDACTED];
    return redactValue(item);
  });
  for (let index = 0; index + 1 < list.length; index += 2) {
    const name = list[index];
    if (typeof name === 'string' && isSecretKey(name) && typeof list[index + 1] === 'string') copy[index + 1] = REDACTED;
  }
  return copy;
}

const MAX_HOOK_RESULT_CHARS = 200_000;

/** The hook's result as plain JSON if it is a serialised error, or what is wrong with it. */
function asSerializedError(value: unknown): SerializedError | string {
  if (types.isPromise(value)) {
    // An async hook: its rejection must not become an unhandled one.
    value.catch(() => undefined);
    return 'a Promise (the hook must return the error, synchronously)';
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    return `a value that is not JSON (${describeThrown(error)})`;
  }
  if (text === undefined) return 'nothing';
  if (text.length > MAX_HOOK_RESULT_CHARS) return `an error of ${text.length} characters (at most ${MAX_HOOK_RESULT_CHARS})`;
  const parsed = serializedErrorSchema.safeParse(JSON.parse(text));
  if (!parsed.success) return `something that is not a serialised error (${parsed.error.issues[0]?.path.join('.') || 'the value'}: ${parsed.error.issues[0]?.message ?? 'invalid'})`;
  return parsed.data;
}

/**
 * The error with `note` added to its {@link SerializationNotes} (`data.$sagaflow`), next to what
 * is noted there already.
 *
 * @internal
 */
export function withSerializationNote(error: SerializedError, note: SerializationNotes): SerializedError {
  const notes = (error.data?.[SERIALIZATION_NOTES_KEY] ?? {}) as SerializationNotes;
  return { ...error, data: { ...error.data, [SERIALIZATION_NOTES_KEY]: { ...notes, ...note } } };
}
