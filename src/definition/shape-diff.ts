import type { StageState, WaitState } from '../journal/fold.js';
import type { RecordedStageShape } from '../journal/saga-event.js';
import type { Saga } from './saga.js';

/**
 * How one saga shape differs from another: what a run's recorded shape and a definition it is
 * continued with do not share.
 *
 * @remarks
 * Made by {@link diffShapes}; carried by `SagaShapeMismatchError.changes`. A renamed stage is a
 * removed stage plus an added one (stages are known by name only). `rewired` lists stages whose
 * dependencies changed, with the old and the new `after` (sorted). When the run's shape is not
 * known (a journal written before sagaflow recorded shapes), `previousShapeKnown` is `false` and
 * the lists are empty.
 *
 * @example
 * ```ts
 * import type { ShapeChanges } from 'sagaflow';
 * const dropsWork = (changes: ShapeChanges) => changes.removed.length > 0 || changes.compensationRemoved.length > 0;
 * ```
 */
export interface ShapeChanges {
  /** Whether the shape to compare with was known at all. */
  readonly previousShapeKnown: boolean;
  /** Stages only in the new shape, in its declaration order. */
  readonly added: readonly string[];
  /** Stages only in the old shape, in its declaration order. */
  readonly removed: readonly string[];
  /** Stages in both whose dependencies changed. */
  readonly rewired: ReadonlyArray<{
    /** The stage. */
    readonly stage: string;
    /** Its dependencies in the old shape, sorted. */
    readonly before: readonly string[];
    /** Its dependencies in the new shape, sorted. */
    readonly after: readonly string[];
  }>;
  /** Stages in both that have a `compensate` now and had none. */
  readonly compensationAdded: readonly string[];
  /** Stages in both that had a `compensate` and have none now. */
  readonly compensationRemoved: readonly string[];
  /** Stages in both whose `compensateOnFailure` changed, with its new value. */
  readonly compensateOnFailureChanged: ReadonlyArray<{
    /** The stage. */
    readonly stage: string;
    /** Its `compensateOnFailure` in the new shape. */
    readonly now: boolean;
  }>;
  /** The stages they share are declared in another order (the shape hash covers the order). */
  readonly reordered: boolean;
}

/**
 * Compares two saga shapes: stages added, removed, rewired, compensations added or removed.
 *
 * @remarks
 * `from` is the shape a run recorded (`run.started.shape`, or that of its last `run.resumed`
 * with a new definition); `to` is the shape of a definition (see {@link shapeOf}). With no
 * `from` (a journal older than shape recording), nothing can be compared: the result says so
 * with `previousShapeKnown: false`. Pure: no I/O.
 *
 * @example
 * ```ts
 * import { diffShapes, describeShapeChanges } from 'sagaflow';
 * const v1 = [
 *   { name: 'a', after: [], compensates: true, compensateOnFailure: false },
 *   { name: 'b', after: ['a'], compensates: true, compensateOnFailure: false },
 *   { name: 'c', after: ['b'], compensates: false, compensateOnFailure: false },
 * ];
 * const v2 = [
 *   { name: 'a', after: [], compensates: true, compensateOnFailure: false },
 *   { name: 'c', after: ['a'], compensates: false, compensateOnFailure: false },
 *   { name: 'd', after: ['c'], compensates: false, compensateOnFailure: false },
 * ];
 * describeShapeChanges(diffShapes(v1, v2)); // "stage 'b' removed; stage 'd' added; 'c' now after [a] (was [b])"
 * ```
 */
export function diffShapes(from: readonly RecordedStageShape[] | undefined, to: readonly RecordedStageShape[]): ShapeChanges {
  if (from === undefined) {
    return { previousShapeKnown: false, added: [], removed: [], rewired: [], compensationAdded: [], compensationRemoved: [], compensateOnFailureChanged: [], reordered: false };
  }
  const before = new Map(from.map((stage) => [stage.name, stage]));
  const after = new Map(to.map((stage) => [stage.name, stage]));
  const rewired: Array<{ stage: string; before: readonly string[]; after: readonly string[] }> = [];
  const compensationAdded: string[] = [];
  const compensationRemoved: string[] = [];
  const compensateOnFailureChanged: Array<{ stage: string; now: boolean }> = [];
  for (const stage of to) {
    const old = before.get(stage.name);
    if (old === undefined) continue;
    const oldAfter = [...old.after].sort();
    const newAfter = [...stage.after].sort();
    if (oldAfter.join('\u0000') !== newAfter.join('\u0000') || oldAfter.length !== newAfter.length) {
      rewired.push({ stage: stage.name, before: oldAfter, after: newAfter });
    }
    if (stage.compensates && !old.compensates) compensationAdded.push(stage.name);
    if (!stage.compensates && old.compensates) compensationRemoved.push(stage.name);
    if (stage.compensateOnFailure !== old.compensateOnFailure) compensateOnFailureChanged.push({ stage: stage.name, now: stage.compensateOnFailure });
  }
  const sharedBefore = from.filter((stage) => after.has(stage.name)).map((stage) => stage.name);
  const sharedAfter = to.filter((stage) => before.has(stage.name)).map((stage) => stage.name);
  return {
    previousShapeKnown: true,
    added: to.filter((stage) => !before.has(stage.name)).map((stage) => stage.name),
    removed: from.filter((stage) => !after.has(stage.name)).map((stage) => stage.name),
    rewired,
    compensationAdded,
    compensationRemoved,
    compensateOnFailureChanged,
    reordered: sharedBefore.some((name, index) => sharedAfter[index] !== name),
  };
}

/** Whether two shapes are the same (as far as {@link diffShapes} can tell). */
export function hasShapeChanges(changes: ShapeChanges): boolean {
  return (
    !changes.previousShapeKnown ||
    changes.added.length > 0 ||
    changes.removed.length > 0 ||
    changes.rewired.length > 0 ||
    changes.compensationAdded.length > 0 ||
    changes.compensationRemoved.length > 0 ||
    changes.compensateOnFailureChanged.length > 0 ||
    changes.reordered
  );
}

const list = (names: readonly string[]): string => `[${names.join(', ')}]`;

/**
 * The changes as one line for messages: `stage 'b' removed; stage 'd' added; 'c' now after [a] (was [b])`.
 *
 * @remarks
 * Parts in this order: removed, added, rewired, compensations removed and added,
 * `compensateOnFailure` changes, order. With no known previous shape it says so; with no change,
 * `no change`.
 *
 * @example
 * ```ts
 * import { describeShapeChanges, type ShapeChanges } from 'sagaflow';
 * declare const changes: ShapeChanges;
 * console.log(`the definition changed: ${describeShapeChanges(changes)}`);
 * ```
 */
export function describeShapeChanges(changes: ShapeChanges): string {
  if (!changes.previousShapeKnown) return "the run's shape was not recorded (its journal predates shape recording), so what changed is unknown";
  const parts = [
    ...changes.removed.map((name) => `stage '${name}' removed`),
    ...changes.added.map((name) => `stage '${name}' added`),
    ...changes.rewired.map((change) => `'${change.stage}' now after ${list(change.after)} (was ${list(change.before)})`),
    ...changes.compensationRemoved.map((name) => `'${name}' no longer has a compensate`),
    ...changes.compensationAdded.map((name) => `'${name}' now has a compensate`),
    ...changes.compensateOnFailureChanged.map((change) => `'${change.stage}' now has compensateOnFailure: ${String(change.now)}`),
    ...(changes.reordered ? ['stages declared in another order'] : []),
  ];
  return parts.length === 0 ? 'no change' : parts.join('; ');
}

/**
 * A stage of a run that a continuation on another definition would leave un-undone.
 *
 * @remarks
 * Made by {@link continuationProblems}. `state` is what the journal says of the stage:
 * `completed` (and not compensated yet), `outcome_unknown` (it was in flight when its process
 * stopped: it may have taken effect), or `failed` (a `compensateOnFailure` stage whose
 * compensation must still run). `reason` is what the new definition lacks: the stage itself
 * (`removed`, including a rename) or its `compensate` (`not_compensated`; for a `failed` stage,
 * also a `compensateOnFailure` turned off).
 *
 * @example
 * ```ts
 * import type { ContinuationProblem } from 'sagaflow';
 * const line = (problem: ContinuationProblem) => `${problem.stage}: ${problem.state}, ${problem.reason}`;
 * ```
 */
export interface ContinuationProblem {
  /** The stage. */
  readonly stage: string;
  /** What the journal says of it: `waiting` for a wait stage waiting now. */
  readonly state: 'completed' | 'outcome_unknown' | 'failed' | 'waiting';
  /** What the new definition lacks: the stage, its `compensate`, or (for a waiting stage) the same wait. */
  readonly reason: 'removed' | 'not_compensated' | 'wait_changed';
}

/**
 * The stages of a run that continuing it with `next` would never compensate: the continuation
 * must be refused, naming them.
 *
 * @remarks
 * A stage is a problem when it had a `compensate` (per `previousShape`; when the shape is unknown,
 * as for journals older than shape recording, it is assumed it had one, and that
 * `compensateOnFailure` had its default, `false`), its effect may stand
 * (completed and not compensated yet, in flight when its process stopped, or a
 * `compensateOnFailure` stage that failed), and `next` does not have it, or has it without a
 * `compensate`. Continuing would then end the run `compensated` (or `cancelled`) with the stage's
 * effect still in place. `stages` is `RunState.stages` from {@link foldJournal}. Pure: no I/O.
 *
 * @param previousShape - the shape the run continues from (its last recorded shape).
 * @param stages - the run's folded stages.
 * @param next - the definition it would continue with.
 *
 * @example
 * ```ts
 * import { continuationProblems, foldJournal, type RunStartedEvent, type Saga, type SagaEvent } from 'sagaflow';
 * declare const journal: readonly SagaEvent[];
 * declare const transferV2: Saga;
 * const state = foldJournal(journal);
 * const started = journal[0] as RunStartedEvent;
 * const problems = continuationProblems(started.shape, state.stages, transferV2);
 * if (problems.length > 0) console.warn(`v2 would never undo ${problems.map((problem) => problem.stage).join(', ')}`);
 * ```
 */
export function continuationProblems(
  previousShape: readonly RecordedStageShape[] | undefined,
  stages: ReadonlyMap<string, StageState>,
  next: Pick<Saga, 'stage'>,
  waits?: ReadonlyMap<string, WaitState>,
): ContinuationProblem[] {
  const previous = previousShape === undefined ? undefined : new Map(previousShape.map((stage) => [stage.name, stage]));
  const problems: ContinuationProblem[] = [];
  // A stage waiting now must go on waiting for the same thing, or nothing would ever end its wait.
  for (const [name, wait] of waits ?? []) {
    const now = next.stage(name)?.wait;
    if (now === undefined) problems.push({ stage: name, state: 'waiting', reason: next.stage(name) === undefined ? 'removed' : 'wait_changed' });
    else if (now.kind !== wait.kind || (now.kind === 'signal' && now.signal !== wait.signal)) problems.push({ stage: name, state: 'waiting', reason: 'wait_changed' });
  }
  for (const [name, record] of stages) {
    if (record.compensation?.status === 'completed') continue;
    const state = effectOf(record);
    if (state === undefined) continue;
    const old = previous?.get(name);
    // Unknown shape (or a stage the shape does not list): assume it had a compensate, but not
    // compensateOnFailure (the default), or every failed stage of an old journal would count.
    const hadCompensate = old === undefined || old.compensates;
    const compensatedOnFailure = old !== undefined && old.compensateOnFailure;
    if (!hadCompensate || (state === 'failed' && !compensatedOnFailure)) continue;
    const now = next.stage(name);
    if (now === undefined) problems.push({ stage: name, state, reason: 'removed' });
    else if (now.compensate === undefined || (state === 'failed' && !now.compensateOnFailure)) problems.push({ stage: name, state, reason: 'not_compensated' });
  }
  return problems;
}

/** Whether a stage's effect may stand, and how the journal knows it. */
function effectOf(record: StageState): ContinuationProblem['state'] | undefined {
  if (record.status === 'completed') return 'completed';
  if (record.outcomeUnknown || record.status === 'running') return 'outcome_unknown';
  if (record.status === 'failed' || (record.status === 'cancelled' && record.error !== undefined)) return 'failed';
  return undefined;
}

/**
 * The problems as one phrase for messages: `completed stage 'b' (removed) and stage 'x' (outcome
 * unknown, no compensate any more)`.
 *
 * @internal
 */
export function describeContinuationProblems(problems: readonly ContinuationProblem[]): string {
  const phrases = problems.map((problem) => {
    const why =
      problem.reason === 'removed'
        ? 'removed'
        : problem.reason === 'wait_changed'
          ? 'its wait changed'
          : problem.state === 'failed'
            ? 'no compensateOnFailure any more'
            : 'no compensate any more';
    switch (problem.state) {
      case 'waiting':
        return `waiting stage '${problem.stage}' (${why}: nothing would end its wait)`;
      case 'completed':
        return `completed stage '${problem.stage}' (${why})`;
      case 'outcome_unknown':
        return `stage '${problem.stage}' (outcome unknown, ${why})`;
      case 'failed':
        return `failed stage '${problem.stage}' (compensateOnFailure, ${why})`;
    }
  });
  return phrases.length <= 1 ? (phrases[0] ?? 'no stage') : `${phrases.slice(0, -1).join(', ')} and ${phrases[phrases.length - 1] ?? ''}`;
}
