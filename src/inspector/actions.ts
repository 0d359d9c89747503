import { filter, firstValueFrom } from 'rxjs';
import {
  foldJournal,
  OrchestratorClosedError,
  RunLeasedError,
  RunNotFoundError,
  RunStateError,
  SagaNotRegisteredError,
  SagaShapeMismatchError,
  type Orchestrator,
  type SagaStore,
} from '../index.js';
import type { ActionName, ActionResult } from './client/view-model.js';
import type { InspectorProblemContext } from './create-inspector.js';

/** An action asked for by the page. */
export interface ActionRequest {
  readonly action: ActionName;
  readonly runId: string;
  /** Why (cancel only). */
  readonly reason?: string;
}

/**
 * Reads an action request's JSON body.
 *
 * @returns the request, or a sentence saying what is wrong with it.
 */
export function parseActionRequest(body: string): ActionRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return 'the body is not JSON';
  }
  if (typeof value !== 'object' || value === null) return 'the body is not a JSON object';
  const { action, runId, reason } = value as Record<string, unknown>;
  if (action !== 'redrive' && action !== 'compensate' && action !== 'cancel') return 'action must be redrive, compensate or cancel';
  if (typeof runId !== 'string' || runId === '' || runId.length > 200) return 'runId must be a run id';
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 500)) return 'reason must be text of at most 500 characters';
  return { action, runId, ...(reason === undefined || reason.trim() === '' ? {} : { reason: reason.trim() }) };
}

/**
 * Carries an action out with the inspector's orchestrator, and answers once it is accepted (or
 * refused): a redrive or rollback once its `run.resumed` is in the journal, a cancel once it is
 * accepted or requested from the run's owner.
 *
 * @remarks
 * A redrive or rollback of a run this process picks up is driven here until it settles (on a
 * workers' store, a submitted run goes back to the workers instead). Refusals come back with the
 * library's sentence and an HTTP status: 404 unknown run, 409 the run's status or owner forbids it
 * or its saga is not registered here (a run owned by another process with a sentence of the
 * inspector's own: see {@link leasedMessage}).
 */
export async function performAction(orchestrator: Orchestrator, store: SagaStore, request: ActionRequest, onError: (error: Error, context: InspectorProblemContext) => void): Promise<{ status: number; result: ActionResult }> {
  try {
    if (request.action === 'cancel') {
      const journal = await store.load(request.runId);
      if (journal === undefined) throw new RunNotFoundError(request.runId);
      // The orchestrator accepts a cancel of a run already on its way to an ending, and does nothing with it.
      const before = foldJournal(journal);
      const already = before.status === 'compensating' ? 'rolling back' : before.stopping ? 'stopping' : undefined;
      await orchestrator.cancel(request.runId, request.reason ?? 'cancelled from the inspector');
      const message = already === undefined ? 'Cancel requested: the run stops, settling its stages first.' : `The run is already ${already}: the cancel changes nothing, and the run ends as it was going to.`;
      return { status: 202, result: { ok: true, message } };
    }
    const before = (await store.load(request.runId))?.length;
    if (before === undefined) throw new RunNotFoundError(request.runId);
    const handle = request.action === 'redrive' ? orchestrator.redrive(request.runId) : orchestrator.compensate(request.runId);
    // The handle's events$ replays the journal, then goes live; it completes without a new
    // run.resumed when the request was refused, and the outcome then says why.
    const resumed = await firstValueFrom(handle.events$.pipe(filter((event) => event.type === 'run.resumed' && event.seq >= before)), { defaultValue: undefined });
    if (resumed === undefined) await handle.outcome;
    // From here on, whatever happens belongs to the run's journal; only a failure to drive it is reported.
    handle.outcome.catch((error: unknown) => onError(error instanceof Error ? error : new Error(String(error)), { action: request.action, runId: request.runId }));
    return { status: 202, result: { ok: true, message: request.action === 'redrive' ? 'Redrive started.' : 'Rollback started.' } };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof RunNotFoundError) return { status: 404, result: { ok: false, message } };
    if (error instanceof RunLeasedError) return { status: 409, result: { ok: false, message: leasedMessage(request, error) } };
    if (
      error instanceof RunStateError ||
      error instanceof SagaNotRegisteredError ||
      error instanceof SagaShapeMismatchError ||
      error instanceof OrchestratorClosedError
    ) {
      return { status: 409, result: { ok: false, message } };
    }
    onError(error instanceof Error ? error : new Error(message), { action: request.action, runId: request.runId });
    return { status: 500, result: { ok: false, message } };
  }
}

/**
 * What a user of the page is told when another live process holds the run's lease: who, until
 * when, and what to do, in the page's words rather than the library's (which speaks of `recover()`).
 */
export function leasedMessage(request: ActionRequest, error: RunLeasedError): string {
  const verb = request.action === 'redrive' ? 'redriven' : request.action === 'compensate' ? 'rolled back' : 'cancelled';
  const until = error.expiresAt === undefined || !Number.isFinite(error.expiresAt) ? 'until it lets the run go' : `until ${new Date(error.expiresAt).toISOString()} unless it renews its lease`;
  return (
    `Run ${error.runId} cannot be ${verb} from here right now: another live process, ${error.owner}, owns it (lease epoch ${error.epoch}) ${until}. ` +
    'This page follows the run, so what that process does shows here. ' +
    'If that process is still working on the run, let it finish or cancel the run; if it died, try again once its lease has expired.'
  );
}
