import { types } from 'node:util';

/**
 * Reading values that user code hands the engine: every read may run a getter or a Proxy trap,
 * so every read may throw. These helpers never throw.
 *
 * Internal: used by the error serialiser and by the JSON copier of inputs and outputs.
 */

/** What {@link readProperty} returns when the read threw. */
export interface ReadFailure {
  readonly failed: true;
  /** What the read threw, described in one short line. */
  readonly reason: string;
}

/** Reads `target[key]`; a throwing getter or Proxy trap gives a {@link ReadFailure} instead. */
export function readProperty(target: object, key: PropertyKey): { readonly failed: false; readonly value: unknown } | ReadFailure {
  const value = readValue(target, key);
  return value === UNREADABLE ? { failed: true, reason: unreadableReason } : { failed: false, value };
}

/**
 * What {@link readValue} returns when the read threw; {@link unreadableReason} says why. An
 * object only this module makes and never hands to user code, so no value read can be it (and it
 * is compared by identity: `instanceof` would ask a revoked Proxy for its prototype, and throw).
 */
export const UNREADABLE: object = Object.freeze({});

/** Why the last {@link readValue} that returned {@link UNREADABLE} could not read (read it at once). */
export let unreadableReason = '';

/**
 * Reads `target[key]`, or gives {@link UNREADABLE} when a getter or Proxy trap throws: the value
 * itself, without the result object of {@link readProperty} (the error serialiser reads five
 * properties of every error it journals).
 */
export function readValue(target: object, key: PropertyKey): unknown {
  try {
    return (target as Record<PropertyKey, unknown>)[key];
  } catch (error) {
    unreadableReason = describeThrown(error);
    return UNREADABLE;
  }
}

/**
 * Tells whether a value is an `Error`, from this realm or another, without running user code
 * that may throw: a revoked Proxy or a Proxy whose `getPrototypeOf` trap throws is not one.
 */
export function isErrorLike(value: unknown): value is Error {
  if (typeof value !== 'object' || value === null) return false;
  if (types.isNativeError(value)) return true;
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

/**
 * A thrown value as an `Error` to report (to an `onError`, or as a run's halt): itself when it is
 * one, else an `Error` whose message is the value as text (`String(value)`), or, when even that
 * throws (a revoked Proxy, an object whose `toString` throws or that has no prototype), what was
 * thrown. Never throws: it runs where user code's errors are reported, and a throw there took the
 * worker's claims, or the host process, down.
 */
export function reportableError(thrown: unknown): Error {
  if (isErrorLike(thrown)) return thrown;
  try {
    return new Error(String(thrown));
  } catch {
    return new Error(`A value that is not an Error was thrown: ${describeThrown(thrown)}`);
  }
}

const MAX_REASON_CHARS = 300;

/**
 * One short line describing a thrown value, for messages about a read that failed: `TypeError:
 * Cannot perform 'get' on a proxy that has been revoked`. Never throws, whatever was thrown
 * (including another revoked Proxy).
 */
export function describeThrown(thrown: unknown): string {
  try {
    if (typeof thrown !== 'object' || thrown === null) return clip(describePrimitive(thrown));
    if (types.isProxy(thrown)) return 'a Proxy object';
    const name = readString(thrown, 'name');
    const message = readString(thrown, 'message');
    if (name === undefined && message === undefined) return 'an object that is not an Error';
    return clip(message === undefined || message === '' ? (name ?? 'Error') : `${name ?? 'Error'}: ${message}`);
  } catch {
    return 'an unreadable value';
  }
}

/** A primitive (or a function) as text, for messages. Never throws. */
export function describePrimitive(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'bigint':
      return `${value.toString()}n`;
    case 'symbol':
      return symbolText(value);
    case 'function':
      return functionText(value);
    case 'undefined':
      return 'undefined';
    case 'number':
    case 'boolean':
      return String(value);
    case 'object':
      return value === null ? 'null' : 'an object';
  }
}

/** `Symbol(description)`, without calling anything a user could have replaced. */
export function symbolText(value: symbol): string {
  const description = value.description;
  return description === undefined ? 'Symbol()' : `Symbol(${clip(description)})`;
}

/** `[function name]`: a function's name, read safely (a Proxy of a function may trap the read). */
export function functionText(value: unknown): string {
  if (types.isProxy(value)) return '[function]';
  const name = typeof value === 'function' ? readString(value, 'name') : undefined;
  return name === undefined || name === '' ? '[function]' : `[function ${clip(name)}]`;
}

/** `target[key]` when it is a string; `undefined` when it is not or the read throws. */
export function readString(target: object, key: PropertyKey): string | undefined {
  const read = readProperty(target, key);
  return read.failed || typeof read.value !== 'string' ? undefined : read.value;
}

function clip(text: string): string {
  return text.length <= MAX_REASON_CHARS ? text : `${text.slice(0, MAX_REASON_CHARS)}…`;
}

/**
 * Sets an own data property, whatever the key: a field named `__proto__` (an own key of a parsed
 * HTTP body, say) stays a field instead of replacing the copy's prototype.
 */
export function setField(into: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  else into[key] = value;
}

/**
 * Text from outside (an error's message, a cancel reason) made safe for one line of a log: every
 * C0 or C1 control character, DEL included, written as its escape (`\n`, `\u001b`), so that a
 * newline in it cannot forge a log line nor an escape sequence drive the terminal. Used by the
 * default `onError` handlers, which write to the console.
 */
export function printableText(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (char) => {
    const json = JSON.stringify(char).slice(1, -1);
    return json.length > 1 ? json : `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;
