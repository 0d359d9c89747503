import type { SchedulerLike, Subscription } from 'rxjs';
import type { Saga } from '../definition/saga.js';
import { RunStateError } from '../errors/run-errors.js';
import { reportableError } from '../errors/safe-read.js';
import { StoreCorruptionError } from '../errors/store-errors.js';
import { applyEvent, foldEvents, type MutableRunState, type RunState } from '../journal/fold.js';
import type { SagaEvent } from '../journal/saga-event.js';
import { topologyOf } from '../journal/topology.js';
import { copiesAppends } from '../stores/memory-store.js';
import type { LeaseToken, SagaStore, SignalRequest } from '../stores/saga-store.js';
import { Attempt, type AttemptEnvironment } from './attempt.js';
import { decide, isAppend, recycleCommands, restingUntil, STEP, type AttemptPhase, type AttemptResult, type Command, type DefinitionChange, type Effect, type Trigger } from './decider.js';
import type { DriveInfo, DriveScope, Instrumentation } from './instrumentation.js';
import { scheduleAfter } from './long-delay.js';
import { prepareSignal } from './signal-delivery.js';
import { holdTimeUntilSettled } from './time-hold.js';
import { youngArray } from './young-array.js';

/** Where a driven run reports: the run's handle (an orchestrator) or a worker. */
export interface RunHost {
  /** An event of the run is durable; called in journal order. */
  event(event: SagaEvent): void;
  /** The run settled: its last event is durable. Called once. */
  settled(state: RunState): void;
  /**
   * This process stopped driving the run without settling it (store failure, lost lease, detach).
   * Called once. `landed`: calls of user code (`execute` or `compensate`) were still in flight
   * (their signals are aborted, but they may ignore them); it resolves once every one of them
   * has settled. Until then their effects are unknown and may still be on their way: the lease
   * must not be given back before, or another process would run that stage again beside this
   * one, or compensate it before its effect landed.
   */
  halted(error: Error, landed: Promise<void> | undefined): void;
  /**
   * The run has nothing to do but wait (see {@link restingUntil}), and everything it decided is
   * durable: the host may {@link RunInterpreter.park} it. `wakeAt` is the earliest due time of its
   * waits (epoch ms on the scheduler's clock), `null` when only a signal or a cancel wakes it.
   */
  resting?(wakeAt: number | null): void;
}

/**
 * What every run an orchestrator or a worker drives shares: the store, the clock, jitter, the
 * instrumentation, and where problems that do not stop a run are reported.
 */
export interface InterpreterEnvironment {
  readonly store: SagaStore;
  readonly scheduler: SchedulerLike;
  readonly random: () => number;
  readonly instrumentation: Instrumentation | undefined;
  /** Reports a problem that does not stop the run (a throwing instrumentation hook). */
  readonly report: (error: unknown, runId: string) => void;
}

/**
 * Drives one run: carries out the decider's commands — appends (write-ahead, in order, batched
 * while a write is in flight), attempts of user code, aborts, timers — and feeds what happens back
 * to the decider as triggers.
 *
 * @remarks
 * The only place with I/O and time for a run. Decisions are the decider's ({@link decide}); state
 * is the fold's. Two rules make it safe: an event is folded as soon as it is decided and written
 * in decision order, and a command other than an append waits until every event appended before
 * it is durable, so user code runs only once the event announcing it is in the journal, and the
 * run's host hears only of durable events. Every append carries the run's lease: a process that
 * lost the run writes nothing more.
 */
export class RunInterpreter implements AttemptEnvironment {
  readonly state: MutableRunState;
  readonly runId: string;
  /** Triggers that came while reacting; made for the first (most runs never get one). */
  private pendingTriggers: Trigger[] | undefined;
  private reacting = false;
  /** Events folded and not yet written; made for the first (a run waiting on user code holds none). */
  private queued: SagaEvent[] | undefined;
  private writing = false;
  private durableSeq: number;
  private lastQueuedSeq: number;
  /**
   * The one effect waiting for the events appended before it to be durable, while it is the only
   * one (a chain's next attempt, waiting for its `stage.started`): held in two fields, so that
   * most runs never make {@link RunInterpreter.deferred}. Empty whenever that array is not.
   */
  private deferredEffect: Effect | undefined;
  /** The seq {@link RunInterpreter.deferredEffect} waits for. */
  private deferredSeq = 0;
  /**
   * Effects waiting for the events appended before them to be durable, once more than one waits,
   * in groups: the seq a group waits for, then its effects: `[seq, effect, effect, seq, effect,
   * …]` (one array, not two: once made, it lives as long as the run, and is never pretenured: see
   * youngArray). Effects waiting on events of the same unwritten batch share one group (they
   * become durable together), so a fan-out of n stages defers n + 1 entries, not 2n: under
   * 16,000, which keeps the array out of the large-object space for a fan-out of 10,000.
   */
  private deferred: Array<number | Effect> | undefined;
  /** Whether the last group deferred waits on events still queued (not handed to the store yet). */
  private deferredOpen = false;
  /**
   * Attempts in flight: the one attempt itself while there is one (a run waiting on user code
   * holds no array for it), else an array of several, each knowing its slot (cheaper than a Set
   * for the usual handful), kept until it empties.
   */
  private attempts: Attempt | Attempt[] | undefined;
  /** Timed-out `execute` calls still in flight, and what waits for them (see {@link RunInterpreter.lingering}); undefined when none. */
  private lingeringCalls: LingeringCalls | undefined;
  /** Pending retry timers by `phase:stage`; made for the first one. */
  private timers: Map<string, Subscription> | undefined;
  private ended: 'settled' | 'halted' | 'parked' | undefined;
  /** Signal requests from the store this definition refused; made for the first. */
  private refusedSignals: Set<string> | undefined;
  /** The drive's instrumentation, if any (read by its attempts: see {@link AttemptEnvironment}). */
  scope: DriveScope | undefined;
  /** The events of the write in flight. */
  private inWrite: SagaEvent[] | undefined;
  /** The journal the run was picked up with, until {@link RunInterpreter.begin} hands it to the instrumentation. */
  private journal: readonly SagaEvent[] | undefined;
  /**
   * Whether the store keeps nothing of an append request once `append` returns (see
   * {@link copiesAppends}): then each write's events array is emptied and filled again by the
   * next write. Any other store gets a new array each time.
   */
  private readonly recycles: boolean;
  /** The last write's events array, emptied, for the next write to fill (see {@link RunInterpreter.recycles}). */
  private spareQueue: SagaEvent[] | undefined;
  /**
   * The write callbacks, made once per run rather than once per write: bound methods (48 bytes
   * each), not arrow functions, which would add a context they share (two closures and a context
   * are 168 bytes held by every run in flight; these, 96).
   */
  private readonly onWritten: () => void;
  private readonly onWriteFailed: (error: unknown) => void;

  /**
   * @param journal - the run's journal so far: `[run.started]` for a new run (written by
   *   {@link RunInterpreter.create}), or everything stored for a run picked up.
   * @param folded - `foldForDrive(journal, saga)` when the caller has already folded it (a run
   *   picked up was folded to check it): taken over, not folded again. Never read or changed by
   *   anyone else afterwards.
   */
  constructor(
    private readonly options: InterpreterEnvironment,
    /** The definition the run is driven by. */
    readonly saga: Saga,
    private readonly lease: LeaseToken,
    private readonly host: RunHost,
    journal: readonly SagaEvent[],
    folded?: MutableRunState,
  ) {
    this.journal = journal;
    this.state = folded ?? foldForDrive(journal, saga);
    this.runId = this.state.runId;
    this.durableSeq = this.state.lastSeq;
    this.lastQueuedSeq = this.state.lastSeq;
    this.recycles = copiesAppends(options.store);
    this.onWritten = this.written.bind(this);
    this.onWriteFailed = this.writeFailed.bind(this);
  }

  /** The clock of this run's attempts (see {@link AttemptEnvironment}). */
  get scheduler(): SchedulerLike {
    return this.options.scheduler;
  }

  /**
   * An `execute` attempt of this run timed out with its call still in flight (see
   * {@link AttemptEnvironment.lingering}): until the call lands, its stage is not compensated here
   * (a compensation of it waits, {@link RunInterpreter.startAttempt}), the run does not rest, and
   * a halt's landing waits for it too, so that no undo here or in another process comes before
   * the effect it undoes.
   */
  lingering(attempt: Attempt): () => void {
    (this.lingeringCalls ??= { calls: [], waiting: [], landedAfterHalt: undefined, pauseHeld: false }).calls.push(attempt);
    return () => this.landedLate(attempt);
  }

  /** A lingering call landed: compensations of its stage that waited for it go on. */
  private landedLate(attempt: Attempt): void {
    const lingering = this.lingeringCalls;
    const index = lingering?.calls.indexOf(attempt) ?? -1;
    if (lingering === undefined || index < 0) return;
    lingering.calls.splice(index, 1);
    if (this.ended !== undefined) {
      if (lingering.calls.length === 0) this.lingeringCalls = undefined;
      lingering.landedAfterHalt?.();
      return;
    }
    for (const compensation of lingering.waiting.slice()) {
      if (this.lingers(compensation.stage.name)) continue;
      lingering.waiting.splice(lingering.waiting.indexOf(compensation), 1);
      compensation.invoke();
    }
    if (lingering.calls.length === 0 && this.lingeringCalls === lingering) {
      this.lingeringCalls = undefined;
      if (lingering.pauseHeld) return this.react(STEP);
    }
    if (this.host.resting !== undefined) this.offerRest();
  }

  /** Whether a timed-out `execute` call of `stage` is still in flight (see {@link RunInterpreter.lingering}). */
  private lingers(stage: string): boolean {
    const calls = this.lingeringCalls?.calls;
    if (calls === undefined) return false;
    for (const attempt of calls) if (attempt.stage.name === stage) return true;
    return false;
  }

  /** An attempt of this run settled (see {@link AttemptEnvironment.settled}). */
  settled(attempt: Attempt, result: AttemptResult, at?: number): void {
    this.removeAttempt(attempt);
    if (this.ended !== undefined) return;
    const jitter = result.ok ? 0 : this.options.random();
    // A trigger is read by the decision it starts and kept by nobody, unless it has to wait for
    // the decision in progress: outside one, the spare serves (one object for every attempt of
    // every run, instead of one per attempt), taken while in use so that a run settling meanwhile
    // makes its own.
    const spare = this.reacting ? undefined : spareSettled;
    if (spare === undefined) {
      this.react({ type: 'settled', phase: attempt.phase, stage: attempt.stage.name, attempt: attempt.attempt, result, jitter }, at);
      return;
    }
    spareSettled = undefined;
    spare.phase = attempt.phase;
    spare.stage = attempt.stage.name;
    spare.attempt = attempt.attempt;
    spare.result = result;
    spare.jitter = jitter;
    this.react(spare, at);
    spare.result = NO_RESULT; // keeps no user value alive
    spareSettled = spare;
  }

  /** An instrumentation hook of an attempt threw: reported, never breaking the attempt (see {@link AttemptEnvironment.report}). */
  report(error: unknown): void {
    this.options.report(error, this.runId);
  }

  /** Whether a write of the run's events (or its creation) is in flight: once it lands, the run may have moved on, or settled. */
  get writeInFlight(): boolean {
    return this.writing;
  }

  /** Whether this process still drives the run. */
  get active(): boolean {
    return this.ended === undefined;
  }

  /** Writes a new run's `run.started` with this process's lease, then starts it. */
  create(leaseMs: number): void {
    const started = this.journal?.[0] as Extract<SagaEvent, { type: 'run.started' }>;
    this.begin('start');
    this.writing = true;
    let created: Promise<void>;
    try {
      created = this.options.store.create({ event: started, owner: { owner: this.lease.owner, leaseMs } });
    } catch (error) {
      created = Promise.reject(reportableError(error));
    }
    created.then(() => {
      this.writing = false;
      if (this.ended !== undefined) return;
      try {
        this.announce(started);
      } catch (error) {
        return this.halt(reportableError(error));
      }
      this.react({ type: 'start' });
    }, this.onWriteFailed);
    holdTimeUntilSettled(this.options.scheduler, created);
  }

  /** Starts driving a stored run that has not started yet (a worker's first claim of a submitted run). */
  begin(reason: DriveInfo['reason'], trigger?: Trigger): void {
    const journal = this.journal ?? [];
    // Read once, here: not kept for as long as the run lasts.
    this.journal = undefined;
    this.scope = this.instrument(reason, journal);
    if (trigger !== undefined) this.react(trigger);
  }

  /** Picks a stored run up: `run.resumed`, then whatever its state allows. */
  resume(mode: 'resume' | 'redrive' | 'compensate', change?: DefinitionChange, cancel?: { reason: string; by: string }): void {
    this.begin(mode, {
      type: 'resume',
      mode,
      ...(change === undefined ? {} : { change }),
      ...(cancel === undefined ? {} : { cancel }),
    });
  }

  /** Cancels the run if it is still going forward (`by`: `'external'` or a stage). */
  cancel(reason: string, by = 'external'): void {
    this.react({ type: 'cancel', reason, by });
  }

  /**
   * Delivers a signal whose payload is already validated (see `prepareSignal`); `sentAt`, when it
   * was sent, if not now (a request recorded through the store: its `requestedAt`).
   */
  signal(signal: string, signalId: string, payload: unknown, sentAt?: number): void {
    this.react(sentAt === undefined ? { type: 'signal', signal, signalId, payload } : { type: 'signal', signal, signalId, payload, sentAt });
  }

  /** The signal ids done with: journaled, or refused by this definition (see {@link RunInterpreter.signalRequested}). */
  handledSignals(): string[] {
    const handled = [...(this.state.signals?.keys() ?? [])];
    if (this.refusedSignals !== undefined) handled.push(...this.refusedSignals);
    return handled;
  }

  /**
   * Delivers a signal another process recorded in the store, checked again against this
   * process's definition and the run's state now (it was checked by the sender's): a duplicate
   * is dropped, and so is a request this definition refuses — an unknown signal, a payload not of
   * its schema, a run no longer going forward — which is returned for the host to report.
   */
  signalRequested(request: SignalRequest): Error | undefined {
    // A refused request stays in the store (it comes back with every heartbeat): told once per drive.
    if (this.ended !== undefined || this.refusedSignals?.has(request.signalId) === true) return undefined;
    let prepared: ReturnType<typeof prepareSignal>;
    try {
      prepared = prepareSignal(this.saga, this.state, request.signal, request.payload, request.signalId);
    } catch (error) {
      (this.refusedSignals ??= new Set()).add(request.signalId);
      // A run that no longer goes forward ignores signals, as the decider would: nothing to tell.
      return error instanceof RunStateError ? undefined : reportableError(error);
    }
    if (prepared.kind === 'deliver') this.signal(prepared.signal, prepared.signalId, prepared.payload, request.requestedAt);
    return undefined;
  }

  /** Stops driving the run without settling it: nothing more is written; the journal stays resumable. */
  detach(error: Error): void {
    this.halt(error);
  }

  /**
   * Stops driving a resting run (see {@link RunHost.resting}): its wait timers are dropped, and
   * nothing more is written; the host gives the run back to the store, due at its wake time.
   */
  park(wakeAt: number | null): void {
    if (this.ended !== undefined) return;
    this.ended = 'parked';
    this.clearTimers();
    this.endScope({ kind: 'parked', wakeAt });
  }

  // ---------------------------------------------------------------------------------------------
  // Reacting: one trigger at a time, then steps until a decision appends nothing.

  /** Reacts to `trigger`, stamping events with `at` when the caller has just read the clock (else it is read here). */
  private react(trigger: Trigger, at?: number): void {
    if (this.ended !== undefined) return;
    if (this.reacting) {
      // Never pretenured: it holds the run's short-lived triggers (see youngArray).
      (this.pendingTriggers ??= youngArray<Trigger>()).push(trigger);
      return;
    }
    this.reacting = true;
    try {
      const now = at ?? this.options.scheduler.now();
      for (let next: Trigger | undefined = trigger; next !== undefined && this.ended === undefined; next = this.pendingTriggers?.shift()) {
        for (let current: Trigger | undefined = next; current !== undefined; ) {
          const commands = decide(this.saga, this.state, current, now);
          const appended = this.execute(commands, now);
          recycleCommands(commands);
          current = appended && this.ended === undefined ? STEP : undefined;
        }
      }
    } catch (error) {
      this.halt(reportableError(error));
    } finally {
      this.reacting = false;
    }
    this.flush();
    this.haltIfStalled();
  }

  /**
   * A run that has not ended, with nothing to write, no attempt, timer or deferred effect, and no
   * wait to rest on, would never move again: nothing left could wake it, its lease would be
   * heartbeated for ever and `close()` would wait for it. No journal this engine writes leads
   * there; a damaged one the fold accepted can (a compensation of a stage that never ran, say).
   * Halted as a corrupt journal, so that nothing more is written and the run is reported.
   */
  private haltIfStalled(): void {
    // A timed-out call still in flight wakes the run when it lands (see `lingering`).
    if (this.busy || (this.timers?.size ?? 0) > 0 || this.lingeringCalls !== undefined) return;
    if (restingUntil(this.state) !== undefined) return;
    const { status, stopping } = this.state;
    this.halt(
      new StoreCorruptionError(
        this.runId,
        undefined,
        `its events leave the run ${status}${stopping ? ' and stopping' : ''} with nothing running, nothing to start and nothing to wait for, so it could never settle: no run of this engine writes such a journal (saga '${this.saga.name}')`,
      ),
    );
  }

  /**
   * Carries out a decision's commands; returns whether it appended anything. `now` is the time the
   * decision stamped its events with, folded as their `at` (see {@link applyEvent}).
   */
  private execute(commands: readonly Command[], now: number): boolean {
    let appended = false;
    for (let index = 0; index < commands.length; index++) {
      const command = commands[index] as Command;
      // The field first: it is undefined but for a run with a timed-out call in flight.
      if (this.lingeringCalls !== undefined && command.type === 'run.paused') {
        // A paused run is given back to the store, where an operator may redrive it (running the
        // stage again) or compensate it from any process: not while a timed-out call may still
        // take effect. The pause (the rest of this decision) is decided again once it has landed.
        this.lingeringCalls.pauseHeld = true;
        return appended;
      }
      if (isAppend(command)) {
        applyEvent(this.state, command, now);
        (this.queued ??= this.takeQueue()).push(command);
        this.lastQueuedSeq = command.seq;
        appended = true;
      } else if (this.lastQueuedSeq <= this.durableSeq) {
        this.perform(command);
      } else {
        this.defer(command);
      }
    }
    return appended;
  }

  /** An array for the events of the next write: the last write's, when the store let it go. */
  private takeQueue(): SagaEvent[] {
    const spare = this.spareQueue;
    if (spare === undefined) return youngArray<SagaEvent>(QUEUED_ROOM);
    this.spareQueue = undefined;
    return spare;
  }

  /**
   * Defers an effect until the events appended before it are durable: into the last group while
   * that group waits on events still queued (the next write takes them all, with the ones queued
   * since, and makes them durable at once), else into a new group waiting for the last event queued.
   */
  private defer(effect: Effect): void {
    const open = this.deferredOpen;
    // A group waiting on the write in flight is closed at once: events queued after it go to the next write.
    this.deferredOpen = this.queued !== undefined;
    let deferred = this.deferred;
    if (this.deferredEffect === undefined && (deferred === undefined || deferred.length === 0)) {
      this.deferredEffect = effect;
      this.deferredSeq = this.lastQueuedSeq;
      return;
    }
    if (this.deferredEffect !== undefined) {
      // A second effect: both go to the array, in order (made for the first time here).
      deferred ??= this.deferred = youngArray<number | Effect>(4);
      deferred.push(this.deferredSeq, this.deferredEffect);
      this.deferredEffect = undefined;
    }
    if (open) {
      (deferred as Array<number | Effect>).push(effect);
      this.deferredOpen = true;
      return;
    }
    (deferred as Array<number | Effect>).push(this.lastQueuedSeq, effect);
  }

  /**
   * Whether the run has ended here, or has something under way: a write, an attempt, an effect
   * waiting for its events to be durable, or events queued. Neither stalled nor resting then.
   */
  private get busy(): boolean {
    return this.ended !== undefined || this.writing || this.attempts !== undefined || this.waitsToPerform() || this.queued !== undefined;
  }

  /** Whether an effect waits for its events to be durable. */
  private waitsToPerform(): boolean {
    return this.deferredEffect !== undefined || (this.deferred?.length ?? 0) > 0;
  }

  private perform(command: Effect): void {
    switch (command.type) {
      case 'attempt':
        return this.startAttempt(command.phase, command.stage, command.attempt);
      case 'abort':
        return this.abortExecutes(command.reason);
      case 'timer':
        return this.startTimer(command.phase, command.stage, command.delayMs);
      case 'clear-timer':
        return this.clearTimer(command.phase, command.stage);
      case 'finish':
        return this.finish();
      default: {
        const unknown: never = command;
        throw new TypeError(`Unknown command ${JSON.stringify(unknown)}`);
      }
    }
  }

  private startAttempt(phase: AttemptPhase, name: string, number: number): void {
    const stage = this.saga.stage(name);
    if (stage === undefined) throw new TypeError(`Saga '${this.saga.name}' has no stage '${name}'.`);
    // No closure here: one would make this function allocate a context on every call.
    // The interpreter is its attempts' environment: nothing made per run for them to reach it.
    const attempt = new Attempt(this, stage, phase, number);
    this.addAttempt(attempt);
    // `execute` is never invoked once the run is stopping (the decision that stopped it may have
    // been folded while this attempt waited for its stage.started to be durable).
    if (phase === 'execute' && this.state.stopping) attempt.abort(() => undefined);
    // A compensation never starts while an `execute` call of its stage that timed out may still
    // take effect: it waits (in flight, uninvoked) until that call lands (see `lingering`).
    if (phase === 'compensate' && this.lingers(name)) {
      this.lingeringCalls?.waiting.push(attempt);
      return;
    }
    attempt.invoke();
  }

  private abortExecutes(reason: string): void {
    let error: DOMException | undefined;
    const make = (): DOMException => (error ??= new DOMException(`Saga '${this.saga.name}' run ${this.runId} is stopping: ${reason}.`, 'AbortError'));
    for (const attempt of this.attemptsInFlight()) if (attempt.phase === 'execute') attempt.abort(make);
  }

  /** Adds an attempt to those in flight (see {@link RunInterpreter.attempts}). */
  private addAttempt(attempt: Attempt): void {
    const attempts = this.attempts;
    if (attempts === undefined) {
      this.attempts = attempt;
      return;
    }
    if (attempts instanceof Attempt) {
      // Never pretenured: it holds the run's short-lived attempts (see youngArray).
      const several = youngArray<Attempt>(2);
      attempts.slot = 0;
      attempt.slot = 1;
      several.push(attempts, attempt);
      this.attempts = several;
      return;
    }
    attempt.slot = attempts.length;
    attempts.push(attempt);
  }

  /** Removes a settled attempt from those in flight. */
  private removeAttempt(attempt: Attempt): void {
    const attempts = this.attempts;
    if (attempts === attempt) {
      this.attempts = undefined;
      return;
    }
    if (attempts === undefined || attempts instanceof Attempt) return;
    // Swap-remove by the slot it was given: O(1), also for a fan-out of thousands.
    if (attempts[attempt.slot] === attempt) {
      const last = attempts.pop() as Attempt;
      if (last !== attempt) {
        attempts[attempt.slot] = last;
        last.slot = attempt.slot;
      }
      if (attempts.length === 0) this.attempts = undefined;
    }
  }

  /** The attempts in flight now, as a list of their own (aborting one may settle it, which changes {@link RunInterpreter.attempts}). */
  private attemptsInFlight(): readonly Attempt[] {
    const attempts = this.attempts;
    return attempts === undefined ? NO_ATTEMPTS : attempts instanceof Attempt ? [attempts] : attempts.slice();
  }

  private startTimer(phase: AttemptPhase, stage: string, delayMs: number): void {
    const key = `${phase}:${stage}`;
    const timers = (this.timers ??= new Map<string, Subscription>());
    timers.get(key)?.unsubscribe();
    timers.set(
      key,
      // A wait or a retry may be weeks away: longer than one Node timer holds.
      scheduleAfter(this.options.scheduler, delayMs, () => {
        timers.delete(key);
        this.react({ type: 'timer', phase, stage });
      }),
    );
  }

  private clearTimer(phase: AttemptPhase, stage: string): void {
    const key = `${phase}:${stage}`;
    this.timers?.get(key)?.unsubscribe();
    this.timers?.delete(key);
  }

  private finish(): void {
    if (this.ended !== undefined) return;
    this.ended = 'settled';
    this.clearTimers();
    this.endScope({ kind: 'settled', state: this.state });
    this.host.settled(this.state);
  }

  // ---------------------------------------------------------------------------------------------
  // The journal: write-ahead appends, one write in flight, the rest batched behind it.

  /** A write failed (rejected, or the store threw): the run stops here. */
  private writeFailed(error: unknown): void {
    this.writing = false;
    this.inWrite = undefined;
    this.halt(reportableError(error));
  }

  private flush(): void {
    const events = this.queued;
    if (this.writing || this.ended !== undefined || events === undefined) return;
    this.queued = undefined;
    this.deferredOpen = false;
    this.writing = true;
    this.inWrite = events;
    let write: Promise<void>;
    try {
      write = this.options.store.append({
        runId: this.runId,
        saga: this.state.saga,
        expectedSeq: (events[0] as SagaEvent).seq,
        events,
        status: this.state.status,
        lease: this.lease,
      });
    } catch (error) {
      // A store that throws instead of rejecting.
      return this.onWriteFailed(error);
    }
    write.then(this.onWritten, this.onWriteFailed);
    // Released after the callbacks above: what the write lets go on (an attempt) holds the clock first.
    holdTimeUntilSettled(this.options.scheduler, write);
  }

  /** A write is durable: announce its events, perform what waited for them, write what queued meanwhile. */
  private written(): void {
    const events = this.inWrite;
    this.inWrite = undefined;
    this.writing = false;
    if (this.ended !== undefined || events === undefined) return;
    try {
      for (let index = 0; index < events.length; index++) this.announce(events[index] as SagaEvent);
      this.durableSeq = (events[events.length - 1] as SagaEvent).seq;
      if (this.recycles && events.length <= RECYCLED_ROOM) this.recycle(events);
      // In order; an effect performed here may defer more behind the next write, never before these.
      // Read with a cursor and cut once: shift() is O(1) only while V8 can trim the array's front
      // in place, which it cannot once the array is in the large-object space (a fan-out of
      // more than 16,000 stages defers that many entries); emptied with pop(), which keeps its room.
      // The one effect deferred, while it is alone (performing it may defer the next one there again).
      while (this.deferredEffect !== undefined && this.deferredSeq <= this.durableSeq && this.ended === undefined) {
        const effect = this.deferredEffect;
        this.deferredEffect = undefined;
        this.perform(effect);
      }
      const deferred = this.deferred;
      let next = 0;
      if (deferred !== undefined) {
        try {
          while (next < deferred.length && this.ended === undefined) {
            const entry = deferred[next] as number | Effect;
            if (typeof entry === 'number') {
              if (entry > this.durableSeq) break;
              next++;
              continue;
            }
            next++;
            this.perform(entry);
          }
        } finally {
          // Emptied with pop(), which keeps its room.
          if (next >= deferred.length) while (deferred.length > 0) deferred.pop();
          else if (next > 0) deferred.splice(0, next);
        }
      }
    } catch (error) {
      this.halt(reportableError(error));
    }
    this.flush();
    if (this.host.resting !== undefined) this.offerRest();
    this.haltIfStalled();
  }

  /**
   * Keeps a written events array for the next write, emptied with `pop()` (which keeps its room):
   * only for a store that kept nothing of the request, and only a small one (a fan-out's write of
   * thousands would keep its room for as long as the run).
   */
  private recycle(events: SagaEvent[]): void {
    while (events.length > 0) events.pop();
    this.spareQueue = events;
  }

  /**
   * Tells the host if the run rests (see {@link RunHost.resting}): every decision durable, no
   * attempt running, and nothing to do but wait. Called after each write, and by a host that
   * wants to know now (a worker stopping).
   */
  offerRest(): void {
    const host = this.host;
    // A timed-out call still in flight holds the run here: parked, it could be picked up by
    // another process and compensated before that call's effect lands.
    if (host.resting === undefined || this.busy || this.lingeringCalls !== undefined) return;
    const wakeAt = restingUntil(this.state);
    if (wakeAt !== undefined) host.resting(wakeAt);
  }

  private announce(event: SagaEvent): void {
    this.host.event(event);
    const scope = this.scope;
    if (scope?.event === undefined) return;
    try {
      scope.event(event, this.state);
    } catch (error) {
      this.options.report(error, this.runId);
    }
  }

  private halt(error: Error): void {
    if (this.ended !== undefined) return;
    this.ended = 'halted';
    let reason: DOMException | undefined;
    const make = (): DOMException => (reason ??= new DOMException(`Saga '${this.saga.name}' run ${this.runId} stopped here: ${error.message}`, 'AbortError'));
    const attempts = this.attemptsInFlight();
    const landed = this.landingOf(attempts);
    for (const attempt of attempts) attempt.abort(make);
    this.attempts = undefined;
    this.clearTimers();
    this.queued = undefined;
    this.deferredEffect = undefined;
    if (this.deferred !== undefined) this.deferred.length = 0;
    this.deferredOpen = false;
    this.endScope({ kind: 'halted', error });
    this.host.halted(error, landed);
  }

  /**
   * Cancels the attempts of a run that stops here, and resolves once the user calls among them
   * still in flight have settled (see {@link RunHost.halted}); `undefined` when none is.
   */
  private landingOf(attempts: readonly Attempt[]): Promise<void> | undefined {
    // Timed-out `execute` calls still in flight count too (see `lingering`).
    const lingering = this.lingeringCalls;
    let left = lingering?.calls.length ?? 0;
    for (const attempt of attempts) if (attempt.inFlight) left++;
    if (lingering !== undefined) lingering.waiting.length = 0;
    if (left === 0) {
      for (const attempt of attempts) attempt.cancel();
      return undefined;
    }
    return new Promise<void>((resolve) => {
      const one = (): void => {
        if (--left === 0) resolve();
      };
      if (lingering !== undefined) lingering.landedAfterHalt = one;
      for (const attempt of attempts) attempt.cancel(one);
    });
  }

  private clearTimers(): void {
    if (this.timers === undefined) return;
    for (const timer of this.timers.values()) timer.unsubscribe();
    this.timers.clear();
  }

  private instrument(reason: DriveInfo['reason'], journal: readonly SagaEvent[]): DriveScope | undefined {
    const instrumentation = this.options.instrumentation;
    if (instrumentation?.drive === undefined) return undefined;
    try {
      return instrumentation.drive({ runId: this.runId, saga: this.saga.name, version: this.state.version, reason, journal });
    } catch (error) {
      this.options.report(error, this.runId);
      return undefined;
    }
  }

  private endScope(end: Parameters<NonNullable<DriveScope['end']>>[0]): void {
    const scope = this.scope;
    if (scope?.end === undefined) return;
    try {
      scope.end(end);
    } catch (error) {
      this.options.report(error, this.runId);
    }
  }
}

type SettledTrigger = { -readonly [K in keyof Extract<Trigger, { type: 'settled' }>]: Extract<Trigger, { type: 'settled' }>[K] };

/** What the spare settled trigger holds between uses. */
const NO_RESULT: AttemptResult = Object.freeze({ ok: false, retryable: false, invoked: false });

/** The settled trigger {@link RunInterpreter.settled} reuses; `undefined` while in use. */
let spareSettled: SettledTrigger | undefined = { type: 'settled', phase: 'execute', stage: '', attempt: 0, result: NO_RESULT, jitter: 0 };

const NO_ATTEMPTS: readonly Attempt[] = Object.freeze([]);

/** Room for the events of one write, made with the array: a decision appends one to three. */
const QUEUED_ROOM = 4;

/** The most events a written array may hold to be reused (see `RunInterpreter.recycle`): a backing store this size or less is what an array grows to anyway. */
const RECYCLED_ROOM = 16;

/**
 * The state a run is driven from: its journal folded with the shape of `saga` (assumed for a
 * journal that records none), whose indexed topology every run of the definition shares. With no
 * definition, the plain fold (`foldJournal(journal)`). The fold goes on in place as the run's
 * events are decided.
 *
 * @throws TypeError when the journal does not start with `run.started`.
 */
export function foldForDrive(journal: readonly SagaEvent[], saga: Pick<Saga, 'shape'> | undefined): MutableRunState {
  return saga === undefined ? foldEvents(journal, undefined, undefined) : foldEvents(journal, topologyOf(saga.shape), saga.shape);
}

/** A run's timed-out `execute` calls still in flight (see {@link RunInterpreter.lingering}). */
interface LingeringCalls {
  /** The attempts whose calls have not landed. */
  readonly calls: Attempt[];
  /** Compensation attempts (among the run's attempts in flight) waiting, uninvoked, for a call of their stage to land. */
  readonly waiting: Attempt[];
  /** Once the run stopped here: counts each call landing toward the halt's landing (see `landingOf`). */
  landedAfterHalt: (() => void) | undefined;
  /** Whether a decision to pause the run was held back until the calls land (see {@link RunInterpreter.execute}). */
  pauseHeld: boolean;
}
