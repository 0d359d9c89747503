import { types } from 'node:util';
import { z } from 'zod';
import { describePrimitive, describeThrown, functionText, isErrorLike, readProperty, readValue, setField, symbolText, UNREADABLE, unreadableReason } from './safe-read.js';

/**
 * An error as it is stored in the journal: plain JSON, so it survives a store round-trip.
 *
 * @remarks
 * Every error that reaches an event (a stage failure, a retry, a compensation failure) is
 * serialised with {@link serializeError}. `data` holds the error's own enumerable fields
 * (and `cause`, serialised the same way), made JSON-safe and bounded in size; fields whose
 * keys name a secret (`authorization`, `password`, `token`…) are redacted before they are
 * journaled (see {@link redactSerializedError}).
 *
 * @example
 * ```ts
 * import type { SerializedError } from 'sagaflow';
 * const error: SerializedError = { name: 'TypeError', message: 'boom' };
 * ```
 */
export interface SerializedError {
  /** The error's class name (`TypeError`, `StageTimeoutError`, …), `NonErrorThrown` or `UnreadableError`. */
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

/**
 * The key, in {@link SerializedError.data}, of what sagaflow has to say about how it serialised an
 * error: fields it could not read, whether it cut the error down to size, and whether a
 * `redactError` hook failed.
 *
 * @remarks
 * Present only when there is something to say. Its value is a {@link SerializationNotes}.
 *
 * @example
 * ```ts
 * import { SERIALIZATION_NOTES_KEY, type SerializedError, type SerializationNotes } from 'sagaflow';
 * const notesOf = (error: SerializedError) => error.data?.[SERIALIZATION_NOTES_KEY] as SerializationNotes | undefined;
 * ```
 */
export const SERIALIZATION_NOTES_KEY = '$sagaflow';

/**
 * What sagaflow noted while serialising an error, under `data.$sagaflow` ({@link SERIALIZATION_NOTES_KEY}).
 *
 * @remarks
 * - `unreadable`: fields of the error itself (`name`, `message`, `stack`, `code`, `cause`, its
 *   list of fields) whose getter or Proxy trap threw, each with what it threw. Fields inside
 *   `data` that could not be read are replaced in place by a string `[sagaflow: could not be read: …]`.
 * - `truncated`: the error was larger than the journal keeps (see {@link serializeError}) and
 *   parts were replaced by `[sagaflow: …]` strings saying what was left out.
 * - `redactErrorFailed`: the saga's `redactError` hook threw or returned something that is not a
 *   serialised error; only the error's `name` and `code` were kept (see `WITHHELD_ERROR_MESSAGE`).
 * - `retryableFailed`: the retry policy's `retryable` threw for this error (saying what it threw);
 *   the error was treated as not retryable.
 *
 * @example
 * ```ts
 * import type { SerializationNotes } from 'sagaflow';
 * const notes: SerializationNotes = { unreadable: { message: 'TypeError: lazy body already consumed' } };
 * ```
 */
export interface SerializationNotes {
  /** Fields of the error that could not be read, with what reading them threw. */
  readonly unreadable?: Readonly<Record<string, string>>;
  /** Parts of the error were left out to bound its size. */
  readonly truncated?: true;
  /** Why the saga's `redactError` hook's result was not used. */
  readonly redactErrorFailed?: string;
  /** What the retry policy's `retryable` threw for this error, which was then not retried. */
  readonly retryableFailed?: string;
}

/** How much of a thrown value is kept: the journal holds every retry's error. */
const LIMITS = {
  /** Levels of `cause` kept below the thrown error. */
  causeDepth: 5,
  /** Levels of nesting kept inside each field of `data`. */
  dataDepth: 6,
  /** Items of an array, entries of a Map or Set, fields of an object. */
  items: 100,
  /** Characters of one string in `data`. */
  stringChars: 4_000,
  /** Characters of `message`. */
  messageChars: 10_000,
  /** Characters of `stack`. */
  stackChars: 16_000,
  /** Characters of `data` in all, causes included (strings and keys counted). */
  dataChars: 32_000,
  /** Characters one top-level field of `data` may use, so one noisy field cannot crowd out the others. */
  fieldChars: 8_000,
  /** Values visited in all: bounds the time spent on a huge or endless (getter-made) value. */
  nodes: 5_000,
} as const;

/** Fields of an Error that are not copied into `data` (they have their own place). */
const OWN_PLACES = new Set(['name', 'message', 'stack', 'code', 'cause']);

const marker = (text: string): string => `[sagaflow: ${text}]`;

/** The key under which an object that was cut short says how much was left out. */
const OMITTED_KEY = '…';

/** Where a copy stands against {@link LIMITS}; shared by a thrown error and all its causes. */
class Budget {
  chars = 0;
  nodes = 0;
  fieldLimit: number = LIMITS.dataChars;
  truncated = false;

  get exhausted(): boolean {
    return this.chars >= Math.min(LIMITS.dataChars, this.fieldLimit) || this.nodes >= LIMITS.nodes;
  }

  /** Runs `copy` with at most `LIMITS.fieldChars` more characters. */
  field<T>(copy: () => T): T {
    const outer = this.fieldLimit;
    this.fieldLimit = Math.min(outer, this.chars + LIMITS.fieldChars);
    try {
      return copy();
    } finally {
      this.fieldLimit = outer;
    }
  }
}

/** Collects the notes of one serialised error. */
interface Notes {
  unreadable?: Record<string, string>;
}

/**
 * Turns anything a user function threw into a {@link SerializedError}. Never throws.
 *
 * @remarks
 * JavaScript can throw any value, and an error may be hostile to reading: a getter that throws
 * (an HTTP client's error with a lazy `body`), a revoked Proxy, a `toJSON` that throws, cycles,
 * a huge response body. The result is always plain JSON that {@link serializedErrorSchema}
 * accepts:
 * - An `Error` (of any realm) keeps its `name`, `message`, string `code` and `stack`; its own
 *   enumerable fields (and an `AggregateError`'s `errors`) go to `data`, and its `cause` chain
 *   (up to five levels) to `data.cause`, serialised the same way.
 * - Any other value gives an error named `NonErrorThrown` whose message shows the value, and
 *   `data.value` holds it as JSON.
 * - A value that cannot be read at all (a revoked Proxy) gives `{ name: 'UnreadableError',
 *   message: 'The thrown value could not be read: …' }`; a field of the error that cannot be read
 *   is listed in `data.$sagaflow.unreadable`, and a value inside `data` that cannot be read is
 *   replaced by the string `'[sagaflow: could not be read: …]'`.
 * - Inside `data`, values become JSON the way `JSON.stringify` makes them (`toJSON` is called,
 *   functions and `undefined` fields are left out) except where JSON has no answer: a bigint
 *   becomes `'12n'`, a symbol `'Symbol(x)'`, `NaN`/`±Infinity` their names, a function in an
 *   array `'[function name]'`, a `Map` an array of `[key, value]` pairs, a `Set` an array, a
 *   fetch `Headers` an object of its entries, a cycle `'[sagaflow: circular reference]'`, a
 *   nested `Error` a serialised error.
 * - Size is bounded: `message` to 10,000 characters, `stack` to 16,000, `data` to 6 levels of
 *   nesting, 100 items per array or object, 4,000 characters per string and 32,000 characters in
 *   all (8,000 per top-level field). What is cut is replaced by a `[sagaflow: …]` string saying so,
 *   and `data.$sagaflow.truncated` is `true`.
 *
 * A getter that never returns cannot be guarded against: only user code that throws is.
 *
 * @example
 * ```ts
 * import { serializeError } from 'sagaflow';
 * serializeError('out of stock'); // { name: 'NonErrorThrown', message: 'A non-Error value was thrown: "out of stock"', data: { value: 'out of stock' } }
 * ```
 */
export function serializeError(thrown: unknown): SerializedError {
  try {
    return new ErrorSerializer().serialize(thrown, 0, []);
  } catch (error) {
    // Unreachable by design (every read is guarded); kept so that the promise holds whatever happens.
    return unreadable(error);
  }
}

function unreadable(error: unknown): SerializedError {
  return { name: 'UnreadableError', message: `The thrown value could not be read: ${describeThrown(error)}` };
}

class ErrorSerializer {
  private readonly budget = new Budget();

  /**
   * A thrown value (or a `cause`, or an error found inside `data`): `causeDepth` counts the
   * causes above it, `dataDepth` the levels of `data` above it, `ancestors` the objects above it
   * (for cycles).
   */
  serialize(thrown: unknown, causeDepth: number, ancestors: readonly object[], dataDepth = 0): SerializedError {
    if (!isErrorLike(thrown)) return this.nonError(thrown, ancestors, dataDepth);
    const top = ancestors.length === 0;
    const notes: Notes = {};
    // The objects above a field of this error, made only when a field is copied (most errors
    // journaled have none: `name` and `code` are the own fields of a sagaflow error).
    let inner: readonly object[] | undefined;
    const name = this.text(thrown, 'name', 200, top, notes);
    const message = this.text(thrown, 'message', LIMITS.messageChars, top, notes);
    const stack = this.text(thrown, 'stack', LIMITS.stackChars, top, notes);
    const data: Record<string, unknown> = {};
    const codeValue = readValue(thrown, 'code');
    let code: string | undefined;
    if (codeValue === UNREADABLE) (notes.unreadable ??= {})['code'] = unreadableReason;
    else if (typeof codeValue === 'string') code = clip(codeValue, 200);
    else if (codeValue !== undefined) this.put(data, 'code', this.copyField(codeValue, dataDepth, (inner ??= [...ancestors, thrown])));

    const keys = ownEnumerableKeys(thrown);
    if (keys.failed) (notes.unreadable ??= {})['fields'] = keys.reason;
    else if (keys.value.some(isDataKey)) this.copyFields(thrown, keys.value, data, dataDepth, (inner ??= [...ancestors, thrown]));
    if (!keys.failed && !keys.value.includes('errors') && isAggregate(thrown)) {
      const errors = readProperty(thrown, 'errors');
      if (!errors.failed && Array.isArray(errors.value)) this.put(data, 'errors', this.copyField(errors.value, dataDepth, (inner ??= [...ancestors, thrown])));
    }

    const cause = readValue(thrown, 'cause');
    if (cause === UNREADABLE) (notes.unreadable ??= {})['cause'] = unreadableReason;
    else if (cause !== undefined) {
      if (typeof cause === 'object' && cause !== null && (cause === thrown || ancestors.includes(cause))) {
        data['cause'] = marker('circular reference');
      } else if (causeDepth >= LIMITS.causeDepth) {
        data['cause'] = marker(`cause chain longer than ${LIMITS.causeDepth} levels left out`);
        this.budget.truncated = true;
      } else {
        data['cause'] = this.serialize(cause, causeDepth + 1, (inner ??= [...ancestors, thrown]), dataDepth);
      }
    }
    this.addNotes(data, notes, top);
    // Field by field rather than spreads of `{}`: one object per error instead of four.
    const serialized: { -readonly [K in keyof SerializedError]: SerializedError[K] } = {
      name: name === undefined || name === '' ? 'Error' : name,
      message: message ?? (notes.unreadable?.['message'] === undefined ? '' : `(the message could not be read: ${notes.unreadable['message']})`),
    };
    if (code !== undefined) serialized.code = code;
    if (stack !== undefined) serialized.stack = stack;
    if (hasKeys(data)) serialized.data = data;
    return serialized;
  }

  /**
   * The error's `name`, `message` or `stack` as text, clipped; `undefined` when absent or
   * unreadable (noted in `notes`). A method, not a closure over `serialize`'s variables: that
   * would make a closure and a context for every error.
   */
  private text(thrown: Error, key: 'name' | 'message' | 'stack', limit: number, top: boolean, notes: Notes): string | undefined {
    const read = readValue(thrown, key);
    if (read === UNREADABLE) {
      (notes.unreadable ??= {})[key] = unreadableReason;
      return undefined;
    }
    if (read === undefined || read === null) return undefined;
    const value = typeof read === 'string' ? read : safeText(read);
    // The thrown error's own message and stack do not eat into the budget of its data.
    return top ? clip(value, limit) : this.clipped(value, limit);
  }

  private nonError(thrown: unknown, ancestors: readonly object[], dataDepth: number): SerializedError {
    if (typeof thrown === 'object' && thrown !== null) {
      const failure = probeFailure(thrown);
      if (failure !== undefined) return unreadable(failure);
    }
    const value = this.budget.field(() => this.copy(thrown, dataDepth, ancestors));
    const data: Record<string, unknown> = value === undefined ? {} : { value };
    this.addNotes(data, {}, ancestors.length === 0);
    return {
      name: 'NonErrorThrown',
      message: `A non-Error value was thrown: ${showValue(thrown, value)}`,
      ...(Object.keys(data).length > 0 ? { data } : {}),
    };
  }

  /** Notes go on every error that has some; `truncated` only on the thrown error, once. */
  private addNotes(data: Record<string, unknown>, notes: Notes, top: boolean): void {
    const truncated = top && this.budget.truncated;
    if (notes.unreadable === undefined && !truncated) return;
    data[SERIALIZATION_NOTES_KEY] = {
      ...(notes.unreadable === undefined ? {} : { unreadable: notes.unreadable }),
      ...(truncated ? { truncated: true } : {}),
    };
  }

  private put(into: Record<string, unknown>, key: string, value: unknown): void {
    if (value !== undefined) setField(into, key, value);
  }

  private copyFields(source: object, keys: readonly string[], into: Record<string, unknown>, dataDepth: number, ancestors: readonly object[]): void {
    let copied = 0;
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index] as string;
      if (OWN_PLACES.has(key)) continue;
      if (copied >= LIMITS.items || this.budget.exhausted) {
        into[OMITTED_KEY] = marker(`${keys.length - index} more fields left out`);
        this.budget.truncated = true;
        return;
      }
      const read = readProperty(source, key);
      const value = read.failed ? marker(`could not be read: ${read.reason}`) : this.copyField(read.value, dataDepth, ancestors);
      if (value !== undefined) {
        setField(into, key, value);
        this.budget.chars += key.length;
        copied++;
      }
    }
  }

  private copyField(value: unknown, dataDepth: number, ancestors: readonly object[]): unknown {
    return this.budget.field(() => this.copy(value, dataDepth, ancestors));
  }

  /**
   * A JSON-safe copy of `value` (`undefined` where JSON leaves it out), within the budget. Never
   * throws: whatever a read throws is caught where it happens.
   */
  private copy(value: unknown, depth: number, ancestors: readonly object[], toJsonCalled = false): unknown {
    this.budget.nodes++;
    switch (typeof value) {
      case 'string':
        return this.clipped(value, LIMITS.stringChars);
      case 'number':
        this.budget.chars += 8;
        return Number.isFinite(value) ? (value === 0 ? 0 : value) : String(value);
      case 'boolean':
        this.budget.chars += 5;
        return value;
      case 'bigint':
        return this.clipped(`${value.toString()}n`, LIMITS.stringChars);
      case 'symbol':
        return this.clipped(symbolText(value), LIMITS.stringChars);
      case 'undefined':
      case 'function':
        return undefined;
      case 'object':
        if (value === null) return null;
        try {
          return this.copyObject(value, depth, ancestors, toJsonCalled);
        } catch (error) {
          return marker(`could not be read: ${describeThrown(error)}`);
        }
    }
  }

  private copyObject(value: object, depth: number, ancestors: readonly object[], toJsonCalled: boolean): unknown {
    if (ancestors.includes(value)) return marker('circular reference');
    if (depth >= LIMITS.dataDepth) {
      this.budget.truncated = true;
      return marker(`nested deeper than ${LIMITS.dataDepth} levels, left out`);
    }
    const inner = [...ancestors, value];
    // Before toJSON: Buffer's toJSON copies every byte, however many.
    if (types.isArrayBufferView(value)) {
      const view = value as unknown as ArrayLike<unknown>;
      const length = typeof view.length === 'number' ? view.length : 0;
      return this.copyItems(length, (index) => ({ failed: false, value: view[index] }), depth, inner);
    }
    if (!toJsonCalled) {
      const toJson = readProperty(value, 'toJSON');
      if (toJson.failed) return marker(`could not be read: ${toJson.reason}`);
      if (typeof toJson.value === 'function') {
        let json: unknown;
        try {
          json = (toJson.value as (key: string) => unknown).call(value, '');
        } catch (error) {
          return marker(`toJSON() threw ${describeThrown(error)}`);
        }
        return this.copy(json, depth, inner, true);
      }
    }
    if (isErrorLike(value)) return this.serialize(value, LIMITS.causeDepth, ancestors, depth + 1);
    if (Array.isArray(value)) return this.copyItems(value.length, (index) => readProperty(value, index), depth, inner);
    if (types.isMap(value) || types.isSet(value)) {
      const collection = value;
      const items = firstItems(collection.entries(), types.isSet(value));
      const size = items.more ? collection.size : items.values.length;
      return this.copyItems(size, (index) => ({ failed: false, value: items.values[index] }), depth, inner);
    }
    if (isHeadersLike(value)) return this.copyEntries(value, depth, inner);
    const keys = ownEnumerableKeys(value);
    if (keys.failed) return marker(`could not be read: ${keys.reason}`);
    const copy: Record<string, unknown> = {};
    for (let index = 0; index < keys.value.length; index++) {
      const key = keys.value[index] as string;
      if (index >= LIMITS.items || this.budget.exhausted) {
        copy[OMITTED_KEY] = marker(`${keys.value.length - index} more fields left out`);
        this.budget.truncated = true;
        break;
      }
      const read = readProperty(value, key);
      const child = read.failed ? marker(`could not be read: ${read.reason}`) : this.copy(read.value, depth + 1, inner);
      if (child !== undefined) {
        setField(copy, key, child);
        this.budget.chars += key.length + 3;
      }
    }
    return copy;
  }

  /** Items `0 … length - 1` (at most `LIMITS.items` of them); `undefined` and functions as JSON has them in arrays. */
  private copyItems(length: number, read: (index: number) => ReturnType<typeof readProperty>, depth: number, ancestors: readonly object[]): unknown[] {
    const copy: unknown[] = [];
    const count = Math.min(length, LIMITS.items);
    for (let index = 0; index < count && !this.budget.exhausted; index++) {
      const item = read(index);
      if (item.failed) copy.push(marker(`could not be read: ${item.reason}`));
      else if (typeof item.value === 'function') copy.push(functionText(item.value));
      else copy.push(this.copy(item.value, depth + 1, ancestors) ?? null);
      this.budget.chars += 1;
    }
    if (copy.length < length) {
      copy.push(marker(`${length - copy.length} more items left out`));
      this.budget.truncated = true;
    }
    return copy;
  }

  /** A fetch `Headers` (or anything with `entries()` and `get()`): an object of its entries. */
  private copyEntries(value: object, depth: number, ancestors: readonly object[]): unknown {
    const entries = firstItems((value as { entries: () => Iterable<unknown> }).entries(), false);
    const copy: Record<string, unknown> = {};
    for (const entry of entries.values) {
      if (this.budget.exhausted) break;
      if (!Array.isArray(entry) || entry.length < 2) continue;
      const key = typeof entry[0] === 'string' ? entry[0] : safeText(entry[0]);
      const child = this.copy(entry[1], depth + 1, ancestors);
      if (child !== undefined) copy[key] = child;
      this.budget.chars += key.length + 3;
    }
    if (entries.more || this.budget.exhausted) {
      copy[OMITTED_KEY] = marker('more entries left out');
      this.budget.truncated = true;
    }
    return copy;
  }

  /** `text`, cut to `limit` and to what is left of the budget, counted against it. */
  private clipped(text: string, limit: number): string {
    const room = Math.max(0, Math.min(limit, Math.min(LIMITS.dataChars, this.budget.fieldLimit) - this.budget.chars));
    if (text.length <= room) {
      this.budget.chars += text.length;
      return text;
    }
    this.budget.truncated = true;
    this.budget.chars += room;
    return `${text.slice(0, room)}… ${marker(`${text.length - room} more characters left out`)}`;
  }
}

/** `text` cut to `limit` characters, saying how many were left out. */
function clip(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}… ${marker(`${text.length - limit} more characters left out`)}`;
}

function ownEnumerableKeys(value: object): { readonly failed: false; readonly value: readonly string[] } | { readonly failed: true; readonly reason: string } {
  try {
    return { failed: false, value: Object.keys(value) };
  } catch (error) {
    return { failed: true, reason: describeThrown(error) };
  }
}

/** Whether an error's own field goes to `data` (its name, message, stack, code and cause have places of their own). */
function isDataKey(key: string): boolean {
  return !OWN_PLACES.has(key);
}

/** Whether `record` (a plain object of ours) has a key, without making the array `Object.keys` would. */
function hasKeys(record: Record<string, unknown>): boolean {
  for (const key in record) if (Object.hasOwn(record, key)) return true;
  return false;
}

function isAggregate(value: object): boolean {
  try {
    return value instanceof AggregateError;
  } catch {
    return false;
  }
}

/** What looking at an object at all throws (a revoked Proxy), or `undefined`. */
function probeFailure(value: object): unknown {
  try {
    Array.isArray(value);
    Object.getPrototypeOf(value);
    return undefined;
  } catch (error) {
    return error ?? new Error('unknown failure');
  }
}

function isHeadersLike(value: object): boolean {
  const entries = readProperty(value, 'entries');
  const get = readProperty(value, 'get');
  return !entries.failed && !get.failed && typeof entries.value === 'function' && typeof get.value === 'function';
}

/**
 * The first items of an iterator, at most `LIMITS.items`: an endless iterator stops there. With
 * `valuesOnly`, a Set's `[value, value]` entries become values.
 */
function firstItems(iterator: Iterable<unknown>, valuesOnly: boolean): { readonly values: unknown[]; readonly more: boolean } {
  const values: unknown[] = [];
  for (const item of iterator) {
    if (values.length >= LIMITS.items) return { values, more: true };
    values.push(valuesOnly && Array.isArray(item) ? item[0] : item);
  }
  return { values, more: false };
}

/** Text of a value that should have been a string (`name` set to a number…). Never throws. */
function safeText(value: unknown): string {
  if (typeof value === 'object' && value !== null) return describeThrown(value);
  return typeof value === 'string' ? value : describePrimitive(value);
}

/** How the message of `NonErrorThrown` shows the value: its JSON copy, cut to 500 characters. */
function showValue(thrown: unknown, copy: unknown): string {
  if (typeof thrown !== 'object' || thrown === null) return clip(describePrimitive(thrown), 500);
  const text = JSON.stringify(copy) ?? 'an object';
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

