import { FAILING_STEP, STEP_COUNT, StepFailure, type SagaEffects } from '../peers/peer.js';

/** Stage names by step (index 0 unused). */
const STAGES = ['', 's1', 's2', 's3', 's4', 's5'] as const;

/** Events a hand-written journaled saga writes: 12 when it completes, 21 when step 5 fails. */
export const journaledEvents = (fail: boolean): number => (fail ? 21 : 12);

/**
 * The hand-written saga (async/await and try/catch, as `runHandWrittenSaga`), plus a journal of
 * the events sagaflow writes for the same run, each with its run id, sequence number and a clock
 * read: for a failing run 21 (run.started; 5 stage.started; 4 stage.completed; stage.failed with
 * the error's name, message and stack; run.compensating; 4 compensation.started and .completed;
 * run.compensated), for a completed one 12 (run.started; 5 stage.started and .completed;
 * run.completed).
 *
 * Written the efficient way: every event is a plain object literal (no spread, no
 * `Object.freeze`, which V8 makes slow), pushed on the array the caller gives. This is the
 * cheapest honest journal one could write by hand, so a ratio to it is the engine's own overhead
 * over journaling, not over a slow baseline. bench/memory.ts runs it sequentially (the failing
 * saga), bench/scaling.ts as N concurrent completing runs.
 *
 * @throws Error when it wrote another number of events than {@link journaledEvents} says.
 */
export async function runHandWrittenJournaled(effects: SagaEffects, fail: boolean, journal: object[]): Promise<void> {
  const runId = 'r';
  const saga = 'bench-five-steps';
  let seq = 0;
  journal.push({ type: 'run.started', runId, saga, seq: seq++, at: Date.now(), input: { fail } });
  let done = 0;
  try {
    while (done < STEP_COUNT) {
      const step = done + 1;
      journal.push({ type: 'stage.started', runId, saga, seq: seq++, at: Date.now(), stage: STAGES[step] as string, attempt: 1 });
      await effects.execute(step);
      if (fail && step === FAILING_STEP) throw new StepFailure(step);
      journal.push({ type: 'stage.completed', runId, saga, seq: seq++, at: Date.now(), stage: STAGES[step] as string, attempt: 1, output: step });
      done = step;
    }
    journal.push({ type: 'run.completed', runId, saga, seq: seq++, at: Date.now() });
  } catch (caught) {
    const error = caught as Error;
    journal.push({ type: 'stage.failed', runId, saga, seq: seq++, at: Date.now(), stage: STAGES[done + 1] as string, attempt: 1, error: { name: error.name, message: error.message, stack: error.stack } });
    journal.push({ type: 'run.compensating', runId, saga, seq: seq++, at: Date.now(), cause: 'failure' });
    for (let step = done; step >= 1; step--) {
      journal.push({ type: 'compensation.started', runId, saga, seq: seq++, at: Date.now(), stage: STAGES[step] as string, attempt: 1 });
      await effects.compensate(step);
      journal.push({ type: 'compensation.completed', runId, saga, seq: seq++, at: Date.now(), stage: STAGES[step] as string, attempt: 1 });
    }
    journal.push({ type: 'run.compensated', runId, saga, seq: seq++, at: Date.now() });
  }
  if (journal.length !== journaledEvents(fail)) throw new Error(`hand-written+journal wrote ${journal.length} events, expected ${journaledEvents(fail)}`);
}
