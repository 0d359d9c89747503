import { ACTIVE_RUN_STATUSES, SETTLED_RUN_STATUSES, type RunStatus } from './outcome.js';

/**
 * Every run status, the live ones first: `queued`, `running`, `compensating`, then the settled
 * ones (`completed`, `compensated`, `cancelled`, `compensation_failed`, `paused`).
 *
 * @remarks
 * The one list of {@link RunStatus} values, for code that must go through all of them: a store
 * checking a status it reads back, a dashboard with a count per status, a filter that accepts only
 * a known status. {@link ACTIVE_RUN_STATUSES} and {@link SETTLED_RUN_STATUSES} split it in two.
 *
 * @example
 * ```ts
 * import { RUN_STATUSES, type RunStatus } from 'sagaflow';
 * const isRunStatus = (value: string): value is RunStatus => (RUN_STATUSES as readonly string[]).includes(value);
 * isRunStatus('paused'); // true
 * ```
 */
export const RUN_STATUSES: readonly RunStatus[] = Object.freeze([...ACTIVE_RUN_STATUSES, ...SETTLED_RUN_STATUSES]);

/**
 * What can be asked of a stored run by id: `orchestrator.resume`, `redrive`, `compensate` or `cancel`.
 *
 * @remarks
 * The keys of {@link RUN_ACTION_STATUSES}.
 *
 * @example
 * ```ts
 * import type { RunAction } from 'sagaflow';
 * const operatorActions: readonly RunAction[] = ['redrive', 'compensate', 'cancel'];
 * ```
 */
export type RunAction = 'resume' | 'redrive' | 'compensate' | 'cancel';

/**
 * The statuses in which the orchestrator accepts each {@link RunAction}; in any other it refuses
 * with a `RunStateError` (whose `allowed` are these statuses).
 *
 * @remarks
 * The orchestrator decides with this very table, so a tool that offers actions on runs (the
 * inspector, an admin page) offers exactly what will be accepted:
 *
 * - `resume`: `queued`, `running`, `compensating` (a run its process left behind).
 * - `redrive`: `paused`, `compensation_failed`.
 * - `compensate`: `paused`.
 * - `cancel`: `queued`, `running`, `compensating`. A run that is already stopping or rolling back
 *   is accepted and left as it is: its cancel has nothing left to do.
 *
 * Being accepted by status is not all: a run another live process owns is refused with
 * `RunLeasedError` (`cancel` is then a request its owner carries out), and a redrive or rollback
 * needs the saga registered (`SagaNotRegisteredError`).
 *
 * @example
 * ```ts
 * import { RUN_ACTION_STATUSES } from 'sagaflow';
 * RUN_ACTION_STATUSES.redrive.includes('compensation_failed'); // true
 * RUN_ACTION_STATUSES.compensate.includes('compensation_failed'); // false
 * ```
 */
export const RUN_ACTION_STATUSES: Readonly<Record<RunAction, readonly RunStatus[]>> = Object.freeze({
  resume: Object.freeze(['queued', 'running', 'compensating'] as const),
  redrive: Object.freeze(['paused', 'compensation_failed'] as const),
  compensate: Object.freeze(['paused'] as const),
  cancel: Object.freeze(['queued', 'running', 'compensating'] as const),
});
