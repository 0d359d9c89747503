import { describeWait, type SagaEvent } from '../index.js';
import type { BarOutcome, TimelineBar, TimelineMark, TimelineView } from './client/view-model.js';

type Lane = TimelineBar['lane'];
type MutableBar = { -readonly [K in keyof TimelineBar]: TimelineBar[K] };

/**
 * The run's timeline (Gantt), read from its journal's timestamps: every attempt of `execute` and
 * `compensate`, every wait before a retry, and the moments that matter (a cancel accepted, the
 * rollback begun, a pause, a resume, the end).
 *
 * @remarks
 * A projection of the events' times, not a model of the run: statuses come from the fold. An
 * attempt that never settled (its process stopped) ends `interrupted` where the run was picked up
 * again, or at the last event; one still in flight of a live run stays open (no `end`).
 *
 * @param journal - the run's events, in `seq` order.
 * @param live - the run goes on: open attempts stay open, and the timeline ends at `now`.
 * @param now - the current time (epoch ms), for a live run's end.
 */
export function timelineOf(journal: readonly SagaEvent[], live: boolean, now: number): TimelineView {
  const bars: MutableBar[] = [];
  const marks: TimelineMark[] = [];
  /** The attempt in flight, or the wait before the next one, per lane and stage. */
  const open = new Map<string, MutableBar>();
  const key = (lane: Lane, stage: string): string => `${lane}\u0000${stage}`;

  const close = (lane: Lane, stage: string, at: number, outcome: BarOutcome, note?: string): void => {
    const bar = open.get(key(lane, stage));
    if (bar === undefined) return;
    open.delete(key(lane, stage));
    if (bar.kind === 'retry-wait') {
      // The wait ends where the next attempt begins (or was given up).
      bar.end = at;
      return;
    }
    bar.end = at;
    bar.outcome = outcome;
    if (note !== undefined) bar.note = note;
  };
  const start = (lane: Lane, stage: string, attempt: number, at: number): void => {
    // An attempt still open here never settled: its process stopped before it did.
    close(lane, stage, at, 'interrupted', 'its process stopped before it settled');
    const bar: MutableBar = { stage, lane, kind: 'attempt', attempt, outcome: 'running', start: at };
    bars.push(bar);
    open.set(key(lane, stage), bar);
  };
  const retry = (lane: Lane, stage: string, attempt: number, at: number, delayMs: number, message: string): void => {
    close(lane, stage, at, 'retried', message);
    const wait: MutableBar = { stage, lane, kind: 'retry-wait', attempt, outcome: 'waiting', start: at, end: at + delayMs };
    bars.push(wait);
    open.set(key(lane, stage), wait);
  };

  for (const event of journal) {
    switch (event.type) {
      case 'stage.started':
        start('execute', event.stage, event.attempt, event.at);
        break;
      case 'stage.retrying':
        retry('execute', event.stage, event.attempt, event.at, event.delayMs, event.error.message);
        break;
      case 'stage.completed':
        close('execute', event.stage, event.at, 'completed');
        break;
      case 'stage.failed':
        close('execute', event.stage, event.at, 'failed', event.error.message);
        break;
      case 'stage.cancelled':
        close('execute', event.stage, event.at, 'cancelled', event.reason);
        break;
      case 'wait.started': {
        // A wait stage's bar spans its wait: it stays open until the signal, the time or the stop.
        const bar = open.get(key('execute', event.stage));
        if (bar !== undefined) {
          bar.note = `waits for ${describeWait(event)}`;
        }
        break;
      }
      case 'signal.received':
        break;
      case 'compensation.started':
        start('compensate', event.stage, event.attempt, event.at);
        break;
      case 'compensation.retrying':
        retry('compensate', event.stage, event.attempt, event.at, event.delayMs, event.error.message);
        break;
      case 'compensation.completed':
        close('compensate', event.stage, event.at, 'completed');
        break;
      case 'compensation.failed':
        close('compensate', event.stage, event.at, 'failed', event.error.message);
        break;
      case 'run.cancelling':
        marks.push({ at: event.at, kind: 'cancel', label: `cancel: ${event.reason}${event.by === 'external' ? '' : ` (by ${event.by})`}` });
        break;
      case 'run.compensating':
        marks.push({ at: event.at, kind: 'rollback', label: 'rollback begins' });
        break;
      case 'run.paused':
        marks.push({ at: event.at, kind: 'paused', label: `paused after ${event.failure.stage} failed` });
        break;
      case 'run.resumed':
        marks.push({ at: event.at, kind: 'resumed', label: event.mode });
        break;
      case 'run.completed':
      case 'run.compensated':
      case 'run.cancelled':
      case 'run.compensation_failed':
        marks.push({ at: event.at, kind: 'settled', label: event.type.slice('run.'.length).replace('_', ' ') });
        break;
      case 'run.started':
        break;
    }
  }

  const first = journal[0]?.at ?? now;
  const last = journal[journal.length - 1]?.at ?? first;
  const end = live ? Math.max(last, now) : last;
  for (const bar of open.values()) {
    if (bar.kind === 'retry-wait') {
      // A settled run left waiting (paused, or stopped): the wait ends with the journal.
      if (!live) bar.end = Math.min(bar.end ?? last, last);
    } else if (!live) {
      bar.end = last;
      bar.outcome = 'interrupted';
      bar.note = 'its process stopped before it settled';
    }
  }
  return { start: first, end, bars, marks };
}
