import type { SchedulerLike } from 'rxjs';
import type { AnySaga, SagaStage } from '../definition/saga.js';
import { sagaArgumentProblem } from '../definition/saga-argument.js';
import type { SagaEvent } from '../journal/saga-event.js';

/**
 * Something to go wrong in a test, without editing the saga: made by {@link failStage},
 * {@link delayStage}, {@link failCompensation} and {@link crashAfter}.
 *
 * @remarks
 * Pass a list to `createSagaTest({ faults })`: stage faults wrap the stages of every saga run
 * through that harness, and crash faults wrap its store. Several faults on one stage apply in list
 * order on each call (a delay, then a failure). Build them with the factory functions rather than
 * by hand: they fill in defaults and check arguments.
 *
 * @example
 * ```ts
 * import { failStage, type Fault } from 'sagaflow/testing';
 * const faults: Fault[] = [failStage('credit', { times: 2 })];
 * ```
 */
export type Fault = StageFault | CrashFault;

/**
 * A fault that wraps one stage's `execute` or `compensate`.
 *
 * @remarks
 * `times` counts calls of the wrapped stage per run, made through one faulty copy of the saga
 * (one per harness): a run resumed in a second harness starts counting again. The fault acts
 * before the real `execute` or `compensate`, which is not called on an attempt that the fault
 * fails.
 *
 * @example
 * ```ts
 * import { delayStage, type StageFault } from 'sagaflow/testing';
 * const slow: StageFault = delayStage('debit', 5_000);
 * ```
 */
export interface StageFault {
  /** Discriminant. */
  readonly kind: 'fail-stage' | 'delay-stage' | 'fail-compensation';
  /** The stage it applies to. */
  readonly stage: string;
  /** How many attempts (per run) it affects; `Infinity` for all. */
  readonly times: number;
  /** For failures: the error to throw on the given attempt (1-based, per run). */
  readonly error?: ((attempt: number) => unknown) | undefined;
  /** For delays: how long, in ms of the orchestrator's clock. */
  readonly delayMs?: number | undefined;
}

/**
 * A fault that stops the orchestrator right after a matching event is persisted.
 *
 * @remarks
 * Made by {@link crashAfter}, applied by {@link crashingStore}. The predicate sees every event as
 * it is about to be written, with the run's journal up to and including it; keep it pure, since it
 * decides which events reach the store.
 *
 * @example
 * ```ts
 * import { crashAfter, type CrashFault } from 'sagaflow/testing';
 * const crash: CrashFault = crashAfter((event) => event.type === 'stage.completed' && event.stage === 'debit');
 * ```
 */
export interface CrashFault {
  /** Discriminant. */
  readonly kind: 'crash-after';
  /** Decides, for each persisted event (with the run's journal so far), whether to crash right after it. */
  readonly predicate: (event: SagaEvent, journal: readonly SagaEvent[]) => boolean;
}

/**
 * Makes a stage's `execute` throw on its first `times` attempts of each run (default: every
 * attempt), before the real `execute` runs.
 *
 * @remarks
 * Combine with the stage's `retry` policy to test recovery (`times` below `maxAttempts`) or a
 * rollback (`times` at or above it). The error defaults to an `Error` naming the stage and
 * attempt; pass `error` to throw something specific, such as a `NonRetryableError`. `error` chooses
 * what is thrown, not whether: every attempt up to `times` fails, and an `error` that returns
 * `undefined` fails its attempt with a `TypeError` that says so.
 *
 * @example
 * ```ts
 * import { NonRetryableError } from 'sagaflow';
 * import { failStage } from 'sagaflow/testing';
 * const twice = failStage('credit', { times: 2 });
 * const declined = failStage('charge', { error: () => new NonRetryableError('card declined') });
 * ```
 */
export function failStage(stage: string, options: { readonly times?: number | undefined; readonly error?: ((attempt: number) => unknown) | undefined } = {}): StageFault {
  return {
    kind: 'fail-stage',
    stage,
    times: options.times ?? Infinity,
    error: options.error ?? ((attempt) => new Error(`injected failure of stage '${stage}' (attempt ${attempt})`)),
  };
}

/**
 * Delays a stage's `execute` by `ms` of the orchestrator's clock on its first `times` attempts
 * (default: every attempt).
 *
 * @remarks
 * With the kit's virtual clock, the delay costs no real time: use it with `timeoutMs` to test
 * timeouts, or to make one parallel branch finish after another. The delay ends early, rejecting
 * with the signal's reason, if the attempt's signal aborts (a timeout, a failure elsewhere, a
 * cancellation); the real `execute` then never runs.
 *
 * @throws `RangeError` when `ms` is negative or not finite.
 *
 * @example
 * ```ts
 * import { delayStage } from 'sagaflow/testing';
 * const slowBank = delayStage('credit', 10_000);
 * ```
 */
export function delayStage(stage: string, ms: number, options: { readonly times?: number | undefined } = {}): StageFault {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`delayStage('${stage}', ${ms}): the delay must be a finite number of ms >= 0.`);
  return { kind: 'delay-stage', stage, times: options.times ?? Infinity, delayMs: ms };
}

/**
 * Makes a stage's `compensate` throw on its first `times` attempts of each run (default: every
 * attempt).
 *
 * @remarks
 * A compensation is retried with its own policy (default 5 attempts): `times` below that tests
 * recovery; `Infinity` ends the run `compensation_failed`. `error` chooses what is thrown, as for
 * {@link failStage}; one that returns `undefined` fails the attempt with a `TypeError` that says so.
 *
 * @example
 * ```ts
 * import { failCompensation } from 'sagaflow/testing';
 * const flakyRefund = failCompensation('debit', { times: 2 });
 * ```
 */
export function failCompensation(stage: string, options: { readonly times?: number | undefined; readonly error?: ((attempt: number) => unknown) | undefined } = {}): StageFault {
  return {
    kind: 'fail-compensation',
    stage,
    times: options.times ?? Infinity,
    error: options.error ?? ((attempt) => new Error(`injected failure of the compensation of stage '${stage}' (attempt ${attempt})`)),
  };
}

/**
 * Stops the orchestrator right after the first event matching `predicate` is persisted, as a
 * process crash would.
 *
 * @remarks
 * Nothing more is written after it, for any run of that harness: its runs' `outcome` rejects
 * with {@link SimulatedCrashError}, and `createSagaTest`'s `run` resolves with `crashed: true`.
 * Resume from the same store with a new harness (or orchestrator) to test recovery: that is how
 * the resume rule (re-execute what started but did not complete) and a rollback interrupted half-way are
 * tested.
 *
 * @example
 * ```ts
 * import { crashAfter } from 'sagaflow/testing';
 * const midRollback = crashAfter((event) => event.type === 'compensation.completed');
 * ```
 */
export function crashAfter(predicate: (event: SagaEvent, journal: readonly SagaEvent[]) => boolean): CrashFault {
  return { kind: 'crash-after', predicate };
}

/**
 * Returns a copy of `saga` whose stages misbehave as the faults say.
 *
 * @remarks
 * Its name, version and shape hash are unchanged, so a run started with the faulty copy can be
 * resumed with the original (and the other way round). `createSagaTest` calls it for you; use it
 * directly to inject faults with your own orchestrator, for instance on a `SqliteStore`. Crash
 * faults are ignored here (see {@link crashingStore}), and without stage faults the saga itself is
 * returned.
 *
 * @param scheduler - the clock `delayStage` waits on; pass the orchestrator's (the virtual clock in tests).
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineSaga } from 'sagaflow';
 * import { createVirtualClock, failStage, withFaults } from 'sagaflow/testing';
 * const saga = defineSaga({ name: 'demo', input: z.object({}) }).stage('a', { execute: async () => 1 }).build();
 * const faulty = withFaults(saga, [failStage('a', { times: 1 })], createVirtualClock());
 * ```
 *
 * @throws `RangeError` when a fault names a stage the saga does not have.
 */
export function withFaults<TSaga extends AnySaga>(saga: TSaga, faults: readonly Fault[], scheduler: SchedulerLike): TSaga {
  const problem = sagaArgumentProblem(saga);
  if (problem !== undefined) throw new TypeError(`withFaults: ${problem}.`);
  const stageFaults = faults.filter((fault): fault is StageFault => fault.kind !== 'crash-after');
  for (const fault of stageFaults) {
    if (saga.stage(fault.stage) === undefined) {
      throw new RangeError(`A ${fault.kind} fault names stage '${fault.stage}', but saga '${saga.name}' has no such stage (stages: ${saga.stages.map((stage) => stage.name).join(', ')}).`);
    }
  }
  if (stageFaults.length === 0) return saga;
  const stages = saga.stages.map((stage) => wrapStage(stage, stageFaults.filter((fault) => fault.stage === stage.name), scheduler));
  const byName = new Map(stages.map((stage) => [stage.name, stage]));
  return Object.freeze({ ...saga, stages: Object.freeze(stages), stage: (name: string) => byName.get(name) });
}

type Counter = Map<string, number>;

/** Counts calls per run, so `times` means "the first N attempts of each run". */
function nextCall(counter: Counter, runId: string): number {
  const call = (counter.get(runId) ?? 0) + 1;
  counter.set(runId, call);
  return call;
}

function wrapStage(stage: SagaStage, faults: readonly StageFault[], scheduler: SchedulerLike): SagaStage {
  if (faults.length === 0) return stage;
  const executeCalls: Counter = new Map();
  const compensateCalls: Counter = new Map();
  const execute: SagaStage['execute'] = async (context) => {
    const call = nextCall(executeCalls, context.runId);
    for (const fault of faults) {
      if (call > fault.times) continue;
      if (fault.kind === 'delay-stage') await sleep(scheduler, fault.delayMs ?? 0, context.signal);
      if (fault.kind === 'fail-stage') throw injectedError(fault, call);
    }
    return stage.execute(context);
  };
  const compensate = stage.compensate;
  const compensateFaults = faults.filter((fault) => fault.kind === 'fail-compensation');
  const wrappedCompensate: SagaStage['compensate'] =
    compensate === undefined || compensateFaults.length === 0
      ? compensate
      : async (context) => {
          const call = nextCall(compensateCalls, context.runId);
          for (const fault of compensateFaults) if (call <= fault.times) throw injectedError(fault, call);
          return await compensate(context);
        };
  return Object.freeze({ ...stage, execute, ...(wrappedCompensate === undefined ? {} : { compensate: wrappedCompensate }) });
}

/**
 * What a failing fault throws on `call`: what its `error` option returns. `undefined` is refused with
 * a `TypeError` that says what the option means, since the likely cause is an `error` written to let
 * some attempts through (it cannot: every attempt up to `times` fails), and a bare `undefined` thrown
 * would be journaled as "A non-Error value was thrown", naming neither the fault nor the stage.
 */
function injectedError(fault: StageFault, call: number): unknown {
  const error = fault.error?.(call);
  if (error !== undefined) return error;
  const [factory, runs] = fault.kind === 'fail-compensation' ? ['failCompensation', 'compensate'] : ['failStage', 'execute'];
  const which = fault.times === Infinity ? 'every attempt' : fault.times === 1 ? 'attempt 1' : `attempts 1 to ${fault.times}`;
  return new TypeError(
    `${factory}('${fault.stage}'): its error option returned undefined for attempt ${call}; return the error to throw. A ${factory} fault fails every attempt up to \`times\` (here ${which}), before the stage's ${runs} runs.`,
  );
}

function sleep(scheduler: SchedulerLike, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      timer.unsubscribe();
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const timer = scheduler.schedule(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
