/**
 * What is wrong with a name or id that sagaflow stores and hashes (a run id, a saga, version or
 * stage name), or `undefined` when it is fine.
 *
 * @remarks
 * Ids and names end up in store keys, SQL text columns, idempotency keys (where NUL separates the
 * parts, so it must not appear inside one) and CLI output. A NUL or a lone surrogate would be
 * refused by PostgreSQL, changed by SQLite's UTF-8 conversion, or make two keys collide, so they
 * are refused before anything is written. The answer is a phrase for an issue message, e.g.
 * `must not contain NUL (\u0000)`.
 *
 * @param value - the value to check.
 * @param maxLength - the longest allowed length, in UTF-16 code units.
 *
 * @internal
 */
export function identifierProblem(value: unknown, maxLength = 200): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value.trim() === '') return 'must be a non-empty string';
  if (value.length > maxLength) return `must be at most ${maxLength} characters (got ${value.length})`;
  if (value.includes('\u0000')) return 'must not contain NUL (\\u0000)';
  if (!value.isWellFormed()) return 'must be well-formed Unicode (it holds a lone surrogate)';
  return undefined;
}

/**
 * What is wrong with a run id chosen by the caller (`start`/`run`/`submit`'s `runId`), or
 * `undefined` when it is fine: an {@link identifierProblem}, or a control character (a newline,
 * a tab, an escape sequence…). Run ids often come from outside (an order number in a request)
 * and are printed in error messages, logs and the CLI's output, where a newline or an ANSI escape
 * would forge lines or colours. Checked for new runs only: a stored run keeps the id it has.
 *
 * @internal
 */
export function runIdProblem(value: unknown): string | undefined {
  const problem = identifierProblem(value);
  if (problem !== undefined) return problem;
  const control = CONTROL.exec(value as string);
  if (control !== null) return `must not contain control characters (it holds ${escapedControl(control[0])} at index ${control.index})`;
  return undefined;
}

/**
 * A control character as a message shows it: JSON's escape (`"\n"`, `"\u001b"`), and `"\u0085"`
 * for DEL and the C1 controls, which `JSON.stringify` leaves raw (a raw NEL breaks the line it is
 * printed on, the very thing the refusal is for).
 */
function escapedControl(character: string): string {
  const code = character.charCodeAt(0);
  return code < 0x7f ? JSON.stringify(character) : `"\\u${code.toString(16).padStart(4, '0')}"`;
}

/**
 * What is wrong with a saga, version, stage or signal name, or `undefined` when it is fine: an
 * {@link identifierProblem}, or a control character. Names come from code, but they are printed
 * in error messages, logs and the CLI's output (where a newline or an ANSI escape forges lines or
 * colours), and a signal's name is sent from outside by `signal()`, so a name with one is refused
 * where the saga is defined, as run ids are where a run starts.
 *
 * @internal
 */
export function nameProblem(value: unknown): string | undefined {
  return runIdProblem(value);
}

/**
 * A name or id from outside quoted for a message: `'name'` when it prints as it is, else
 * JSON-escaped (see {@link quoteIdentifier}), so that a newline or an escape sequence in it cannot
 * forge a line of a log.
 *
 * @internal
 */
export function quoteName(value: string): string {
  return CONTROL.test(value) || !value.isWellFormed() ? quoteIdentifier(value) : `'${value}'`;
}

/** C0 and C1 control characters, DEL included. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * The first control character of a text (C0, DEL or C1) and where it is, or `undefined`.
 *
 * @internal
 */
export function firstControlCharacter(value: string): { readonly character: string; readonly index: number } | undefined {
  const control = CONTROL.exec(value);
  return control === null ? undefined : { character: control[0], index: control.index };
}

/**
 * An id or name quoted for an error message: JSON-escaped, so a NUL, a lone surrogate or a
 * newline is visible instead of corrupting the message.
 *
 * @internal
 */
export function quoteIdentifier(value: unknown): string {
  if (typeof value !== 'string') return String(value);
  const quoted = JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  return quoted;
}
