import type { Saga } from '../definition/saga.js';
import { signalWaitsOf } from '../definition/signal-waits.js';
import type { Issue } from '../errors/definition-errors.js';
import { RunStateError } from '../errors/run-errors.js';
import { describeThrown } from '../errors/safe-read.js';
import { SignalPayloadError, UnknownSignalError } from '../errors/signal-errors.js';
import type { RunState } from '../journal/fold.js';
import { copyJson } from './json-value.js';

/**
 * What `orchestrator.signal` did with a signal.
 *
 * @remarks
 * `accepted: true`: the signal is journaled (`signal.received`); `delivered` says whether a stage
 * was waiting for it (`'waiting'`: that stage completed with the payload) or it was buffered until
 * a stage waits for it (`'buffered'`). `accepted: false, duplicate: true`: a signal with this
 * `signalId` was journaled before; nothing changed (send the same id again, safely, after a
 * timeout or a crash).
 *
 * @example
 * ```ts
 * import type { Orchestrator, SignalResult } from 'sagaflow';
 * declare const orchestrator: Orchestrator;
 * const result: SignalResult = await orchestrator.signal('0190c6d2-7b1e-7000-8000-000000000001', 'approval', { approved: true }, { signalId: 'ticket-42' });
 * if (!result.accepted) console.log(`signal ${result.signalId} was already received`);
 * ```
 */
export type SignalResult =
  | {
      /** The signal is journaled. */
      readonly accepted: true;
      /** The signal's id (the one given, or a new uuid). */
      readonly signalId: string;
      /** What the journal did with it: `'waiting'`, a stage was waiting for it and completed; `'buffered'`, kept until a stage waits for it. */
      readonly delivered: 'waiting' | 'buffered';
    }
  | {
      /**
       * A signal with this id was journaled before: nothing changed. Also what a sender is told
       * when another process sent the same id at the same time with another payload (or name),
       * and the run journaled that one.
       */
      readonly accepted: false;
      /** The signal's id. */
      readonly signalId: string;
      /** Always true. */
      readonly duplicate: true;
    };

/**
 * Options of `orchestrator.signal`.
 *
 * @remarks
 * Give a `signalId` of your own (a webhook's delivery id, a ticket number) to make sending the
 * signal idempotent: the run journals a signal id once, and a second send is a no-op reported as
 * `{ accepted: false, duplicate: true }`. Without one, each call is a new signal.
 *
 * `timeoutMs` bounds how long `signal()` waits for another process to journal the signal (a run
 * another live process owns, or one submitted to workers): after it, `signal()` rejects with a
 * `SignalTimeoutError`, and the signal's request stays recorded in the store, to be journaled by
 * whoever drives the run next. Without it, `signal()` waits until the signal is journaled: by the
 * owner, by a worker, or here, when the owner's lease lapses (its process died) and this
 * orchestrator takes the run over. A run driven in this process, or by nobody, is signalled here
 * and does not wait on anyone else.
 *
 * @example
 * ```ts
 * import type { SignalOptions } from 'sagaflow';
 * const options: SignalOptions = { signalId: 'webhook-delivery-8812', timeoutMs: 10_000 };
 * ```
 */
export interface SignalOptions {
  /** The signal's id, unique per run; default a new uuid. */
  readonly signalId?: string | undefined;
  /** The longest wait, in ms, for another process to journal the signal; no limit by default. */
  readonly timeoutMs?: number | undefined;
}

/** A signal checked against the run's saga and state, ready to be decided on. */
export type PreparedSignal =
  | { readonly kind: 'deliver'; readonly signal: string; readonly signalId: string; readonly payload: unknown }
  | { readonly kind: 'duplicate'; readonly signalId: string };

/**
 * Checks a signal for a run: the saga has a stage waiting for that name, the payload matches
 * that stage's schema (and is plain JSON), the run goes forward; a signal id already journaled is
 * a duplicate. Pure: the caller journals it.
 *
 * @throws {@link UnknownSignalError}, {@link SignalPayloadError}, {@link RunStateError}.
 */
export function prepareSignal(saga: Saga, state: RunState, signal: string, payload: unknown, signalId: string): PreparedSignal {
  const { bySignal, known } = signalWaitsOf(saga);
  const waits = bySignal.get(signal);
  if (waits === undefined) throw new UnknownSignalError(saga.name, state.runId, signal, known);
  if (state.signals?.has(signalId) === true) return { kind: 'duplicate', signalId };
  if (state.stopping || (state.status !== 'running' && state.status !== 'queued')) {
    throw new RunStateError(
      saga.name,
      state.runId,
      'signal',
      state.status,
      ['queued', 'running'],
      state.stopping ? `it is stopping (${state.failure === undefined ? 'cancelled' : `stage '${state.failure.stage}' failed`}), and a signal needs a run that goes forward` : undefined,
    );
  }
  // The stage the signal is for (named in a refusal): the one waiting now, else the first not completed yet.
  const waiting = waits.stages;
  const target =
    waiting.find((stage) => state.waits?.get(stage.name) !== undefined) ?? waiting.find((stage) => state.stages.get(stage.name)?.status !== 'completed') ?? waiting[0];
  if (target === undefined) throw new TypeError(`Saga '${saga.name}' lost its wait for signal '${signal}'.`);
  const schema = waits.schema;
  let parsed: ReturnType<typeof schema.safeParse>;
  try {
    parsed = schema.safeParse(payload);
  } catch (error) {
    // The schema does not say where: the guarded copy finds the field that cannot be read.
    const located = copyJson(payload, 'payload');
    const issue = !located.ok && located.problem.problem.startsWith('could not be read') ? { path: located.problem.path, message: located.problem.problem } : { path: 'payload', message: `could not be read: ${describeThrown(error)}` };
    throw new SignalPayloadError(saga.name, state.runId, signal, target.name, [issue], { cause: error });
  }
  if (!parsed.success) {
    const issues: Issue[] = parsed.error.issues.map((issue) => ({ path: ['payload', ...issue.path.map(String)].join('.'), message: issue.message }));
    throw new SignalPayloadError(saga.name, state.runId, signal, target.name, issues, { cause: parsed.error });
  }
  const copy = copyJson(parsed.data, 'payload');
  if (!copy.ok) throw new SignalPayloadError(saga.name, state.runId, signal, target.name, [{ path: copy.problem.path, message: copy.problem.problem }]);
  return { kind: 'deliver', signal, signalId, payload: copy.value };
}
