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

/**
 * The least a journal-first, streamed engine must do around the hand-written saga: the
 * in-memory part of the contract, written by hand as cheaply as it can be.
 *
 * - **Write-ahead**: a stage's effect starts only once its `stage.started` is in the store, and
 *   the next decision only once the previous one's events are: every decision's events are one
 *   batch, appended with one awaited call (the `Store` interface is asynchronous, as durable
 *   stores must be). A failing run makes 10 appends: the start with stage 1's `stage.started`;
 *   4 × a completion with the next start; the failure, `run.compensating` and the first
 *   `compensation.started`; 3 × a compensation's end with the next start; the last end with
 *   `run.compensated`.
 * - **Kept**: the store keeps each run's events until the batch ends, as MemoryStore keeps them
 *   until pruned (`journal` is the caller's, kept by it).
 * - **Streamed**: every event is handed to `listener` once it is in the store, as
 *   `orchestrator.events$` hands it to a subscriber.
 *
 * The same 21 (or 12) plain-literal events as {@link runHandWrittenJournaled}. Nothing else of
 * the contract is paid here: no output checked or copied, no error serialised beyond reading
 * its name, message and stack, no outcome built, no retry, timeout or cancellation armed. So the
 * ratio of this to {@link runHandWrittenJournaled} is a lower bound of what any engine honouring
 * write-ahead through an asynchronous store costs over the efficient journal baseline.
 *
 * @throws Error when it wrote another number of events than {@link journaledEvents} says.
 */
/** The promise {@link runHandWrittenWriteAhead}'s store returns from every append: settled already. */
const STORED: Promise<void> = Promise.resolve();

export async function runHandWrittenWriteAhead(effects: SagaEffects, fail: boolean, journal: object[], listener: (event: object) => void): Promise<void> {
  const runId = 'r';
  const saga = 'bench-five-steps';
  let seq = 0;
  // The cheapest asynchronous append: the store does its work at once and returns one promise
  // that is already settled, so each awaited append costs only its `await`.
  const append = (batch: object[]): Promise<void> => {
    for (let i = 0; i < batch.length; i++) journal.push(batch[i] as object);
    for (let i = 0; i < batch.length; i++) listener(batch[i] as object);
    return STORED;
  };
  const started = (step: number): object => ({ type: 'stage.started', runId, saga, seq: seq++, at: Date.now(), stage: STAGES[step] as string, attempt: 1 });
  await append([{ type: 'run.started', runId, saga, seq: seq++, at: Date.now(), input: { fail } }, started(1)]);
  let done = 0;
  try {
    while (done < STEP_COUNT) {
      const step = done + 1;
      await effects.execute(step);
      if (fail && step === FAILING_STEP) throw new StepFailure(step);
      const completed = { type: 'stage.completed', runId, saga, seq: seq++, at: Date.now(), stage: STAGES[step] as string, attempt: 1, output: step };
      await append(step === STEP_COUNT ? [completed, { type: 'run.completed', runId, saga, seq: seq++, at: Date.now() }] : [completed, started(step + 1)]);
      done = step;
    }
  } catch (caught) {
    const error = caught as Error;
    const failed = { type: 'stage.failed', runId, saga, seq: seq++, at: Date.now(), stage: STAGES[done + 1] as string, attempt: 1, error: { name: error.name, message: error.message, stack: error.stack } };
    const compensating = { type: 'run.compensating', runId, saga, seq: seq++, at: Date.now(), cause: 'failure' };
    const compensationStarted = (step: number): object => ({ type: 'compensation.started', runId, saga, seq: seq++, at: Date.now(), stage: STAGES[step] as string, attempt: 1 });
    await append(done === 0 ? [failed, compensating] : [failed, compensating, compensationStarted(done)]);
    for (let step = done; step >= 1; step--) {
      await effects.compensate(step);
      const ended = { type: 'compensation.completed', runId, saga, seq: seq++, at: Date.now(), stage: STAGES[step] as string, attempt: 1 };
      await append(step === 1 ? [ended, { type: 'run.compensated', runId, saga, seq: seq++, at: Date.now() }] : [ended, compensationStarted(step - 1)]);
    }
    if (done === 0) await append([{ type: 'run.compensated', runId, saga, seq: seq++, at: Date.now() }]);
  }
  if (journal.length !== journaledEvents(fail)) throw new Error(`hand-written write-ahead wrote ${journal.length} events, expected ${journaledEvents(fail)}`);
}

/** Stage names of a hand-written saga of `size` stages, made once per size (sagaflow's are in its definition). */
const stageNames = new Map<number, readonly string[]>();
function namesOf(size: number): readonly string[] {
  let names = stageNames.get(size);
  if (names === undefined) stageNames.set(size, (names = Array.from({ length: size }, (_, index) => `s${index}`)));
  return names;
}

/** The trivial async work of each stage, as bench/scaling.ts's stages' `async () => 1`. */
const work = async (): Promise<number> => 1;

/**
 * A completing saga of `size` stages by hand, shaped as bench/scaling.ts's: a `chain` (each stage
 * after the one before), or a `fan-out` (one root, `size − 2` stages at once, one join after all of
 * them), each stage the same trivial async call; with a journal of the events sagaflow writes for
 * it, as plain literals pushed on `journal` (kept by the caller): `run.started`, each stage's
 * `stage.started` and `stage.completed` (with its output), `run.completed` — 2 × size + 2.
 *
 * bench/scaling.ts samples it beside sagaflow's stage curves, in the same rounds: its own largest
 * ÷ smallest µs per stage is what a saga's size costs any implementation keeping such a journal
 * on this machine, the lower bound of `scaling.stagesRatio`.
 *
 * @throws Error when it wrote another number of events than 2 × size + 2.
 */
export async function runHandWrittenStages(shape: 'chain' | 'fan-out', size: number, journal: object[]): Promise<void> {
  const runId = 'r';
  const saga = shape;
  let seq = 0;
  const names = namesOf(size);
  const step = async (stage: string): Promise<void> => {
    journal.push({ type: 'stage.started', runId, saga, seq: seq++, at: Date.now(), stage, attempt: 1 });
    const output = await work();
    journal.push({ type: 'stage.completed', runId, saga, seq: seq++, at: Date.now(), stage, attempt: 1, output });
  };
  journal.push({ type: 'run.started', runId, saga, seq: seq++, at: Date.now(), input: {} });
  if (shape === 'chain') {
    for (let index = 0; index < size; index++) await step(names[index] as string);
  } else {
    await step('root');
    const fan: Array<Promise<void>> = [];
    for (let index = 0; index < size - 2; index++) fan.push(step(names[index] as string));
    await Promise.all(fan);
    await step('join');
  }
  journal.push({ type: 'run.completed', runId, saga, seq: seq++, at: Date.now() });
  if (journal.length !== 2 * size + 2) throw new Error(`hand-written ${shape} of ${size} stages wrote ${journal.length} events, expected ${2 * size + 2}`);
}
