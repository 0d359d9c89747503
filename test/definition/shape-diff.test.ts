import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  continuationProblems,
  defineSaga,
  describeShapeChanges,
  diffShapes,
  SagaShapeMismatchError,
  shapeOf,
  type ContinuationProblem,
  type RecordedStageShape,
  type StageState,
} from 'sagaflow';

/** `shape('a', 'b<a', 'c<a,b!', 'd~')`: `<` lists dependencies, `!` compensates, `~` also compensateOnFailure. */
function shape(...stages: string[]): RecordedStageShape[] {
  return stages.map((spec) => {
    const [head = '', after = ''] = spec.replace(/[!~]$/, '').split('<');
    return {
      name: head,
      after: after === '' ? [] : after.split(','),
      compensates: /[!~]$/.test(spec),
      compensateOnFailure: spec.endsWith('~'),
    };
  });
}

const input = z.object({});
const sagaOf = (...specs: string[]) => {
  let builder = defineSaga({ name: 'evolving', input }) as unknown as {
    stage: (name: string, definition: object) => typeof builder;
    build: () => ReturnType<ReturnType<typeof defineSaga>['build']>;
  };
  for (const stage of shape(...specs)) {
    builder = builder.stage(stage.name, {
      after: stage.after,
      execute: () => stage.name,
      ...(stage.compensates ? { compensate: () => undefined } : {}),
      ...(stage.compensateOnFailure ? { compensateOnFailure: true } : {}),
    });
  }
  return builder.build();
};

describe('diffShapes', () => {
  const rows: Array<[string, RecordedStageShape[] | undefined, RecordedStageShape[], string]> = [
    ['the same shape', shape('a!', 'b<a!'), shape('a!', 'b<a!'), 'no change'],
    ['the issue: a→b→c becomes a→c→d', shape('a!', 'b<a!', 'c<b!'), shape('a!', 'c<a!', 'd<c'), "stage 'b' removed; stage 'd' added; 'c' now after [a] (was [b])"],
    ['a rename is a removal and an addition', shape('a!', 'b<a!'), shape('a!', 'b2<a!'), "stage 'b' removed; stage 'b2' added"],
    ['a compensation removed and one added', shape('a!', 'b<a'), shape('a', 'b<a!'), "'a' no longer has a compensate; 'b' now has a compensate"],
    ['compensateOnFailure turned on', shape('a!'), shape('a~'), "'a' now has compensateOnFailure: true"],
    ['fan-in listed in another order is no change', shape('a', 'b<a', 'c<a', 'd<b,c'), shape('a', 'b<a', 'c<a', 'd<c,b'), 'no change'],
    ['siblings declared in another order', shape('a', 'b<a', 'c<a'), shape('a', 'c<a', 'b<a'), 'stages declared in another order'],
    ['a root that gains a dependency', shape('a', 'b'), shape('a', 'b<a'), "'b' now after [a] (was [])"],
    ['no recorded shape', undefined, shape('a'), "the run's shape was not recorded (its journal predates shape recording), so what changed is unknown"],
  ];
  it.each(rows)('%s', (_, from, to, described) => {
    expect(describeShapeChanges(diffShapes(from, to))).toBe(described);
  });

  it('lists each kind of change', () => {
    expect(diffShapes(shape('a!', 'b<a!', 'c<b!'), shape('a!', 'c<a!', 'd<c'))).toEqual({
      previousShapeKnown: true,
      added: ['d'],
      removed: ['b'],
      rewired: [{ stage: 'c', before: ['b'], after: ['a'] }],
      compensationAdded: [],
      compensationRemoved: [],
      compensateOnFailureChanged: [],
      reordered: false,
    });
  });
});

describe('shapeOf', () => {
  it("is the built saga's shape, and what its hash covers", () => {
    const saga = sagaOf('a!', 'b<a', 'c<a,b~');
    expect(shapeOf(saga)).toEqual(shape('a!', 'b<a', 'c<a,b~'));
    expect(sagaOf('a!', 'b<a', 'c<a,b~').shapeHash).toBe(saga.shapeHash);
    expect(describeShapeChanges(diffShapes(shapeOf(saga), shapeOf(sagaOf('a!', 'c<a~'))))).toBe("stage 'b' removed; 'c' now after [a] (was [a, b])");
  });
});

describe('continuationProblems', () => {
  const base = { waitingOn: 0, retryBase: 0 };
  const completed: StageState = { ...base, status: 'completed', attempts: 1, output: 'x', outcomeUnknown: false };
  const compensated: StageState = { ...completed, compensation: { status: 'completed', attempts: 1, retryBase: 0 } };
  const compensationFailed: StageState = { ...completed, compensation: { status: 'failed', attempts: 5, retryBase: 0 } };
  const inFlight: StageState = { ...base, status: 'running', attempts: 1, outcomeUnknown: false };
  const unknown: StageState = { ...base, status: 'cancelled', attempts: 1, cancelReason: 'stop', outcomeUnknown: true };
  const failed: StageState = { ...base, status: 'failed', attempts: 3, outcomeUnknown: false, error: { name: 'Error', message: 'down' } };
  const notStarted: StageState = { ...base, status: 'not_started', attempts: 0, outcomeUnknown: false };

  const rows: Array<[string, RecordedStageShape[] | undefined, Record<string, StageState>, string[], ContinuationProblem[]]> = [
    ['the issue: completed b removed', shape('a!', 'b<a!', 'c<b!'), { a: completed, b: completed, c: failed }, ['a!', 'c<a!', 'd<c'], [{ stage: 'b', state: 'completed', reason: 'removed' }]],
    ['a renamed stage is removed', shape('a!', 'b<a!'), { a: completed, b: completed }, ['a!', 'b2<a!'], [{ stage: 'b', state: 'completed', reason: 'removed' }]],
    ['its compensate removed', shape('a!', 'b<a!'), { a: completed, b: completed }, ['a!', 'b<a'], [{ stage: 'b', state: 'completed', reason: 'not_compensated' }]],
    ['already compensated: nothing left to undo', shape('a!', 'b<a!'), { a: completed, b: compensated }, ['a!'], []],
    ['a failed compensation still needs one', shape('a!', 'b<a!'), { a: completed, b: compensationFailed }, ['a!'], [{ stage: 'b', state: 'completed', reason: 'removed' }]],
    ['it never had a compensate', shape('a!', 'b<a'), { a: completed, b: completed }, ['a!'], []],
    ['shape unknown: assume it had one', undefined, { a: completed, b: completed }, ['a!'], [{ stage: 'b', state: 'completed', reason: 'removed' }]],
    ['in flight when its process stopped', shape('a!', 'b<a!'), { a: completed, b: inFlight }, ['a!'], [{ stage: 'b', state: 'outcome_unknown', reason: 'removed' }]],
    ['outcome unknown after a stop', shape('a!', 'b<a!'), { a: completed, b: unknown }, ['a!', 'b<a'], [{ stage: 'b', state: 'outcome_unknown', reason: 'not_compensated' }]],
    ['a failed compensateOnFailure stage whose flag is gone', shape('a!', 'b<a~'), { a: completed, b: failed }, ['a!', 'b<a!'], [{ stage: 'b', state: 'failed', reason: 'not_compensated' }]],
    ['a failed stage without compensateOnFailure', shape('a!', 'b<a!'), { a: completed, b: failed }, ['a!'], []],
    ['shape unknown: a failed stage is not assumed compensateOnFailure', undefined, { a: completed, b: failed }, ['a!'], []],
    ['a stage that never started', shape('a!', 'b<a!'), { a: completed, b: notStarted }, ['a!'], []],
    ['nothing removed', shape('a!', 'b<a!'), { a: completed, b: completed }, ['a!', 'b<a!', 'c<b'], []],
  ];
  it.each(rows)('%s', (_, previous, states, next, problems) => {
    expect(continuationProblems(previous, new Map(Object.entries(states)), sagaOf(...next))).toEqual(problems);
  });
});

describe('SagaShapeMismatchError', () => {
  it('says what differs', () => {
    const changes = diffShapes(shape('a!', 'b<a!', 'c<b!'), shape('a!', 'c<a!', 'd<c'));
    const error = new SagaShapeMismatchError('evolving', 'run-1', '1', 'a'.repeat(64), '2', 'b'.repeat(64), { changes });
    expect(error.changes).toBe(changes);
    expect(error.uncompensatable).toEqual([]);
    expect(error.message).toBe(
      "Run run-1 of saga 'evolving' was started with version 1 (shape aaaaaaaaaaaa), but the registered definition is version 2 (shape bbbbbbbbbbbb) with different stages (stage 'b' removed; stage 'd' added; 'c' now after [a] (was [b])): register the original definition, or pass { saga } explicitly to continue with the new one.",
    );
  });

  it('names the completed stages that could not be compensated', () => {
    const changes = diffShapes(shape('a!', 'b<a!', 'x<a!'), shape('a!', 'x<a'));
    const uncompensatable: ContinuationProblem[] = [
      { stage: 'b', state: 'completed', reason: 'removed' },
      { stage: 'x', state: 'outcome_unknown', reason: 'not_compensated' },
    ];
    const error = new SagaShapeMismatchError('evolving', 'run-1', '1', 'a'.repeat(64), '2', 'b'.repeat(64), { changes, uncompensatable });
    expect(error.uncompensatable).toBe(uncompensatable);
    expect(error.message).toBe(
      "Run run-1 of saga 'evolving' cannot continue with version 2 (shape bbbbbbbbbbbb): completed stage 'b' (removed) and stage 'x' (outcome unknown, no compensate any more) could then never be compensated (stage 'b' removed; 'x' no longer has a compensate); continue it with a definition that keeps those stages and their compensate, or roll it back with the definition it ran on.",
    );
  });

  it('keeps the message of old callers that pass no details', () => {
    const error = new SagaShapeMismatchError('evolving', 'run-1', '1', 'a'.repeat(64), '2', 'b'.repeat(64));
    expect(error.changes).toBeUndefined();
    expect(error.message).toContain('with different stages: register the original definition');
  });
});
