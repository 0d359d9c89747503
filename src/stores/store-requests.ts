import { RunNotFoundError } from '../errors/run-errors.js';
import { LeaseLostError, RunLeasedError, StoreConflictError } from '../errors/store-errors.js';
import { ACTIVE_RUN_STATUSES, SETTLED_RUN_STATUSES, type RunStatus } from '../journal/outcome.js';
import type { SagaEvent } from '../journal/saga-event.js';
import { assertStorableRunId, assertStorableText, isStorableText, storableRunIdProblem } from './run-id.js';
import type { AcquireRequest, AppendRequest, CreateRunRequest, ListRunsQuery, PruneOptions, RunSummary } from './saga-store.js';

// The checks every store makes on what it is asked, in one place so that all stores refuse the
// same requests with the same words. Internal to the stores.

const RUN_STATUSES: ReadonlySet<string> = new Set<string>([...SETTLED_RUN_STATUSES, ...ACTIVE_RUN_STATUSES]);
const ACTIVE: ReadonlySet<string> = new Set<string>(ACTIVE_RUN_STATUSES);
const DEFAULT_PRUNED: readonly RunStatus[] = Object.freeze(['completed', 'compensated', 'cancelled'] as const);

/**
 * Tells whether a stored status text is a run status.
 *
 * @internal
 */
export function isRunStatus(status: unknown): status is RunStatus {
  return typeof status === 'string' && RUN_STATUSES.has(status);
}

/**
 * Tells whether a status is one someone drives (`queued`, `running`, `compensating`): the
 * statuses in which a run keeps its lease and its cancel request.
 *
 * @internal
 */
export function isActiveStatus(status: RunStatus): boolean {
  return ACTIVE.has(status);
}

/**
 * The shape hash a run continues with after these events, if they change it: a `run.started`'s,
 * or the last `run.resumed` that names a new definition. For the stores that keep the hash as a
 * column (claims match it).
 *
 * @internal
 */
export function shapeHashAfter(events: readonly SagaEvent[]): string | undefined {
  for (let index = events.length - 1; index >= 0; index--) {
    const event = events[index];
    if (event?.type === 'run.started' || (event?.type === 'run.resumed' && event.shapeHash !== undefined)) return event.shapeHash;
  }
  return undefined;
}

/**
 * Checks a {@link CreateRunRequest} and returns the status the new run starts in: `running` for
 * an owned run, `queued` for a submitted one.
 *
 * @throws TypeError when the event is not a `run.started` at seq 0, its run id cannot be stored,
 * a submitted run's event lacks `submitted: true`, or the owner's lease is not a positive duration.
 *
 * @internal
 */
export function checkCreate(request: CreateRunRequest): RunStatus {
  const { event, owner } = request;
  const runId = (event as { runId?: unknown } | undefined)?.runId as string;
  assertStorableRunId(runId, 'Create run');
  if (event.type !== 'run.started' || event.seq !== 0) {
    throw new TypeError(`Create run ${runId}: a run is created with its run.started event at seq 0, not ${String(event.type)} at seq ${String(event.seq)}.`);
  }
  // The labels name the run: made only for a request that fails a check (a run created makes
  // no strings here).
  if (!isStorableText(event.saga)) assertStorableText(event.saga, `Create run ${runId}: the saga name`);
  if (owner === undefined) {
    if (event.submitted !== true) {
      throw new TypeError(`Create run ${runId}: a run without an owner is a submitted run, whose run.started says submitted: true.`);
    }
    return 'queued';
  }
  if (owner.owner === '' || !isStorableText(owner.owner)) checkOwner(owner.owner, `Create run ${runId}`);
  if (!isLeaseMs(owner.leaseMs)) checkLeaseMs(owner.leaseMs, `Create run ${runId}`);
  return event.submitted === true ? 'queued' : 'running';
}

/**
 * Checks that an append's events are contiguous from `expectedSeq` and belong to its run.
 *
 * @throws TypeError naming the run and the first event that does not fit.
 *
 * @internal
 */
export function checkAppend(request: AppendRequest): void {
  const { runId, expectedSeq, events } = request;
  assertStorableRunId(runId, 'Append');
  if (!Number.isInteger(expectedSeq) || expectedSeq < 0) {
    throw new TypeError(`Append to run ${runId}: expectedSeq must be an integer >= 0, not ${String(expectedSeq)}.`);
  }
  if (events.length === 0) throw new TypeError(`Append to run ${runId}: there are no events to append.`);
  for (let offset = 0; offset < events.length; offset++) {
    const event = events[offset] as SagaEvent;
    if (event.seq !== expectedSeq + offset || event.runId !== runId) throw misplacedEvent(request, offset);
  }
  if (!isRunStatus(request.status)) throw new TypeError(`Append to run ${runId}: ${JSON.stringify(request.status)} is not a run status.`);
}

/**
 * The error for an event that does not follow on from `expectedSeq`, or belongs to another run.
 *
 * @internal
 */
export function misplacedEvent(request: AppendRequest, offset: number): TypeError {
  const event = request.events[offset] as SagaEvent;
  return new TypeError(
    `Append to run ${request.runId}: event ${offset} has runId ${event.runId} and seq ${event.seq}, expected seq ${request.expectedSeq + offset}.`,
  );
}

/**
 * Checks a lease length.
 *
 * @throws TypeError unless it is a finite number > 0.
 *
 * @internal
 */
export function checkLeaseMs(leaseMs: number, operation: string): void {
  if (!isLeaseMs(leaseMs)) {
    throw new TypeError(`${operation}: leaseMs must be a finite number of milliseconds > 0, not ${String(leaseMs)}.`);
  }
}

/** Whether {@link checkLeaseMs} accepts `leaseMs`: a finite number > 0. */
function isLeaseMs(leaseMs: unknown): boolean {
  return typeof leaseMs === 'number' && Number.isFinite(leaseMs) && leaseMs > 0;
}

/**
 * Checks a takeover's {@link AcquireRequest.knownEvents}.
 *
 * @throws TypeError unless it is absent or an integer >= 0.
 *
 * @internal
 */
export function checkKnownEvents(request: AcquireRequest, operation: string): void {
  const known = request.knownEvents;
  if (known !== undefined && (!Number.isInteger(known) || known < 0)) {
    throw new TypeError(`${operation}: knownEvents must be an integer >= 0, not ${String(known)}.`);
  }
}

/**
 * Where a takeover reads the journal from: the caller's {@link AcquireRequest.knownEvents}, or 0
 * (the whole journal) when it asks for none or the journal is now shorter than what it read.
 *
 * @param recorded - the journal's length now, as the store records it.
 *
 * @internal
 */
export function takeoverReadsFrom(request: AcquireRequest, recorded: number): number {
  const known = request.knownEvents ?? 0;
  return known <= recorded ? known : 0;
}

/**
 * Checks an owner id.
 *
 * @throws TypeError unless it is a non-empty string without NUL or lone surrogates.
 *
 * @internal
 */
export function checkOwner(owner: string, operation: string): void {
  if (typeof owner !== 'string' || owner === '') throw new TypeError(`${operation}: the owner must be a non-empty string.`);
  assertStorableText(owner, `${operation}: the owner`);
}

/**
 * Checks a cancel request's reason.
 *
 * @throws TypeError unless it is a string without NUL or lone surrogates.
 *
 * @internal
 */
export function checkReason(runId: string, reason: string): void {
  assertStorableText(reason, `Cancel request for run ${runId}: the reason`);
}

/**
 * Checks a listing's query; returns its statuses as a list (`undefined`: any) and its order.
 *
 * @throws TypeError when `limit` is not an integer >= 0, `order` is neither `asc` nor `desc`, or
 * `afterRunId` / `runIdPrefix` hold NUL or lone surrogates.
 *
 * @internal
 */
export function checkListQuery(query: ListRunsQuery): { statuses: RunStatus[] | undefined; descending: boolean } {
  checkLimit('listRuns', query.limit);
  if (query.order !== undefined && query.order !== 'asc' && query.order !== 'desc') {
    throw new TypeError(`listRuns \`order\` must be 'asc' or 'desc', not ${JSON.stringify(query.order)}.`);
  }
  if (query.afterRunId !== undefined) assertStorableText(query.afterRunId, 'listRuns `afterRunId`');
  if (query.runIdPrefix !== undefined) assertStorableText(query.runIdPrefix, 'listRuns `runIdPrefix`');
  const statuses = query.status === undefined ? undefined : [...new Set(typeof query.status === 'string' ? [query.status] : query.status)];
  return { statuses, descending: query.order === 'desc' };
}

/**
 * Checks a `limit`.
 *
 * @throws TypeError unless it is an integer >= 0.
 *
 * @internal
 */
export function checkLimit(operation: string, limit: number | undefined): void {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    throw new TypeError(`${operation} \`limit\` must be an integer >= 0, not ${String(limit)}.`);
  }
}

/**
 * {@link PruneOptions}, checked, with defaults filled in.
 *
 * @internal
 */
export interface PruneCriteria {
  /** Epoch ms: only runs last written before it. */
  readonly olderThan: number;
  /** Settled statuses only. */
  readonly statuses: readonly RunStatus[];
  /** `undefined`: no limit. */
  readonly limit: number | undefined;
}

/**
 * Checks prune options and fills in the defaults.
 *
 * @throws TypeError when `olderThan` is not a time, a status is unfinished (or not a status), or
 * `limit` is not an integer >= 0.
 *
 * @internal
 */
export function pruneCriteria(options: PruneOptions): PruneCriteria {
  const olderThan = options.olderThan instanceof Date ? options.olderThan.getTime() : options.olderThan;
  if (typeof olderThan !== 'number' || Number.isNaN(olderThan)) {
    throw new TypeError(`prune \`olderThan\` must be a time (epoch ms or a Date), not ${String(options.olderThan)}.`);
  }
  const statuses = [...new Set(options.statuses ?? DEFAULT_PRUNED)];
  for (const status of statuses) {
    if (!isRunStatus(status)) throw new TypeError(`prune: ${JSON.stringify(status)} is not a run status.`);
    if (isActiveStatus(status)) {
      throw new TypeError(`prune never deletes ${status} runs: someone drives or will drive them; name settled statuses only.`);
    }
  }
  checkLimit('prune', options.limit);
  return { olderThan, statuses, limit: options.limit };
}

/**
 * Compares run ids by UTF-16 code unit, as every store sorts them.
 *
 * @internal
 */
export function compareRunIds(left: string, right: string): number {
  // Code point order, as SQLite (BINARY) and PostgreSQL (COLLATE "C") sort UTF-8: it differs
  // from UTF-16 order only where a surrogate meets a code unit above U+DFFF.
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index++) {
    const a = left.charCodeAt(index);
    const b = right.charCodeAt(index);
    if (a === b) continue;
    const aSurrogate = a >= 0xd800 && a <= 0xdfff;
    const bSurrogate = b >= 0xd800 && b <= 0xdfff;
    if (aSurrogate !== bSurrogate) return aSurrogate ? 1 : -1;
    return a < b ? -1 : 1;
  }
  return left.length - right.length;
}

/**
 * A promise rejected with `error` (an `Error` as thrown by the checks above), for methods that
 * must not throw synchronously.
 *
 * @internal
 */
export function rejectWith(error: unknown): Promise<never> {
  return Promise.reject(error instanceof Error ? error : new Error(String(error)));
}

/**
 * Why a store refuses an append to a run as it stands, or `undefined` when it accepts it: the
 * rules every store applies, in one order. Fencing first (a stale owner learns it lost the run
 * even when its seq would fit), then the expected seq, then a live lease against a lease-less
 * writer.
 *
 * @param length - the journal's length; `undefined` when the run does not exist.
 * @param owner - the lease holder, `undefined` or `null` when nobody holds the run.
 * @param epoch - the run's lease epoch.
 * @param live - whether that lease is live now (by the store's clock); only read for a lease-less append.
 *
 * @internal
 */
export function appendRefusal(
  request: AppendRequest,
  length: number | undefined,
  owner: string | null | undefined,
  epoch: number,
  live: boolean,
): Error | undefined {
  if (length === undefined) return new RunNotFoundError(request.runId);
  const { lease } = request;
  if (lease !== undefined) {
    if (owner !== lease.owner || epoch !== lease.epoch) return new LeaseLostError(request.runId, lease.owner, lease.epoch);
  }
  if (length !== request.expectedSeq) return new StoreConflictError(request.runId, request.expectedSeq, length);
  if (lease === undefined && owner !== undefined && owner !== null && live) return new RunLeasedError(request.runId, owner, epoch);
  return undefined;
}

/**
 * A run's summary as a SQL store reads it, columns not yet trusted.
 *
 * @internal
 */
export interface SummaryRow {
  readonly runId: unknown;
  readonly saga: unknown;
  readonly status: unknown;
  readonly events: unknown;
  readonly createdAt: unknown;
  readonly updatedAt: unknown;
  readonly submitted: unknown;
}

/**
 * A summary row as `listRuns` returns it, or `undefined` when it cannot be read (a hand edit, a
 * bug): such a row is left out rather than failing the listing of every other run.
 *
 * @internal
 */
export function summaryOfRow(row: SummaryRow): RunSummary | undefined {
  const { runId, saga, status, events, createdAt, updatedAt, submitted } = row;
  if (typeof runId !== 'string' || typeof saga !== 'string' || !isRunStatus(status)) return undefined;
  if (typeof events !== 'number' || typeof createdAt !== 'number' || typeof updatedAt !== 'number') return undefined;
  return { runId, saga, status, events, createdAt, updatedAt, submitted: submitted === true || submitted === 1 };
}

/**
 * Collects up to `limit` readable summaries, page by page from `after`, so that unreadable rows
 * left out never cut a listing short.
 *
 * @param fetch - the next page of at most `size` rows whose ids come after `after` in the
 * listing's order (all from the start when `after` is `undefined`).
 *
 * @internal
 */
export async function collectSummaries(
  limit: number | undefined,
  after: string | undefined,
  fetch: (after: string | undefined, size: number) => readonly SummaryRow[] | Promise<readonly SummaryRow[]>,
): Promise<RunSummary[]> {
  const wanted = limit ?? Infinity;
  const size = Math.min(wanted, 1_000);
  const runs: RunSummary[] = [];
  if (size === 0) return runs;
  for (let cursor = after; ; ) {
    const rows = await fetch(cursor, size);
    for (const row of rows) {
      const summary = summaryOfRow(row);
      if (summary !== undefined) runs.push(summary);
      if (runs.length === wanted) return runs;
    }
    const last = rows[rows.length - 1]?.runId;
    if (rows.length < size || typeof last !== 'string') return runs;
    cursor = last;
  }
}

/**
 * Tells whether a run id can be stored, so could name a run (see {@link storableRunIdProblem}): the SQL
 * stores leave other ids out of heartbeats (reported lost) and releases (nothing to release).
 *
 * @internal
 */
export function isStorableRunId(runId: string): boolean {
  return storableRunIdProblem(runId) === undefined;
}
