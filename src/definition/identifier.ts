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
