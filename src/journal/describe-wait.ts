/**
 * What a wait stage waits for, in words: `signal 'approval' until 2026-12-05T10:15:00.000Z`,
 * `time until …`, or `signal 'approval' (no time limit)`.
 *
 * @remarks
 * Takes a `wait.started` event or an entry of the fold's `RunState.waits` alike; `sagaflow show`,
 * the CLI's timeline and the inspector all say it this way. Times are UTC, ISO 8601.
 *
 * @param wait - the wait's kind, its signal's name and its due time, when it has one.
 *
 * @example
 * ```ts
 * import { describeWait, type RunState } from 'sagaflow';
 * declare const state: RunState;
 * for (const [stage, wait] of state.waits ?? []) console.log(`${stage} waits for ${describeWait(wait)}`);
 * ```
 */
export function describeWait(wait: { readonly kind: 'signal' | 'timer'; readonly signal?: string | undefined; readonly dueAt?: number | undefined }): string {
  const what = wait.kind === 'signal' ? `signal '${wait.signal ?? '?'}'` : 'time';
  return wait.dueAt === undefined ? `${what} (no time limit)` : `${what} until ${new Date(wait.dueAt).toISOString()}`;
}
