import type { SagaEvent } from '../journal/saga-event.js';
import type { RunState } from '../journal/fold.js';
import type { AttemptPhase, AttemptResult } from './decider.js';

/**
 * A hook around the runs a process drives and every attempt of user code in them: the seam that
 * tracing, metrics and the test kit's virtual clock plug into.
 *
 * @remarks
 * Pass one as `createOrchestrator({ instrumentation })` or `createWorker({ instrumentation })`.
 * Every method is optional and called synchronously; one that throws is reported to the
 * orchestrator's or worker's `onError` and otherwise ignored, so instrumentation can never break a
 * run. `drive` is called each time this process begins driving a run (a start, a resume after a
 * crash, a redrive, a worker's claim): one run driven by three processes over its life has three
 * drives.
 *
 * @example
 * ```ts
 * import type { Instrumentation } from 'sagaflow';
 * const timing: Instrumentation = {
 *   drive: (run) => ({
 *     attempt: (attempt) => {
 *       const began = performance.now();
 *       return {
 *         invoke: (call) => call(),
 *         end: (result) => console.log(`${run.saga}/${attempt.stage} #${attempt.attempt}: ${result.ok ? 'ok' : 'failed'} in ${performance.now() - began} ms`),
 *       };
 *     },
 *   }),
 * };
 * ```
 */
export interface Instrumentation {
  /** This process begins driving a run; the scope returned follows this drive. */
  drive?(run: DriveInfo): DriveScope | undefined;
}

/**
 * The run a process begins to drive, as passed to {@link Instrumentation.drive}.
 *
 * @remarks
 * `journal` is the run's journal as it was when the drive began: a new run's holds only its
 * `run.started`; a resumed one's, everything before. Read it, never change it.
 *
 * @example
 * ```ts
 * import type { DriveInfo } from 'sagaflow';
 * const label = (run: DriveInfo) => `${run.saga}/${run.runId} (${run.reason})`;
 * ```
 */
export interface DriveInfo {
  /** The run's id. */
  readonly runId: string;
  /** The saga's name. */
  readonly saga: string;
  /** The saga's version. */
  readonly version: string;
  /** Why this process drives it. */
  readonly reason: 'start' | 'resume' | 'redrive' | 'compensate' | 'claim';
  /** The journal when the drive began. */
  readonly journal: readonly SagaEvent[];
}

/**
 * What an {@link Instrumentation} follows of one drive of a run.
 *
 * @remarks
 * `event` sees each event once it is durable, with the run's state after it; `attempt` wraps each
 * call of `execute` or `compensate`; `end` is called once, when the run settled or this process
 * stopped driving it (a crash of the process calls nothing, of course).
 *
 * @example
 * ```ts
 * import type { DriveScope } from 'sagaflow';
 * const counting: DriveScope = { event: (event) => console.log(event.type), end: (end) => console.log(end.kind) };
 * ```
 */
export interface DriveScope {
  /** An event of the run is durable; `state` is the run's state after it. */
  event?(event: SagaEvent, state: RunState): void;
  /** An attempt is about to call user code: the scope returned runs the call and learns how it ended. */
  attempt?(attempt: AttemptInfo): AttemptScope | undefined;
  /** The drive ended: the run settled (`settled`), or this process stopped driving it (`halted`). */
  end?(end: { readonly kind: 'settled'; readonly state: RunState } | { readonly kind: 'halted'; readonly error: Error }): void;
}

/**
 * One attempt of user code, as passed to {@link DriveScope.attempt}.
 *
 * @remarks
 * `attempt` counts from 1 per phase and keeps counting across retries, resumes and redrives.
 *
 * @example
 * ```ts
 * import type { AttemptInfo } from 'sagaflow';
 * const name = (attempt: AttemptInfo) => `saga.${attempt.phase === 'execute' ? 'stage' : 'compensate'} ${attempt.stage}`;
 * ```
 */
export interface AttemptInfo {
  /** The run's id. */
  readonly runId: string;
  /** The saga's name. */
  readonly saga: string;
  /** The stage's name. */
  readonly stage: string;
  /** `execute` or `compensate`. */
  readonly phase: AttemptPhase;
  /** The attempt's number. */
  readonly attempt: number;
  /** The idempotency key the user code sees. */
  readonly idempotencyKey: string;
}

/**
 * Wraps one call of user code: runs it, then learns how the attempt ended.
 *
 * @remarks
 * `invoke` must call `call` exactly once, synchronously, and return what it returns (run it inside
 * a tracing context, for instance). `end` is called once with the attempt's result, as the
 * runtime classified it: after a timeout it is called at the timeout, even if the user's call is
 * still pending.
 *
 * @example
 * ```ts
 * import type { AttemptScope } from 'sagaflow';
 * const passThrough: AttemptScope = { invoke: (call) => call(), end: () => undefined };
 * ```
 */
export interface AttemptScope {
  /** Runs the call. */
  invoke<T>(call: () => T): T;
  /** The attempt settled. */
  end(result: AttemptResult): void;
}
