import { createHash } from 'node:crypto';
import {
  EMPTY,
  Subject,
  Subscription,
  asyncScheduler,
  defer,
  exhaustMap,
  expand,
  from,
  merge,
  retry,
  takeUntil,
  tap,
  timer,
  type Observable,
  type SchedulerLike,
} from 'rxjs';
import { identifierProblem } from '../definition/identifier.js';
import type { AnySaga, Saga } from '../definition/saga.js';
import { WorkerStoppedError } from '../errors/run-errors.js';
import { printableText, reportableError } from '../errors/safe-read.js';
import { isClosedStoreError, LeaseLostError, StoreCorruptionError, StoreUnsupportedError, type StoreUnavailableError } from '../errors/store-errors.js';
import { assertNever, type MutableRunState } from '../journal/fold.js';
import type { SagaEvent } from '../journal/saga-event.js';
import { backoffNotifier, type BackoffPolicy } from '../runtime/backoff.js';
import { EventStream } from '../runtime/event-stream.js';
import type { Instrumentation, WorkerActivity } from '../runtime/instrumentation.js';
import { foldForDrive, RunInterpreter, type InterpreterEnvironment, type RunHost } from '../runtime/interpreter.js';
import type { KeptRun, LeaseKeeper } from '../runtime/lease-keeper.js';
import { RunOwner } from '../runtime/run-owner.js';
import { Landings } from '../runtime/landings.js';
import { defaultOwnerId } from '../runtime/owner-id.js';
import { settleTimeoutError, settleWithin, storeGraceFor } from '../runtime/settle-within.js';
import type { LeaseToken, SagaStore, SignalRequest } from '../stores/saga-store.js';
import { supportsWorkers, type ClaimedRun, type SagaRegistration, type WorkQueueStore, type WorkSignal } from '../stores/work-queue.js';
import { sagaArgumentProblem } from '../definition/saga-argument.js';
import { readOptions, SETTLE_OPTION_FIELDS, WORKER_OPTION_FIELDS } from '../definition/read-definition.js';

/**
 * The store call a worker was making when something went wrong, passed to
 * {@link WorkerOptions.onError}.
 *
 * @remarks
 * - `listen`: subscribing to the store's wake-ups (`LISTEN`); retried with backoff, polling
 *   carries on meanwhile.
 * - `claim`, `heartbeat`: retried with backoff; the worker never stops for them — except for a
 *   store closed under it (`store.close()` before `worker.stop()`: a `StoreUnavailableError` whose
 *   `closed` is `true`), which is reported once, without `retryCount`, and stops the worker as
 *   `stop({ timeoutMs: 0 })` would.
 * - `release`: giving a lease back; retried a few times, then left to expire.
 * - `park`: giving a waiting run's lease back until its wait is due; retried a few times, then
 *   left to expire (another worker resumes the run after `leaseMs`).
 * - `signal`: a signal request recorded by another process that this worker's definition of the
 *   saga refuses (unknown signal, payload not of its schema, a run no longer going forward): it
 *   is not journaled; the run goes on.
 * - `run`: a run stopped being driven here without settling: its lease was lost (another
 *   worker took it over), or an append failed (the run is released for a worker to resume).
 *
 * @example
 * ```ts
 * import type { WorkerOperation } from 'sagaflow';
 * const retried = (operation: WorkerOperation) => operation !== 'run';
 * ```
 */
export type WorkerOperation = 'listen' | 'claim' | 'heartbeat' | 'release' | 'park' | 'run' | 'signal' | 'subscriber' | 'instrumentation';

/**
 * Where a worker's error happened, passed to {@link WorkerOptions.onError}.
 *
 * @remarks
 * `retryCount` is set when the worker will try the call again after a backoff; a `run` error,
 * the final failure of a `release` and a `claim` on a closed store have none. Use `operation` to decide how loud to be: repeated
 * `claim` or `heartbeat` errors mean the store is unreachable, while a `run` error with a
 * `LeaseLostError` means another worker took that run over.
 *
 * @example
 * ```ts
 * import type { WorkerErrorContext } from 'sagaflow';
 * const line = (context: WorkerErrorContext) => `${context.operation} ${context.runId ?? ''} retry #${context.retryCount ?? 0}`;
 * ```
 */
export interface WorkerErrorContext {
  /** What the worker was doing. */
  readonly operation: WorkerOperation;
  /** The run concerned, for `release` and `run`. */
  readonly runId?: string;
  /** For a call that is retried: which retry comes next (1 for the first). */
  readonly retryCount?: number;
}

/**
 * Options of {@link createWorker}.
 *
 * @remarks
 * Only `store` and `sagas` are required. `createWorker` checks the rest: `concurrency`,
 * `leaseMs`, `pollIntervalMs` and the `retry` delays must be positive integers. `leaseMs` trades
 * takeover speed against heartbeat load: a crashed worker's runs wait up to `leaseMs` before
 * another worker takes them. Unlike an orchestrator, a worker always runs on real time
 * (`asyncScheduler`, `Math.random`). `workerId` should be unique in the fleet: it is how logs and
 * {@link LeaseInfo.owner} tell workers apart.
 *
 * @example
 * ```ts
 * import { PostgresStore } from 'sagaflow/postgres';
 * import type { AnySaga, WorkerOptions } from 'sagaflow';
 * declare const transfer: AnySaga;
 * const options: WorkerOptions = {
 *   store: new PostgresStore({ connectionString: 'postgres://app@db:5432/app' }),
 *   sagas: [transfer],
 *   concurrency: 20,
 *   leaseMs: 15_000,
 * };
 * ```
 */
export interface WorkerOptions {
  /**
   * A store that shares runs between processes ({@link WorkQueueStore}, such as `PostgresStore`).
   * Typed as any store so that a misconfigured one fails with a clear error rather than a type
   * puzzle: `MemoryStore` and `SqliteStore` are refused with `StoreUnsupportedError`.
   */
  readonly store: SagaStore;
  /**
   * The sagas this worker runs. It claims only runs whose saga name and shape hash match one of
   * them; runs of other sagas (or other shapes) stay queued for a worker that has them.
   */
  readonly sagas: readonly AnySaga[];
  /** How many runs the worker drives at once. Default 10. */
  readonly concurrency?: number | undefined;
  /**
   * How long a claim lasts without a heartbeat, on the database clock. The worker heartbeats
   * every `leaseMs / 3`; a worker that stops heartbeating (crashed, frozen, cut off) loses its runs
   * to other workers after at most `leaseMs`. Default 30 000.
   */
  readonly leaseMs?: number | undefined;
  /**
   * How often to look for claimable runs when no wake-up came: the fallback for lost
   * notifications, and how runs whose lease expired are found. Default 1 000 ms.
   */
  readonly pollIntervalMs?: number | undefined;
  /**
   * A run that has nothing to do but wait (wait stages only: a timer, a signal) is parked when its
   * next due time is more than this many ms away, or when only a signal can wake it: the worker
   * gives its lease back and forgets it, so a run waiting for days holds no worker slot, no memory
   * and no timer anywhere. The store hands it out again when it is due (at the next claim after
   * that: within `pollIntervalMs`) or as soon as a signal or cancel is requested for it. Shorter
   * waits are kept, timed here. `0` parks every wait; `Infinity` never parks. Default 2 000.
   */
  readonly parkThresholdMs?: number | undefined;
  /** The worker's id, stored as the lease owner. Default: host name, process id and a random suffix. */
  readonly workerId?: string | undefined;
  /** Backoff of retried store calls (claim, heartbeat, listen, release). Default 100 ms doubling to 5 000 ms. */
  readonly retry?: WorkerRetryOptions | undefined;
  /**
   * The clock of everything the worker times: polling, heartbeats, backoff, and its runs' retries
   * and timeouts. Default: RxJS's `asyncScheduler` (real time). Lease expiry is always judged by
   * the database's clock.
   */
  readonly scheduler?: SchedulerLike | undefined;
  /** Hooks around the runs the worker drives and every attempt in them (tracing, metrics). */
  readonly instrumentation?: Instrumentation | undefined;
  /**
   * Called for every error the worker handles itself (it never throws them): a store call that
   * will be retried, a lost lease, a run released after a failed append. Default: one line on
   * `console.warn`.
   */
  readonly onError?: ((error: Error, context: WorkerErrorContext) => void) | undefined;
}

/**
 * How a worker backs off between retries of a store call that failed: capped exponential, with
 * jitter so that a fleet does not reconnect in one burst when the database comes back.
 *
 * @remarks
 * Applies to the worker's own store calls (listen, claim, heartbeat, release), never to stages:
 * stage retries follow each stage's {@link RetryPolicy}. Heartbeat retries are also capped at
 * `leaseMs / 3`, so that a lease is renewed in time once the store answers. A `maxDelayMs` below
 * `initialDelayMs` is raised to it.
 *
 * @example
 * ```ts
 * import type { WorkerRetryOptions } from 'sagaflow';
 * const gentle: WorkerRetryOptions = { initialDelayMs: 250, maxDelayMs: 10_000 };
 * ```
 */
export interface WorkerRetryOptions {
  /** Delay ceiling of the first retry, in ms. Default 100. */
  readonly initialDelayMs?: number | undefined;
  /** Longest delay ceiling, in ms; the ceiling doubles per retry up to it. Default 5 000. */
  readonly maxDelayMs?: number | undefined;
}

/**
 * Options of {@link Worker.stop}.
 *
 * @remarks
 * Without `timeoutMs`, `stop` waits as long as the runs take, heartbeating meanwhile. With it, the
 * runs still held at the timeout are handed over rather than failed: their signals are aborted
 * (with an `AbortError` naming a {@link WorkerStoppedError}), their leases released, and another
 * worker resumes them, re-executing any stage that was in flight (at least once, same
 * idempotency key). A run whose stage call ignores its aborted signal is not handed over while
 * that call still runs here: it keeps its lease until the lease expires, so that no other worker
 * runs the stage beside it or compensates it before its effect landed.
 *
 * @example
 * ```ts
 * import type { WorkerStopOptions } from 'sagaflow';
 * const options: WorkerStopOptions = { timeoutMs: 20_000 };
 * ```
 */
export interface WorkerStopOptions {
  /**
   * Wait at most this long for the runs the worker holds to settle; the rest are detached
   * (nothing more is written for them here) and their leases released, so another worker
   * resumes them at once — each once its stage calls in flight have settled (they get one turn of
   * the event loop to honour their aborted signals; see the remarks). A number >= 0 (`Infinity` waits as long as leaving it out); anything
   * else, or options whose reads throw, rejects `stop()` with a `TypeError` and stops nothing. Default: wait for every run.
   *
   * @remarks
   * With a finite timeout, `stop()` also waits for the store (a claim in flight, the releases of
   * leases) at most 5 s more each: a store that does not answer (a database host gone silent, a
   * network partition) cannot hold it for ever. A lease whose release got no answer by then simply
   * expires, and the run is resumed from its journal after that; the release goes on in the
   * background, its failure reported to `onError`.
   */
  readonly timeoutMs?: number | undefined;
}

/**
 * A process's share of a fleet: claims submitted runs from a shared store and drives them
 * under a lease.
 *
 * @remarks
 * Made by {@link createWorker}. Runs reach workers through `orchestrator.submit(saga, input)`.
 * A worker holds each run it claims under a lease that it renews by heartbeat; every append it
 * makes carries the lease, so once another worker has taken a run over, the old holder's
 * appends are refused (`LeaseLostError`) and it stops working on that run. A takeover resumes
 * the run from its journal, as after a crash. See `docs/distributed.md`.
 *
 * @example
 * ```ts
 * import { createWorker, type AnySaga } from 'sagaflow';
 * import { PostgresStore } from 'sagaflow/postgres';
 * declare const transfer: AnySaga;
 * const store = new PostgresStore({ connectionString: 'postgres://app@db:5432/app' });
 * const worker = createWorker({ store, sagas: [transfer] });
 * await worker.start();
 * process.once('SIGTERM', () => {
 *   void worker.stop({ timeoutMs: 20_000 }).then(() => store.close());
 * });
 * ```
 */
export interface Worker {
  /** The worker's id: the owner of its leases. */
  readonly id: string;
  /** The durable events of the runs this worker drives, live, in journal order per run. */
  readonly events$: Observable<SagaEvent>;
  /** The ids of the runs this worker holds right now. */
  readonly activeRuns: readonly string[];
  /**
   * Starts listening for wake-ups and claiming runs; resolves once the worker is polling.
   *
   * @remarks
   * An unreachable store does not make `start` fail: the worker reports the error to `onError`
   * and keeps retrying with backoff, and starts working once the store answers.
   *
   * @throws Error when called after `stop()`.
   */
  start(): Promise<void>;
  /**
   * Stops claiming, keeps heartbeating until the runs it holds settle (or `timeoutMs` passes),
   * then detaches the rest and releases their leases. Idempotent. Does not close the store.
   */
  stop(options?: WorkerStopOptions): Promise<void>;
}

/**
 * Creates a {@link Worker} that runs submitted sagas from a shared store.
 *
 * @remarks
 * Creating a worker does no I/O; `start()` begins claiming. Run one per process (its
 * `concurrency` drives many runs at once), each with every saga it should serve, and keep an
 * orchestrator in the processes that `submit` runs. Stop it on shutdown with `stop({ timeoutMs })`,
 * then close the store.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { createOrchestrator, createWorker, defineSaga } from 'sagaflow';
 * import { PostgresStore } from 'sagaflow/postgres';
 * const greet = defineSaga({ name: 'greet', input: z.object({ name: z.string() }) })
 *   .stage('hello', { execute: async ({ input }) => `hello ${input.name}` })
 *   .build();
 * const store = new PostgresStore({ connectionString: 'postgres://app@db:5432/app' });
 * const worker = createWorker({ store, sagas: [greet], concurrency: 20 });
 * await worker.start();
 * const orchestrator = createOrchestrator({ store, sagas: [greet] });
 * const runId = await orchestrator.submit(greet, { name: 'Ada' });
 * orchestrator.watch(runId).subscribe((event) => console.log(event.type));
 * ```
 *
 * @throws {@link StoreUnsupportedError} when the store cannot share runs between processes
 * (`MemoryStore`, `SqliteStore`).
 * @throws `TypeError` for options out of range: `concurrency`, `leaseMs`, `pollIntervalMs` or a
 * `retry` delay that is not a positive integer, a `parkThresholdMs` below 0 or NaN, an empty
 * `sagas`, a `workerId` that is empty or blank, longer than 200 characters, or holds a NUL or a
 * lone surrogate (as `createOrchestrator`'s `ownerId`), and options whose reads throw (a revoked
 * Proxy, a throwing getter: `createWorker: options.leaseMs could not be read: …`).
 */
export function createWorker(options: WorkerOptions): Worker {
  return new SagaWorker(options);
}

interface HeldRun extends KeptRun, RunHost {
  readonly saga: string;
  interpreter: RunInterpreter;
}

type WorkerPhase = 'idle' | 'running' | 'stopping' | 'stopped';

class SagaWorker implements Worker {
  readonly id: string;
  readonly events$: Observable<SagaEvent>;
  private readonly store: WorkQueueStore;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly parkThresholdMs: number;
  private readonly backoff: BackoffPolicy;
  private readonly onError: (error: Error, context: WorkerErrorContext) => void;
  private readonly instrumentation: Instrumentation | undefined;
  private readonly registrations: readonly SagaRegistration[];
  private readonly sagas = new Map<string, AnySaga>();
  private readonly held = new Map<string, HeldRun>();
  private readonly events: EventStream<SagaEvent>;
  private readonly wake$ = new Subject<void>();
  private readonly scheduler: SchedulerLike;
  private readonly environment: InterpreterEnvironment;
  private readonly keeper: LeaseKeeper;
  private readonly stopClaiming$ = new Subject<void>();
  private readonly subscription = new Subscription();
  /** Releases in progress; `stop()` waits for them. */
  private readonly releases = new Set<Promise<void>>();
  /**
   * Runs whose journal proved damaged while this worker drove them (it stalled them: see
   * `RunInterpreter`), by id: the journal's length then, a digest of the events it was claimed
   * with, and the error. Claimed again unchanged, such a run is reported, not resumed: each resume
   * would journal one more `run.resumed`. Changed — appended to, or repaired in place with as many
   * rows — it is driven again.
   */
  private readonly damaged = new Map<string, { readonly events: number; readonly claimed: number; readonly digest: string; readonly error: Error }>();
  /** Runs halted with user calls still in flight, released once those land (see `onHalted`). */
  private readonly landings: Landings;
  /** Resolved whenever a held run stops being held, so `stop()` can wait for the last one. */
  private drained: { promise: Promise<void>; resolve: () => void } | undefined;
  private claiming: Promise<unknown> | undefined;
  /** A wake-up arrived while a claim was in flight: claim again after it. */
  private rewake = false;
  /** The last claim filled every free slot, or a wake-up found none: runs may be queued for us. */
  private backlog = false;
  private unlisten: (() => Promise<void>) | undefined;
  private phase: WorkerPhase = 'idle';
  private stopping: Promise<void> | undefined;

  constructor(given: WorkerOptions) {
    const options = readOptions('createWorker', given, WORKER_OPTION_FIELDS) as WorkerOptions;
    if (!supportsWorkers(options.store)) {
      throw new StoreUnsupportedError(
        options.store.description,
        'workers (createWorker)',
        'workers claim runs from a store that several processes share, such as PostgresStore from sagaflow/postgres; to run sagas in this process, use createOrchestrator().start()',
      );
    }
    this.store = options.store;
    this.concurrency = positiveInteger('concurrency', options.concurrency ?? 10);
    this.leaseMs = positiveInteger('leaseMs', options.leaseMs ?? 30_000);
    this.pollIntervalMs = positiveInteger('pollIntervalMs', options.pollIntervalMs ?? 1_000);
    this.parkThresholdMs = options.parkThresholdMs ?? 2_000;
    if (typeof this.parkThresholdMs !== 'number' || Number.isNaN(this.parkThresholdMs) || this.parkThresholdMs < 0) {
      throw new TypeError(`createWorker: parkThresholdMs must be a number >= 0 (Infinity: never park), got ${String(options.parkThresholdMs)}.`);
    }
    const initialDelayMs = positiveInteger('retry.initialDelayMs', options.retry?.initialDelayMs ?? 100);
    this.backoff = { initialDelayMs, maxDelayMs: Math.max(initialDelayMs, positiveInteger('retry.maxDelayMs', options.retry?.maxDelayMs ?? 5_000)) };
    this.id = options.workerId ?? defaultOwnerId();
    // As an orchestrator's ownerId: the lease owner is stored, and PostgreSQL refuses a NUL in it (every claim would fail).
    const idProblem = identifierProblem(this.id);
    if (idProblem !== undefined) throw new TypeError(`createWorker: workerId ${idProblem}.`);
    this.onError = options.onError ?? ((error, context) => console.warn(describeProblem(this.id, error, context)));
    if (options.sagas.length === 0) throw new TypeError('createWorker: pass at least one saga in `sagas`; a worker claims only runs of the sagas it has.');
    options.sagas.forEach((saga, index) => {
      const problem = sagaArgumentProblem(saga);
      if (problem !== undefined) throw new TypeError(`createWorker: sagas[${index}]: ${problem}.`);
      this.sagas.set(sagaKey(saga.name, saga.shapeHash), saga);
    });
    this.registrations = [...this.sagas.values()].map((saga) => ({ name: saga.name, shapeHash: saga.shapeHash }));
    // A subscriber that throws is reported to onError and never reaches the runs this worker drives.
    this.events = new EventStream<SagaEvent>({
      onError: (error, context) => this.report(error, context.runId === undefined ? { operation: 'subscriber' } : { operation: 'subscriber', runId: context.runId }),
      runIdOf: (event) => event.runId,
    });
    this.events$ = this.events.observable$;
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.instrumentation = options.instrumentation;
    const owner = new RunOwner({
      store: this.store,
      owner: this.id,
      leaseMs: this.leaseMs,
      scheduler: this.scheduler,
      random: Math.random,
      backoff: this.backoff,
      instrumentation: options.instrumentation,
      report: (error, context) => this.report(error, context),
    });
    this.environment = owner.environment;
    this.keeper = owner.keeper;
    this.landings = new Landings(owner.keeper);
  }

  get activeRuns(): readonly string[] {
    return [...this.held.keys()];
  }

  async start(): Promise<void> {
    switch (this.phase) {
      case 'idle':
        break;
      case 'running':
        return;
      case 'stopping':
      case 'stopped':
        throw new Error(`Worker ${this.id} was stopped; create a new worker to start again.`);
      default:
        return assertNever(this.phase);
    }
    this.phase = 'running';
    await this.listen();
    if (this.phase !== 'running') {
      // stop() came while we were subscribing: it found nothing to unsubscribe.
      const unlisten = this.unlisten;
      this.unlisten = undefined;
      await unlisten?.().catch(() => undefined);
      return;
    }
    this.subscription.add(this.claims$().subscribe());
  }

  stop(given: WorkerStopOptions = {}): Promise<void> {
    let options: WorkerStopOptions;
    try {
      options = readOptions(`worker ${this.id}: stop()`, given, SETTLE_OPTION_FIELDS) as WorkerStopOptions;
    } catch (error) {
      return Promise.reject(reportableError(error));
    }
    const refused = settleTimeoutError(`worker ${this.id}: stop()`, options.timeoutMs);
    if (refused !== undefined) return Promise.reject(refused);
    this.stopping ??= this.shutDown(options.timeoutMs);
    return this.stopping;
  }

  // ---------------------------------------------------------------------------------------
  // Wake-ups

  /** Subscribes to the store's wake-ups; if the store is down, keeps trying in the background. */
  private async listen(): Promise<void> {
    try {
      this.unlisten = await this.store.onWork((signal) => this.onSignal(signal));
      return;
    } catch (error) {
      this.report(error, { operation: 'listen', retryCount: 1 });
    }
    this.subscription.add(
      defer(() => from(this.store.onWork((signal) => this.onSignal(signal))))
        .pipe(
          retry({ delay: backoffNotifier(this.backoff, Math.random, this.scheduler, (error, retryCount) => this.report(error, { operation: 'listen', retryCount: retryCount + 1 })) }),
          takeUntil(this.stopClaiming$),
        )
        .subscribe((unlisten) => {
          if (this.phase === 'running') {
            this.unlisten = unlisten;
            // Anything submitted while we could not listen was announced to nobody.
            this.wake$.next();
          } else {
            void unlisten();
          }
        }),
    );
  }

  private onSignal(signal: WorkSignal): void {
    switch (signal.kind) {
      case 'submitted':
      case 'requeued':
      case 'reconnected':
        this.wake$.next();
        return;
      case 'cancel_requested':
        // The signal has no reason; a heartbeat fetches it (and renews the lease while at it).
        if (signal.runId !== undefined && this.held.has(signal.runId)) this.keeper.beatNow();
        return;
      case 'appended':
        // For watchers; a worker learns nothing from it.
        return;
      default:
        return assertNever(signal.kind);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Claiming

  private claims$(): Observable<unknown> {
    return merge(timer(0, this.pollIntervalMs, this.scheduler), this.wake$).pipe(
      tap(() => {
        this.rewake = true;
      }),
      takeUntil(this.stopClaiming$),
      // One claim at a time; a wake-up during a claim leads to one more claim after it.
      exhaustMap(() => this.claimRound$()),
    );
  }

  private claimRound$(): Observable<boolean> {
    const backoff = backoffNotifier(this.backoff, Math.random, this.scheduler, (error, retryCount) => this.report(error, { operation: 'claim', retryCount }));
    const claimOnce$ = defer(() => this.track(this.claimOnce())).pipe(
      retry({ delay: (error: unknown, retryCount) => (isClosedStoreError(error) ? this.storeClosed(error) : backoff(error, retryCount)) }),
      takeUntil(this.stopClaiming$),
    );
    // Whether to claim again is decided here, where the round would otherwise end, not inside the
    // claim: a wake-up that arrives after the claim's own last step but before its round completes
    // is ignored by exhaustMap above, so it must be seen here (it set `rewake`).
    return claimOnce$.pipe(expand((filled) => (this.phase === 'running' && (filled || this.rewake) ? claimOnce$ : EMPTY)));
  }

  /**
   * The store was closed under the running worker (closed before `stop()`): it will never answer
   * again, so rather than retrying for ever (and keeping the process alive with its polling), the
   * worker reports it once and stops, as `stop({ timeoutMs: 0 })` would.
   */
  private storeClosed(error: StoreUnavailableError): Observable<never> {
    this.report(error, { operation: 'claim' });
    void this.stop({ timeoutMs: 0 });
    return EMPTY;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.claiming = promise.catch(() => undefined);
    return promise;
  }

  /** Claims what fits; resolves to whether it filled every free slot (more may be waiting). */
  private async claimOnce(): Promise<boolean> {
    // One turn of the event loop first, so that a burst of wake-ups (runs settling in one append
    // statement, a batch of submits announced together) makes one claim for every slot it frees
    // rather than one claim for the first slot and another for the rest.
    await nextTurn();
    this.rewake = false;
    const capacity = this.concurrency - this.held.size;
    if (this.phase !== 'running') return false;
    if (capacity <= 0) {
      // Woken while full: work may be waiting for the next free slot.
      this.backlog = true;
      return false;
    }
    // The runs it drives are never claimed again, not even when their lease lapsed while its event
    // loop was blocked: the next heartbeat renews them (or reports them taken over).
    const holding = [...this.held.keys()];
    const claimed = await this.store.claim({ owner: this.id, sagas: this.registrations, limit: capacity, leaseMs: this.leaseMs, holding });
    // A claim that got less than it asked for emptied the queue (for us): new work will announce itself.
    this.backlog = claimed.length === capacity;
    for (const run of claimed) this.adopt(run);
    return claimed.length === capacity;
  }

  /** Starts driving a claimed run under its lease. */
  private adopt(run: ClaimedRun): void {
    let saga: AnySaga | undefined;
    let first: SagaEvent | undefined;
    let folded: MutableRunState | undefined;
    let damaged: unknown = run.corruption;
    const stalled = this.damaged.get(run.runId);
    if (stalled !== undefined) {
      if (damaged === undefined && stalled.events === run.events.length && stalled.digest === journalDigest(run.events, stalled.claimed)) damaged = stalled.error;
      else this.damaged.delete(run.runId);
    }
    if (damaged === undefined) {
      try {
        // Folded once: the state names the run's saga and shape, and goes on to drive it when the
        // journal records its shape (it has since shapes were journaled; an older journal is folded
        // again with the definition's).
        const state = foldForDrive(run.events, undefined);
        first = run.events[0];
        saga = this.sagas.get(sagaKey(state.saga, state.shapeHash));
        if (state.topology !== undefined) folded = state;
        // Claimed for a saga and shape this worker registered (the run's row says so), yet its
        // journal names others: the row and the journal disagree. Given back, it would be claimed
        // again at once, for ever.
        if (saga === undefined) {
          damaged = new StoreCorruptionError(
            run.runId,
            0,
            `its run.started names saga '${state.saga}' of shape ${state.shapeHash}, which this worker did not register, yet the store claimed it for this worker's registrations: what the store claims runs by and the journal disagree`,
          );
        }
      } catch (error) {
        damaged = error;
      }
    }
    if (damaged !== undefined) {
      // A journal that cannot be read or folded is never driven on a guess. Its lease is kept (not
      // heartbeated), so that it comes back, and is reported, once per lease rather than at every claim.
      this.report(damaged, { operation: 'run', runId: run.runId });
      return;
    }
    if (this.phase !== 'running' || saga === undefined || first === undefined) {
      // Stopped while claiming: give it back.
      this.release(run.runId, run.lease);
      return;
    }
    const runId = run.runId;
    // A store that ignored `holding` may hand back a run this worker still drives (see below).
    const driving = this.held.get(runId);
    const held: HeldRun = {
      runId,
      saga: saga.name,
      lease: run.lease,
      interpreter: undefined as unknown as RunInterpreter,
      lost: (error) => held.interpreter.detach(error),
      cancelRequested: (reason) => held.interpreter.cancel(reason),
      signalRequested: (request) => this.deliver(held.interpreter, request),
      event: (event) => this.events.next(event),
      resting: (wakeAt) => this.rest(held, wakeAt),
      settled: () => this.forget(held),
      halted: (error, landed) => {
        this.forget(held);
        if (error instanceof StoreCorruptionError) {
          this.damaged.set(runId, { events: held.interpreter.state.lastSeq + 1, claimed: run.events.length, digest: journalDigest(run.events, run.events.length), error });
        }
        this.onHalted(run, error, landed);
      },
    };
    const interpreter = new RunInterpreter(this.environment, saga as Saga, run.lease, held, run.events, folded);
    held.interpreter = interpreter;
    this.held.set(runId, held);
    this.keeper.hold(held);
    if (driving !== undefined) {
      // The new lease fences the old one out: that driver stops here, reported, before the new one
      // starts. Superseded, not halted: the run is held here again, so nothing of it is given back.
      driving.lost(
        new TypeError(
          `the store handed run ${runId} back to worker ${this.id}, which still drove it under lease epoch ${driving.lease.epoch} (its claim() ignored ClaimRequest.holding): that driver stops and the run resumes under the new lease, epoch ${run.lease.epoch}`,
        ),
      );
    }
    const cancel = run.cancelRequest === undefined ? undefined : { reason: run.cancelRequest.reason, by: 'external' };
    const firstClaim = run.lease.epoch === 1 && run.events.length === 1;
    this.tell({ type: 'claimed', workerId: this.id, runId, saga: saga.name, resumed: !firstClaim });
    if (firstClaim) {
      // The first claim of a submitted run: its journal is what the submitter wrote. A cancel
      // requested before the claim stops it before any stage starts.
      interpreter.begin('claim', cancel === undefined ? { type: 'start' } : { type: 'cancel', ...cancel });
    } else {
      // A takeover, or a run handed back to the queue: `run.resumed`, then what was in flight
      // runs again (or, if the run was stopping, is settled as outcome-unknown).
      interpreter.resume('resume', undefined, cancel);
    }
    // Signals sent while nobody drove the run: journaled once each (the run dedups by id).
    for (const request of run.signalRequests ?? []) this.deliver(interpreter, request);
  }

  /**
   * A held run has nothing to do but wait, everything it decided durable: park it (lease back,
   * forgotten here) unless it is due again soon. While the worker stops, every resting run is
   * parked: it is handed back in a state another worker picks up exactly when it is due.
   */
  private rest(run: HeldRun, wakeAt: number | null): void {
    const store = this.store;
    if (store.park === undefined || this.phase === 'stopped' || this.held.get(run.runId) !== run) return;
    const wakeInMs = wakeAt === null ? null : Math.max(0, wakeAt - this.scheduler.now());
    if (this.phase === 'running' && wakeInMs !== null && wakeInMs <= this.parkThresholdMs) return;
    const { runId, lease } = run;
    // Journaled or refused here: a park drops them from the store (another would wake it again).
    const handledSignals = run.interpreter.handledSignals();
    run.interpreter.park(wakeAt);
    this.forget(run);
    this.tell({ type: 'parked', workerId: this.id, runId, wakeAt });
    this.settleStoreCall(
      'park',
      runId,
      defer(() => (store.park as NonNullable<WorkQueueStore['park']>).call(store, { runId, lease, wakeInMs, handledSignals })).pipe(
        // Requests this worker had not seen were pending: the run is claimable now, by anyone.
        tap((result) => {
          if (result === 'requeued' && this.phase === 'running') this.wake$.next();
        }),
      ),
    );
  }

  /** Delivers a signal request from the store; one this definition refuses is reported, not journaled. */
  private deliver(interpreter: RunInterpreter, request: SignalRequest): void {
    const refused = interpreter.signalRequested(request);
    if (refused !== undefined) this.report(refused, { operation: 'signal', runId: request.runId });
  }

  private onHalted(run: ClaimedRun, error: Error, landed: Promise<void> | undefined): void {
    if (error instanceof LeaseLostError) {
      // Another worker owns the run now; nothing of ours to give back.
      this.tell({ type: 'lease_lost', workerId: this.id, runId: run.runId });
      this.report(error, { operation: 'run', runId: run.runId });
      return;
    }
    if (!(error instanceof WorkerStoppedError)) this.report(error, { operation: 'run', runId: run.runId });
    // A journal found corrupt while driving it: its lease is kept, so that it comes back (and is
    // reported) once per lease, not at every claim.
    if (error instanceof StoreCorruptionError) return;
    // An append failed (the store went away, or worse), or the worker stops: hand the run back so
    // that a worker resumes it from its journal as soon as the store answers, instead of after the
    // lease; once the calls of user code still in flight here have landed (see RunHost.halted),
    // the lease heartbeated meanwhile, as a call may outlast it.
    if (landed === undefined) return this.giveBack(run);
    this.landings.add(run.runId, run.lease, landed, () => this.giveBack(run));
  }

  /** Releases a halted run's lease, unless a newer driver of it is here (a claim handed it back while this one drove it). */
  private giveBack(run: ClaimedRun): void {
    if (!this.held.has(run.runId)) this.release(run.runId, run.lease);
  }

  private forget(run: HeldRun): void {
    if (this.held.get(run.runId) !== run) return;
    this.held.delete(run.runId);
    this.keeper.drop(run.runId, run);
    if (this.held.size === 0) this.drained?.resolve();
    // Room for one more run; worth a claim only if work may be waiting (polling covers the rest).
    if (this.phase === 'running' && this.backlog) this.wake$.next();
  }

  // ---------------------------------------------------------------------------------------
  // Leases

  /** Gives a lease back, retrying a few times; a lease that cannot be released simply expires. */
  private release(runId: string, lease: LeaseToken): void {
    this.tell({ type: 'released', workerId: this.id, runId });
    this.settleStoreCall('release', runId, defer(() => this.store.release(runId, lease)));
  }

  /**
   * Carries out a store call that gives a lease back (a release, a park), retrying a few times;
   * `stop()` waits for it. One that keeps failing is reported: the lease simply expires.
   */
  private settleStoreCall(operation: 'release' | 'park', runId: string, call$: Observable<unknown>): void {
    const settled = new Promise<void>((resolve) => {
      call$
        .pipe(retry({ count: 6, delay: backoffNotifier(this.backoff, Math.random, this.scheduler, (error, retryCount) => this.report(error, { operation, runId, retryCount })) }))
        .subscribe({
          complete: resolve,
          error: (error: unknown) => {
            this.report(error, { operation, runId });
            resolve();
          },
        });
    });
    this.releases.add(settled);
    void settled.then(() => this.releases.delete(settled));
  }

  // ---------------------------------------------------------------------------------------
  // Stopping

  private async shutDown(timeoutMs: number | undefined): Promise<void> {
    const wasRunning = this.phase === 'running';
    this.phase = 'stopping';
    this.stopClaiming$.next();
    // With a timeout, a store that does not answer (a server gone silent) cannot hold stop() for ever.
    const storeWaitMs = storeGraceFor(timeoutMs);
    if (wasRunning) {
      // A claim that lands after this gives its runs back (see adopt).
      await settleWithin(this.claiming ?? Promise.resolve(), storeWaitMs);
      // Runs that only wait are parked rather than waited for: another worker picks each up when due.
      for (const run of [...this.held.values()]) run.interpreter.offerRest();
      if (this.held.size > 0) {
        let resolve!: () => void;
        const promise = new Promise<void>((done) => (resolve = done));
        this.drained = { promise, resolve };
        await settleWithin(promise, timeoutMs);
        for (const run of [...this.held.values()]) run.interpreter.detach(new WorkerStoppedError(this.id, run.saga, run.runId));
      }
    }
    await this.landings.close();
    this.subscription.unsubscribe();
    await this.keeper.stop();
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    // A release not answered in time goes on in the background; if it never lands, the lease expires.
    await settleWithin(Promise.all([unlisten?.().catch(() => undefined), ...this.releases]), storeWaitMs);
    this.phase = 'stopped';
    this.events.complete();
  }

  private report(error: unknown, context: WorkerErrorContext): void {
    const reported = reportableError(error);
    // A problem of the instrumentation itself is not told back to it.
    if (context.operation !== 'instrumentation' && context.operation !== 'subscriber') this.tell({ type: 'error', workerId: this.id, ...context, error: reported });
    try {
      this.onError(reported, context);
    } catch {
      // A throwing error handler must not take the worker down with it.
    }
  }

  /** Tells the instrumentation of a claim, a lease or a failed store call; a hook that throws is reported to `onError`. */
  private tell(activity: WorkerActivity): void {
    const instrumentation = this.instrumentation;
    if (instrumentation?.worker === undefined) return;
    try {
      instrumentation.worker(activity);
    } catch (error) {
      this.report(error, { operation: 'instrumentation', ...(activity.type === 'error' ? {} : { runId: activity.runId }) });
    }
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sagaKey(name: string, shapeHash: string): string {
  return `${name}\u0000${shapeHash}`;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new TypeError(`createWorker: ${name} must be a positive integer, got ${String(value)}.`);
  return value;
}

function describeProblem(workerId: string, error: Error, context: WorkerErrorContext): string {
  const about = context.runId === undefined ? '' : ` (run ${context.runId})`;
  const retrying = context.retryCount === undefined ? '' : `; retry #${context.retryCount} with backoff`;
  // Printable: the message may quote user code's or a remote API's text (see printableText).
  return printableText(`sagaflow worker ${workerId}: ${context.operation}${about} failed${retrying}: ${error.message}`);
}

/**
 * A digest of a journal's first `count` events, to tell a damaged journal claimed again unchanged
 * from one repaired in place (as many rows, one of them rewritten). Made only for runs found damaged.
 */
function journalDigest(events: readonly SagaEvent[], count: number): string {
  const hash = createHash('sha256');
  for (let index = 0; index < count && index < events.length; index++) hash.update(JSON.stringify(events[index])).update('\n');
  return hash.digest('base64');
}
