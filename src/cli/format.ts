import type { SerializedError } from '../index.js';

/** `5 ms`, `1.25 s`, `2 min 5 s`. */
export function formatDuration(ms: number): string {
  const rounded = Math.max(0, Math.round(ms));
  if (rounded < 1_000) return `${rounded} ms`;
  if (rounded < 60_000) return `${(rounded / 1_000).toFixed(2)} s`;
  const minutes = Math.floor(rounded / 60_000);
  return `${minutes} min ${Math.round((rounded % 60_000) / 1_000)} s`;
}

/** An epoch-ms time as `2026-11-27 16:08:36.123Z` (UTC, so it reads the same everywhere). */
export function formatTime(at: number): string {
  return new Date(at).toISOString().replace('T', ' ');
}

/** `+0 ms`, `+1.25 s`: a time relative to a run's start. */
export function formatOffset(at: number, start: number): string {
  return `+${formatDuration(at - start)}`;
}

/** A value as one line of JSON, cut to `max` characters. */
export function compactJson(value: unknown, max = 100): string {
  const text = value === undefined ? 'undefined' : JSON.stringify(value);
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * Text read from a journal made safe to print as part of one line: every control character (a
 * newline, a carriage return, an ANSI escape, DEL, C1) written as its escape (`\n`, `\u001b`).
 * Cancel reasons and error messages come from callers, user code and the remote APIs it calls;
 * printed raw, a newline forged a line of `show`'s timeline and an escape sequence drove the
 * terminal (recoloured, hid or overwrote what followed).
 */
export function printable(text: string): string {
  return text.replace(CONTROL_CHARACTER, (char) => ESCAPED[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/g;
const ESCAPED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `Name: message` of a serialized error, on one line ({@link printable}), without a closing period (more text may follow it). */
export function errorText(error: SerializedError): string {
  // From the first blank of a run only: tried from each, a long run with no newline took quadratic time.
  return printable(`${error.name}: ${error.message}`.replace(/(?<!\s)\s*\n\s*/g, ' ').replace(/\.$/, ''));
}

/** Lays rows out in columns, each as wide as its widest cell; the last column is not padded. */
export function table(rows: readonly (readonly string[])[], indent = ''): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, visibleLength(cell))));
  return rows.map(
    (row) =>
      indent +
      row
        .map((cell, index) => (index === row.length - 1 ? cell : cell + ' '.repeat((widths[index] ?? 0) - visibleLength(cell))))
        .join('  ')
        .trimEnd(),
  );
}

/** The length of a string as shown: ANSI colour codes take no room. */
export function visibleLength(text: string): number {
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}

/** `a`, `a or b`, `a, b or c`. */
export function orList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1] ?? ''}`;
}
