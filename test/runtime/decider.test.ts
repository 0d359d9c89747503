import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineSaga, foldJournal, sagaEventSchema, type RunState, type SagaEvent } from 'sagaflow';
import { applyEvent, initialRunState } from '../../src/journal/fold.js';
import { topologyOf } from '../../src/journal/topology.js';
import { stateOf } from '../support/run-state.js';
import { decide, isAppend, recycleCommands, STEP, type AttemptResult, type Command, type Trigger } from '../../src/runtime/decider.js';
import type { Saga } from '../../src/definition/saga.js';

const input = z.object({});
const noop = async (): Promise<void> => undefined;
const error = { name: 'Error', message: 'boom' };
const NOW = 10_000;

/** a → b, a → c (fan-out), both compensating; b retries twice. */
const fanOut = defineSaga({ name: 'fan', input })
  .stage('a', { execute: noop, compensate: noop })
  .stage('b', { after: ['a'], execute: noop, compensate: noop, retry: { maxAttempts: 2, initialDelayMs: 100, jitter: false } })
  .stage('c', { after: ['a'], execute: noop, compensate: noop })
  .build() as unknown as Saga;

/** Commands, with each appended event reduced to its type and the fields a reader checks. */
function summary(commands: readonly Command[]): unknown[] {
  return commands.map((command) => {
    if (!isAppend(command)) return command;
    const { runId: _runId, saga: _saga, at: _at, ...rest } = command;
    return rest;
  });
}

const ok = (output?: unknown): AttemptResult => ({ ok: true, output, durationMs: 5 });
const failed = (retryable: boolean): AttemptResult => ({ ok: false, error, retryable, invoked: true });
const settled = (stage: string, attempt: number, result: AttemptResult, phase: 'execute' | 'compensate' = 'execute'): Trigger => ({
  type: 'settled',
  phase,
  stage,
  attempt,
  result,
  jitter: 0.5,
});

describe('decide: state × trigger → commands', () => {
  const cases: Array<{ name: string; saga?: Saga; state: RunState; trigger: Trigger; commands: unknown[] }> = [
    {
      name: 'a new run starts its roots',
      state: stateOf(fanOut),
      trigger: { type: 'start' },
      commands: [
        { type: 'stage.started', seq: 1, stage: 'a', attempt: 1 },
        { type: 'attempt', phase: 'execute', stage: 'a', attempt: 1 },
      ],
    },
    {
      name: 'a completed attempt is journaled (its dependents start on the next step)',
      state: stateOf(fanOut, { type: 'stage.started', stage: 'a', attempt: 1 }),
      trigger: settled('a', 1, ok({ id: 1 })),
      commands: [{ type: 'stage.completed', seq: 2, stage: 'a', attempt: 1, output: { id: 1 }, durationMs: 5 }],
    },
    {
      name: 'the step after a completion fans out',
      state: stateOf(fanOut, { type: 'stage.started', stage: 'a', attempt: 1 }, { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 }),
      trigger: STEP,
      commands: [
        { type: 'stage.started', seq: 3, stage: 'b', attempt: 1 },
        { type: 'attempt', phase: 'execute', stage: 'b', attempt: 1 },
        { type: 'stage.started', seq: 4, stage: 'c', attempt: 1 },
        { type: 'attempt', phase: 'execute', stage: 'c', attempt: 1 },
      ],
    },
    {
      name: 'a retryable failure within the budget waits for a retry',
      state: stateOf(fanOut, { type: 'stage.started', stage: 'a', attempt: 1 }, { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 }, { type: 'stage.started', stage: 'b', attempt: 1 }),
      trigger: settled('b', 1, failed(true)),
      commands: [
        { type: 'stage.retrying', seq: 4, stage: 'b', attempt: 1, error, delayMs: 100 },
        { type: 'timer', phase: 'execute', stage: 'b', delayMs: 100 },
      ],
    },
    {
      name: 'a final failure stops the run: abort in-flight executes, give up retry waits',
      state: stateOf(
        fanOut,
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'stage.started', stage: 'b', attempt: 1 },
        { type: 'stage.started', stage: 'c', attempt: 1 },
        { type: 'stage.retrying', stage: 'b', attempt: 1, error, delayMs: 100 },
      ),
      trigger: settled('c', 1, failed(false)),
      commands: [
        { type: 'stage.failed', seq: 6, stage: 'c', attempt: 1, error },
        { type: 'abort', reason: "stage 'c' failed" },
        { type: 'clear-timer', phase: 'execute', stage: 'b' },
        { type: 'stage.cancelled', seq: 7, stage: 'b', reason: "stage 'c' failed" },
      ],
    },
    {
      name: 'a retryable failure past the budget is final',
      state: stateOf(
        fanOut,
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'stage.started', stage: 'b', attempt: 1 },
        { type: 'stage.retrying', stage: 'b', attempt: 1, error, delayMs: 100 },
        { type: 'stage.started', stage: 'b', attempt: 2 },
      ),
      trigger: settled('b', 2, failed(true)),
      commands: [
        { type: 'stage.failed', seq: 6, stage: 'b', attempt: 2, error },
        { type: 'abort', reason: "stage 'b' failed" },
      ],
    },
    {
      name: 'a result for an attempt not in flight (late, or superseded) changes nothing',
      state: stateOf(fanOut, { type: 'stage.started', stage: 'a', attempt: 1 }, { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 }),
      trigger: settled('a', 1, ok()),
      commands: [],
    },
    {
      name: 'ctx.cancel stops the run, by that stage',
      state: stateOf(fanOut, { type: 'stage.started', stage: 'a', attempt: 1 }),
      trigger: settled('a', 1, { ok: false, retryable: false, cancel: 'changed my mind', invoked: true }),
      commands: [
        { type: 'run.cancelling', seq: 2, reason: 'changed my mind', by: 'a' },
        { type: 'stage.cancelled', seq: 3, stage: 'a', reason: 'changed my mind' },
        { type: 'abort', reason: 'changed my mind' },
      ],
    },
    {
      name: 'an external cancel of a running run',
      state: stateOf(fanOut, { type: 'stage.started', stage: 'a', attempt: 1 }),
      trigger: { type: 'cancel', reason: 'customer', by: 'external' },
      commands: [
        { type: 'run.cancelling', seq: 2, reason: 'customer', by: 'external' },
        { type: 'abort', reason: 'the run was cancelled: customer' },
      ],
    },
    {
      name: 'a cancel of a run already stopping is a no-op',
      state: stateOf(fanOut, { type: 'stage.started', stage: 'a', attempt: 1 }, { type: 'stage.failed', stage: 'a', attempt: 1, error }),
      trigger: { type: 'cancel', reason: 'late', by: 'external' },
      commands: [],
    },
    {
      name: 'an attempt that settles while the run stops is cancelled, its error kept',
      state: stateOf(
        fanOut,
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'stage.started', stage: 'b', attempt: 1 },
        { type: 'stage.started', stage: 'c', attempt: 1 },
        { type: 'stage.failed', stage: 'c', attempt: 1, error },
      ),
      trigger: settled('b', 1, failed(true)),
      commands: [{ type: 'stage.cancelled', seq: 6, stage: 'b', reason: "stage 'c' failed", error }],
    },
    {
      name: 'once the forward phase has settled after a failure, the rollback starts',
      state: stateOf(
        fanOut,
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'stage.started', stage: 'b', attempt: 1 },
        { type: 'stage.failed', stage: 'b', attempt: 1, error },
      ),
      trigger: STEP,
      commands: [{ type: 'run.compensating', seq: 5, cause: { kind: 'failed', stage: 'b', error } }],
    },
    {
      name: 'a sequential rollback undoes the last completed stage first',
      state: stateOf(
        fanOut,
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'stage.started', stage: 'b', attempt: 1 },
        { type: 'stage.started', stage: 'c', attempt: 1 },
        { type: 'stage.completed', stage: 'c', attempt: 1, durationMs: 1 },
        { type: 'stage.failed', stage: 'b', attempt: 1, error },
        { type: 'run.compensating', cause: { kind: 'failed', stage: 'b', error } },
      ),
      trigger: STEP,
      commands: [
        { type: 'compensation.started', seq: 8, stage: 'c', attempt: 1 },
        { type: 'attempt', phase: 'compensate', stage: 'c', attempt: 1 },
      ],
    },
    {
      name: 'a rollback with nothing left settles the run',
      state: stateOf(
        fanOut,
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'stage.started', stage: 'b', attempt: 1 },
        { type: 'stage.failed', stage: 'b', attempt: 1, error },
        { type: 'run.compensating', cause: { kind: 'failed', stage: 'b', error } },
        { type: 'compensation.started', stage: 'a', attempt: 1 },
        { type: 'compensation.completed', stage: 'a', attempt: 1, durationMs: 1 },
      ),
      trigger: STEP,
      commands: [{ type: 'run.compensated', seq: 8 }, { type: 'finish' }],
    },
    {
      name: 'after a crash, a stage that was in flight runs again with the next attempt',
      state: stateOf(fanOut, { type: 'stage.started', stage: 'a', attempt: 1 }),
      trigger: { type: 'resume', mode: 'resume' },
      commands: [
        { type: 'run.resumed', seq: 2, mode: 'resume' },
        { type: 'stage.started', seq: 3, stage: 'a', attempt: 2 },
        { type: 'attempt', phase: 'execute', stage: 'a', attempt: 2 },
      ],
    },
    {
      name: 'after a crash while stopping, a stage that was in flight has an unknown outcome',
      state: stateOf(
        fanOut,
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'stage.started', stage: 'b', attempt: 1 },
        { type: 'stage.started', stage: 'c', attempt: 1 },
        { type: 'stage.failed', stage: 'c', attempt: 1, error },
      ),
      trigger: { type: 'resume', mode: 'resume' },
      commands: [
        { type: 'run.resumed', seq: 6, mode: 'resume' },
        {
          type: 'stage.cancelled',
          seq: 7,
          stage: 'b',
          reason: 'the process stopped while this stage was in flight and the run was stopping; its outcome is unknown',
          outcomeUnknown: true,
        },
      ],
    },
    {
      name: 'after a crash during a retry wait, the wait goes on for what is left of it',
      state: stateOf(
        fanOut,
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'stage.started', stage: 'b', attempt: 1 },
        { type: 'stage.retrying', stage: 'b', attempt: 1, error, delayMs: 60_000 },
      ),
      trigger: { type: 'resume', mode: 'resume' },
      // The retry was written at 1 003 and is due at 61 003; now is 10 000.
      commands: [
        { type: 'run.resumed', seq: 5, mode: 'resume' },
        { type: 'timer', phase: 'execute', stage: 'b', delayMs: 51_003 },
      ],
    },
    {
      name: 'after a crash during a retry wait that is already over, the attempt starts in the same decision',
      state: stateOf(
        fanOut,
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'stage.started', stage: 'b', attempt: 1 },
        { type: 'stage.retrying', stage: 'b', attempt: 1, error, delayMs: 100 },
        { type: 'stage.started', stage: 'c', attempt: 1 },
      ),
      trigger: { type: 'resume', mode: 'resume' },
      // Due at 1 103, now is 10 000: a timer would let c settle (and perhaps stop the run) first.
      commands: [
        { type: 'run.resumed', seq: 6, mode: 'resume' },
        { type: 'stage.started', seq: 7, stage: 'b', attempt: 2 },
        { type: 'attempt', phase: 'execute', stage: 'b', attempt: 2 },
        { type: 'stage.started', seq: 8, stage: 'c', attempt: 2 },
        { type: 'attempt', phase: 'execute', stage: 'c', attempt: 2 },
      ],
    },
    {
      name: 'a run picked up with a cancel request stops as it is picked up: nothing runs again',
      state: stateOf(fanOut, { type: 'stage.started', stage: 'a', attempt: 1 }),
      trigger: { type: 'resume', mode: 'resume', cancel: { reason: 'from elsewhere', by: 'external' } },
      commands: [
        { type: 'run.resumed', seq: 2, mode: 'resume' },
        { type: 'run.cancelling', seq: 3, reason: 'from elsewhere', by: 'external' },
        {
          type: 'stage.cancelled',
          seq: 4,
          stage: 'a',
          reason: 'the process stopped while this stage was in flight and the run was stopping; its outcome is unknown',
          outcomeUnknown: true,
        },
      ],
    },
    {
      name: "an operator's compensate of a paused run starts the rollback",
      state: stateOf(
        fanOut,
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'stage.started', stage: 'b', attempt: 1 },
        { type: 'stage.failed', stage: 'b', attempt: 1, error },
        { type: 'run.paused', failure: { stage: 'b', error } },
      ),
      trigger: { type: 'resume', mode: 'compensate' },
      commands: [
        { type: 'run.resumed', seq: 6, mode: 'compensate' },
        { type: 'run.compensating', seq: 7, cause: { kind: 'failed', stage: 'b', error } },
      ],
    },
  ];

  for (const { name, saga, state, trigger, commands } of cases) {
    it(name, () => {
      expect(summary(decide(saga ?? fanOut, state, trigger, NOW))).toEqual(commands);
    });
  }

  it('a bounded concurrency starts no more stages than it allows', () => {
    const wide = defineSaga({ name: 'wide', input, concurrency: 2 })
      .stage('x', { after: [], execute: noop })
      .stage('y', { after: [], execute: noop })
      .stage('z', { after: [], execute: noop })
      .build() as unknown as Saga;
    const started = decide(wide, stateOf(wide), { type: 'start' }, NOW).filter((command) => command.type === 'attempt');
    expect(started.map((command) => command.type === 'attempt' && command.stage)).toEqual(['x', 'y']);
  });

  it('onFailure pause settles the run as paused once nothing is in flight', () => {
    const pausing = defineSaga({ name: 'pausing', input, onFailure: 'pause' }).stage('a', { execute: noop }).build() as unknown as Saga;
    const state = stateOf(pausing, { type: 'stage.started', stage: 'a', attempt: 1 }, { type: 'stage.failed', stage: 'a', attempt: 1, error });
    expect(summary(decide(pausing, state, STEP, NOW))).toEqual([{ type: 'run.paused', seq: 3, failure: { stage: 'a', error } }, { type: 'finish' }]);
  });
});

// ---------------------------------------------------------------------------------------------
// Property: whatever happens, in whatever order, every event decide emits is a valid event that
// the fold accepts, numbered without gaps, and a run that settles ran each compensation once.

interface World {
  readonly saga: Saga;
  readonly journal: SagaEvent[];
  state: ReturnType<typeof initialRunState>;
  readonly inFlight: Array<{ phase: 'execute' | 'compensate'; stage: string; attempt: number; aborted: boolean }>;
  readonly timers: Array<{ phase: 'execute' | 'compensate'; stage: string }>;
  finished: boolean;
}

function randomSaga(stages: ReadonlyArray<{ after: number[]; compensates: boolean; compensateOnFailure: boolean; retries: number }>, options: { compensation: 'sequential' | 'parallel'; onFailure: 'compensate' | 'pause'; concurrency: number }): Saga {
  let builder = defineSaga({ name: 'random', input, ...options }) as unknown as { stage(name: string, definition: object): typeof builder; build(): unknown };
  stages.forEach((stage, index) => {
    builder = builder.stage(`s${index}`, {
      after: stage.after.map((parent) => `s${parent}`),
      execute: noop,
      ...(stage.compensates ? { compensate: noop } : {}),
      compensateOnFailure: stage.compensateOnFailure,
      retry: { maxAttempts: stage.retries, initialDelayMs: 10 },
      compensation: { retry: { maxAttempts: 2, initialDelayMs: 10 } },
    });
  });
  return builder.build() as Saga;
}

/** Runs a decision and its steps as the interpreter does, checking every event on the way. */
function apply(world: World, trigger: Trigger, now: number): void {
  for (let current: Trigger | undefined = trigger; current !== undefined; ) {
    const commands = decide(world.saga, world.state, current, now);
    let appended = false;
    for (const command of commands) {
      if (isAppend(command)) {
        expect(sagaEventSchema.safeParse(command).success).toBe(true);
        expect(command.seq).toBe(world.journal.length);
        applyEvent(world.state, command);
        world.journal.push(command);
        appended = true;
        continue;
      }
      switch (command.type) {
        case 'attempt':
          world.inFlight.push({ phase: command.phase, stage: command.stage, attempt: command.attempt, aborted: false });
          break;
        case 'abort':
          for (const attempt of world.inFlight) if (attempt.phase === 'execute') attempt.aborted = true;
          break;
        case 'timer':
          world.timers.push({ phase: command.phase, stage: command.stage });
          break;
        case 'clear-timer': {
          const index = world.timers.findIndex((timer) => timer.phase === command.phase && timer.stage === command.stage);
          if (index !== -1) world.timers.splice(index, 1);
          break;
        }
        case 'finish':
          world.finished = true;
          break;
      }
    }
    current = appended ? STEP : undefined;
  }
}

const action = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('settle' as const), pick: fc.nat(), outcome: fc.constantFrom('ok', 'retryable', 'final', 'self-cancel') }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('timer' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('redrive' as const) }) },
);

describe('decide (property)', () => {
  it('emits only valid events the fold accepts, in order, whatever happens; a settled run compensated each stage at most once', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }).chain((count) =>
          fc.tuple(
            fc.tuple(
              ...Array.from({ length: count }, (_, index) =>
                fc.record({
                  after: fc.uniqueArray(fc.integer({ min: 0, max: Math.max(0, index - 1) }), { maxLength: index === 0 ? 0 : 2 }),
                  compensates: fc.boolean(),
                  compensateOnFailure: fc.boolean(),
                  retries: fc.integer({ min: 1, max: 3 }),
                }),
              ),
            ),
            fc.record({ compensation: fc.constantFrom('sequential' as const, 'parallel' as const), onFailure: fc.constantFrom('compensate' as const, 'pause' as const), concurrency: fc.integer({ min: 1, max: 4 }) }),
            fc.array(action, { maxLength: 80 }),
          ),
        ),
        ([stages, options, actions]) => {
          const saga = randomSaga(stages, options);
          const started: SagaEvent = { type: 'run.started', runId: 'r', saga: saga.name, seq: 0, at: 0, version: '1', shapeHash: saga.shapeHash, input: {}, stages: saga.stages.map((stage) => stage.name), shape: saga.shape };
          const world: World = { saga, journal: [started], state: initialRunState(started, topologyOf(saga.shape)), inFlight: [], timers: [], finished: false };
          let now = 1;
          apply(world, { type: 'start' }, now);
          for (const next of actions) {
            now += 10;
            if (world.finished) {
              if (next.kind !== 'redrive' || (world.state.status !== 'paused' && world.state.status !== 'compensation_failed')) continue;
              world.finished = false;
              apply(world, { type: 'resume', mode: 'redrive' }, now);
              continue;
            }
            switch (next.kind) {
              case 'settle': {
                const attempt = world.inFlight.splice(next.pick % Math.max(1, world.inFlight.length), 1)[0];
                if (attempt === undefined) break;
                const result: AttemptResult =
                  attempt.aborted && next.outcome !== 'ok'
                    ? { ok: false, retryable: false, invoked: false }
                    : next.outcome === 'ok'
                      ? { ok: true, output: attempt.phase === 'execute' ? { from: attempt.stage } : undefined, durationMs: 1 }
                      : next.outcome === 'self-cancel' && attempt.phase === 'execute'
                        ? { ok: false, retryable: false, cancel: 'self', invoked: true, error }
                        : { ok: false, retryable: next.outcome === 'retryable', invoked: true, error };
                apply(world, { type: 'settled', phase: attempt.phase, stage: attempt.stage, attempt: attempt.attempt, result, jitter: 0.5 }, now);
                break;
              }
              case 'timer': {
                const timer = world.timers.splice(next.pick % Math.max(1, world.timers.length), 1)[0];
                if (timer !== undefined) apply(world, { type: 'timer', phase: timer.phase, stage: timer.stage }, now);
                break;
              }
              case 'cancel':
                apply(world, { type: 'cancel', reason: 'stop', by: 'external' }, now);
                break;
              case 'crash':
                // The process dies: nothing in flight or waiting survives; another one resumes.
                world.inFlight.length = 0;
                world.timers.length = 0;
                world.state = foldJournal(world.journal, { shape: saga.shape }) as World['state'];
                apply(world, { type: 'resume', mode: 'resume' }, now);
                break;
              case 'redrive':
                break;
            }
          }
          // The journal read back folds to the same state the decisions were made on.
          expect(foldJournal(world.journal).status).toBe(world.state.status);
          const completions = world.journal.filter((event) => event.type === 'compensation.completed').map((event) => ('stage' in event ? event.stage : ''));
          expect(new Set(completions).size).toBe(completions.length);
          if (world.finished && world.state.status === 'compensated') {
            const undone = new Set(completions);
            for (const [stage, record] of world.state.stages) {
              const shape = saga.shape.find((entry) => entry.name === stage);
              if (record.status === 'completed' && shape?.compensates === true) expect(undone.has(stage)).toBe(true);
            }
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('recycleCommands', () => {
  it('lets the next decision refill a list its caller is done with, and never touches a list kept', () => {
    const start = stateOf(fanOut);
    const kept = decide(fanOut, start, { type: 'start' }, NOW);
    const keptCopy = [...kept];
    const handedBack = decide(fanOut, start, { type: 'start' }, NOW);
    recycleCommands(handedBack);
    expect(handedBack).toEqual([]);
    const next = decide(fanOut, stateOf(fanOut, { type: 'stage.started', stage: 'a', attempt: 1 }), settled('a', 1, ok({ id: 1 })), NOW);
    expect(next).toBe(handedBack);
    expect(summary(next)).toEqual([{ type: 'stage.completed', seq: 2, stage: 'a', attempt: 1, output: { id: 1 }, durationMs: 5 }]);
    // A list not handed back is the caller's: later decisions make lists of their own.
    expect(decide(fanOut, start, { type: 'start' }, NOW)).not.toBe(kept);
    expect(kept).toEqual(keptCopy);
    // Handing back the shared empty list of a decision with nothing to do changes nothing.
    const none = decide(fanOut, stateOf(fanOut, { type: 'stage.started', stage: 'a', attempt: 1 }), STEP, NOW);
    expect(none).toEqual([]);
    recycleCommands(none);
    expect(summary(decide(fanOut, start, { type: 'start' }, NOW))).toEqual([
      { type: 'stage.started', seq: 1, stage: 'a', attempt: 1 },
      { type: 'attempt', phase: 'execute', stage: 'a', attempt: 1 },
    ]);
  });
});
