import { createRequire } from 'node:module';
import {
  context as contextApi,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  isSpanContextValid,
  metrics,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Counter,
  type Histogram,
  type Link,
  type Meter,
  type MeterProvider,
  type Span,
  type SpanContext,
  type TextMapPropagator,
  type Tracer,
  type TracerProvider,
  type UpDownCounter,
} from '@opentelemetry/api';
import { SagaErrorCode } from '../errors/saga-error.js';
import { describeThrown } from '../errors/safe-read.js';
import type { SerializedError } from '../errors/serialize-error.js';
import type { RunState } from '../journal/fold.js';
import type { RunStartedEvent, SagaEvent } from '../journal/saga-event.js';
import type { AttemptPhase, AttemptResult } from '../runtime/decider.js';
import type { AttemptInfo, AttemptScope, DriveEnd, DriveInfo, DriveScope, Instrumentation, WorkerActivity } from '../runtime/instrumentation.js';
import { w3cTraceContext } from './trace-context.js';

const { version: SAGAFLOW_VERSION } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** The instrumentation scope name of sagaflow's tracer and meter. */
const SCOPE = 'sagaflow';

/**
 * The spans `sagaflow/otel` makes, by name (each is followed by the saga's or the stage's name).
 *
 * @remarks
 * - `saga.start` / `saga.submit`: the `start` or `submit` call (ended at once); its context is
 *   journaled with the run, and every drive of the run is its child: one trace per run.
 * - `saga.run`: one process driving the run, from the moment it starts or picks the run up until
 *   the run settles or the process stops driving it.
 * - `saga.rollback`: the rollback, under `saga.run`, parent of the `saga.compensate` spans.
 * - `saga.stage` / `saga.compensate`: one attempt of a stage's `execute` / `compensate`.
 *
 * @example
 * ```ts
 * import type { SagaSpanName } from 'sagaflow/otel';
 * const isAttempt = (name: SagaSpanName) => name === 'saga.stage' || name === 'saga.compensate';
 * ```
 */
export type SagaSpanName = 'saga.start' | 'saga.submit' | 'saga.run' | 'saga.rollback' | 'saga.stage' | 'saga.compensate';

/**
 * The span about to be started, as passed to {@link OpenTelemetryOptions.attributes}.
 *
 * @remarks
 * `input` is the run's validated input (as journaled on `run.started`): pick what identifies the
 * business transaction (a tenant, an order id) and leave secrets out. `stage` and `attempt` are
 * set for `saga.stage` and `saga.compensate` spans.
 *
 * @example
 * ```ts
 * import type { SagaSpanTarget } from 'sagaflow/otel';
 * const orderId = (target: SagaSpanTarget) => (target.input as { orderId?: string }).orderId;
 * ```
 */
export interface SagaSpanTarget {
  /** Which span. */
  readonly name: SagaSpanName;
  /** The run's id. */
  readonly runId: string;
  /** The saga's name. */
  readonly saga: string;
  /** The run's validated input. */
  readonly input: unknown;
  /** The stage, for an attempt's span. */
  readonly stage?: string;
  /** The attempt's number, for an attempt's span. */
  readonly attempt?: number;
}

/**
 * Options of {@link openTelemetry}.
 *
 * @remarks
 * Every option is optional. Without `tracerProvider` and `meterProvider`, the global ones are used
 * (those an OpenTelemetry SDK registers, e.g. `NodeSDK.start()`); the meter is looked up at the
 * first run, so register the SDK before any run starts. `propagator` decides what is journaled
 * with each run to continue its trace elsewhere: W3C Trace Context (`traceparent`, `tracestate`)
 * by default, whatever the process registered globally, so that every process reads what the
 * others wrote. `attributes` adds attributes to every span sagaflow starts (not to metrics, whose
 * attributes stay few so that their cardinality stays low); a hook that throws, or returns anything
 * but an object, is reported through OpenTelemetry's `diag` logger and the span gets sagaflow's own
 * attributes only — the span, the run's trace and the metrics are never lost to it.
 *
 * @example
 * ```ts
 * import { trace } from '@opentelemetry/api';
 * import type { OpenTelemetryOptions } from 'sagaflow/otel';
 * const options: OpenTelemetryOptions = {
 *   tracerProvider: trace.getTracerProvider(),
 *   attributes: ({ input }) => ({ 'app.tenant': (input as { tenant: string }).tenant }),
 * };
 * ```
 */
export interface OpenTelemetryOptions {
  /** Where spans go. Default: the global tracer provider. */
  readonly tracerProvider?: TracerProvider | undefined;
  /** Where metrics go. Default: the global meter provider. */
  readonly meterProvider?: MeterProvider | undefined;
  /** How a run's trace context is journaled and read back. Default: W3C Trace Context. */
  readonly propagator?: TextMapPropagator | undefined;
  /** Attributes to add to each span, from the run and the attempt it is about. */
  readonly attributes?: ((target: SagaSpanTarget) => Attributes | undefined) | undefined;
}

/**
 * Traces and metrics for sagaflow, on OpenTelemetry: an {@link Instrumentation} to pass to
 * `createOrchestrator` and `createWorker`.
 *
 * @remarks
 * One trace per run, across processes and restarts: `start` / `submit` journal their trace
 * context with the run (`run.started`'s `context`), and each process that drives the run — the
 * one that started it, a worker that claims it, a process that resumes it after a crash, a later
 * redrive — opens a `saga.run` span in that trace, linked to the span that started the run. Under
 * it, one span per attempt (`saga.stage`, `saga.compensate`; retries are separate spans numbered
 * by `sagaflow.attempt.number`) and a `saga.rollback` span over the rollback. Inside `execute`
 * and `compensate`, the active context is the attempt's span, so the spans of an instrumented HTTP
 * or database client called there are its children. A failed attempt has error status and an
 * `exception` event (`exception.type`, `exception.message`, `exception.stacktrace`) from the
 * journaled (redacted) error. A drive whose `saga.run` span is not recording (no SDK registered,
 * or the run not sampled: the decision is made once, at `start` / `submit`, and journaled with the
 * run) makes no attempt or rollback spans, and still records every metric.
 *
 * Metrics: `sagaflow.runs.submitted`, `sagaflow.runs.started`, `sagaflow.runs.ended`
 * (`sagaflow.run.status`), `sagaflow.runs.halted`, `sagaflow.runs.active`,
 * `sagaflow.run.duration`, `sagaflow.stage.attempts` and `sagaflow.compensation.attempts`
 * (`sagaflow.attempt.outcome`), `sagaflow.stage.duration`, `sagaflow.compensation.duration`, and on
 * workers `sagaflow.worker.claims`, `sagaflow.worker.leases.lost`, `sagaflow.worker.releases`,
 * `sagaflow.worker.parks`, `sagaflow.worker.errors`. Durations are in seconds. See `docs/observability.md` for each.
 *
 * The same instance may be shared by an orchestrator and a worker of one process, and its hooks
 * are plain functions: spread it into an `Instrumentation` of your own to add to a hook. Without
 * it, nothing of OpenTelemetry is loaded and the runtime does no work for it.
 *
 * @example
 * ```ts
 * import { createOrchestrator, createWorker, type AnySaga } from 'sagaflow';
 * import { PostgresStore } from 'sagaflow/postgres';
 * import { openTelemetry } from 'sagaflow/otel';
 * declare const transfer: AnySaga;
 * const store = new PostgresStore({ connectionString: 'postgres://app@db:5432/app' });
 * const instrumentation = openTelemetry();
 * const orchestrator = createOrchestrator({ store, sagas: [transfer], instrumentation });
 * const worker = createWorker({ store, sagas: [transfer], instrumentation });
 * ```
 */
export function openTelemetry(options: OpenTelemetryOptions = {}): Instrumentation {
  const instrumentation = new OpenTelemetryInstrumentation(options);
  // Plain functions, so that the hooks survive being spread into another Instrumentation.
  return {
    carrier: (started) => instrumentation.carrier(started),
    drive: (run) => instrumentation.drive(run),
    worker: (activity) => instrumentation.worker(activity),
  };
}

// -----------------------------------------------------------------------------------------------
// Attribute names (semantic-convention style: a `sagaflow.` namespace, dotted, snake_case).

const SAGA_NAME = 'sagaflow.saga.name';
const SAGA_VERSION = 'sagaflow.saga.version';
const RUN_ID = 'sagaflow.run.id';
const RUN_STATUS = 'sagaflow.run.status';
const DRIVE_REASON = 'sagaflow.drive.reason';
const STAGE_NAME = 'sagaflow.stage.name';
const ATTEMPT_NUMBER = 'sagaflow.attempt.number';
const ATTEMPT_PHASE = 'sagaflow.attempt.phase';
const ATTEMPT_OUTCOME = 'sagaflow.attempt.outcome';
const IDEMPOTENCY_KEY = 'sagaflow.idempotency_key';
const RETRY_DELAY = 'sagaflow.retry.delay_ms';
const ROLLBACK_CAUSE = 'sagaflow.rollback.cause';
const FAILED_STAGE = 'sagaflow.failure.stage';
const CANCEL_REASON = 'sagaflow.cancel.reason';
const CANCEL_BY = 'sagaflow.cancel.by';
const ERROR_CODE = 'sagaflow.error.code';
const LINK_KIND = 'sagaflow.link';
const ERROR_TYPE = 'error.type';

/** How an attempt ended, as its span and metrics say: the journal event that concluded it. */
type AttemptOutcome = 'completed' | 'retrying' | 'failed' | 'cancelled' | 'interrupted';

/** Errors of a drive that stops on purpose (a graceful shutdown hands the run over): not span errors. */
const GRACEFUL_HALTS: ReadonlySet<unknown> = new Set<unknown>([SagaErrorCode.OrchestratorClosed, SagaErrorCode.WorkerStopped]);

/** How many runs this process remembers the last `saga.run` span of, to link a later drive here to it. */
const REMEMBERED_DRIVES = 1_000;

const ATTEMPT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60];
const RUN_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3_600, 21_600, 86_400];

interface Instruments {
  readonly runsSubmitted: Counter;
  readonly runsStarted: Counter;
  readonly runsEnded: Counter;
  readonly runsHalted: Counter;
  readonly runsActive: UpDownCounter;
  readonly runDuration: Histogram;
  readonly stageAttempts: Counter;
  readonly stageDuration: Histogram;
  readonly compensationAttempts: Counter;
  readonly compensationDuration: Histogram;
  readonly workerClaims: Counter;
  readonly workerLeasesLost: Counter;
  readonly workerReleases: Counter;
  readonly workerParks: Counter;
  readonly workerErrors: Counter;
}

function createInstruments(meter: Meter): Instruments {
  const runs = (name: string, description: string): Counter => meter.createCounter(name, { description, unit: '{run}' });
  const seconds = (name: string, description: string, buckets: number[]): Histogram =>
    meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: buckets } });
  return {
    runsSubmitted: runs('sagaflow.runs.submitted', 'Runs submitted to workers by this process.'),
    runsStarted: runs('sagaflow.runs.started', 'Runs that began executing in this process: started here, or claimed from the queue for the first time.'),
    runsEnded: runs('sagaflow.runs.ended', 'Runs that settled in this process, by final status (a redriven run settles again).'),
    runsHalted: runs('sagaflow.runs.halted', 'Drives that stopped without settling their run (lease lost, store failure, shutdown), by error type.'),
    runsActive: meter.createUpDownCounter('sagaflow.runs.active', { description: 'Runs this process is driving now.', unit: '{run}' }),
    runDuration: seconds('sagaflow.run.duration', 'Time from run.started to the event that settled the run, on the journal clock, by final status.', RUN_BUCKETS),
    stageAttempts: meter.createCounter('sagaflow.stage.attempts', { description: 'Attempts of stages\u2019 execute, by outcome.', unit: '{attempt}' }),
    stageDuration: seconds('sagaflow.stage.duration', 'Duration of one attempt of a stage\u2019s execute, by outcome.', ATTEMPT_BUCKETS),
    compensationAttempts: meter.createCounter('sagaflow.compensation.attempts', { description: 'Attempts of stages\u2019 compensate, by outcome.', unit: '{attempt}' }),
    compensationDuration: seconds('sagaflow.compensation.duration', 'Duration of one attempt of a stage\u2019s compensate, by outcome.', ATTEMPT_BUCKETS),
    workerClaims: runs('sagaflow.worker.claims', 'Runs a worker claimed from the queue (sagaflow.claim.resumed: taken over or handed back).'),
    workerLeasesLost: runs('sagaflow.worker.leases.lost', 'Runs a worker stopped driving because another process took its lease over.'),
    workerReleases: runs('sagaflow.worker.releases', 'Runs a worker handed back to the queue (after a failed append, or a stop that timed out).'),
    workerParks: runs('sagaflow.worker.parks', 'Waiting runs a worker parked: lease given back until the wait is due or a signal or cancel arrives.'),
    workerErrors: meter.createCounter('sagaflow.worker.errors', { description: 'Failed store calls of a worker, by operation (most are retried).', unit: '{error}' }),
  };
}

class OpenTelemetryInstrumentation implements Instrumentation {
  readonly tracer: Tracer;
  readonly propagator: TextMapPropagator;
  private readonly attributesHook: ((target: SagaSpanTarget) => Attributes | undefined) | undefined;
  private readonly meterProvider: MeterProvider | undefined;
  private lazyInstruments: Instruments | undefined;
  /** The last `saga.run` span context of runs whose drive here ended unsettled or paused, oldest first. */
  private readonly lastDrives = new Map<string, SpanContext>();
  /** By saga, stage and outcome (bounded by the definitions this process runs). */
  private readonly metricAttributes = new Map<string, Map<string, Map<AttemptOutcome, Attributes>>>();

  constructor(options: OpenTelemetryOptions) {
    this.tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE, SAGAFLOW_VERSION);
    this.meterProvider = options.meterProvider;
    this.propagator = options.propagator ?? w3cTraceContext;
    this.attributesHook = options.attributes;
  }

  /** The instruments, made at first use: the global meter provider may be registered after `openTelemetry()`. */
  get instruments(): Instruments {
    return (this.lazyInstruments ??= createInstruments((this.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE, SAGAFLOW_VERSION)));
  }

  carrier(started: RunStartedEvent): Readonly<Record<string, string>> | undefined {
    const submitted = started.submitted === true;
    const name: SagaSpanName = submitted ? 'saga.submit' : 'saga.start';
    const active = contextApi.active();
    const span = this.tracer.startSpan(
      `${name} ${started.saga}`,
      { kind: submitted ? SpanKind.PRODUCER : SpanKind.INTERNAL, attributes: this.attributes(runAttributes(started.saga, started.version, started.runId), () => ({ name, runId: started.runId, saga: started.saga, input: started.input })) },
      active,
    );
    span.end();
    if (submitted) this.instruments.runsSubmitted.add(1, { [SAGA_NAME]: started.saga });
    const carrier: Record<string, string> = {};
    this.propagator.inject(trace.setSpan(active, span), carrier, defaultTextMapSetter);
    return carrier;
  }

  drive(run: DriveInfo): DriveScope {
    return new DriveTrace(this, run);
  }

  worker(activity: WorkerActivity): void {
    const instruments = this.instruments;
    switch (activity.type) {
      case 'claimed':
        instruments.workerClaims.add(1, { [SAGA_NAME]: activity.saga, 'sagaflow.claim.resumed': activity.resumed });
        return;
      case 'lease_lost':
        instruments.workerLeasesLost.add(1);
        return;
      case 'released':
        instruments.workerReleases.add(1);
        return;
      case 'parked':
        instruments.workerParks.add(1);
        return;
      case 'error':
        instruments.workerErrors.add(1, { 'sagaflow.worker.operation': activity.operation, [ERROR_TYPE]: errorType(activity.error) });
        return;
      default:
        assertNever(activity);
    }
  }

  /** `base` plus what the user's hook adds for this span (the target is built only for a hook). */
  attributes(base: Attributes, target: () => SagaSpanTarget): Attributes {
    const hook = this.attributesHook;
    if (hook === undefined) return base;
    // A hook that throws, or returns anything but an object, costs its own attributes only: the
    // span, its trace and the metrics go on (OpenTelemetry's diag logger says what happened).
    let added: unknown;
    try {
      added = hook(target());
    } catch (error) {
      diag.error(`sagaflow/otel: the attributes hook threw (${describeThrown(error)}); the span has sagaflow's attributes only`);
      return base;
    }
    if (added === undefined) return base;
    if (typeof added !== 'object' || added === null || Array.isArray(added)) {
      diag.error(`sagaflow/otel: the attributes hook returned ${Array.isArray(added) ? 'an array' : typeof added}, not an object of attributes; ignored`);
      return base;
    }
    return { ...(added as Attributes), ...base };
  }

  /** The attributes of an attempt's metrics, made once per saga, stage and outcome. */
  attemptMetricAttributes(saga: string, stage: string, outcome: AttemptOutcome): Attributes {
    let stages = this.metricAttributes.get(saga);
    if (stages === undefined) this.metricAttributes.set(saga, (stages = new Map<string, Map<AttemptOutcome, Attributes>>()));
    let outcomes = stages.get(stage);
    if (outcomes === undefined) stages.set(stage, (outcomes = new Map<AttemptOutcome, Attributes>()));
    let attributes = outcomes.get(outcome);
    if (attributes === undefined) outcomes.set(outcome, (attributes = { [SAGA_NAME]: saga, [STAGE_NAME]: stage, [ATTEMPT_OUTCOME]: outcome }));
    return attributes;
  }

  /** The span context of this run's last drive here, if this process remembers one. */
  lastDrive(runId: string): SpanContext | undefined {
    return this.lastDrives.get(runId);
  }

  /** Remembers (or forgets, for `undefined`) the span of this run's drive that just ended here. */
  rememberDrive(runId: string, spanContext: SpanContext | undefined): void {
    this.lastDrives.delete(runId);
    if (spanContext === undefined) return;
    this.lastDrives.set(runId, spanContext);
    if (this.lastDrives.size > REMEMBERED_DRIVES) {
      const oldest = this.lastDrives.keys().next();
      if (oldest.done !== true) this.lastDrives.delete(oldest.value);
    }
  }
}

/**
 * One attempt: its span (none in a drive that is not traced), the context its call runs in, and
 * when the call began and ended. Once the call ended, it waits for the journal event that says
 * what came of it.
 */
class AttemptTrace implements AttemptScope {
  readonly startedAt = performance.now();
  endedAt = 0;

  constructor(
    private readonly drive: DriveTrace,
    readonly info: AttemptInfo,
    readonly span: Span | undefined,
    private readonly active: Context,
  ) {}

  invoke<T>(call: () => T): T {
    return contextApi.with(this.active, call);
  }

  end(result: AttemptResult): void {
    this.drive.attemptEnded(this, result);
  }
}

/** One drive of a run: its `saga.run` span, the rollback's span, and the attempts' spans. */
class DriveTrace implements DriveScope {
  private readonly span: Span;
  private readonly context: Context;
  private readonly input: unknown;
  private readonly version: string;
  private readonly recording: boolean;
  private rollback: { readonly span: Span; readonly context: Context } | undefined;
  private state: RunState | undefined;
  /** Attempts whose call has not ended: a drive that stops ends their spans (its `halt` ends no attempt). */
  private readonly inFlight = new Set<AttemptTrace>();
  /** Ended attempts by `phase:stage` (a stage has at most one attempt per phase at a time). */
  private readonly ended = new Map<string, AttemptTrace>();

  constructor(
    private readonly owner: OpenTelemetryInstrumentation,
    private readonly run: DriveInfo,
  ) {
    const started = run.journal[0];
    this.input = started?.type === 'run.started' ? started.input : undefined;
    this.version = run.version;
    const journaled = started?.type === 'run.started' && started.context !== undefined ? owner.propagator.extract(ROOT_CONTEXT, started.context, defaultTextMapGetter) : undefined;
    const journaledSpan = journaled === undefined ? undefined : trace.getSpanContext(journaled);
    const active = contextApi.active();
    const valid = journaledSpan !== undefined && isSpanContextValid(journaledSpan);
    // The run's own trace when it journaled one; otherwise whatever the caller is in.
    const parent = valid && journaled !== undefined ? journaled : active;
    const links: Link[] = [];
    if (run.reason !== 'start') {
      // A later drive: its parent, the span that started the run, ended long ago (maybe in
      // another process); the links say so, and point at what caused this drive.
      if (valid) links.push({ context: journaledSpan, attributes: { [LINK_KIND]: 'run.started' } });
      const previous = owner.lastDrive(run.runId);
      if (previous !== undefined) links.push({ context: previous, attributes: { [LINK_KIND]: 'previous_drive' } });
      const caller = trace.getSpanContext(active);
      if (caller !== undefined && isSpanContextValid(caller) && caller.spanId !== journaledSpan?.spanId) links.push({ context: caller, attributes: { [LINK_KIND]: 'caller' } });
    }
    const attributes = owner.attributes(
      { ...runAttributes(run.saga, run.version, run.runId), [DRIVE_REASON]: run.reason },
      () => ({ name: 'saga.run', runId: run.runId, saga: run.saga, input: this.input }),
    );
    this.span = owner.tracer.startSpan(`saga.run ${run.saga}`, { kind: run.reason === 'claim' ? SpanKind.CONSUMER : SpanKind.INTERNAL, attributes, links }, parent);
    this.context = trace.setSpan(parent, this.span);
    // A drive that is not traced (no SDK, or not sampled) makes no attempt or rollback spans: they
    // would not be recorded either; its metrics are.
    this.recording = this.span.isRecording();
    const instruments = owner.instruments;
    instruments.runsActive.add(1, { [SAGA_NAME]: run.saga });
    if (run.reason === 'start' || run.reason === 'claim') instruments.runsStarted.add(1, { [SAGA_NAME]: run.saga });
  }

  event(event: SagaEvent, state: RunState): void {
    this.state = state;
    switch (event.type) {
      case 'stage.completed':
        return this.conclude('execute', event.stage, event.attempt, 'completed');
      case 'stage.retrying':
        return this.conclude('execute', event.stage, event.attempt, 'retrying', event.delayMs);
      case 'stage.failed':
        return this.conclude('execute', event.stage, event.attempt, 'failed');
      case 'stage.cancelled':
        return this.conclude('execute', event.stage, undefined, 'cancelled');
      case 'compensation.completed':
        return this.conclude('compensate', event.stage, event.attempt, 'completed');
      case 'compensation.retrying':
        return this.conclude('compensate', event.stage, event.attempt, 'retrying', event.delayMs);
      case 'compensation.failed':
        return this.conclude('compensate', event.stage, event.attempt, 'failed');
      case 'run.compensating':
        this.openRollback(state);
        return;
      case 'run.cancelling':
        this.span.addEvent('sagaflow.run.cancelling', { [CANCEL_REASON]: event.reason, [CANCEL_BY]: event.by });
        return;
      case 'run.paused':
        this.span.addEvent('sagaflow.run.paused', { [FAILED_STAGE]: event.failure.stage });
        return;
      case 'run.resumed':
        this.span.addEvent('sagaflow.run.resumed', { 'sagaflow.resume.mode': event.mode });
        return;
      case 'wait.started':
        this.span.addEvent('sagaflow.wait.started', { [STAGE_NAME]: event.stage, 'sagaflow.wait.kind': event.kind, ...(event.signal === undefined ? {} : { 'sagaflow.signal.name': event.signal }) });
        return;
      case 'signal.received':
        this.span.addEvent('sagaflow.signal.received', { 'sagaflow.signal.name': event.signal, 'sagaflow.signal.id': event.signalId });
        return;
      case 'run.started':
      case 'stage.started':
      case 'compensation.started':
      case 'run.completed':
      case 'run.compensated':
      case 'run.cancelled':
      case 'run.compensation_failed':
        return;
      default:
        return assertNever(event);
    }
  }

  attempt(info: AttemptInfo): AttemptScope {
    let span: Span | undefined;
    let active = this.context;
    if (this.recording) {
      const compensate = info.phase === 'compensate';
      const parent = compensate ? this.openRollback(this.state) : this.context;
      const name: SagaSpanName = compensate ? 'saga.compensate' : 'saga.stage';
      const attributes = this.owner.attributes(
        {
          [SAGA_NAME]: info.saga,
          [SAGA_VERSION]: this.version,
          [RUN_ID]: info.runId,
          [STAGE_NAME]: info.stage,
          [ATTEMPT_PHASE]: info.phase,
          [ATTEMPT_NUMBER]: info.attempt,
        },
        () => ({ name, runId: info.runId, saga: info.saga, input: this.input, stage: info.stage, attempt: info.attempt }),
      );
      span = this.owner.tracer.startSpan(`${name} ${info.stage}`, { attributes }, parent);
      // The key is a hash, derived on first read: only for a span that keeps it.
      if (span.isRecording()) span.setAttribute(IDEMPOTENCY_KEY, info.idempotencyKey);
      active = trace.setSpan(parent, span);
    }
    const attempt = new AttemptTrace(this, info, span, active);
    this.inFlight.add(attempt);
    return attempt;
  }

  end(end: DriveEnd): void {
    const now = performance.now();
    for (const attempt of this.inFlight) {
      attempt.endedAt = now;
      this.finishAttempt(undefined, attempt, 'interrupted');
    }
    this.inFlight.clear();
    for (const [key, attempt] of [...this.ended]) this.finishAttempt(key, attempt, 'interrupted');
    const instruments = this.owner.instruments;
    const saga = this.run.saga;
    instruments.runsActive.add(-1, { [SAGA_NAME]: saga });
    if (end.kind === 'settled') {
      const { state } = end;
      const status = state.status;
      this.span.setAttribute(RUN_STATUS, status);
      const failed = status === 'compensation_failed' || state.failure !== undefined;
      if (failed) this.span.setStatus({ code: SpanStatusCode.ERROR, message: runFailure(state) });
      if (this.rollback !== undefined) {
        if (status === 'compensation_failed') this.rollback.span.setStatus({ code: SpanStatusCode.ERROR, message: 'a compensation failed' });
        this.rollback.span.end();
      }
      instruments.runsEnded.add(1, { [SAGA_NAME]: saga, [RUN_STATUS]: status });
      instruments.runDuration.record(Math.max(0, state.updatedAt - state.startedAt) / 1_000, { [SAGA_NAME]: saga, [RUN_STATUS]: status });
      // Paused and compensation_failed runs wait for an operator: a later drive here links to this one.
      this.owner.rememberDrive(this.run.runId, status === 'paused' || status === 'compensation_failed' ? this.span.spanContext() : undefined);
    } else if (end.kind === 'parked') {
      // Waiting, with nothing held: the drive that claims it again links to this one.
      this.span.setAttribute('sagaflow.drive.parked', true);
      if (end.wakeAt !== null) this.span.setAttribute('sagaflow.drive.wake_at', new Date(end.wakeAt).toISOString());
      this.rollback?.span.end();
      this.owner.rememberDrive(this.run.runId, this.span.spanContext());
    } else {
      const { error } = end;
      const type = errorType(error);
      this.span.setAttribute('sagaflow.drive.halted', true);
      this.span.addEvent('exception', { 'exception.type': error.name, 'exception.message': error.message, ...(error.stack === undefined ? {} : { 'exception.stacktrace': error.stack }) });
      if (!GRACEFUL_HALTS.has((error as { code?: unknown }).code)) {
        this.span.setAttribute(ERROR_TYPE, type);
        this.span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      }
      this.rollback?.span.end();
      instruments.runsHalted.add(1, { [SAGA_NAME]: saga, [ERROR_TYPE]: type });
      this.owner.rememberDrive(this.run.runId, this.span.spanContext());
    }
    this.span.end();
  }

  /** The rollback's span, opened once per drive: at `run.compensating`, or at the first compensation of a rollback picked up. */
  private openRollback(state: RunState | undefined): Context {
    if (this.rollback !== undefined) return this.rollback.context;
    if (!this.recording) return this.context;
    const cause = state?.compensationCause;
    const attributes: Attributes = { ...runAttributes(this.run.saga, this.version, this.run.runId) };
    if (cause !== undefined) {
      attributes[ROLLBACK_CAUSE] = cause.kind;
      if (cause.kind === 'failed') attributes[FAILED_STAGE] = cause.stage;
      else {
        attributes[CANCEL_REASON] = cause.reason;
        attributes[CANCEL_BY] = cause.by;
      }
    }
    const span = this.owner.tracer.startSpan(
      `saga.rollback ${this.run.saga}`,
      { attributes: this.owner.attributes(attributes, () => ({ name: 'saga.rollback', runId: this.run.runId, saga: this.run.saga, input: this.input })) },
      this.context,
    );
    this.rollback = { span, context: trace.setSpan(this.context, span) };
    return this.rollback.context;
  }

  /** An attempt's call ended (its scope's `end`). */
  attemptEnded(attempt: AttemptTrace, result: AttemptResult): void {
    attempt.endedAt = performance.now();
    if (!this.inFlight.delete(attempt)) return;
    const { info, span } = attempt;
    if (span !== undefined && !result.ok) {
      if (result.cancel !== undefined) span.setAttribute(CANCEL_REASON, result.cancel);
      const error = result.error;
      if (error !== undefined && result.cancel === undefined) recordError(span, error);
    }
    this.ended.set(attemptKey(info.phase, info.stage), attempt);
  }

  /** The journal said what came of a stage's attempt: its span ends (when the call did), and is counted. */
  private conclude(phase: AttemptPhase, stage: string, attempt: number | undefined, outcome: AttemptOutcome, delayMs?: number): void {
    const key = attemptKey(phase, stage);
    const ended = this.ended.get(key);
    if (ended === undefined || (attempt !== undefined && ended.info.attempt !== attempt)) return;
    if (delayMs !== undefined) ended.span?.setAttribute(RETRY_DELAY, delayMs);
    this.finishAttempt(key, ended, outcome);
  }

  private finishAttempt(key: string | undefined, ended: AttemptTrace, outcome: AttemptOutcome): void {
    if (key !== undefined) this.ended.delete(key);
    if (ended.span !== undefined) {
      ended.span.setAttribute(ATTEMPT_OUTCOME, outcome);
      ended.span.end(ended.endedAt);
    }
    const instruments = this.owner.instruments;
    const attributes = this.owner.attemptMetricAttributes(ended.info.saga, ended.info.stage, outcome);
    const seconds = (ended.endedAt - ended.startedAt) / 1_000;
    if (ended.info.phase === 'execute') {
      instruments.stageAttempts.add(1, attributes);
      instruments.stageDuration.record(seconds, attributes);
    } else {
      instruments.compensationAttempts.add(1, attributes);
      instruments.compensationDuration.record(seconds, attributes);
    }
  }
}

function runAttributes(saga: string, version: string, runId: string): Attributes {
  return { [SAGA_NAME]: saga, [SAGA_VERSION]: version, [RUN_ID]: runId };
}

function attemptKey(phase: AttemptPhase, stage: string): string {
  return `${phase}\u0000${stage}`;
}

/** Error status, `error.type` and an `exception` event (OpenTelemetry's exception conventions) from a journaled error. */
function recordError(span: Span, error: SerializedError): void {
  span.setAttribute(ERROR_TYPE, error.code ?? error.name);
  if (error.code !== undefined) span.setAttribute(ERROR_CODE, error.code);
  span.addEvent('exception', {
    'exception.type': error.name,
    'exception.message': error.message,
    ...(error.stack === undefined ? {} : { 'exception.stacktrace': error.stack }),
  });
  span.setStatus({ code: SpanStatusCode.ERROR, message: `${error.name}: ${error.message}` });
}

/** What `error.type` says of an error: its code when it has a string one, else its class name. */
function errorType(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code !== '' ? code : error.name;
}

/** The run span's status message for a run that failed. */
function runFailure(state: RunState): string {
  const failure = state.failure;
  if (failure !== undefined) return `stage '${failure.stage}' failed: ${failure.error.message}`;
  return 'the rollback left a compensation failed';
}

function assertNever(value: never): never {
  throw new TypeError(`Unexpected ${JSON.stringify(value)}`);
}
