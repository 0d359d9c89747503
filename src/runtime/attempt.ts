import type { SchedulerLike, Subscription } from 'rxjs';
import type { ResolvedRetryPolicy } from '../definition/retry-policy.js';
import type { Saga, SagaStage } from '../definition/saga.js';
import { SagaErrorCode } from '../errors/saga-error.js';
import { describeThrown } from '../errors/safe-read.js';
import { redactSerializedError, redactText, withSerializationNote } from '../errors/redact-error.js';
import { serializeError, type SerializedError } from '../errors/serialize-error.js';
import { NonRetryableError, StageOutputError, StageTimeoutError } from '../errors/stage-errors.js';
import type { MutableRunState } from '../journal/fold.js';
import type { AttemptPhase, AttemptResult } from './decider.js';
import type { AttemptInfo, AttemptScope, DriveScope } from './instrumentation.js';
import { copyJsonValue, isThenable, NotJson } from './json-value.js';
import { LazyAbort } from './lazy-abort.js';
import { scheduleAfter } from './long-delay.js';
import { CompensateContextImpl, ExecuteContextImpl, StageCancelSignal } from './stage-context.js';
import { timeHoldingClock, type TimeHold } from './time-hold.js';

/**
 * What an attempt needs from the run that makes it: the run's interpreter itself, so that a run
 * in flight holds no object (and no callbacks) of its own for its attempts to reach it.
 */
export interface AttemptEnvironment {
  readonly saga: Saga;
  readonly state: MutableRunState;
  readonly scheduler: SchedulerLike;
  /** The drive's instrumentation, if any. */
  readonly scope: DriveScope | undefined;
  /** Reports a problem with instrumentation (it never breaks the attempt). */
  report(error: unknown): void;
  /**
   * Takes an attempt's result, once: the attempt is over. `at` is the clock reading the attempt
   * ended at, when it read the clock (a success, for its duration): the run's next events are
   * stamped with it rather than with a second reading a moment later.
   */
  settled(attempt: Attempt, result: AttemptResult, at?: number): void;
  /**
   * An `execute` attempt is about to fail by its timeout while its call has not settled: the call
   * ignored its signal so far, and its effect may still be on its way. Called before the failure
   * is reported, so that whatever the failure leads to (the stage's compensation) already knows.
   * Returns what to call once the call has landed: settled, or counted as landed after its grace
   * (see {@link Attempt}).
   */
  lingering(attempt: Attempt): () => void;
}

/**
 * What an instrumentation hook is told about an attempt: a class, so that `idempotencyKey` (a
 * hash) is a getter on the prototype, derived only if the hook reads it. An object literal with a
 * getter leaves V8's fast literal path (an accessor pair and a closure per attempt): 4.8 % of the
 * CPU of an instrumented saga.
 */
class AttemptDescription implements AttemptInfo {
  constructor(
    readonly runId: string,
    readonly saga: string,
    readonly stage: string,
    readonly phase: AttemptPhase,
    readonly attempt: number,
    context: ExecuteContextImpl | CompensateContextImpl,
  ) {
    this.#context = context;
  }

  /** A private field: `{ ...info }` and `JSON.stringify(info)` see the five plain fields only. */
  readonly #context: ExecuteContextImpl | CompensateContextImpl;

  get idempotencyKey(): string {
    return this.#context.idempotencyKey;
  }
}

/**
 * One call of a stage's `execute` or `compensate`: its signal (it is the call's {@link LazyAbort}),
 * its timeout, and its result, reported once as plain data whatever comes first — the call's
 * settlement, its timeout, or an abort before it was invoked.
 *
 * @remarks
 * Everything that touches a user value happens here: the output schema and the JSON copy, the
 * error's serialisation, the retry policy's `retryable`. Each is guarded, so a hostile value (a
 * throwing getter, a revoked proxy) becomes a failed attempt with a readable error, never an
 * exception in the runtime.
 *
 * The attempt's result and its call's settlement are two things: an `execute` that times out
 * fails at once, while a call that ignores its signal goes on. Such a call lingers (see
 * {@link AttemptEnvironment.lingering}) until it settles, or until one more `timeoutMs` has
 * passed; the run neither compensates its stage nor is handed over before.
 */
export class Attempt extends LazyAbort {
  /** Its index among its run's attempts in flight (kept by the interpreter). */
  slot = 0;
  private settled = false;
  private timeout: Subscription | undefined;
  private context: ExecuteContextImpl | CompensateContextImpl | undefined;
  private instrumented: AttemptScope | undefined;
  private hold: TimeHold | undefined;
  /**
   * The clock reading the call was made at. Starts out `undefined`, not 0, so that V8 keeps it as a
   * tagged field holding the number object the clock returned (`Date.now()` returns a new one each
   * time): a field that starts as a number is kept as a double field, which makes a number object
   * of its own with each attempt and copies the reading into it, two number objects per attempt.
   */
  private startedAt: number | undefined = undefined;
  private landed: (() => void) | undefined;

  constructor(
    private readonly environment: AttemptEnvironment,
    readonly stage: SagaStage,
    readonly phase: AttemptPhase,
    readonly attempt: number,
  ) {
    super();
  }

  /** Calls the user's function, unless the attempt was aborted first. */
  invoke(): void {
    if (this.aborted) return this.finish({ ok: false, retryable: false, invoked: false });
    const { saga, state, scheduler } = this.environment;
    const stage = this.stage;
    const execute = this.phase === 'execute';
    const context = execute
      ? new ExecuteContextImpl(saga, stage, state, this.attempt, this)
      : new CompensateContextImpl(saga, stage, state, this.attempt, this, state.compensationCause ?? { kind: 'cancelled', reason: 'compensated by an operator', by: 'external' });
    this.context = context;
    this.instrumented = this.instrument(context);
    // A test clock must not move on while the call is in flight (see TimeHoldingClock).
    const hold = timeHoldingClock(scheduler)?.holdTime();
    this.hold = hold;
    this.startedAt = scheduler.now();
    let value: unknown;
    try {
      // The plain call on the hot path; closures only when a hook or a test clock wraps it.
      if (this.instrumented === undefined && hold === undefined) value = execute ? stage.execute(context as ExecuteContextImpl) : stage.compensate?.(context as CompensateContextImpl);
      else value = this.wrappedCall(context, hold);
    } catch (error) {
      return this.fail(error);
    }
    if (!isThenable(value)) return this.succeed(value);
    try {
      this.awaitResult(value);
    } catch (error) {
      // A thenable whose `then` throws.
      return this.fail(error);
    }
    const timeoutMs = execute ? stage.timeoutMs : stage.compensation.timeoutMs;
    if (timeoutMs !== undefined && !this.settled) this.armTimeout(timeoutMs);
  }

  // The closures an attempt needs are made in the small methods below, not in `invoke`: V8 gives a
  // function whose variables a closure captures a context on every call, holding all of them, and
  // the result callbacks keep it as long as the call is in flight.

  /**
   * Settles the attempt with what the thenable its call returned settles with. Its own methods,
   * bound, rather than two arrow functions: those would share a context made for them, and the
   * three objects outweigh two bound functions; they are held for as long as the call is in
   * flight, which in a wide fan-out is every attempt of the fan at once.
   */
  private awaitResult(value: PromiseLike<unknown>): void {
    value.then(this.succeed.bind(this), this.fail.bind(this));
  }

  /** The user call wrapped by the instrumentation hook and/or the test clock's hold. */
  private wrappedCall(context: ExecuteContextImpl | CompensateContextImpl, hold: TimeHold | undefined): unknown {
    const stage = this.stage;
    const user = this.phase === 'execute' ? () => stage.execute(context as ExecuteContextImpl) : () => stage.compensate?.(context as CompensateContextImpl);
    const call = hold === undefined ? user : () => hold.run(user);
    return this.instrumented === undefined ? call() : this.invokeInstrumented(this.instrumented, call);
  }

  /**
   * Runs the call through the hook's `invoke`, which must call it once and return what it returns.
   * A hook that does not — throws, never calls, calls twice, returns something else — is reported
   * and otherwise ignored: the user's call is made once, and what it returned (or threw) is the
   * attempt's, never the hook's (a hook that skipped the call would complete the stage unrun).
   */
  private invokeInstrumented(instrumented: AttemptScope, call: () => unknown): unknown {
    let made: { readonly threw: boolean; readonly value: unknown } | undefined;
    let calls = 0;
    const once = (): unknown => {
      calls++;
      if (made === undefined) {
        try {
          made = { threw: false, value: call() };
        } catch (error) {
          made = { threw: true, value: error };
        }
      }
      if (made.threw) throw made.value;
      return made.value;
    };
    let broken: string | undefined;
    let cause: unknown;
    try {
      const returned = instrumented.invoke(once);
      if (made === undefined) broken = 'returned without calling it';
      else if (made.threw) broken = 'returned although the call threw';
      else if (returned !== made.value) broken = 'returned something other than what the call returned';
    } catch (error) {
      // The user's own throw passed through is the attempt's failure, not the hook's.
      if (made?.threw !== true || made.value !== error) {
        broken = `threw ${describeThrown(error)}`;
        cause = error;
      }
    }
    if (broken === undefined && calls > 1) broken = `called it ${calls} times`;
    if (broken !== undefined) {
      const { saga, state } = this.environment;
      const message = `Instrumentation's AttemptScope.invoke for stage '${this.stage.name}' (${this.phase}, attempt ${this.attempt}) of saga '${saga.name}' run ${state.runId} ${broken}; the call was made once, as without the hook.`;
      this.environment.report(new TypeError(message, cause === undefined ? {} : { cause }));
    }
    return once();
  }

  /** Fails (and aborts) the attempt if it has not settled within `timeoutMs`. */
  private armTimeout(timeoutMs: number): void {
    const { saga, state, scheduler } = this.environment;
    this.timeout = scheduleAfter(scheduler, timeoutMs, () => {
      const error = new StageTimeoutError(saga.name, state.runId, this.stage.name, this.phase, this.attempt, timeoutMs, clockNote(scheduler));
      this.abort(() => error);
      // An `execute` call that has not settled by now may still take effect: until it lands, its
      // stage must not be compensated here, nor the run handed to another process (the
      // environment keeps it as lingering). It gets one more `timeoutMs` to settle, as a call
      // waited for at a handover does (see `cancel`): past that it counts as landed.
      // (An attempt cancelled at a halt has settled already: its `landed` is the halt's, and this
      // timeout only counts its call as landed.)
      const lingers = this.phase === 'execute' && !this.settled;
      if (lingers) this.landed = this.environment.lingering(this);
      this.fail(error);
      if (lingers && this.landed !== undefined) this.timeout = scheduleAfter(scheduler, timeoutMs, () => this.land());
    });
  }

  /**
   * Whether the user's call was made and the attempt has not settled yet (its effect may still be
   * on its way). An `execute` attempt that timed out has settled, but its call may still be in
   * flight: the environment keeps those (see {@link AttemptEnvironment.lingering}).
   */
  get inFlight(): boolean {
    return this.context !== undefined && !this.settled;
  }

  /**
   * Ends the attempt now, for a run this process stops driving: the late result is ignored.
   * `landed` is called once the user's call settles, if it is still {@link inFlight}: until then,
   * what it does is unknown, and the run must not be handed to another process. A call waited for
   * so keeps its `timeoutMs`: past it the call counts as landed (its result would have been
   * ignored anyway), so a call that never settles holds its run for that long, not for ever.
   */
  cancel(landed?: () => void): void {
    const waited = landed !== undefined && this.inFlight;
    if (waited) this.landed = landed;
    this.settled = true;
    if (!waited) this.timeout?.unsubscribe();
    this.hold?.release();
  }

  /** The user's call of a cancelled attempt settled: tells whoever waits for it (once). */
  private land(): void {
    const landed = this.landed;
    if (landed === undefined) return;
    this.landed = undefined;
    this.timeout?.unsubscribe();
    landed();
  }

  private succeed(value: unknown): void {
    if (this.settled) return this.land();
    const context = this.context;
    if (context instanceof ExecuteContextImpl && context.cancelReason !== undefined) return this.fail(new StageCancelSignal(context.cancelReason));
    // Never negative, which the event schema refuses: a wall clock may be stepped back during the call.
    if (this.phase === 'compensate') {
      const now = this.environment.scheduler.now();
      return this.finish({ ok: true, output: undefined, durationMs: Math.max(0, now - (this.startedAt as number)) }, now);
    }
    let output: unknown;
    try {
      output = checkOutput(this.environment.saga, this.environment.state.runId, this.stage, value);
    } catch (error) {
      return this.fail(error);
    }
    const now = this.environment.scheduler.now();
    this.finish({ ok: true, output, durationMs: Math.max(0, now - (this.startedAt as number)) }, now);
  }

  private fail(error: unknown): void {
    if (this.settled) return this.land();
    const context = this.context;
    // `instanceof` asks the value for its prototype, which a revoked Proxy refuses with a throw.
    const cancel = isInstance(error, StageCancelSignal) ? error.reason : context instanceof ExecuteContextImpl ? context.cancelReason : undefined;
    if (cancel !== undefined) return this.finish({ ok: false, retryable: false, cancel, invoked: true, error: this.journalError(error) });
    const policy = this.phase === 'execute' ? this.stage.retry : this.stage.compensation.retry;
    const verdict = retryVerdict(policy, error);
    const journaled = this.journalError(error);
    // A broken predicate must not hide why a (perhaps transient) error was not retried.
    const noted = verdict.predicateThrew === undefined ? journaled : withSerializationNote(journaled, { retryableFailed: redactText(`the retry policy's retryable threw ${verdict.predicateThrew}; the error was treated as not retryable`) });
    this.finish({ ok: false, retryable: verdict.retryable, invoked: true, error: noted });
  }

  /**
   * The error as the journal keeps it: serialised (never throws: an unreadable error still
   * becomes one), with a hint when user code tried to change its frozen input or results, then
   * redacted (secrets by default, then the saga's `redactError`).
   */
  private journalError(error: unknown): SerializedError {
    let serialized: SerializedError;
    try {
      serialized = serializeError(error);
    } catch {
      serialized = { name: 'UnreadableError', message: 'the thrown value could not be read' };
    }
    if (serialized.name === 'TypeError' && FROZEN_WRITE.test(serialized.message)) {
      serialized = { ...serialized, message: `${serialized.message} (ctx.input and ctx.results are frozen: copy what you change, e.g. structuredClone(ctx.input))` };
    }
    const saga = this.environment.saga;
    return redactSerializedError(serialized, { saga: saga.name, stage: this.stage.name, phase: this.phase }, saga.redactError);
  }

  /** Reports the result, once; `at` is the clock reading it was taken at, if one was (see {@link AttemptEnvironment.settled}). */
  private finish(result: AttemptResult, at?: number): void {
    if (this.settled) return;
    this.settled = true;
    this.timeout?.unsubscribe();
    this.hold?.release();
    const instrumented = this.instrumented;
    if (instrumented !== undefined) {
      try {
        instrumented.end(result);
      } catch (error) {
        this.environment.report(error);
      }
    }
    this.environment.settled(this, result, at);
  }

  private instrument(context: ExecuteContextImpl | CompensateContextImpl): AttemptScope | undefined {
    const scope = this.environment.scope;
    if (scope?.attempt === undefined) return undefined;
    try {
      return scope.attempt(new AttemptDescription(this.environment.state.runId, this.environment.saga.name, this.stage.name, this.phase, this.attempt, context));
    } catch (error) {
      this.environment.report(error);
      return undefined;
    }
  }
}

/** What the stage returned, checked against its output schema and copied as plain JSON. */
function checkOutput(saga: Saga, runId: string, stage: SagaStage, value: unknown): unknown {
  let output = value;
  if (stage.output !== undefined) {
    let parsed: ReturnType<typeof stage.output.safeParse>;
    try {
      parsed = stage.output.safeParse(value);
    } catch (error) {
      // A getter of the value, or a refine or transform of the schema, that throws: the same every
      // time, so not retried, and said of the stage as an output that is not JSON is.
      throw new StageOutputError(saga.name, runId, stage.name, 'output', `could not be read by its schema: ${describeThrown(error)}`, { cause: error });
    }
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path = ['output', ...(issue?.path ?? []).map(String)].join('.');
      throw new StageOutputError(saga.name, runId, stage.name, path, `does not match the stage's output schema: ${issue?.message ?? 'invalid'}`);
    }
    output = parsed.data;
  }
  const copy = copyJsonValue(output, 'output');
  if (copy instanceof NotJson) throw new StageOutputError(saga.name, runId, stage.name, copy.problem.path, copy.problem.problem);
  return copy;
}

/** V8's messages for a write to a frozen object (strict mode, as ES modules are). */
const FROZEN_WRITE = /object is not extensible|read[- ]only property|Cannot assign to read only|Cannot delete property|Cannot add property/;

/** What {@link retryVerdict} answers: whether the error is retried, and what the policy's `retryable` threw, if it threw. */
interface RetryVerdict {
  readonly retryable: boolean;
  readonly predicateThrew?: string;
}

/** The verdicts with nothing to report, shared: a failed attempt allocates one only when `retryable` threw. */
const RETRY: RetryVerdict = Object.freeze({ retryable: true });
const NO_RETRY: RetryVerdict = Object.freeze({ retryable: false });

/** Whether the error is retried, and, when the policy's `retryable` threw, what it threw (the error is then not retried). */
function retryVerdict(policy: ResolvedRetryPolicy, error: unknown): RetryVerdict {
  if (isNonRetryable(error)) return NO_RETRY;
  if (policy.retryable === undefined) return RETRY;
  try {
    return policy.retryable(error) === true ? RETRY : NO_RETRY;
  } catch (thrown) {
    return { retryable: false, predicateThrew: describeThrown(thrown) };
  }
}

/**
 * A `NonRetryableError`, or a subclass, from this copy of sagaflow or another one (a saga module
 * built against a second install): matched by class, else by its stable code.
 */
function isNonRetryable(error: unknown): boolean {
  if (isInstance(error, NonRetryableError)) return true;
  try {
    return error instanceof Error && (error as { code?: unknown }).code === SagaErrorCode.NonRetryable;
  } catch {
    return false;
  }
}

/** `value instanceof type`, false for a value that refuses to be asked (a revoked Proxy). */
function isInstance<T>(value: unknown, type: abstract new (...args: never[]) => T): value is T {
  try {
    return value instanceof type;
  } catch {
    return false;
  }
}

/** How a scheduler that is not real time describes its clock in a timeout message (the test kit's virtual clock does). */
function clockNote(scheduler: SchedulerLike): string | undefined {
  const note = timeHoldingClock(scheduler)?.timeoutNote;
  return typeof note === 'string' ? note : undefined;
}
