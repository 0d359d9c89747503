import { ACTIVE_RUN_STATUSES, RUN_ACTION_STATUSES, toOutcome, type RunState, type RunStatus, type SagaEvent, type SerializedError } from '../index.js';
import type { ActionName, ActionView, ErrorView, RunView, StageTone, StageView } from './client/view-model.js';
import { timelineOf } from './timeline.js';

/** What decides which actions the inspector offers on a run. */
export interface ActionContext {
  /** Actions are refused (`--read-only`). */
  readonly readOnly: boolean;
  /** The inspector was given this saga (`sagas`), so it can drive the run's redrive or rollback. */
  readonly drives: (saga: string) => boolean;
  /** The store shares runs with workers: a submitted run is handed back to them, not driven here. */
  readonly workers: boolean;
}

/**
 * A run as its page shows it, read from the journal's fold: each stage's status and rollback
 * step, the failure or cancellation, the timeline, and the actions on offer.
 *
 * @remarks
 * The page keeps nothing of its own: each update of a live run carries a new view.
 *
 * @param state - the fold of `journal`.
 * @param journal - the run's events (for the timeline's times).
 * @param context - what decides the actions on offer.
 * @param now - the current time (epoch ms): where a live run's timeline ends.
 */
export function runViewOf(state: RunState, journal: readonly SagaEvent[], context: ActionContext, now: number): RunView {
  const outcome = toOutcome(state);
  const live = ACTIVE_RUN_STATUSES.includes(state.status);
  const rollbackOrder = rollbackOrderOf(state);
  const shapeOf = new Map((state.shape ?? []).map((stage) => [stage.name, stage]));
  const stages: StageView[] = [];
  state.stages.forEach((stage, name) => {
    const record = outcome.stages[name];
    const shape = shapeOf.get(name);
    const retrying = record?.status === 'running' && stage.retryAt !== undefined;
    const step = rollbackOrder.indexOf(name);
    const compensation = stage.compensation;
    const wait = state.waits?.get(name);
    stages.push({
      name,
      tone: retrying ? 'retrying' : ((record?.status ?? 'not_started') satisfies StageTone),
      attempts: stage.attempts,
      after: shape?.after ?? [],
      compensates: shape?.compensates ?? false,
      failing: state.failure?.stage === name,
      outcomeUnknown: stage.outcomeUnknown,
      ...(step === -1 ? {} : { rollbackStep: step + 1 }),
      ...(stage.error === undefined ? {} : { error: errorView(stage.error) }),
      ...(stage.cancelReason === undefined ? {} : { cancelReason: stage.cancelReason }),
      ...(stage.startedAt === undefined ? {} : { startedAt: stage.startedAt }),
      ...(stage.endedAt === undefined ? {} : { endedAt: stage.endedAt }),
      ...(stage.durationMs === undefined ? {} : { durationMs: stage.durationMs }),
      ...(stage.retryAt === undefined ? {} : { retryAt: stage.retryAt }),
      ...(wait === undefined
        ? {}
        : {
            waiting: {
              kind: wait.kind,
              ...(wait.signal === undefined ? {} : { signal: wait.signal }),
              ...(wait.dueAt === undefined ? {} : { dueAt: wait.dueAt }),
            },
          }),
      ...(compensation === undefined
        ? {}
        : {
            compensation: {
              status: compensation.status,
              attempts: compensation.attempts,
              ...(compensation.error === undefined ? {} : { error: errorView(compensation.error) }),
              ...(compensation.retryAt === undefined ? {} : { retryAt: compensation.retryAt }),
            },
          }),
    });
  });
  return {
    runId: state.runId,
    saga: state.saga,
    version: state.version,
    shapeHash: state.shapeHash,
    status: state.status,
    submitted: state.submitted,
    live,
    followed: isFollowed(state.status),
    stopping: state.stopping,
    startedAt: state.startedAt,
    updatedAt: state.updatedAt,
    lastSeq: state.lastSeq,
    stages,
    completionOrder: state.completionOrder,
    compensationOrder: state.compensationOrder,
    rollbackOrder,
    ...(state.failure === undefined ? {} : { failure: { stage: state.failure.stage, error: errorView(state.failure.error) } }),
    ...(state.cancellation === undefined ? {} : { cancellation: { reason: state.cancellation.reason, by: state.cancellation.by } }),
    timeline: timelineOf(journal, live, now),
    actions: actionsOf(state, context),
  };
}

/** Some action can still move a run in this status (see `RunView.followed`). */
function isFollowed(status: RunStatus): boolean {
  return Object.values(RUN_ACTION_STATUSES).some((statuses) => statuses.includes(status));
}

/**
 * The stages a rollback undoes, in the order they are undone: those already compensated in the
 * order they were, then the rest of the fold's plan (reverse completion order).
 */
function rollbackOrderOf(state: RunState): string[] {
  const done = state.compensationOrder;
  const planned = state.rollback?.order ?? [];
  return [...done, ...planned.filter((name) => !done.includes(name))];
}

function errorView(error: SerializedError): ErrorView {
  return {
    name: error.name,
    message: error.message,
    ...(error.code === undefined ? {} : { code: error.code }),
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    ...(error.data === undefined ? {} : { data: error.data }),
  };
}

/**
 * The actions on offer: those the orchestrator accepts in the run's status
 * (`RUN_ACTION_STATUSES`, the table it decides with), when this inspector can carry them out.
 */
function actionsOf(state: RunState, context: ActionContext): Record<ActionName, ActionView> {
  const refused = (reason: string): ActionView => ({ enabled: false, reason });
  if (context.readOnly) {
    const readOnly = refused('the inspector is read-only');
    return { redrive: readOnly, compensate: readOnly, cancel: readOnly };
  }
  const status = state.status;
  // A submitted run on a workers' store goes back to the queue; any other run is driven here.
  const canDrive = (state.submitted && context.workers) || context.drives(state.saga);
  const offer = (action: ActionName, what: string, needsSaga: boolean): ActionView => {
    const allowed = RUN_ACTION_STATUSES[action];
    if (!allowed.includes(status)) return refused(`only a run that is ${listOf(allowed)} can be ${what}; this one is ${status}`);
    if (needsSaga && !canDrive) return refused(`the inspector was not given saga '${state.saga}' (start it with --sagas MODULE)`);
    return { enabled: true };
  };
  return { redrive: offer('redrive', 'redriven', true), compensate: offer('compensate', 'rolled back', true), cancel: offer('cancel', 'cancelled', false) };
}

/** `a`, `a or b`, `a, b or c`. */
function listOf(words: readonly string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1] ?? ''}`;
}
