import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineSaga, SagaDefinitionError, SagaErrorCode, serializeError, WaitTimeoutError, type SagaEventDraft, type SerializedError } from 'sagaflow';
import { stateOf } from '../support/run-state.js';
import { decide, isAppend, restingUntil, STEP, type AttemptResult, type Command, type Trigger } from '../../src/runtime/decider.js';
import type { Saga } from '../../src/definition/saga.js';

const input = z.object({});
const noop = async (): Promise<void> => undefined;
const NOW = 10_000;

/** hold → approval (signal, 60 s) → pay; hold compensates. */
const approval = defineSaga({ name: 'approval', input })
  .stage('hold', { execute: noop, compensate: noop })
  .waitForSignal('approval', { signal: 'approved', schema: z.object({ by: z.string() }), timeoutMs: 60_000 })
  .stage('pay', { execute: noop })
  .build() as unknown as Saga;

/** The same with a fallback on timeout. */
const lenient = defineSaga({ name: 'lenient', input })
  .stage('hold', { execute: noop, compensate: noop })
  .waitForSignal('approval', { signal: 'approved', schema: z.object({ by: z.string() }), timeoutMs: 60_000, onTimeout: { output: { by: 'nobody' } } })
  .build() as unknown as Saga;

/** hold → cool-off (timer) */
const sleeper = defineSaga({ name: 'sleeper', input })
  .stage('hold', { execute: noop, compensate: noop })
  .sleep('cool-off', { durationMs: 5_000 })
  .build() as unknown as Saga;

function summary(commands: readonly Command[]): unknown[] {
  return commands.map((command) => {
    if (!isAppend(command)) return command;
    const { runId: _runId, saga: _saga, at: _at, seq: _seq, ...rest } = command;
    return rest;
  });
}

function withoutStack({ stack: _stack, ...rest }: SerializedError): SerializedError {
  return rest;
}

const ok = (output?: unknown): AttemptResult => ({ ok: true, output, durationMs: 5 });
const settled = (stage: string, result: AttemptResult): Trigger => ({ type: 'settled', phase: 'execute', stage, attempt: 1, result, jitter: 0.5 });
const signal = (signalId: string, payload: unknown = { by: 'ann' }, name = 'approved'): Trigger => ({ type: 'signal', signal: name, signalId, payload });

const holdDone: SagaEventDraft[] = [
  { type: 'stage.started', stage: 'hold', attempt: 1 },
  { type: 'stage.completed', stage: 'hold', attempt: 1, output: { holdId: 'h' }, durationMs: 1 },
];
const waiting: SagaEventDraft[] = [
  ...holdDone,
  { type: 'stage.started', stage: 'approval', attempt: 1 },
  { type: 'wait.started', stage: 'approval', kind: 'signal', signal: 'approved', dueAt: 61_000 },
];

describe('wait stages: state × trigger → commands', () => {
  it('a signal wait starts like a stage: stage.started and its attempt (which only computes the wait)', () => {
    expect(summary(decide(approval, stateOf(approval, ...holdDone), STEP, NOW))).toEqual([
      { type: 'stage.started', stage: 'approval', attempt: 1 },
      { type: 'attempt', phase: 'execute', stage: 'approval', attempt: 1 },
    ]);
  });

  it('its attempt settled: the wait is journaled with its due time and a timer armed for it', () => {
    const state = stateOf(approval, ...holdDone, { type: 'stage.started', stage: 'approval', attempt: 1 });
    expect(summary(decide(approval, state, settled('approval', ok({ delayMs: 60_000 })), NOW))).toEqual([
      { type: 'wait.started', stage: 'approval', kind: 'signal', signal: 'approved', dueAt: NOW + 60_000 },
      { type: 'timer', phase: 'execute', stage: 'approval', delayMs: 60_000 },
    ]);
  });

  it('the fold says what the run waits for and until when; the stage stays running, in flight', () => {
    const state = stateOf(approval, ...waiting);
    expect(state.waits?.get('approval')).toEqual({ kind: 'signal', signal: 'approved', dueAt: 61_000, since: 1_003 });
    expect(state.stages.get('approval')?.status).toBe('running');
    expect(state.inFlight).toBe(1);
    expect(summary(decide(approval, state, STEP, NOW))).toEqual([]);
  });

  it('a signal for the wait is journaled, clears the timeout and completes the stage with the payload', () => {
    expect(summary(decide(approval, stateOf(approval, ...waiting), signal('s1'), NOW))).toEqual([
      { type: 'signal.received', signal: 'approved', signalId: 's1', payload: { by: 'ann' }, stage: 'approval' },
      { type: 'clear-timer', phase: 'execute', stage: 'approval' },
      { type: 'stage.completed', stage: 'approval', attempt: 1, output: { by: 'ann' }, durationMs: NOW - 1_003 },
    ]);
  });

  it('past the deadline, a signal is late unless it was sent before it (a request recorded in time, journaled later): sentAt decides, not when it is delivered', () => {
    const state = stateOf(approval, ...waiting);
    const pastDeadline = 61_000 + 3_600_000;
    const sentAt = (at: number): Trigger => ({ type: 'signal', signal: 'approved', signalId: 's1', payload: { by: 'ann' }, sentAt: at });
    // Sent a second before the deadline, delivered an hour after it: the wait takes it.
    expect(summary(decide(approval, state, sentAt(60_000), pastDeadline))).toEqual([
      { type: 'signal.received', signal: 'approved', signalId: 's1', payload: { by: 'ann' }, stage: 'approval' },
      { type: 'clear-timer', phase: 'execute', stage: 'approval' },
      { type: 'stage.completed', stage: 'approval', attempt: 1, output: { by: 'ann' }, durationMs: pastDeadline - 1_003 },
    ]);
    // Sent at the deadline, or sent now (no sentAt): the wait times out first, and the signal is not journaled.
    for (const trigger of [sentAt(61_000), signal('s1')]) {
      expect(summary(decide(approval, state, trigger, pastDeadline)).map((command) => (command as { type: string }).type)).toEqual(['clear-timer', 'stage.failed', 'abort']);
    }
    // A stamp later than the deciding process's clock (another machine's clock ahead) counts as now.
    expect(summary(decide(approval, state, sentAt(pastDeadline + 60_000), NOW))[0]).toMatchObject({ type: 'signal.received', stage: 'approval' });
  });

  it('a duplicate signal id changes nothing, before or after the wait', () => {
    const delivered = stateOf(approval, ...waiting, { type: 'signal.received', signal: 'approved', signalId: 's1', payload: { by: 'ann' }, stage: 'approval' });
    expect(decide(approval, delivered, signal('s1', { by: 'bob' }), NOW)).toEqual([]);
    const buffered = stateOf(approval, { type: 'signal.received', signal: 'approved', signalId: 's1', payload: { by: 'ann' } });
    expect(decide(approval, buffered, signal('s1', { by: 'bob' }), NOW)).toEqual([]);
  });

  it('a signal before the wait is buffered, and satisfies the wait at once when it is reached', () => {
    const early = stateOf(approval);
    expect(summary(decide(approval, early, signal('s1'), NOW))).toEqual([{ type: 'signal.received', signal: 'approved', signalId: 's1', payload: { by: 'ann' } }]);
    const buffered: SagaEventDraft = { type: 'signal.received', signal: 'approved', signalId: 's1', payload: { by: 'ann' } };
    const state = stateOf(approval, buffered, ...holdDone, { type: 'stage.started', stage: 'approval', attempt: 1 });
    expect(state.signals?.get('s1')?.stage).toBeUndefined();
    const commands = decide(approval, state, settled('approval', ok({ delayMs: 60_000 })), NOW);
    expect(summary(commands)).toEqual([
      { type: 'wait.started', stage: 'approval', kind: 'signal', signal: 'approved', signalId: 's1' },
      { type: 'stage.completed', stage: 'approval', attempt: 1, output: { by: 'ann' }, durationMs: 0 },
    ]);
    const after = stateOf(approval, buffered, ...holdDone, { type: 'stage.started', stage: 'approval', attempt: 1 }, ...(commands.filter(isAppend) as SagaEventDraft[]));
    expect(after.signals?.get('s1')?.stage).toBe('approval');
    expect(after.stages.get('approval')?.output).toEqual({ by: 'ann' });
    expect(after.waits?.size).toBe(0);
  });

  it('a timed-out signal wait fails the stage with WAIT_TIMEOUT, which starts the rollback', () => {
    const state = stateOf(approval, ...waiting);
    const commands = decide(approval, state, { type: 'timer', phase: 'execute', stage: 'approval' }, NOW + 60_000);
    expect(summary(commands)).toEqual([
      {
        type: 'stage.failed',
        stage: 'approval',
        attempt: 1,
        // What serializeError makes of the exported class, minus a stack (the decider is pure).
        error: withoutStack(serializeError(new WaitTimeoutError('approval', state.runId, 'approval', 'approved', 60_000))),
      },
      { type: 'abort', reason: "stage 'approval' failed" },
    ]);
    const failed = stateOf(approval, ...waiting, ...(commands.filter(isAppend) as SagaEventDraft[]));
    expect(summary(decide(approval, failed, STEP, NOW))).toEqual([{ type: 'run.compensating', cause: expect.objectContaining({ kind: 'failed', stage: 'approval' }) as unknown }]);
    expect(failed.failure?.error).toMatchObject({
      name: 'WaitTimeoutError',
      code: SagaErrorCode.WaitTimeout,
      message: `Stage 'approval' of saga 'approval' run ${state.runId} waited 60000 ms for signal 'approved', which did not come.`,
      data: { saga: 'approval', runId: state.runId, stage: 'approval', signal: 'approved', timeoutMs: 60_000 },
    });
  });

  it('a journal written before WaitTimeoutError existed (no data, the old message) still folds to the same failure code', () => {
    const old = { name: 'WaitTimeoutError', code: 'WAIT_TIMEOUT', message: "Stage 'approval' waited 60000 ms for signal 'approved', which did not come." };
    const failed = stateOf(approval, ...waiting, { type: 'stage.failed', stage: 'approval', attempt: 1, error: old });
    expect(failed.failure).toEqual({ stage: 'approval', error: old });
    expect(failed.failure?.error.code).toBe(new WaitTimeoutError('approval', 'r', 'approval', 'approved', 1).code);
  });

  it('a timed-out wait with onTimeout completes with the fallback', () => {
    const state = stateOf(lenient, ...waiting);
    expect(summary(decide(lenient, state, { type: 'timer', phase: 'execute', stage: 'approval' }, NOW))).toEqual([
      { type: 'stage.completed', stage: 'approval', attempt: 1, output: { by: 'nobody' }, durationMs: NOW - 1_003 },
    ]);
  });

  it('a cancel during a wait cancels the waiting stage and clears its timer; the rollback follows', () => {
    const commands = decide(approval, stateOf(approval, ...waiting), { type: 'cancel', reason: 'customer withdrew', by: 'external' }, NOW);
    expect(summary(commands)).toEqual([
      { type: 'run.cancelling', reason: 'customer withdrew', by: 'external' },
      { type: 'abort', reason: 'the run was cancelled: customer withdrew' },
      { type: 'clear-timer', phase: 'execute', stage: 'approval' },
      { type: 'stage.cancelled', stage: 'approval', reason: 'the run was cancelled: customer withdrew' },
    ]);
    const stopped = stateOf(approval, ...waiting, ...(commands.filter(isAppend) as SagaEventDraft[]));
    expect(stopped.inFlight).toBe(0);
    expect(summary(decide(approval, stopped, STEP, NOW))).toEqual([{ type: 'run.compensating', cause: { kind: 'cancelled', reason: 'customer withdrew', by: 'external' } }]);
  });

  it('a signal to a stopping or settled run is not journaled', () => {
    const stopping = stateOf(approval, ...waiting, { type: 'run.cancelling', reason: 'x', by: 'external' });
    expect(decide(approval, stopping, signal('s2'), NOW)).toEqual([]);
  });

  it('resumed after a crash, a wait goes on for what is left of it, and is not re-run', () => {
    expect(summary(decide(approval, stateOf(approval, ...waiting), { type: 'resume', mode: 'resume' }, NOW))).toEqual([
      { type: 'run.resumed', mode: 'resume' },
      { type: 'timer', phase: 'execute', stage: 'approval', delayMs: 61_000 - NOW },
    ]);
    expect(summary(decide(approval, stateOf(approval, ...waiting), { type: 'resume', mode: 'resume' }, 70_000))).toEqual([
      { type: 'run.resumed', mode: 'resume' },
      { type: 'timer', phase: 'execute', stage: 'approval', delayMs: 0 },
    ]);
  });

  it('a timer wait completes when due; one already past completes at once', () => {
    const started: SagaEventDraft[] = [...holdDone, { type: 'stage.started', stage: 'cool-off', attempt: 1 }];
    expect(summary(decide(sleeper, stateOf(sleeper, ...started), settled('cool-off', ok({ delayMs: 5_000 })), NOW))).toEqual([
      { type: 'wait.started', stage: 'cool-off', kind: 'timer', dueAt: NOW + 5_000 },
      { type: 'timer', phase: 'execute', stage: 'cool-off', delayMs: 5_000 },
    ]);
    expect(summary(decide(sleeper, stateOf(sleeper, ...started), settled('cool-off', ok({ dueAt: NOW - 1 })), NOW))).toEqual([
      { type: 'wait.started', stage: 'cool-off', kind: 'timer', dueAt: NOW - 1 },
      { type: 'stage.completed', stage: 'cool-off', attempt: 1, durationMs: 0 },
    ]);
    const sleeping = stateOf(sleeper, ...started, { type: 'wait.started', stage: 'cool-off', kind: 'timer', dueAt: NOW });
    expect(summary(decide(sleeper, sleeping, { type: 'timer', phase: 'execute', stage: 'cool-off' }, NOW))).toEqual([
      { type: 'stage.completed', stage: 'cool-off', attempt: 1, durationMs: NOW - 1_003 },
    ]);
  });
});

describe('wait stages in the definition', () => {
  it('the shape records what a stage waits for, and the hash tells a wait from a stage', () => {
    expect(approval.shape[1]).toEqual({ name: 'approval', after: ['hold'], compensates: false, compensateOnFailure: false, wait: 'signal:approved' });
    expect(sleeper.shape[1]?.wait).toBe('timer');
    const plain = defineSaga({ name: 'approval', input })
      .stage('hold', { execute: noop, compensate: noop })
      .stage('approval', { execute: noop })
      .stage('pay', { execute: noop })
      .build();
    expect(plain.shape[1]).not.toHaveProperty('wait');
    expect(plain.shapeHash).not.toBe(approval.shapeHash);
  });

  it('.build() reports bad wait definitions with their paths', () => {
    const build = (): unknown =>
      defineSaga({ name: 'bad', input })
        .waitForSignal('w', { signal: '', schema: 'nope' as unknown as z.ZodType<unknown>, timeoutMs: -1 })
        .sleep('s', { durationMs: Number.NaN })
        .build();
    expect(build).toThrow(SagaDefinitionError);
    try {
      build();
    } catch (error) {
      const paths = (error as SagaDefinitionError).issues.map((issue) => issue.path);
      expect(paths).toEqual(expect.arrayContaining(['stages.w.signal', 'stages.w.schema', 'stages.w.timeoutMs', 'stages.s.durationMs']));
    }
  });

  it('one payload schema per signal name, and an onTimeout output that is JSON of that schema', () => {
    const problemsOf = (build: () => unknown): Array<[string, string]> => {
      try {
        build();
      } catch (error) {
        expect(error).toBeInstanceOf(SagaDefinitionError);
        return (error as SagaDefinitionError).issues.map((issue) => [issue.path, issue.message]);
      }
      return [];
    };
    const twoSchemas = problemsOf(() =>
      defineSaga({ name: 'twice', input })
        .waitForSignal('first', { signal: 'note', schema: z.object({ n: z.number() }) })
        .waitForSignal('second', { signal: 'note', schema: z.object({ text: z.string() }) })
        .build(),
    );
    expect(twoSchemas).toEqual([['stages.second.schema', expect.stringContaining("signal 'note' is also waited for by stage 'first' with another schema") as string]]);
    const shared = z.object({ n: z.number() });
    expect(problemsOf(() => defineSaga({ name: 'shared', input }).waitForSignal('first', { signal: 'note', schema: shared }).waitForSignal('second', { signal: 'note', schema: shared }).build())).toEqual([]);
    const badFallbacks = problemsOf(() =>
      defineSaga({ name: 'fallbacks', input })
        .waitForSignal('typed', { signal: 'a', schema: z.object({ by: z.string() }), timeoutMs: 1, onTimeout: { output: { by: 42 } as never } })
        .waitForSignal('dated', { signal: 'b', schema: z.unknown(), timeoutMs: 1, onTimeout: { output: new Date(0) } })
        .build(),
    );
    expect(badFallbacks.map(([path]) => path)).toEqual(['stages.typed.onTimeout.output.by', 'stages.dated.onTimeout.output']);
  });
});

describe('restingUntil: when a run has nothing to do but wait', () => {
  /** Two waits side by side after hold: a signal without timeout, a timer. */
  const both = defineSaga({ name: 'both', input })
    .stage('hold', { execute: noop, compensate: noop })
    .waitForSignal('approval', { signal: 'approved', schema: z.object({ by: z.string() }), after: ['hold'] })
    .sleep('cool-off', { durationMs: 5_000, after: ['hold'] })
    .build() as unknown as Saga;

  it('rests until the earliest due time of its waits, or null when only a signal can end them', () => {
    expect(restingUntil(stateOf(approval, ...waiting))).toBe(61_000);
    const signalOnly: SagaEventDraft[] = [...holdDone, { type: 'stage.started', stage: 'approval', attempt: 1 }, { type: 'wait.started', stage: 'approval', kind: 'signal', signal: 'approved' }];
    expect(restingUntil(stateOf(both, ...signalOnly))).toBeUndefined(); // cool-off is ready to start
    const twoWaits: SagaEventDraft[] = [
      ...signalOnly,
      { type: 'stage.started', stage: 'cool-off', attempt: 1 },
      { type: 'wait.started', stage: 'cool-off', kind: 'timer', dueAt: 15_000 },
    ];
    expect(restingUntil(stateOf(both, ...twoWaits))).toBe(15_000);
    expect(restingUntil(stateOf(approval, ...signalOnly))).toBeNull();
  });

  it('is busy while an attempt runs, a stage is ready, a retry is pending, or the run is stopping', () => {
    // The wait stage's own attempt (computing the wait) is in flight: not yet a wait.
    expect(restingUntil(stateOf(approval, ...holdDone, { type: 'stage.started', stage: 'approval', attempt: 1 }))).toBeUndefined();
    expect(restingUntil(stateOf(approval, ...holdDone))).toBeUndefined();
    expect(restingUntil(stateOf(approval))).toBeUndefined();
    expect(restingUntil(stateOf(approval, ...waiting, { type: 'run.cancelling', reason: 'stop', by: 'external' }))).toBeUndefined();
  });
});
