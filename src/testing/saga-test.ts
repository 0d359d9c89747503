import type { AnySaga, Saga, SagaOutputs } from '../definition/saga.js';
import { quoteName } from '../definition/identifier.js';
import { signalWaitsOf } from '../definition/signal-waits.js';
import { RunStateError } from '../errors/run-errors.js';
import { reportableError } from '../errors/safe-read.js';
import { foldJournal, type WaitState } from '../journal/fold.js';
import { toOutcome, type SagaOutcome, type StageNameOf } from '../journal/outcome.js';
import type { SagaEvent } from '../journal/saga-event.js';
import { createOrchestrator, defaultOnError, type ContinueOptions, type Orchestrator, type OrchestratorErrorContext, type StartOptions } from '../runtime/orchestrator.js';
import type { SagaRun } from '../runtime/saga-run.js';
import type { SignalOptions, SignalResult } from '../runtime/signal-delivery.js';
import { MemoryStore } from '../stores/memory-store.js';
import type { SagaStore } from '../stores/saga-store.js';
import { crashingStore, SimulatedCrashError } from './crash-store.js';
import { withFaults, type CrashFault, type Fault } from './faults.js';
import { UNANSWERED_SIGNAL_WARNING_MS, warnOfUnansweredSignals } from './unanswered-signals.js';
import { createVirtualClock, type VirtualClock } from './virtual-clock.js';

/**
 * Options of {@link createSagaTest}.
 *
 * @remarks
 * Everything is optional: the defaults are a fresh `MemoryStore`, an auto-advancing virtual
 * clock, no faults, and jitter fixed at the middle of its range, so two runs of a test write the
 * same journal. Share `store` (and `clock`) between two harnesses to crash in one and resume in
 * the other. Pass the sagas a resume, redrive or compensate will need in `sagas`.
 *
 * @example
 * ```ts
 * import { MemoryStore } from 'sagaflow';
 * import { failStage, type SagaTestOptions } from 'sagaflow/testing';
 * const options: SagaTestOptions = { store: new MemoryStore(), faults: [failStage('credit')] };
 * ```
 */
export interface SagaTestOptions {
  /** Sagas to register (for resume, redrive, compensate). Sagas passed to `run` are registered too. */
  readonly sagas?: readonly AnySaga[] | undefined;
  /** Where journals live. Default: a new `MemoryStore`. Pass a `SqliteStore` to test durability. */
  readonly store?: SagaStore | undefined;
  /** The clock. Default: a new auto-advancing {@link VirtualClock}, so no test waits for real. */
  readonly clock?: VirtualClock | undefined;
  /** What goes wrong. Stage faults apply to every saga run through this harness. */
  readonly faults?: readonly Fault[] | undefined;
  /** Source of retry jitter. Default: always 0.5, so delays are deterministic. */
  readonly random?: (() => number) | undefined;
  /**
   * How long, in real milliseconds, a run of `run()` may wait for a signal that nothing will send
   * before the harness warns on the console: a signal wait with no `timeoutMs` whose signal the
   * `signals` option does not answer, with no other event of the run meanwhile. Such a run waits
   * until the test sends the signal itself (`h.signal`), or for ever, and a test that forgot
   * `signals` would otherwise hang silently until its runner's timeout. The run is not changed.
   * Default 2 000; `0` (or `Infinity`) never warns. A number >= 0, or `createSagaTest` throws a `TypeError`.
   */
  readonly unansweredSignalWarningMs?: number | undefined;
}

/**
 * Everything a test wants to know about a run: its outcome, its journal, and whether the
 * simulated crash stopped it.
 *
 * @remarks
 * `journal` is read back from the store after the run stopped, so it is exactly what a resume
 * would see. Assert orders on `trace` (`'stage.completed:debit'`, `'run.compensated'`…) and
 * endings on `outcome`; when `crashed` is true, `outcome` is folded from the journal and shows a
 * live status.
 *
 * @typeParam TOutputs - the saga's stage outputs.
 *
 * @example
 * ```ts
 * import type { SagaTestResult } from 'sagaflow/testing';
 * const undone = (result: SagaTestResult) => result.outcome.compensationOrder;
 * ```
 */
export interface SagaTestResult<TOutputs = Record<string, unknown>> {
  /** The run's id. */
  readonly runId: string;
  /** The outcome; for a crashed run, the outcome folded from what was persisted (status `running` or `compensating`). */
  readonly outcome: SagaOutcome<TOutputs>;
  /** The persisted journal. */
  readonly journal: readonly SagaEvent[];
  /** `type:stage` of every journal event, for readable order assertions. */
  readonly trace: readonly string[];
  /** Whether a `crashAfter` fault stopped the run. */
  readonly crashed: boolean;
}

/**
 * Options of {@link SagaTest.run}: the orchestrator's start options, and the signals to answer
 * the run's waits with.
 *
 * @remarks
 * `signals` maps a signal's name to its payload. The harness sends it when the run's
 * `wait.started` for that name is durable, synchronously, so an auto-advancing virtual clock
 * cannot fire the wait's timeout first. Leave a name out to test the timeout.
 *
 * For a saga built with `defineSaga`, `run` types `signals` with the saga's waits: a name no
 * stage waits for, or a payload that is not what the wait's schema reads, does not compile (and
 * is refused at run time too, for a saga whose signals are not known to the types).
 *
 * @typeParam TSignals - the payloads (as sent) of the saga's signals, by signal name; any name
 *   and payload when not known.
 *
 * @example
 * ```ts
 * import type { SagaTestRunOptions } from 'sagaflow/testing';
 * const options: SagaTestRunOptions = { signals: { approval: { approved: true, by: 'ann' } } };
 * ```
 */
export interface SagaTestRunOptions<TSignals = unknown> extends StartOptions {
  /** Payloads by signal name, sent as soon as a stage waits for that signal. */
  readonly signals?: SignalPayloads<TSignals> | undefined;
}

/**
 * Options of {@link SagaTest.resume}, `redrive` and `compensate`: the orchestrator's, and the
 * signals to answer the run's waits with.
 *
 * @remarks
 * `signals` answers waits as in {@link SagaTestRunOptions}: each signal named there is sent once
 * to every wait for it that is still open when the run is picked up (the wait a `crashAfter` left
 * it in) or that starts later, before an auto-advancing virtual clock can time the wait out. With
 * `{ saga }` the names and payloads are typed with the saga's waits, and a name no stage of it
 * waits for is refused before the run is picked up.
 *
 * @typeParam TSaga - the saga given as `{ saga }`, when the call says which saga the run is of.
 *
 * @example
 * ```ts
 * import type { SagaTestContinueOptions } from 'sagaflow/testing';
 * const options: SagaTestContinueOptions = { signals: { approved: { by: 'ann' } } };
 * ```
 */
export interface SagaTestContinueOptions<TSaga extends AnySaga = Saga> extends ContinueOptions<TSaga> {
  /** Payloads by signal name, sent to each wait for that signal, open or to come. */
  readonly signals?: SignalPayloads<TSaga extends Saga<infer _TInput, infer _TOutputs, infer _TRawInput, infer TSignals> ? TSignals : unknown> | undefined;
}

/**
 * The payloads a test may send to a saga's signal waits: the type of `signals` in
 * {@link SagaTestRunOptions}.
 *
 * @remarks
 * For a saga built with `defineSaga`, one optional payload per signal its wait stages wait for,
 * typed as the wait's schema reads it (before its defaults and transforms): a misspelt name is an
 * excess property, a payload of the wrong shape a type error. For a saga without signal waits
 * every name reads as the message `'no stage of this saga waits for a signal'`. When the saga's
 * signals are not known (`TSignals` is `unknown`, as for a plain `Saga`), any name and payload.
 *
 * @typeParam TSignals - the saga's signals: payload types keyed by signal name.
 *
 * @example
 * ```ts
 * import type { SignalPayloads } from 'sagaflow/testing';
 * const answers: SignalPayloads<{ approved: { by: string } }> = { approved: { by: 'ann' } };
 * ```
 */
export type SignalPayloads<TSignals> = unknown extends TSignals
  ? Readonly<Record<string, unknown>>
  : [keyof TSignals] extends [never]
    ? { readonly [name: string]: 'no stage of this saga waits for a signal' }
    : { readonly [K in keyof TSignals]?: TSignals[K] };

/**
 * A test harness: an orchestrator on virtual time, with faults, whose runs resolve to a
 * {@link SagaTestResult} for every ending (never rejecting for a failed or crashed run).
 *
 * @remarks
 * `run`, `resume`, `redrive` and `compensate` resolve once the run settles or the simulated crash
 * stops it; they reject only for what the orchestrator refuses (`RunNotFoundError`,
 * `RunStateError`…), bad input (`SagaInputError`) or a real store failure. Like every sagaflow
 * function that returns a promise, they never throw synchronously: `await expect(harness.run(saga,
 * bad)).rejects.toThrow(SagaInputError)` works. After a `crashAfter` fault has fired, the harness writes nothing more: continue in a
 * new harness on the same `store`.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineSaga } from 'sagaflow';
 * import { crashAfter, createSagaTest } from 'sagaflow/testing';
 *
 * const saga = defineSaga({ name: 'two-steps', input: z.object({}) })
 *   .stage('a', { execute: async () => 1 })
 *   .stage('b', { execute: async () => 2 })
 *   .build();
 * const first = createSagaTest({ faults: [crashAfter((event) => event.type === 'stage.completed' && event.stage === 'a')] });
 * const crashed = await first.run(saga, {});
 * const second = createSagaTest({ store: first.store, sagas: [saga] });
 * const resumed = await second.resume(crashed.runId);
 * console.log(crashed.crashed, resumed.outcome.status); // true 'completed'
 * await second.close();
 * ```
 */
export interface SagaTest {
  /** The orchestrator runs go through. */
  readonly orchestrator: Orchestrator;
  /** The store journals are written to (the durable one, without the crash wrapper). */
  readonly store: SagaStore;
  /** The virtual clock. */
  readonly clock: VirtualClock;
  /**
   * Starts a run and waits for it to settle (or crash). Rejects with `SagaInputError` for bad input.
   * `options.signals` answers the run's signal waits: each signal named there is sent (once) the
   * moment a stage starts waiting for it, before virtual time can move on to the wait's timeout.
   * A name no stage of the saga waits for rejects with a `TypeError` before the run starts; a
   * payload the wait's schema refuses cancels the run and rejects with that `SignalPayloadError`.
   */
  run<TInput, TOutputs, TRawInput, TSignals>(
    saga: Saga<TInput, TOutputs, TRawInput, TSignals>,
    input: NoInfer<TRawInput>,
    options?: SagaTestRunOptions<NoInfer<TSignals>>,
  ): Promise<SagaTestResult<TOutputs>>;
  /** Sends a signal to a run (`orchestrator.signal`): a stored one, or one a `run` is driving. */
  signal(runId: string, name: string, payload?: unknown, options?: SignalOptions): Promise<SignalResult>;
  /**
   * Resumes a stored run (e.g. after a `crashAfter` in another harness on the same store). Pass
   * `{ saga }` to type the result with the saga's stages, as `run`'s is; `signals` answers its
   * waits, the one it was left in included (see {@link SagaTestContinueOptions}).
   */
  resume<TSaga extends AnySaga = Saga>(runId: string, options?: SagaTestContinueOptions<TSaga>): Promise<SagaTestResult<SagaOutputs<TSaga>>>;
  /** Redrives a paused or compensation_failed run. Pass `{ saga }` to type the result, and `signals`, as for `resume`. */
  redrive<TSaga extends AnySaga = Saga>(runId: string, options?: SagaTestContinueOptions<TSaga>): Promise<SagaTestResult<SagaOutputs<TSaga>>>;
  /** Rolls back a paused run. Pass `{ saga }` to type the result, as for `resume`. */
  compensate<TSaga extends AnySaga = Saga>(runId: string, options?: ContinueOptions<TSaga>): Promise<SagaTestResult<SagaOutputs<TSaga>>>;
  /** Closes the orchestrator. */
  close(): Promise<void>;
}

/**
 * Creates a {@link SagaTest} harness.
 *
 * @remarks
 * Runs need no server, no Docker and no real waiting: retries and timeouts follow the virtual
 * clock, faults are injected without editing the saga, and `crashAfter` stops the harness
 * right after a chosen event so another harness on the same store can resume.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineSaga } from 'sagaflow';
 * import { createSagaTest, failStage } from 'sagaflow/testing';
 *
 * const transfer = defineSaga({ name: 'transfer', input: z.object({ cents: z.number() }) })
 *   .stage('debit', { execute: async () => ({ entry: 'd1' }), compensate: async () => undefined })
 *   .stage('credit', { execute: async () => ({ entry: 'c1' }), retry: { maxAttempts: 3, initialDelayMs: 30_000 } })
 *   .build();
 *
 * const harness = createSagaTest({ faults: [failStage('credit')] });
 * const result = await harness.run(transfer, { cents: 100 });
 * console.log(result.outcome.status, result.outcome.compensationOrder); // 'compensated' ['debit'], instantly
 * ```
 */
export function createSagaTest(options: SagaTestOptions = {}): SagaTest {
  const warningMs = options.unansweredSignalWarningMs ?? UNANSWERED_SIGNAL_WARNING_MS;
  if (typeof warningMs !== 'number' || !(warningMs >= 0)) {
    throw new TypeError(`createSagaTest(): unansweredSignalWarningMs must be a number of milliseconds >= 0 (0: never warn), got ${String(warningMs)}.`);
  }
  const clock = options.clock ?? createVirtualClock();
  const durable = options.store ?? new MemoryStore();
  const faults = options.faults ?? [];
  const crashFaults = faults.filter((fault): fault is CrashFault => fault.kind === 'crash-after');
  const store = crashFaults.length === 0 ? undefined : crashingStore(durable, crashFaults);
  const faulty = new Map<AnySaga, AnySaga>();
  const withInjected = <TSaga extends AnySaga>(saga: TSaga): TSaga => {
    let wrapped = faulty.get(saga);
    if (wrapped === undefined) {
      wrapped = withFaults(saga, faults, clock);
      faulty.set(saga, wrapped);
    }
    return wrapped as TSaga;
  };
  const orchestrator = createOrchestrator({
    store: store ?? durable,
    sagas: (options.sagas ?? []).map(withInjected),
    scheduler: clock,
    random: options.random ?? (() => 0.5),
    onError: reportUnlessSimulatedCrash,
  });

  const settle = async <TOutputs>(run: SagaRun<TOutputs>): Promise<SagaTestResult<TOutputs>> => {
    let outcome: SagaOutcome<TOutputs> | undefined;
    let crashed = false;
    try {
      outcome = await run.outcome;
    } catch (error) {
      if (!(error instanceof SimulatedCrashError)) throw error;
      crashed = true;
    }
    const journal = (await durable.load(run.runId)) ?? [];
    outcome ??= toOutcome<TOutputs>(foldJournal(journal));
    return { runId: run.runId, outcome, journal, trace: traceOf(journal), crashed };
  };

  /** `resume` or `redrive`, answering the run's signal waits with `signals`, as `run` does. */
  const answered = async <TSaga extends AnySaga>(mode: 'resume' | 'redrive', runId: string, given: SagaTestContinueOptions<TSaga> | undefined): Promise<SagaTestResult<SagaOutputs<TSaga>>> => {
    const { signals, ...continueOptions } = given ?? {};
    if (signals !== undefined && continueOptions.saga !== undefined) refuseUnknownSignals(continueOptions.saga, signals, `${mode}()`);
    // The journal so far: the waits it left open are answered as the run is picked up, not as its replay goes by.
    const journal = signals === undefined ? undefined : ((await durable.load(runId)) ?? []);
    const run = orchestrator[mode](runId, withSaga(continueOptions, withInjected));
    const refusal = signals === undefined ? undefined : answerSignals(orchestrator, run, signals, journal);
    const result = await settle(run);
    if (refusal?.error !== undefined) throw refusal.error;
    return result;
  };

  return {
    orchestrator,
    store: durable,
    clock,
    // `async`: a function that returns a promise reports every error as a rejection, bad input
    // included (what `start` throws synchronously), so `await expect(h.run(…)).rejects` works.
    run: async (saga, input, runOptions) => {
      const { signals, ...startOptions } = runOptions ?? {};
      if (signals !== undefined) refuseUnknownSignals(saga, signals, 'run()');
      const run = orchestrator.start(withInjected(saga), input, startOptions);
      const refusal = signals === undefined ? undefined : answerSignals(orchestrator, run, signals);
      warnOfUnansweredSignals(run, saga.name, new Set(signals === undefined ? [] : Object.keys(signals)), warningMs, (message) => console.warn(message));
      const result = await settle(run);
      if (refusal?.error !== undefined) throw refusal.error;
      return result;
    },
    signal: (runId, name, payload, signalOptions) => orchestrator.signal(runId, name, payload, signalOptions),
    resume: async (runId, continueOptions) => answered('resume', runId, continueOptions),
    redrive: async (runId, continueOptions) => answered('redrive', runId, continueOptions),
    compensate: async (runId, continueOptions) => settle(orchestrator.compensate(runId, withSaga(continueOptions, withInjected))),
    close: () => orchestrator.close(),
  };
}

/**
 * The harness's `onError`: the orchestrator's default report (a subscriber's error with its stack,
 * anything else as one line on stderr), except for the simulated crash itself. After `crashAfter`
 * the store refuses the lease's release too, as a dead process would never send it; that is the
 * crash the test asked for, not a problem to print in the middle of the test's output.
 */
function reportUnlessSimulatedCrash(error: Error, context: OrchestratorErrorContext): void {
  if (error instanceof SimulatedCrashError) return;
  defaultOnError(error, context);
}

/** A name in `signals` that no stage of the saga waits for is a typo: it would never be sent. */
function refuseUnknownSignals(saga: AnySaga, signals: Readonly<Record<string, unknown>>, call: string): void {
  const { bySignal, known } = signalWaitsOf(saga as Saga);
  for (const name of Object.keys(signals)) {
    if (bySignal.has(name)) continue;
    const waits = known.length === 0 ? 'it has no signal waits' : `it waits for ${known.map((entry) => `'${entry.signal}' (stage '${entry.stage}')`).join(', ')}`;
    throw new TypeError(`createSagaTest().${call}: options.signals names signal ${quoteName(name)}, which no stage of saga '${saga.name}' waits for (${waits}).`);
  }
}

/**
 * Sends each named signal once a stage waits for it. A payload the run refuses (its schema's) is
 * the test's mistake, not an outcome: the run is cancelled, so that it neither waits for ever nor
 * holds `close()`, and the refusal is kept for `run` to reject with. A run that stopped going
 * forward meanwhile (`RunStateError`) just was not signalled.
 */
function answerSignals(orchestrator: Orchestrator, run: SagaRun<unknown>, signals: Readonly<Record<string, unknown>>, journal?: readonly SagaEvent[]): { error: Error | undefined } {
  const refusal: { error: Error | undefined } = { error: undefined };
  // One id per wait (its stage and the seq it is answered from): sent again, the run journals it once.
  const answer = (stage: string, signal: string | undefined, seq: number): void => {
    if (signal === undefined || !Object.hasOwn(signals, signal)) return;
    orchestrator.signal(run.runId, signal, signals[signal], { signalId: `test-${stage}-${seq}` }).catch((error: unknown) => {
      if (error instanceof RunStateError || refusal.error !== undefined) return;
      refusal.error = reportableError(error);
      // The reason names the signal only (quoted printable): the error, which run() rejects with, may hold any text.
      run.cancel(`the test harness could not send signal ${quoteName(signal)}`);
    });
  };
  // A run picked up again: the waits the fold of its journal leaves open are answered now; its replay is not (a wait it replays may be over).
  const replayedUpTo = journal === undefined ? -1 : (journal[journal.length - 1]?.seq ?? -1);
  if (journal !== undefined && journal.length > 0) {
    for (const [stage, wait] of openWaitsOf(journal)) if (wait.kind === 'signal') answer(stage, wait.signal, replayedUpTo);
  }
  run.events$.subscribe((event) => {
    // A wait satisfied as it starts by a buffered signal (signalId) needs no answer.
    if (event.type === 'wait.started' && event.seq > replayedUpTo && event.signalId === undefined) answer(event.stage, event.signal, event.seq);
  });
  return refusal;
}

/** The waits a stored journal leaves open, from its fold; none when it cannot be folded (the resume says why). */
function openWaitsOf(journal: readonly SagaEvent[]): ReadonlyMap<string, WaitState> {
  try {
    return foldJournal(journal).waits ?? new Map<string, WaitState>();
  } catch {
    return new Map<string, WaitState>();
  }
}

function withSaga<TSaga extends AnySaga>(options: ContinueOptions<TSaga> | undefined, inject: (saga: TSaga) => TSaga): ContinueOptions<TSaga> {
  return options?.saga === undefined ? {} : { saga: inject(options.saga) };
}

/**
 * A compact `type:stage` trace of a journal, for order assertions.
 *
 * @remarks
 * Events about a stage read `type:stage` (`'compensation.completed:debit'`); run events read as
 * their type alone (`'run.compensating'`). Attempts, outputs and errors are left out: assert
 * those on the outcome or the journal. `SagaTestResult.trace` is this, already computed.
 *
 * @example
 * ```ts
 * import type { SagaEvent } from 'sagaflow';
 * import { traceOf } from 'sagaflow/testing';
 * declare const journal: readonly SagaEvent[];
 * const rollback = traceOf(journal).filter((entry) => entry.startsWith('compensation.completed:'));
 * // e.g. ['compensation.completed:credit', 'compensation.completed:debit']
 * ```
 */
export function traceOf(journal: readonly SagaEvent[]): string[] {
  return journal.map((event) => ('stage' in event ? `${event.type}:${event.stage}` : event.type));
}

/**
 * Checks the rollback invariant of a sequential saga: the stages compensated are exactly the
 * completed stages that compensate, undone in reverse completion order.
 *
 * @remarks
 * Returns a list of problems, empty when it holds: meant for property tests over random failure
 * points. It applies to `compensation: 'sequential'` sagas whose rollback completed; a
 * `parallel` rollback, a `compensateOnFailure` stage, a run kept by `onCancel: 'keep'` or a
 * completed run break its assumptions. Stages without `compensate` must be left out through
 * `compensates`. A name there that is no stage of the saga is a problem of its own (a typo would
 * leave the stage it meant out of the check, hiding a compensation that did not run); for a typed
 * saga's outcome it is a compile error too.
 *
 * @param compensates - the stages that have a `compensate` (default: every completed stage, so a
 * saga with a wait or a sleep stage, which never compensates, needs the list).
 *
 * @example
 * ```ts
 * import type { SagaOutcome } from 'sagaflow';
 * import { rollbackProblems } from 'sagaflow/testing';
 * declare const outcome: SagaOutcome;
 * if (rollbackProblems(outcome).length > 0) throw new Error(rollbackProblems(outcome).join('\n'));
 * ```
 */
export function rollbackProblems<TOutputs = unknown>(outcome: SagaOutcome<TOutputs>, compensates?: readonly NoInfer<StageNameOf<TOutputs>>[]): string[] {
  // Read through the untyped outcome, which every typed one is: stage names as strings.
  const run: SagaOutcome<unknown> = outcome;
  const listed: readonly string[] | undefined = compensates;
  const problems: string[] = [];
  for (const name of listed ?? []) {
    if (Object.hasOwn(run.stages, name)) continue;
    problems.push(`compensates names ${quoteName(name)}, which is not a stage of saga '${run.saga}' (its stages: ${Object.keys(run.stages).join(', ')})`);
  }
  const expected = run.completionOrder.filter((stage) => listed === undefined || listed.includes(stage)).reverse();
  const actual = run.compensationOrder;
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    const order = listed === undefined ? 'reverse completion order of every completed stage, as no `compensates` list was given' : 'reverse completion order';
    problems.push(`expected compensations ${JSON.stringify(expected)} (${order}), got ${JSON.stringify(actual)}`);
  }
  for (const [stage, record] of Object.entries(run.stages)) {
    if (record.status === 'completed' && run.status !== 'completed' && expected.includes(stage)) {
      // Without a list every completed stage is expected to compensate; a stage with nothing to undo (a wait or a
      // sleep, or one declared without compensate) was rightly passed over, and only the list can say so.
      const hint = listed === undefined ? ': if it has no compensate (a wait or a sleep never has one), pass `compensates`, the stages that have one' : '';
      problems.push(`stage '${stage}' completed but was not compensated${hint}`);
    }
  }
  return problems;
}
