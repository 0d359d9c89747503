import { firstControlCharacter } from '../definition/identifier.js';

/** The longest run id a store accepts, in UTF-16 code units. */
export const MAX_RUN_ID_LENGTH = 200;

/**
 * Why a run id cannot be used for a new run, or `undefined` when it can.
 *
 * @remarks
 * What `start`, `run` and `submit` refuse as their `runId` option (with a `SagaInputError`), so an
 * id it accepts can be started. Every store keeps run ids as text that must come back unchanged:
 * PostgreSQL's `text` refuses NUL, SQLite and the `pg` driver replace a lone surrogate with U+FFFD
 * (so the id would come back changed), and an empty or very long id is never a real business key.
 * A new run's id must also not be blank or hold a control character (a newline, a tab, an ANSI
 * escape): ids often come from outside and are printed in messages, logs and the CLI's output,
 * where one would forge lines or colours. Use it to check ids of your own up front.
 *
 * @example
 * ```ts
 * import { runIdProblem } from 'sagaflow';
 * runIdProblem('order-42'); // undefined
 * runIdProblem('a\u0000b'); // 'it holds a NUL character'
 * runIdProblem('a\nb'); // 'it holds a control character (U+000A at index 1)'
 * ```
 */
export function runIdProblem(runId: unknown): string | undefined {
  const problem = storableRunIdProblem(runId);
  if (problem !== undefined) return problem;
  const id = runId as string;
  if (id.trim() === '') return 'it is blank (white space only)';
  const control = firstControlCharacter(id);
  // As a code point: JSON.stringify would leave a C1 character (U+0085) as it is.
  if (control !== undefined) return `it holds a control character (U+${control.character.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} at index ${control.index})`;
  return undefined;
}

/**
 * Why a store cannot keep a run id, or `undefined` when it can: {@link runIdProblem} without the
 * checks only new runs get (a stored run keeps the id it has).
 *
 * @internal
 */
export function storableRunIdProblem(runId: unknown): string | undefined {
  if (typeof runId !== 'string') return `it is ${runId === null ? 'null' : runId === undefined ? 'undefined' : `${/^[aeiou]/.test(typeof runId) ? 'an' : 'a'} ${typeof runId}`}, not a string`;
  if (runId.length === 0) return 'it is empty';
  if (runId.length > MAX_RUN_ID_LENGTH) return `it is ${runId.length} characters long (at most ${MAX_RUN_ID_LENGTH})`;
  if (runId.includes('\u0000')) return 'it holds a NUL character';
  if (!isWellFormed(runId)) return 'it holds a lone surrogate (ill-formed Unicode)';
  return undefined;
}

/**
 * Throws a `TypeError` naming the run id (JSON-escaped) when a store cannot keep it.
 *
 * @remarks
 * See {@link storableRunIdProblem} for what is refused and why. Internal to the stores.
 *
 * @param runId - the id to check.
 * @param operation - what was being done, e.g. `create`, for the message.
 * @throws TypeError when the id is empty, longer than 200 characters, holds NUL or is ill-formed Unicode.
 *
 * @internal
 */
export function assertStorableRunId(runId: string, operation: string): void {
  const problem = storableRunIdProblem(runId);
  if (problem !== undefined) throw new TypeError(`${operation}: run id ${quoteId(runId)} cannot be stored: ${problem}.`);
}

/**
 * Like {@link assertStorableRunId} for text that is compared with run ids (a listing's
 * `afterRunId` or `runIdPrefix`): NUL and ill-formed Unicode are refused, any length is fine.
 *
 * @internal
 */
export function assertStorableText(text: string, what: string): void {
  if (typeof text !== 'string') throw new TypeError(`${what} must be a string, not ${text === null ? 'null' : typeof text}.`);
  if (text.includes('\u0000')) throw new TypeError(`${what} ${quoteId(text)} holds a NUL character, which no store can keep.`);
  if (!isWellFormed(text)) throw new TypeError(`${what} ${quoteId(text)} holds a lone surrogate (ill-formed Unicode), which no store can keep.`);
}

/**
 * Whether {@link assertStorableText} accepts `text`, without making its message: for a check on
 * a hot path whose label would cost a string per call.
 *
 * @internal
 */
export function isStorableText(text: unknown): text is string {
  return typeof text === 'string' && !text.includes('\u0000') && isWellFormed(text);
}

/** The id as JSON (NUL and lone surrogates escaped), cut short when it is long. */
function quoteId(value: unknown): string {
  if (typeof value !== 'string') return String(value);
  return value.length > 80 ? `${JSON.stringify(value.slice(0, 80))}…` : JSON.stringify(value);
}

// `String.prototype.isWellFormed` (Node 20+) is not in the ES2023 lib this package compiles against.
const isWellFormed: (text: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (text) => (text as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (text) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
