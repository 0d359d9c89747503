import type { RunStartedEvent, SagaEvent } from '../journal/saga-event.js';
import type { RunState } from '../journal/fold.js';
import type { WorkerOperation } from '../worker/worker.js';
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
 * drives. `carrier` lets a tracer journal its context with a new run (so that every drive continues
 * one trace), and `worker` hears of a worker's claims and leases. `sagaflow/otel` builds one for
 * OpenTelemetry.
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
  /**
   * A run is being created by `start` or `submit`: returns the propagation carrier to journal with
   * it, as {@link RunStartedEvent.context} (for tracing, the caller's trace context).
   *
   * @remarks
   * Called synchronously inside `start` / `submit`, in the caller's context, once the input is
   * valid and before anything is stored; `started` is the event about to be written (without its
   * `context`). Return text fields (such as W3C `traceparent`), or `undefined` for none. Every
   * process that later drives the run finds the carrier in {@link DriveInfo.journal}'s first event,
   * which is how one trace follows a run across processes and restarts. A hook that throws, or
   * returns anything but an object of strings, is reported to `onError` and nothing is journaled.
   */
  carrier?(started: RunStartedEvent): Readonly<Record<string, string>> | undefined;
  /**
   * Something happened to a worker's claims and leases (workers only; see {@link WorkerActivity}).
   *
   * @remarks
   * For metrics on a fleet: runs claimed (new or resumed), leases lost to another worker, runs
   * handed back, and the store calls that failed and are retried (the errors also reported to the
   * worker's `onError`). Called synchronously; a hook that throws is ignored.
   */
  worker?(activity: WorkerActivity): void;
}

/**
 * What a worker tells {@link Instrumentation.worker}: a claim, a lost lease, a run handed back,
 * a failed store call.
 *
 * @remarks
 * - `claimed`: the worker took a run from the queue. `resumed` is false for the first claim of a
 *   submitted run, true for a run that was driven before (taken over after its lease expired, or
 *   handed back to the queue by a worker or an operator's redrive).
 * - `lease_lost`: another process took the run over; this worker stopped driving it.
 * - `released`: the worker gave a run's lease back (after a failed append, or when `stop` timed
 *   out), so that another worker resumes it at once.
 * - `parked`: a run had nothing to do but wait, so the worker gave its lease back and forgot it;
 *   the store hands it out again at `wakeAt` or when a signal or a cancel arrives.
 * - `error`: a store call failed (`listen`, `claim`, `heartbeat`, `release`, or a `run` that
 *   stopped being driven here); the same error goes to the worker's `onError`.
 *
 * @example
 * ```ts
 * import type { Instrumentation } from 'sagaflow';
 * let takeovers = 0;
 * const counting: Instrumentation = {
 *   worker: (activity) => {
 *     if (activity.type === 'claimed' && activity.resumed) takeovers++;
 *   },
 * };
 * ```
 */
export type WorkerActivity =
  | {
      /** Discriminant. */
      readonly type: 'claimed';
      /** The worker's id. */
      readonly workerId: string;
      /** The run claimed. */
      readonly runId: string;
      /** The run's saga. */
      readonly saga: string;
      /** Whether the run was driven before this claim. */
      readonly resumed: boolean;
    }
  | {
      /** Discriminant. */
      readonly type: 'lease_lost' | 'released';
      /** The worker's id. */
      readonly workerId: string;
      /** The run concerned. */
      readonly runId: string;
    }
  | {
      /** Discriminant. */
      readonly type: 'parked';
      /** The worker's id. */
      readonly workerId: string;
      /** The run parked. */
      readonly runId: string;
      /** When it is due again (epoch ms), or `null`: when a signal or a cancel arrives. */
      readonly wakeAt: number | null;
    }
  | {
      /** Discriminant. */
      readonly type: 'error';
      /** The worker's id. */
      readonly workerId: string;
      /** The store call that failed. */
      readonly operation: WorkerOperation;
      /** The run concerned, when there is one. */
      readonly runId?: string;
      /** Set when the call is retried after a backoff: which retry comes next. */
      readonly retryCount?: number;
      /** What failed. */
      readonly error: Error;
    };

/**
 * Checks what an {@link Instrumentation.carrier} hook returned: `undefined` for nothing to
 * journal, else a frozen copy holding only string fields.
 *
 * @throws TypeError when the hook returned something other than an object of strings.
 *
 * @internal
 */
export function propagationCarrier(value: unknown): Readonly<Record<string, string>> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new TypeError(`Instrumentation.carrier returned ${Array.isArray(value) ? 'an array' : typeof value}, not an object of strings.`);
  const copy: Record<string, string> = {};
  let fields = 0;
  for (const [key, field] of Object.entries(value)) {
    if (typeof field !== 'string') throw new TypeError(`Instrumentation.carrier returned a non-string field '${key}' (${typeof field}).`);
    copy[key] = field;
    fields++;
  }
  return fields === 0 ? undefined : Object.freeze(copy);
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
  /** The drive ended: the run settled, this process stopped driving it, or parked it while it waits (see {@link DriveEnd}). */
  end?(end: DriveEnd): void;
}

/**
 * How a drive of a run ended, passed to {@link DriveScope.end}.
 *
 * @remarks
 * - `settled`: the run reached a settled status (`state` is its final state).
 * - `halted`: this process stopped driving the run without settling it: its lease was lost, an
 *   append failed, the process is shutting down. Another drive picks the run up later.
 * - `parked`: the run had nothing to do but wait, and a worker gave it back to the store until
 *   `wakeAt` (epoch ms; `null`: until a signal or a cancel). The next drive begins when a worker
 *   claims it again. See the waits guide.
 *
 * @example
 * ```ts
 * import type { DriveEnd } from 'sagaflow';
 * const describe = (end: DriveEnd): string =>
 *   end.kind === 'settled' ? end.state.status : end.kind === 'halted' ? end.error.message : `parked until ${end.wakeAt ?? 'a signal'}`;
 * ```
 */
export type DriveEnd =
  | {
      /** Discriminant. */
      readonly kind: 'settled';
      /** The run's final state. */
      readonly state: RunState;
    }
  | {
      /** Discriminant. */
      readonly kind: 'halted';
      /** Why this process stopped driving the run. */
      readonly error: Error;
    }
  | {
      /** Discriminant. */
      readonly kind: 'parked';
      /** When the run is due again (epoch ms), or `null`: when a signal or a cancel arrives. */
      readonly wakeAt: number | null;
    };

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
  /** The idempotency key the user code sees: a getter, derived when first read (a hook that does not need it does not pay for it; a spread or `JSON.stringify` of the info leaves it out). */
  readonly idempotencyKey: string;
}

/**
 * Wraps one call of user code: runs it, then learns how the attempt ended.
 *
 * @remarks
 * `invoke` must call `call` exactly once, synchronously, and return what it returns (run it inside
 * a tracing context, for instance). One that does not (throws, never calls, calls twice, returns
 * something else) is reported to `onError` and otherwise ignored: the user's call is made exactly
 * once and its own result, or its own throw, is the attempt's. `end` is called once with the attempt's result, as the
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
