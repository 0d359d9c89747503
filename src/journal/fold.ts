import type { SerializedError } from '../errors/serialize-error.js';
import { StoreCorruptionError } from '../errors/store-errors.js';
import { freezeJson } from './freeze-json.js';
import type { Cancellation, RecordedStageShape, RollbackCause, ResumeMode, SagaEvent, StageFailure } from './saga-event.js';
import type { RunStatus } from './outcome.js';
import { positionOf, StageTable, stageIndexOf, type StageIndex } from './stage-table.js';
import { recordedTopology, type Topology } from './topology.js';

/**
 * Where a stage's `execute` stands, as folded from the journal.
 *
 * @remarks
 * The status of {@link StageState}, before compensation is taken into account; the public
 * {@link StageStatus} of an outcome adds the compensation states on top of it. `running` means a
 * `stage.started` with nothing settling it yet: after a crash, such a stage may or may not have
 * taken effect. A completed stage stays `completed` in this status even once compensated.
 *
 * @example
 * ```ts
 * import type { ExecutionStatus } from 'sagaflow';
 * const done = (status: ExecutionStatus) => status === 'completed';
 * ```
 */
export type ExecutionStatus = 'not_started' | 'running' | 'completed' | 'failed' | 'cancelled';

/**
 * Where a stage's `compensate` stands, as folded from the journal.
 *
 * @remarks
 * `pending` is a failed compensation that a redrive put back in line; it runs again with a fresh
 * retry budget. `running` means a `compensation.started` with nothing settling it yet (after a
 * crash, it runs again on resume). `completed` is final: a completed compensation never runs
 * again.
 *
 * @example
 * ```ts
 * import type { CompensationStatus } from 'sagaflow';
 * const settled = (status: CompensationStatus) => status === 'completed' || status === 'failed';
 * ```
 */
export type CompensationStatus = 'pending' | 'running' | 'completed' | 'failed';

/**
 * The folded state of one compensation.
 *
 * @remarks
 * Present on a {@link StageState} once its first `compensation.started` is folded; absent for
 * stages that were never compensated (including those without `compensate`). `attempts` counts
 * across resumes and redrives. The public view of it is {@link CompensationRecord}.
 *
 * @example
 * ```ts
 * import type { CompensationState } from 'sagaflow';
 * const retried = (state: CompensationState) => state.attempts > 1;
 * ```
 */
export interface CompensationState {
  /** Where the compensation stands. */
  readonly status: CompensationStatus;
  /** Attempts of `compensate` so far. */
  readonly attempts: number;
  /** The last error of `compensate` while it is retried or once it failed; dropped when it completes. */
  readonly error?: SerializedError | undefined;
  /** When the first attempt started (epoch ms). */
  readonly startedAt?: number | undefined;
  /** When it completed or finally failed (epoch ms). */
  readonly endedAt?: number | undefined;
  /** When the current attempt started (`at` of its `compensation.started`). */
  readonly attemptStartedAt?: number | undefined;
  /** While waiting to retry: when the failed attempt ended (`at` of `compensation.retrying`). */
  readonly attemptEndedAt?: number | undefined;
  /** While waiting to retry: when the next attempt is due (epoch ms, `at + delayMs` of `compensation.retrying`). */
  readonly retryAt?: number | undefined;
  /** How long the successful attempt took (`durationMs` of `compensation.completed`). */
  readonly durationMs?: number | undefined;
  /** Attempts made before the current retry budget began (a resume or redrive grants a fresh one). */
  readonly retryBase: number;
}

/**
 * The folded state of one stage.
 *
 * @remarks
 * One entry of `RunState.stages`, the runtime's view of a stage: `status` is the
 * {@link ExecutionStatus} of `execute`, and `compensation` sits beside it. {@link toOutcome}
 * turns it into the public {@link StageRecord}, merging both into one {@link StageStatus}.
 * `output` is kept after a compensation; `error` is the latest error of `execute` (a retried
 * error is replaced by the next, and cleared when the stage completes).
 *
 * @example
 * ```ts
 * import type { StageState } from 'sagaflow';
 * const failedAfter = (state: StageState) => (state.status === 'failed' ? state.attempts : 0);
 * ```
 */
export interface StageState {
  /** Where the stage's `execute` stands. */
  readonly status: ExecutionStatus;
  /** Attempts of `execute` so far. */
  readonly attempts: number;
  /** The output, when `status` is `completed` (absent when the stage returned `undefined`). */
  readonly output?: unknown;
  /** The last error of `execute`. */
  readonly error?: SerializedError | undefined;
  /** When the first attempt started (epoch ms). */
  readonly startedAt?: number | undefined;
  /** When the stage completed, failed or was cancelled (epoch ms). */
  readonly endedAt?: number | undefined;
  /** Why the stage was cancelled, when it was. */
  readonly cancelReason?: string | undefined;
  /** The stage was in flight when the process stopped during a stop: it may or may not have taken effect. */
  readonly outcomeUnknown: boolean;
  /** The compensation, once one started. */
  readonly compensation?: CompensationState | undefined;
  /** For a stage not completed yet: how many of its dependencies have not completed (0: it may start). */
  readonly waitingOn: number;
  /** When the current attempt started (`at` of its `stage.started`). */
  readonly attemptStartedAt?: number | undefined;
  /** While waiting to retry: when the failed attempt ended (`at` of `stage.retrying`). */
  readonly attemptEndedAt?: number | undefined;
  /** While waiting to retry: when the next attempt is due (epoch ms, `at + delayMs` of `stage.retrying`). */
  readonly retryAt?: number | undefined;
  /** How long the successful attempt took (`durationMs` of `stage.completed`). */
  readonly durationMs?: number | undefined;
  /** Attempts made before the current retry budget began (a resume or redrive grants a fresh one). */
  readonly retryBase: number;
}

/**
 * What a wait stage is waiting for, as folded from its `wait.started`.
 *
 * @remarks
 * One entry of `RunState.waits` per stage waiting now; it goes once the stage settles (the
 * signal came, the time was reached, the wait timed out, or the run stopped).
 *
 * @example
 * ```ts
 * import type { WaitState } from 'sagaflow';
 * const describe = (wait: WaitState) => `${wait.kind === 'signal' ? `signal '${wait.signal ?? ''}'` : 'time'}${wait.dueAt === undefined ? '' : ` until ${new Date(wait.dueAt).toISOString()}`}`;
 * ```
 */
export interface WaitState {
  /** `'signal'` or `'timer'`. */
  readonly kind: 'signal' | 'timer';
  /** The signal's name, for a signal wait. */
  readonly signal?: string | undefined;
  /** When the wait ends or times out (epoch ms), if it does. */
  readonly dueAt?: number | undefined;
  /** When the wait started (epoch ms). */
  readonly since: number;
}

/**
 * A signal the run received, as folded from its `signal.received`.
 *
 * @remarks
 * `stage` is the wait stage it satisfied; absent while it is buffered (sent before any stage
 * waited for it).
 *
 * @example
 * ```ts
 * import type { ReceivedSignal } from 'sagaflow';
 * const buffered = (signal: ReceivedSignal) => signal.stage === undefined;
 * ```
 */
export interface ReceivedSignal {
  /** The signal's name. */
  readonly signal: string;
  /** Its id (unique per run). */
  readonly signalId: string;
  /** Its validated payload. */
  readonly payload?: unknown;
  /** When it was journaled (epoch ms). */
  readonly at: number;
  /** The wait stage it satisfied, once it did. */
  readonly stage?: string | undefined;
}

/**
 * Where a rollback stands, as folded from the journal: which compensations remain and which may
 * start now.
 *
 * @remarks
 * Present on {@link RunState} from `run.compensating` on. `order` lists the stages to compensate
 * in reverse settle order (reverse completion order, with `compensateOnFailure` and outcome-unknown
 * stages where they settled). A sequential rollback takes them one at a time from `next`; a
 * parallel one starts each stage in `ready`, whose dependents' compensations have all settled.
 *
 * @example
 * ```ts
 * import type { RollbackState } from 'sagaflow';
 * const left = (rollback: RollbackState) => `${rollback.unsettled} compensation(s) to go, ${rollback.inFlight} running`;
 * ```
 */
export interface RollbackState {
  /** Stages to compensate, in sequential order (reverse settle order). */
  readonly order: readonly string[];
  /** Sequential rollback: the index in `order` of the next compensation to start. */
  readonly next: number;
  /** Parallel rollback: compensations whose dependents' compensations have all settled, not started yet. */
  readonly ready: ReadonlySet<string>;
  /** Compensations in `order` that have neither completed nor finally failed. */
  readonly unsettled: number;
  /** Compensations started and not settled (running or waiting to retry). */
  readonly inFlight: number;
}

/**
 * Everything the journal says about a run: the result of {@link foldJournal}.
 *
 * @remarks
 * This is the only derived state in sagaflow: the outcome, `inspect`, resume, redrive,
 * compensate and the CLI all read it.
 *
 * @example
 * ```ts
 * import { foldJournal, type SagaEvent } from 'sagaflow';
 * declare const journal: SagaEvent[];
 * const state = foldJournal(journal);
 * state.completionOrder; // e.g. ['debit', 'credit']
 * ```
 */
export interface RunState {
  /** The run's id. */
  readonly runId: string;
  /** The saga's name. */
  readonly saga: string;
  /** The saga version the run continues with (changed by a redrive with an explicit `saga`). */
  readonly version: string;
  /** The shape hash the run continues with. */
  readonly shapeHash: string;
  /** The run's validated input. */
  readonly input: unknown;
  /** The saga's stage names, in declaration order, as recorded on `run.started`. */
  readonly stageNames: readonly string[];
  /** The shape of the definition the run continues with, when the journal records it. */
  readonly shape?: readonly RecordedStageShape[] | undefined;
  /** Whether the run was submitted to workers. */
  readonly submitted: boolean;
  /** The run's status. */
  readonly status: RunStatus;
  /**
   * Every stage, in declaration order. Read a stage's state from the map when you need it rather
   * than keeping the object: a stage that has not started is a record shared (frozen) by every
   * run of the definition, replaced by one of the run's own when an event first names the stage.
   */
  readonly stages: ReadonlyMap<string, StageState>;
  /** Stages in the order they completed. */
  readonly completionOrder: readonly string[];
  /**
   * Started stages in the order they settled (completed, failed or cancelled): the order a
   * rollback walks backwards. A stage that is re-executed by a redrive moves to its new place.
   */
  readonly settleOrder: readonly string[];
  /** Stages in the order their compensation completed. */
  readonly compensationOrder: readonly string[];
  /** The run's failure: the first final failure of a stage. */
  readonly failure?: StageFailure | undefined;
  /** Why and by whom the run was cancelled. */
  readonly cancellation?: Cancellation | undefined;
  /** Why the run is rolling back, once it started to. */
  readonly compensationCause?: RollbackCause | undefined;
  /** A failure or cancellation is recorded and the run has not yet settled or paused. */
  readonly stopping: boolean;
  /** Stages whose dependencies have all completed and that have not started yet, in the order they became ready. */
  readonly readyStages: readonly string[];
  /** Stages started and not settled: an attempt in flight, or a wait before the next one. */
  readonly inFlight: number;
  /** Stages of the definition that have not completed. */
  readonly remaining: number;
  /** The rollback, once the run started compensating. */
  readonly rollback?: RollbackState | undefined;
  /** The last resume mode, if the run was ever resumed. */
  readonly lastResumeMode?: ResumeMode | undefined;
  /** Wait stages waiting now, by stage name; `undefined` until the run's first wait. */
  readonly waits?: ReadonlyMap<string, WaitState> | undefined;
  /** Every signal received, by `signalId`, in arrival order; `undefined` until the first. */
  readonly signals?: ReadonlyMap<string, ReceivedSignal> | undefined;
  /** `seq` of the last event. */
  readonly lastSeq: number;
  /** `at` of `run.started`. */
  readonly startedAt: number;
  /** `at` of the last event. */
  readonly updatedAt: number;
}

/**
 * The empty list every run's lists (`completionOrder`, `settleOrder`, `compensationOrder`,
 * `readyStages`) are until their first entry, shared and frozen (a push the fold forgot to route
 * through {@link own} throws rather than changes every run). A run in flight waits on user code
 * most of the time with these empty, and an empty `new Array()` is 80 bytes (with its room for
 * four), four per run in flight.
 */
const NONE: string[] = Object.freeze(new Array<string>()) as string[];

/**
 * `list`, or a list of the run's own when it is {@link NONE}: made with `new Array()`, not `[]`,
 * whose first push makes room for 17. Stage names only: even pretenured, these arrays keep nothing
 * young alive (see youngArray in runtime/young-array.ts).
 */
function own(list: string[]): string[] {
  return list === NONE ? new Array<string>() : list;
}

type OptionalKeysOf<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];
/**
 * The fold's working copy of a record: every field writable, and every optional field present
 * (possibly `undefined`), so that records keep one shape and are never deleted from.
 */
type Working<T> = { -readonly [K in keyof T]-?: K extends OptionalKeysOf<T> ? T[K] | undefined : T[K] };
type MutableCompensation = Working<CompensationState>;
type MutableStage = Working<Omit<StageState, 'compensation'>> & { compensation: MutableCompensation | undefined };

/**
 * A stage's working record, every field in place. A class, not an object literal, on purpose: V8
 * pretenures the objects of a literal site whose objects it sees survive scavenges, and a run's
 * records live as long as its run, so a busy process would allocate every record straight into
 * the old generation — several times slower to make, and old-generation garbage once the run
 * ends. Instances of a class are not pretenured.
 */
class StageRecord implements MutableStage {
  status: ExecutionStatus = 'not_started';
  attempts = 0;
  output: unknown = undefined;
  error: SerializedError | undefined = undefined;
  startedAt: number | undefined = undefined;
  endedAt: number | undefined = undefined;
  cancelReason: string | undefined = undefined;
  outcomeUnknown = false;
  compensation: MutableCompensation | undefined = undefined;
  attemptStartedAt: number | undefined = undefined;
  attemptEndedAt: number | undefined = undefined;
  retryAt: number | undefined = undefined;
  durationMs: number | undefined = undefined;
  retryBase = 0;

  constructor(public waitingOn: number) {}
}

/** A stage that has not started, its own record (for a stage an event names). */
function newStage(waitingOn: number): MutableStage {
  return new StageRecord(waitingOn);
}

/**
 * Records of stages that have not started, shared by every run, by `waitingOn`; frozen, so that a
 * write the fold forgot to route through {@link ownStage} throws rather than changes every run.
 * A run's stages start out as these and get a record of their own when an event first names them
 * (see {@link stageOf}) or when their first dependency completes (see {@link completed}): a run in
 * flight holds records only for the stages it reached or made ready (each is 144 bytes), and the
 * shared records are those of the fan-ins the process's definitions declare, not of every count a
 * fan-in passes through.
 */
const NOT_STARTED: MutableStage[] = [];

/** The shared record of a stage that has not started and waits on `waitingOn` stages. */
function notStarted(waitingOn: number): MutableStage {
  return (NOT_STARTED[waitingOn] ??= Object.freeze(new StageRecord(waitingOn)));
}

/** Whether `record` is a shared {@link notStarted} record (never written to). */
function isShared(record: MutableStage): boolean {
  return NOT_STARTED[record.waitingOn] === record;
}

/** The run's own record of stage `name`, made from the shared one on the first write. */
function ownStage(state: MutableRunState, name: string, record: MutableStage): MutableStage {
  if (!isShared(record)) return record;
  const own = newStage(record.waitingOn);
  state.stages.set(name, own);
  return own;
}

/** Sets how many stages `name` waits on (a shared record is swapped for the shared one of that count). */
function setWaitingOn(state: MutableRunState, name: string, record: MutableStage, waitingOn: number): void {
  if (isShared(record)) state.stages.set(name, notStarted(waitingOn));
  else record.waitingOn = waitingOn;
}

/**
 * A compensation's working record, every field in place (a class, for the reason {@link StageRecord}
 * is). Made by a stage's first `compensation.started` and changed in place by the events after it,
 * as the stage's own record is: one object per compensation instead of one per event.
 */
class CompensationRecord implements MutableCompensation {
  status: CompensationStatus = 'running';
  attempts = 0;
  error: SerializedError | undefined = undefined;
  startedAt: number | undefined = undefined;
  endedAt: number | undefined = undefined;
  attemptStartedAt: number | undefined = undefined;
  attemptEndedAt: number | undefined = undefined;
  retryAt: number | undefined = undefined;
  durationMs: number | undefined = undefined;
  retryBase = 0;
}

/**
 * A stage's compensation record with a new status, keeping what the previous attempts recorded
 * (the error, when it first started, its retry budget) and clearing what only the previous attempt
 * or settlement had (its end, its retry wait, its duration).
 */
function compensationNow(stage: MutableStage, status: CompensationStatus, attempt: number): MutableCompensation {
  const compensation = (stage.compensation ??= new CompensationRecord());
  compensation.status = status;
  compensation.attempts = Math.max(compensation.attempts, attempt);
  compensation.endedAt = undefined;
  compensation.attemptEndedAt = undefined;
  compensation.retryAt = undefined;
  compensation.durationMs = undefined;
  return compensation;
}

/**
 * The rollback's working copy. Both plans are kept (the policy is the definition's, not the
 * journal's; the decider reads the one its saga asks for): the sequential cursor, kept as events
 * arrive, and the parallel one — per stage, the dependents whose compensation has not settled —
 * built on first read of `ready`, so a sequential rollback never pays for it.
 */
class RollbackPlan implements RollbackState {
  next = 0;
  unsettled: number;
  inFlight: number;
  /** By stage name, dependents not yet done (compensated, failed, or with nothing to compensate). */
  private waiting: Map<string, number> | undefined;
  private readySet: Set<string> | undefined;

  constructor(
    private readonly state: MutableRunState,
    readonly order: readonly string[],
    /** The stages of `order` that still have to settle. */
    readonly pending: Set<string>,
    inFlight: number,
  ) {
    this.unsettled = pending.size;
    this.inFlight = inFlight;
    this.advance();
  }

  get ready(): ReadonlySet<string> {
    if (this.readySet === undefined) {
      this.readySet = new Set();
      const topology = this.state.topology;
      if (topology !== undefined) {
        this.waiting = new Map();
        const roots: string[] = [];
        for (let index = 0; index < topology.names.length; index++) {
          const count = (topology.dependents[index] as readonly string[]).length;
          this.waiting.set(topology.names[index] as string, count);
          if (count === 0) roots.push(topology.names[index] as string);
        }
        this.release([], roots);
      }
    }
    return this.readySet;
  }

  /** A compensation started (or started again). */
  started(name: string, again: boolean): void {
    if (!again) this.inFlight++;
    this.readySet?.delete(name);
    this.advance();
  }

  /** A compensation completed or finally failed. */
  settled(name: string, wasRunning: boolean): void {
    if (wasRunning) this.inFlight--;
    if (this.pending.delete(name)) {
      this.unsettled--;
      if (this.waiting !== undefined) this.release([name]);
    }
    this.advance();
  }

  /** Sequential: moves `next` past compensations that started or settled. */
  private advance(): void {
    while (this.next < this.order.length) {
      const status = this.state.stages.get(this.order[this.next] as string)?.compensation?.status;
      if (status !== 'running' && status !== 'completed' && status !== 'failed') return;
      this.next++;
    }
  }

  /**
   * Parallel: marks stages done (their compensation settled, or they have nothing to compensate)
   * and releases parents whose dependents are all done; `roots` are stages with no dependents at
   * all. Iterative, as chains can be deep.
   */
  private release(done: readonly string[], roots: readonly string[] = []): void {
    const topology = this.state.topology;
    const waiting = this.waiting;
    const ready = this.readySet;
    if (topology === undefined || waiting === undefined || ready === undefined) return;
    const work = [...done];
    const offer = (name: string): void => {
      if (this.pending.has(name)) {
        if (this.state.stages.get(name)?.compensation?.status !== 'running') ready.add(name);
      } else work.push(name);
    };
    for (const root of roots) offer(root);
    while (work.length > 0) {
      const name = work.pop() as string;
      const index = topology.indexOf.get(name);
      if (index === undefined) continue;
      for (const parent of topology.parents[index] as readonly string[]) {
        const left = (waiting.get(parent) ?? 0) - 1;
        waiting.set(parent, left);
        if (left === 0) offer(parent);
      }
    }
  }
}

/** The fold's working copy. It never escapes {@link foldJournal} or the runtime that owns it. */
export interface MutableRunState
  extends Working<Omit<RunState, 'stages' | 'completionOrder' | 'settleOrder' | 'compensationOrder' | 'readyStages' | 'rollback' | 'waits' | 'signals'>> {
  waits: Map<string, WaitState> | undefined;
  signals: Map<string, { -readonly [K in keyof ReceivedSignal]: ReceivedSignal[K] }> | undefined;
  stages: StageTable<MutableStage>;
  completionOrder: string[];
  settleOrder: string[];
  compensationOrder: string[];
  readyStages: string[];
  rollback: RollbackPlan | undefined;
  /** The definition's shape, indexed; absent only for a journal that records no shape and was folded without one. */
  topology: Topology | undefined;
  /** Whether `stages` lists every stage an event may name (false after a definition change that did not record its shape). */
  namesKnown: boolean;
}

/**
 * A run's working state, every field in place from the start: one hidden class for every run. A
 * class, not an object literal, so that V8 does not pretenure it (see {@link StageRecord}).
 */
class WorkingRunState implements MutableRunState {
  runId: string;
  saga: string;
  version: string;
  shapeHash: string;
  input: unknown;
  stageNames: readonly string[];
  shape: readonly RecordedStageShape[] | undefined;
  submitted: boolean;
  status: RunStatus;
  completionOrder = NONE;
  settleOrder = NONE;
  compensationOrder = NONE;
  failure: StageFailure | undefined = undefined;
  cancellation: Cancellation | undefined = undefined;
  compensationCause: RollbackCause | undefined = undefined;
  stopping = false;
  inFlight = 0;
  remaining: number;
  rollback: RollbackPlan | undefined = undefined;
  lastResumeMode: ResumeMode | undefined = undefined;
  waits: Map<string, WaitState> | undefined = undefined;
  signals: Map<string, { -readonly [K in keyof ReceivedSignal]: ReceivedSignal[K] }> | undefined = undefined;
  lastSeq: number;
  startedAt: number;
  updatedAt: number;
  namesKnown = true;

  constructor(
    started: Extract<SagaEvent, { type: 'run.started' }>,
    shape: readonly RecordedStageShape[] | undefined,
    public topology: Topology | undefined,
    public stages: StageTable<MutableStage>,
    public readyStages: string[],
  ) {
    this.runId = started.runId;
    this.saga = started.saga;
    this.version = started.version;
    this.shapeHash = started.shapeHash;
    this.input = freezeJson(started.input);
    this.stageNames = started.stages;
    this.shape = shape;
    this.submitted = started.submitted === true;
    this.status = started.submitted === true ? 'queued' : 'running';
    this.remaining = started.stages.length;
    this.lastSeq = started.seq;
    this.startedAt = started.at;
    this.updatedAt = started.at;
  }
}

/**
 * Options of {@link foldJournal}.
 *
 * @remarks
 * Journals written by sagaflow 0.1 do not record their definition's shape. Folding one with the
 * shape of the definition it ran on (`shapeOf(saga)`) adds what only the shape can tell: which
 * stages may start (`readyStages`), and the rollback plan.
 *
 * @example
 * ```ts
 * import { foldJournal, type FoldOptions, type SagaEvent } from 'sagaflow';
 * declare const journal: SagaEvent[];
 * declare const options: FoldOptions;
 * const state = foldJournal(journal, options);
 * ```
 */
export interface FoldOptions {
  /** The shape to use when the journal does not record one. */
  readonly shape?: readonly RecordedStageShape[];
}

/**
 * Folds a journal into the state of its run.
 *
 * @remarks
 * A pure function of the events: the same journal always gives the same state, wherever it
 * was read from. It is the only place state is derived: the outcome, `inspect`, resume, the
 * decider that drives a run, the CLI and the inspector all read it. The journal must start with
 * `run.started`.
 *
 * @throws `TypeError` when the journal is empty or does not start with `run.started`.
 * @throws `StoreCorruptionError` when an event names a stage the run's definition does not have
 * (a hand-edited journal), naming the run and the event's `seq`.
 *
 * @example
 * ```ts
 * import { foldJournal, toOutcome, type SagaEvent } from 'sagaflow';
 * declare const journal: SagaEvent[];
 * const outcome = toOutcome(foldJournal(journal));
 * ```
 */
export function foldJournal(events: readonly SagaEvent[], options: FoldOptions = {}): RunState {
  return foldEvents(events, undefined, options.shape);
}

/**
 * The fold of {@link foldJournal}, into working state the runtime goes on folding in place, with
 * the indexed topology of a definition's shape when the caller has one (every run of the
 * definition shares it; without it, the shape's topology is looked up by its hash).
 *
 * @throws TypeError when the journal does not start with `run.started`.
 *
 * @internal
 */
export function foldEvents(events: readonly SagaEvent[], topology: Topology | undefined, fallbackShape: readonly RecordedStageShape[] | undefined): MutableRunState {
  const first = events[0];
  if (first?.type !== 'run.started') {
    throw new TypeError('A journal must start with a run.started event.');
  }
  const state = initialRunState(first, topology, fallbackShape);
  for (let index = 1; index < events.length; index++) applyEvent(state, events[index] as SagaEvent);
  return state;
}

/**
 * Folds a run's events one at a time: the state of a run you follow live.
 *
 * @remarks
 * The same fold as {@link foldJournal}, O(1) per event: for views that follow a run as its events
 * arrive (`run.events$`, `orchestrator.watch(runId)`) and would otherwise refold the whole journal
 * on every event. Push the events in journal order, starting with `run.started`; `state` is
 * `undefined` until then. The state it gives is the fold's own: read it, never change it.
 *
 * @example
 * ```ts
 * import { JournalFold, type SagaRun } from 'sagaflow';
 * declare const run: SagaRun;
 * const fold = new JournalFold();
 * run.events$.subscribe((event) => {
 *   const state = fold.push(event);
 *   console.log(`${state.completionOrder.length} stage(s) completed, ${state.inFlight} in flight`);
 * });
 * ```
 */
export class JournalFold {
  private working: MutableRunState | undefined;

  /** @param options - as for {@link foldJournal}. */
  constructor(private readonly options: FoldOptions = {}) {}

  /** The state after the events pushed so far; `undefined` before `run.started`. */
  get state(): RunState | undefined {
    return this.working;
  }

  /**
   * Folds the next event in; returns the state after it.
   *
   * @throws `TypeError` when the first event is not `run.started`; `StoreCorruptionError` as for
   * {@link foldJournal}.
   */
  push(event: SagaEvent): RunState {
    if (this.working === undefined) {
      if (event.type !== 'run.started') throw new TypeError('A journal must start with a run.started event.');
      const shape = this.options.shape;
      this.working = initialRunState(event, shape === undefined ? undefined : recordedTopology(event.shapeHash, shape), shape);
    } else {
      applyEvent(this.working, event);
    }
    return this.working;
  }
}

/**
 * Creates the working state for a run from its `run.started` event.
 * Internal: the runtime keeps one per live run and feeds it events with {@link applyEvent},
 * so following a run costs O(1) per event instead of a refold.
 *
 * @param topology - the definition's indexed shape when the caller has it (a built saga's own):
 *   saves the lookup of the journaled one. Used only when it describes the same stages.
 * @param fallbackShape - the shape to assume when the event records none (older journals).
 */
export function initialRunState(
  started: Extract<SagaEvent, { type: 'run.started' }>,
  topology?: Topology,
  fallbackShape?: readonly RecordedStageShape[],
): MutableRunState {
  const shape = started.shape ?? fallbackShape;
  const index =
    shape === undefined ? undefined : topology !== undefined && (topology.shape === shape || sameStages(topology, shape)) ? topology : recordedTopology(started.shapeHash, shape);
  let readyStages = NONE;
  const names = started.stages;
  // The usual case, a run of the definition the topology indexes: its stage i is the topology's
  // stage i, and the topology is the index of the run's stage table, shared with every such run.
  const aligned = index !== undefined && (index.names === names || sameNames(index.names, names));
  let starting: readonly MutableStage[];
  let stageIndex: StageIndex;
  if (aligned) {
    stageIndex = index;
    starting = startingRecordsOf(index);
    for (let position = 0; position < names.length; position++) {
      if ((starting[position] as MutableStage).waitingOn === 0) (readyStages = own(readyStages)).push(names[position] as string);
    }
  } else {
    // A name listed twice (a hand-edited journal) is one stage, where it was first listed, as in a Map.
    const unique = uniqueNames(names);
    stageIndex = stageIndexOf(unique);
    const records = new Array<MutableStage>(unique.length);
    for (let position = 0; position < unique.length; position++) {
      const name = unique[position] as string;
      const at = index?.indexOf.get(name);
      const waitingOn = at === undefined ? 0 : (index?.parents[at]?.length ?? 0);
      records[position] = notStarted(waitingOn);
      if (index !== undefined && waitingOn === 0) (readyStages = own(readyStages)).push(name);
    }
    starting = records;
  }
  // A copy made by slice(), which has no allocation site: never pretenured (see youngArray in
  // runtime/young-array.ts), as it soon points at the run's young records. With `new Array(n)`, the
  // site was pretenured once 10,000 runs in flight outlived young collections, and every later run's
  // records array, dead in the old generation, kept its records alive (100 runs in flight measured
  // about 1.2 x slower).
  return new WorkingRunState(started, shape, index, new StageTable(stageIndex, starting.slice()), readyStages);
}

/**
 * Per topology: the records a run of it starts with, each stage's shared {@link notStarted} record,
 * copied for each run.
 */
const startingRecords = new WeakMap<Topology, readonly MutableStage[]>();

function startingRecordsOf(topology: Topology): readonly MutableStage[] {
  let records = startingRecords.get(topology);
  if (records === undefined) {
    records = topology.parents.map((parents) => notStarted(parents.length));
    startingRecords.set(topology, records);
  }
  return records;
}

/** `names` without repeats, in the order each was first listed (`names` itself when it has none). */
function uniqueNames(names: readonly string[]): readonly string[] {
  const unique = new Set(names);
  return unique.size === names.length ? names : [...unique];
}

function sameNames(left: readonly string[], right: readonly string[]): boolean {
  if (left.length !== right.length) return false;
  for (let position = 0; position < left.length; position++) if (left[position] !== right[position]) return false;
  return true;
}

function sameStages(topology: Topology, shape: readonly RecordedStageShape[]): boolean {
  if (topology.names.length !== shape.length) return false;
  for (let index = 0; index < shape.length; index++) if (topology.names[index] !== shape[index]?.name) return false;
  return true;
}

/** The stage an event names; a stage the definition does not have means the journal was edited by hand. */
function stageOf(state: MutableRunState, event: SagaEvent & { readonly stage: string }): MutableStage {
  const stage = state.stages.get(event.stage);
  if (stage !== undefined) return ownStage(state, event.stage, stage);
  if (state.namesKnown) {
    throw new StoreCorruptionError(
      state.runId,
      event.seq,
      `${event.type} names stage '${event.stage}', which the run's definition does not have (stages: ${[...state.stages.keys()].join(', ')})`,
    );
  }
  const added = newStage(0);
  state.stages.set(event.stage, added);
  return added;
}

/**
 * The stage an attempt's end (`stage.completed`, `stage.failed`, `stage.retrying`) names. Never in
 * a journal sagaflow wrote: an attempt's end of a stage that is not running (the runtime ignores
 * a late result). A stage completed that never started would stay ready and run again; one
 * settled twice would be counted twice; either way the run could never settle.
 */
function runningStageOf(state: MutableRunState, event: SagaEvent & { readonly stage: string }): MutableStage {
  const stage = stageOf(state, event);
  if (stage.status === 'not_started') {
    throw new StoreCorruptionError(state.runId, event.seq, `${event.type} of stage '${event.stage}', which never started (no stage.started before it)`);
  }
  if (stage.status !== 'running') {
    throw new StoreCorruptionError(state.runId, event.seq, `${event.type} of stage '${event.stage}', which is ${stage.status}, not running (an attempt's end without its stage.started)`);
  }
  return stage;
}

/**
 * The stage a compensation event names. Never in a journal sagaflow wrote: a compensation before
 * the run started compensating (compensations run only in a rollback, after `run.compensating`,
 * or after a redrive of a failed rollback), or of a stage that never started (only a stage that
 * ran has an effect to undo). Such a journal leaves a rollback with nothing to wait for and the
 * run unable to settle, so it is refused where it is read, before any process resumes it.
 */
function compensatedStageOf(state: MutableRunState, event: SagaEvent & { readonly stage: string }): MutableStage {
  if (state.status !== 'compensating') {
    throw new StoreCorruptionError(state.runId, event.seq, `${event.type} of stage '${event.stage}' while the run is ${state.status} (no run.compensating before it)`);
  }
  const stage = stageOf(state, event);
  if (stage.attempts === 0) {
    throw new StoreCorruptionError(state.runId, event.seq, `${event.type} of stage '${event.stage}', which never ran (no stage.started before it)`);
  }
  return stage;
}

/** Appends a stage to the settle order; only a stage settled twice (never in a sound journal) pays for a search. */
function settle(state: MutableRunState, stage: MutableStage, name: string): void {
  if (stage.status === 'completed' || stage.status === 'failed' || stage.status === 'cancelled') {
    const index = state.settleOrder.lastIndexOf(name);
    if (index !== -1) state.settleOrder.splice(index, 1);
  }
  (state.settleOrder = own(state.settleOrder)).push(name);
}

/** A stage's attempt or retry wait ended: it no longer counts as in flight. */
function leaveFlight(state: MutableRunState, stage: MutableStage): void {
  if (stage.status === 'running') state.inFlight--;
  stage.retryAt = undefined;
  stage.attemptEndedAt = undefined;
}

/**
 * Applies one event to a working state, in place: the single step of {@link foldJournal}.
 * Internal to the fold and the runtime.
 *
 * @param at - the event's `at`. The interpreter, which stamped the event with the time it holds,
 *   passes that time: `at` is a double field of the event, and a read of it here (events of a
 *   dozen shapes meet at this load) returns it boxed, a new number object per event, where the
 *   time the interpreter passes is a number object already, which every time field shares.
 * @throws `StoreCorruptionError` when the event names a stage the run's definition does not have,
 *   or comes in an order no run writes that would leave the run unable to settle (an attempt's end
 *   of a stage not running, a stage cancelled
 *   while the run is not stopping, a second or premature `run.compensating`, a compensation before
 *   the rollback or of a stage that never ran).
 */
export function applyEvent(state: MutableRunState, event: SagaEvent, at: number = event.at): void {
  state.lastSeq = event.seq;
  state.updatedAt = at;
  if (state.status === 'queued' && event.type !== 'run.started') state.status = 'running';
  switch (event.type) {
    case 'run.started':
      return;
    case 'stage.started': {
      const stage = stageOf(state, event);
      if (stage.status !== 'running') {
        // A re-execution after a redrive: the stage leaves its old place in the rollback order.
        if (stage.status !== 'not_started') {
          const index = state.settleOrder.lastIndexOf(event.stage);
          if (index !== -1) state.settleOrder.splice(index, 1);
        }
        stage.status = 'running';
        state.inFlight++;
        removeReady(state, event.stage);
        stage.endedAt = undefined;
        stage.cancelReason = undefined;
        stage.outcomeUnknown = false;
      } else if (state.readyStages.length > 0 && state.readyStages.includes(event.stage)) {
        // A stage in flight at a takeover, held there and made ready since (see completed()): in
        // flight again.
        removeReady(state, event.stage);
        state.inFlight++;
      }
      stage.attempts = Math.max(stage.attempts, event.attempt);
      stage.attemptStartedAt = at;
      stage.startedAt ??= at;
      stage.retryAt = undefined;
      stage.attemptEndedAt = undefined;
      return;
    }
    case 'stage.retrying': {
      const stage = runningStageOf(state, event);
      stage.error = event.error;
      stage.attemptEndedAt = at;
      stage.retryAt = at + event.delayMs;
      return;
    }
    case 'stage.completed': {
      const stage = runningStageOf(state, event);
      if (state.waits !== undefined) state.waits.delete(event.stage);
      leaveFlight(state, stage);
      (state.completionOrder = own(state.completionOrder)).push(event.stage);
      settle(state, stage, event.stage);
      stage.status = 'completed';
      stage.attempts = Math.max(stage.attempts, event.attempt);
      if ('output' in event) stage.output = freezeJson(event.output);
      stage.error = undefined;
      stage.endedAt = at;
      stage.durationMs = event.durationMs;
      completed(state, event.stage);
      return;
    }
    case 'stage.failed': {
      const stage = runningStageOf(state, event);
      if (state.waits !== undefined) state.waits.delete(event.stage);
      leaveFlight(state, stage);
      settle(state, stage, event.stage);
      stage.status = 'failed';
      stage.attempts = Math.max(stage.attempts, event.attempt);
      stage.error = event.error;
      stage.endedAt = at;
      state.failure ??= { stage: event.stage, error: event.error };
      state.stopping = true;
      return;
    }
    case 'stage.cancelled': {
      // Never in a journal sagaflow wrote: a stage is cancelled only while the run stops (after
      // run.cancelling or a stage.failed); the run would be left with nothing to do.
      if (!state.stopping) {
        throw new StoreCorruptionError(state.runId, event.seq, `stage.cancelled of stage '${event.stage}' while the run is not stopping (no run.cancelling or stage.failed before it)`);
      }
      const stage = stageOf(state, event);
      const held = isHeld(state, event.stage, stage);
      if (state.waits !== undefined) state.waits.delete(event.stage);
      leaveFlight(state, stage);
      if (held) state.inFlight++;
      if (stage.attempts > 0) settle(state, stage, event.stage);
      stage.status = 'cancelled';
      stage.cancelReason = event.reason;
      if (event.error !== undefined) stage.error = event.error;
      if (event.outcomeUnknown === true) stage.outcomeUnknown = true;
      stage.endedAt = at;
      return;
    }
    case 'wait.started': {
      const stage = stageOf(state, event);
      if (stage.status !== 'running') return;
      (state.waits ??= new Map()).set(event.stage, { kind: event.kind, signal: event.signal, dueAt: event.dueAt, since: at });
      const consumed = event.signalId === undefined ? undefined : state.signals?.get(event.signalId);
      if (consumed !== undefined) consumed.stage = event.stage;
      return;
    }
    case 'signal.received': {
      const signals = (state.signals ??= new Map());
      if (!signals.has(event.signalId)) {
        signals.set(event.signalId, { signal: event.signal, signalId: event.signalId, payload: freezeJson(event.payload), at, stage: event.stage });
      }
      return;
    }
    case 'run.cancelling':
      state.cancellation ??= { reason: event.reason, by: event.by };
      state.stopping = true;
      return;
    case 'run.compensating':
      // Never in a journal sagaflow wrote: a rollback starts once the forward phase has settled
      // (nothing in flight), once per run (a redrive of a failed rollback goes on with the same one).
      if (state.inFlight > 0 || (state.status !== 'running' && state.status !== 'paused')) {
        throw new StoreCorruptionError(
          state.runId,
          event.seq,
          state.inFlight > 0 ? `run.compensating while ${state.inFlight} stage(s) are in flight` : `run.compensating while the run is ${state.status}`,
        );
      }
      state.status = 'compensating';
      state.compensationCause = event.cause;
      state.rollback = planRollback(state);
      return;
    case 'compensation.started': {
      const stage = compensatedStageOf(state, event);
      const again = stage.compensation?.status === 'running';
      const compensation = compensationNow(stage, 'running', event.attempt);
      compensation.attemptStartedAt = at;
      compensation.startedAt ??= at;
      state.rollback?.started(event.stage, again);
      return;
    }
    case 'compensation.retrying': {
      const compensation = compensatedStageOf(state, event).compensation;
      if (compensation !== undefined) {
        compensation.error = event.error;
        compensation.attemptEndedAt = at;
        compensation.retryAt = at + event.delayMs;
      }
      return;
    }
    case 'compensation.completed':
    case 'compensation.failed': {
      const stage = compensatedStageOf(state, event);
      const wasRunning = stage.compensation?.status === 'running';
      const compensation = compensationNow(stage, event.type === 'compensation.completed' ? 'completed' : 'failed', event.attempt);
      compensation.endedAt = at;
      if (event.type === 'compensation.failed') compensation.error = event.error;
      else {
        compensation.error = undefined;
        compensation.durationMs = event.durationMs;
      }
      if (event.type === 'compensation.completed') (state.compensationOrder = own(state.compensationOrder)).push(event.stage);
      state.rollback?.settled(event.stage, wasRunning);
      return;
    }
    case 'run.resumed':
      applyResumed(state, event);
      return;
    case 'run.paused':
      state.status = 'paused';
      state.stopping = false;
      state.failure = event.failure;
      return;
    case 'run.completed':
      state.status = 'completed';
      state.stopping = false;
      return;
    case 'run.compensated':
      state.status = 'compensated';
      state.stopping = false;
      return;
    case 'run.cancelled':
      state.status = 'cancelled';
      state.stopping = false;
      return;
    case 'run.compensation_failed':
      state.status = 'compensation_failed';
      state.stopping = false;
      return;
    default:
      return assertNever(event);
  }
}

/** A stage started: it is no longer waiting to. Stages start in the order they became ready, so it is found at the front. */
function removeReady(state: MutableRunState, name: string): void {
  const ready = state.readyStages;
  if (ready.length === 1 && ready[0] === name) {
    // The last one: the run holds no list while it waits on its stages (see NONE).
    state.readyStages = NONE;
    return;
  }
  // The usual case, the front, in O(1): V8 trims an array's front in place on shift().
  if (ready[0] === name) {
    ready.shift();
    return;
  }
  const index = ready.indexOf(name);
  if (index !== -1) ready.splice(index, 1);
}

/** A stage completed for the first time: its dependents wait on one stage fewer. */
function completed(state: MutableRunState, name: string): void {
  const topology = state.topology;
  if (topology === undefined) return;
  const index = positionOf(topology, name);
  if (index === undefined) return;
  state.remaining--;
  const dependents = topology.dependents[index] as readonly string[];
  let completedDependents: number[] | undefined;
  for (let position = 0; position < dependents.length; position++) {
    const dependent = dependents[position] as string;
    const record = state.stages.get(dependent);
    if (record === undefined) continue;
    if (record.status === 'completed') {
      // Only after a change of definition that put this stage before one that had completed
      // (see recountForward): what waits on that completed stage waits, through it, on this one.
      const at = positionOf(topology, dependent);
      if (at !== undefined) (completedDependents ??= []).push(at);
      continue;
    }
    release(state, dependent, record);
  }
  if (completedDependents !== undefined) releaseThroughCompleted(state, topology, dependents, completedDependents);
}

/** `dependent` waits on one stage fewer, and is ready once it waits on none. */
function release(state: MutableRunState, dependent: string, record: MutableStage): void {
  if (isShared(record)) {
    // Its first dependency completed: the stage gets its own record now, rather than the shared
    // record of each count it passes through (one Map write per stage instead of one per
    // dependency plus one when it starts; a join of n stages no longer leaves n shared records).
    record = newStage(record.waitingOn - 1);
    state.stages.set(dependent, record);
  } else record.waitingOn--;
  // A dependent that is 'running' here (not a wait, which goes on) was in flight when its
  // process stopped, and was held at the takeover because a change of definition put this
  // stage before it: it runs again now.
  if (record.waitingOn === 0 && (record.status !== 'running' || state.waits?.has(dependent) !== true)) (state.readyStages = own(state.readyStages)).push(dependent);
}

/**
 * A stage completed that completed stages depend on (`walk`, by position; after a change of
 * definition only): every stage that has not completed and is reached from it through completed
 * stages waits on it once (see {@link waitsThrough}) and is released once, however many paths lead
 * there. `direct` are the completed stage's own dependents, already released entry by entry.
 */
function releaseThroughCompleted(state: MutableRunState, topology: Topology, direct: readonly string[], walk: number[]): void {
  const seen = new Set<string>(direct);
  for (let at = walk.pop(); at !== undefined; at = walk.pop()) {
    for (const dependent of topology.dependents[at] as readonly string[]) {
      if (seen.has(dependent)) continue;
      seen.add(dependent);
      const record = state.stages.get(dependent);
      if (record === undefined) continue;
      if (record.status === 'completed') {
        const next = positionOf(topology, dependent);
        if (next !== undefined) walk.push(next);
      } else release(state, dependent, record);
    }
  }
}

function applyResumed(state: MutableRunState, event: Extract<SagaEvent, { type: 'run.resumed' }>): void {
  state.lastResumeMode = event.mode;
  if (event.version !== undefined) state.version = event.version;
  if (event.shapeHash !== undefined) {
    state.shapeHash = event.shapeHash;
    if (event.shape === undefined) {
      // A definition change from before shapes were journaled: which stages it has is unknown.
      state.namesKnown = false;
      state.topology = undefined;
      state.shape = undefined;
    } else {
      state.shape = event.shape;
      state.topology = recordedTopology(event.shapeHash, event.shape);
      for (const stage of event.shape) {
        if (!state.stages.has(stage.name)) {
          state.stages.set(stage.name, notStarted(0));
        }
      }
    }
    recountForward(state);
  }
  // A fresh retry budget for whatever runs next.
  for (const stage of state.stages.values()) {
    if (isShared(stage)) continue; // no attempts, no compensation: nothing to reset
    stage.retryBase = stage.attempts;
    if (stage.compensation !== undefined) stage.compensation.retryBase = stage.compensation.attempts;
  }
  switch (event.mode) {
    case 'resume':
      if (event.shapeHash === undefined) recountInFlight(state);
      return;
    case 'redrive':
      if (state.status === 'paused') {
        // Forward again from the failure point: the failure no longer describes the run.
        state.status = 'running';
        state.failure = undefined;
        state.stopping = false;
        recountForward(state);
      } else if (state.status === 'compensation_failed') {
        state.status = 'compensating';
        state.stopping = true;
        for (const stage of state.stages.values()) {
          if (stage.compensation?.status === 'failed') stage.compensation.status = 'pending';
        }
        state.rollback = planRollback(state);
      }
      return;
    case 'compensate':
      state.stopping = true;
      return;
    default:
      return assertNever(event.mode);
  }
}

/**
 * Recomputes, from the stages' statuses, which stages wait on what and which may start.
 *
 * @remarks
 * A stage waits on each dependency that has not completed (once per entry of its `after`). After
 * a change of definition, a completed stage may depend on one that has not (a stage put before
 * it): a stage after it then waits, through it, on that one too, so that it starts only once every
 * ancestor completed and its `results` hold them all. Such a wait is counted once per stage waited
 * on, however many paths of completed stages lead to it ({@link completed} releases it once): a
 * count per path would grow as 2^n over n diamonds of completed stages.
 */
function recountForward(state: MutableRunState): void {
  const topology = state.topology;
  state.readyStages = NONE;
  state.remaining = 0;
  if (topology === undefined) return;
  const waitingAbove = completedWaitingAbove(state, topology);
  for (let index = 0; index < topology.names.length; index++) {
    const name = topology.names[index] as string;
    const record = state.stages.get(name);
    if (record === undefined || record.status === 'completed') continue;
    state.remaining++;
    const waitingOn = waitsThrough(state, topology, index, waitingAbove);
    setWaitingOn(state, name, record, waitingOn);
    if (waitingOn === 0 && record.status !== 'running') (state.readyStages = own(state.readyStages)).push(name);
  }
  recountInFlight(state);
}

/**
 * How many stages the stage at `index` waits on: its dependencies that have not completed, one
 * per entry of its `after`, and (with `waitingAbove`) each further stage that has not completed
 * and is reached up through completed dependencies that wait on one (once each).
 */
function waitsThrough(state: MutableRunState, topology: Topology, index: number, waitingAbove: readonly boolean[] | undefined): number {
  const parents = topology.parents[index] as readonly string[];
  let waitingOn = 0;
  let walk: number[] | undefined;
  for (const parent of parents) {
    if (state.stages.get(parent)?.status !== 'completed') waitingOn++;
    else if (waitingAbove !== undefined) {
      const at = positionOf(topology, parent);
      if (at !== undefined && waitingAbove[at] === true) (walk ??= []).push(at);
    }
  }
  if (walk === undefined) return waitingOn;
  const direct = new Set(parents);
  const seen = new Set(walk);
  const further = new Set<string>();
  for (let at = walk.pop(); at !== undefined; at = walk.pop()) {
    for (const parent of topology.parents[at] as readonly string[]) {
      if (state.stages.get(parent)?.status !== 'completed') {
        if (!direct.has(parent)) further.add(parent);
        continue;
      }
      const next = positionOf(topology, parent);
      if (next !== undefined && waitingAbove?.[next] === true && !seen.has(next)) {
        seen.add(next);
        walk.push(next);
      }
    }
  }
  return waitingOn + further.size;
}

/**
 * Per stage of the topology (by position): whether it completed while a stage it depends on,
 * directly or through completed stages, has not; `undefined` when no stage did, as in every run
 * whose definition did not change (a stage completes only after its dependencies). Iterative,
 * as chains can be deep; a cycle (a hand-edited shape) is cut where it closes.
 */
function completedWaitingAbove(state: MutableRunState, topology: Topology): boolean[] | undefined {
  const count = topology.names.length;
  const above = new Array<boolean>(count).fill(false);
  const visit = new Uint8Array(count); // 0: not yet, 1: its parents being visited, 2: done
  let any = false;
  for (let root = 0; root < count; root++) {
    if (visit[root] !== 0) continue;
    const stack = [root];
    while (stack.length > 0) {
      const at = stack[stack.length - 1] as number;
      const parents = topology.parents[at] as readonly string[];
      if (visit[at] === 0) {
        visit[at] = 1;
        for (const parent of parents) {
          const next = positionOf(topology, parent);
          if (next !== undefined && visit[next] === 0) stack.push(next);
        }
        continue;
      }
      stack.pop();
      if (visit[at] === 2) continue;
      visit[at] = 2;
      if (state.stages.get(topology.names[at] as string)?.status !== 'completed') continue;
      for (const parent of parents) {
        const next = positionOf(topology, parent);
        if (state.stages.get(parent)?.status !== 'completed' || (next !== undefined && above[next] === true)) {
          above[at] = true;
          any = true;
          break;
        }
      }
    }
  }
  return any ? above : undefined;
}

/**
 * Counts the stages in flight again at a takeover: every running stage but the held ones (see
 * {@link isHeld}), which have no attempt and take no slot of the saga's concurrency.
 */
function recountInFlight(state: MutableRunState): void {
  let inFlight = 0;
  for (const [name, record] of state.stages) if (record.status === 'running' && !isHeld(state, name, record)) inFlight++;
  state.inFlight = inFlight;
}

/**
 * Whether a stage is held: it was in flight when its process stopped, and at the takeover it
 * waits on a stage that has not completed (a change of definition put one before it; or a damaged
 * journal started it early). It is `running` with no attempt, not in flight, and runs again once
 * it is ready (see completed()). Never so in a journal sagaflow wrote without a change of
 * definition: a stage starts only once its dependencies completed.
 */
function isHeld(state: MutableRunState, name: string, record: MutableStage): boolean {
  return record.status === 'running' && record.waitingOn > 0 && state.lastResumeMode !== undefined && state.waits?.has(name) !== true;
}


/**
 * What a rollback must compensate, from the settle order: completed stages that have a
 * `compensate`, plus stages whose outcome is unknown and `compensateOnFailure` stages that failed,
 * each where it settled.
 */
function rollbackCandidates(state: MutableRunState, topology: Topology): string[] {
  const candidates: string[] = [];
  for (const name of state.settleOrder) {
    const index = topology.indexOf.get(name);
    const record = state.stages.get(name);
    if (index === undefined || record === undefined || topology.compensates[index] !== true) continue;
    const failedForCompensation =
      topology.compensateOnFailure[index] === true && (record.status === 'failed' || (record.status === 'cancelled' && record.error !== undefined));
    if (record.status === 'completed' || record.outcomeUnknown || failedForCompensation) candidates.push(name);
  }
  return candidates;
}

function isSettledCompensation(record: MutableStage | undefined): boolean {
  const status = record?.compensation?.status;
  return status === 'completed' || status === 'failed';
}

/** The rollback plan, made when the run starts (or, after a redrive, restarts) compensating. */
function planRollback(state: MutableRunState): RollbackPlan {
  const topology = state.topology;
  const order = topology === undefined ? [] : rollbackCandidates(state, topology).reverse();
  const pending = new Set<string>();
  let inFlight = 0;
  for (const name of order) {
    const record = state.stages.get(name);
    if (isSettledCompensation(record)) continue;
    pending.add(name);
    if (record?.compensation?.status === 'running') inFlight++;
  }
  return new RollbackPlan(state, order, pending, inFlight);
}

/** Exhaustiveness check for switches over discriminated unions. */
export function assertNever(value: never): never {
  throw new TypeError(`Unexpected value: ${JSON.stringify(value)}`);
}
