import type { SagaEvent } from '../index.js';
import { compactJson, errorText, formatDuration } from './format.js';
import { describeWait } from '../index.js';

/**
 * One event in words, as `[subject, what happened]`: the run or the stage it concerns, and a
 * phrase, for `show`'s timeline. (Live progress words a stage by its state in the fold, and the
 * run's news in its own, more conversational, phrases.)
 */
export function describeEvent(event: SagaEvent): [string, string] {
  switch (event.type) {
    case 'run.started':
      return ['run', `started (version ${event.version}${event.submitted === true ? ', queued for workers' : ''})`];
    case 'run.resumed':
      return [
        'run',
        `${event.mode === 'resume' ? 'resumed' : event.mode === 'redrive' ? 'redriven' : 'compensation requested'}${event.version === undefined ? '' : ` with version ${event.version}`}`,
      ];
    case 'run.cancelling':
      return ['run', `cancelling: ${event.reason}${event.by === 'external' ? '' : ` (by stage ${event.by})`}`];
    case 'run.compensating':
      return ['run', `rolling back: ${event.cause.kind === 'failed' ? `${event.cause.stage} failed` : `cancelled (${event.cause.reason})`}`];
    case 'run.paused':
      return ['run', `paused: ${event.failure.stage} failed`];
    case 'run.completed':
      return ['run', 'completed'];
    case 'run.compensated':
      return ['run', 'rolled back (compensated)'];
    case 'run.cancelled':
      return ['run', 'cancelled'];
    case 'run.compensation_failed':
      return ['run', 'compensation failed'];
    case 'stage.started':
      return [event.stage, `attempt ${event.attempt} started`];
    case 'stage.retrying':
      return [event.stage, `attempt ${event.attempt} failed, next in ${formatDuration(event.delayMs)}: ${errorText(event.error)}`];
    case 'stage.completed':
      return [event.stage, `attempt ${event.attempt} completed in ${formatDuration(event.durationMs)}${event.output === undefined ? '' : ` → ${compactJson(event.output, 90)}`}`];
    case 'stage.failed':
      return [event.stage, `attempt ${event.attempt} failed (final): ${errorText(event.error)}`];
    case 'stage.cancelled':
      return [event.stage, cancelledText(event)];
    case 'wait.started':
      return [
        event.stage,
        `waiting for ${describeWait(event)}${event.signalId === undefined ? '' : ` (satisfied at once by buffered signal ${event.signalId})`}`,
      ];
    case 'signal.received':
      return [
        event.stage ?? 'run',
        `signal '${event.signal}' received (${event.signalId})${event.stage === undefined ? ', buffered' : ''}${event.payload === undefined ? '' : ` → ${compactJson(event.payload, 90)}`}`,
      ];
    case 'compensation.started':
      return [event.stage, `compensation attempt ${event.attempt} started`];
    case 'compensation.retrying':
      return [event.stage, `compensation attempt ${event.attempt} failed, next in ${formatDuration(event.delayMs)}: ${errorText(event.error)}`];
    case 'compensation.completed':
      return [event.stage, `compensated in ${formatDuration(event.durationMs)} (attempt ${event.attempt})`];
    case 'compensation.failed':
      return [event.stage, `compensation attempt ${event.attempt} failed (final): ${errorText(event.error)}`];
  }
}

/** A cancelled stage: why, what it rejected with, and whether its outcome is unknown (said once). */
function cancelledText(event: Extract<SagaEvent, { type: 'stage.cancelled' }>): string {
  const unknown = event.outcomeUnknown === true && !/outcome is unknown/.test(event.reason) ? '; its outcome is unknown' : '';
  return `cancelled: ${event.reason}${event.error === undefined ? '' : ` (${errorText(event.error)})`}${unknown}`;
}
