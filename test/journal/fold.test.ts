import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { foldJournal, JournalFold, sagaEventSchema, StoreCorruptionError, toOutcome, type SagaEvent, type SagaEventDraft } from 'sagaflow';

const error = { name: 'Error', message: 'boom' };

function journal(...drafts: SagaEventDraft[]): SagaEvent[] {
  return [
    { type: 'run.started', version: '3', shapeHash: 'h', input: { id: 1 }, stages: ['a', 'b', 'c'] } as SagaEventDraft,
    ...drafts,
  ].map((draft, seq) => ({ ...draft, runId: 'r', saga: 's', seq, at: 100 + seq }));
}

describe('foldJournal', () => {
  it('starts every declared stage as not_started and the run as running (queued when submitted)', () => {
    const state = foldJournal(journal());
    expect(state.status).toBe('running');
    expect([...state.stages.keys()]).toEqual(['a', 'b', 'c']);
    expect(toOutcome(state).stages.c).toEqual({ status: 'not_started', attempts: 0 });
    const submitted = journal();
    submitted[0] = { ...(submitted[0] as Extract<SagaEvent, { type: 'run.started' }>), submitted: true };
    expect(foldJournal(submitted).status).toBe('queued');
    expect(foldJournal([...submitted, { type: 'stage.started', stage: 'a', attempt: 1, runId: 'r', saga: 's', seq: 1, at: 1 }]).status).toBe('running');
  });

  it('reads state.stages as a Map of the declared stages: a name listed twice is one stage, a stage an event adds later comes last', () => {
    const started = journal()[0] as Extract<SagaEvent, { type: 'run.started' }>;
    const twice = foldJournal([{ ...started, stages: ['a', 'b', 'a'] }, { type: 'stage.started', stage: 'a', attempt: 1, runId: 'r', saga: 's', seq: 1, at: 101 }]);
    expect([...twice.stages.keys()]).toEqual(['a', 'b']);
    expect(twice.stages.size).toBe(2);
    expect(twice.stages.get('a')?.status).toBe('running');
    expect([...twice.stages.values()].map((stage) => stage.status)).toEqual(['running', 'not_started']);
    expect(JSON.stringify(twice.stages)).toBe(JSON.stringify(new Map()));
    // console.log shows the stages, as it shows a Map's entries.
    expect(inspect(twice.stages)).toBe(inspect(new Map([...twice.stages])));
    expect(inspect(twice.stages)).toMatch(/^Map\(2\) {\n  'a' => /);
    const entries: string[] = [];
    twice.stages.forEach((stage, name, map) => entries.push(`${name}:${stage.status}:${map === twice.stages}`));
    expect(entries).toEqual(['a:running:true', 'b:not_started:true']);
    // A journal that records no shape names only the stages run.started lists; one whose definition changed
    // without recording its shape (a 0.1 redrive) may name others, added after the declared ones.
    const resumed = foldJournal([
      started,
      { type: 'run.resumed', mode: 'redrive', version: '4', shapeHash: 'h2', runId: 'r', saga: 's', seq: 1, at: 101 },
      { type: 'stage.started', stage: 'd', attempt: 1, runId: 'r', saga: 's', seq: 2, at: 102 },
    ]);
    expect([...resumed.stages.keys()]).toEqual(['a', 'b', 'c', 'd']);
    expect(resumed.stages.has('d')).toBe(true);
  });

  it('derives outputs, orders and failure from a failed-then-compensated journal', () => {
    const state = foldJournal(
      journal(
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, output: { x: 1 }, durationMs: 3 },
        { type: 'stage.started', stage: 'b', attempt: 1 },
        { type: 'stage.retrying', stage: 'b', attempt: 1, error, delayMs: 10 },
        { type: 'stage.started', stage: 'b', attempt: 2 },
        { type: 'stage.failed', stage: 'b', attempt: 2, error },
        { type: 'run.compensating', cause: { kind: 'failed', stage: 'b', error } },
        { type: 'compensation.started', stage: 'a', attempt: 1 },
        { type: 'compensation.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'run.compensated' },
      ),
    );
    const outcome = toOutcome(state);
    expect(outcome).toMatchObject({
      status: 'compensated',
      version: '3',
      outputs: { a: { x: 1 } },
      completionOrder: ['a'],
      compensationOrder: ['a'],
      failure: { stage: 'b', error },
    });
    expect(outcome.stages.a).toEqual({
      status: 'compensated',
      attempts: 1,
      output: { x: 1 },
      startedAt: 101,
      endedAt: 102,
      compensation: { attempts: 1, startedAt: 108, endedAt: 109 },
    });
    expect(outcome.stages.b).toMatchObject({ status: 'failed', attempts: 2, error, startedAt: 103, endedAt: 106 });
    expect(state.settleOrder).toEqual(['a', 'b']);
    expect(state.stopping).toBe(false);
    // A plain object, as a literal would be: its prototype, its keys in order, JSON, spread.
    expect(Object.getPrototypeOf(outcome)).toBe(Object.prototype);
    expect(outcome.constructor).toBe(Object);
    expect(Object.keys(outcome)).toEqual(['runId', 'saga', 'version', 'status', 'input', 'outputs', 'stages', 'completionOrder', 'compensationOrder', 'failure']);
    expect(outcome).toStrictEqual({ ...outcome });
    expect(JSON.parse(JSON.stringify(outcome))).toEqual(outcome);
  });

  it('a redrive clears the pause, moves a re-executed stage to its new place in the settle order', () => {
    const state = foldJournal(
      journal(
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.failed', stage: 'a', attempt: 1, error },
        { type: 'run.paused', failure: { stage: 'a', error } },
        { type: 'run.resumed', mode: 'redrive' },
        { type: 'stage.started', stage: 'a', attempt: 2 },
      ),
    );
    expect(state.status).toBe('running');
    expect(state.failure).toBeUndefined();
    expect(state.settleOrder).toEqual([]);
    expect(state.stages.get('a')).toMatchObject({ status: 'running', attempts: 2, error });
  });

  it('a redrive of compensation_failed makes failed compensations pending again', () => {
    const state = foldJournal(
      journal(
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'run.cancelling', reason: 'stop', by: 'external' },
        { type: 'run.compensating', cause: { kind: 'cancelled', reason: 'stop', by: 'external' } },
        { type: 'compensation.started', stage: 'a', attempt: 1 },
        { type: 'compensation.failed', stage: 'a', attempt: 1, error },
        { type: 'run.compensation_failed' },
        { type: 'run.resumed', mode: 'redrive' },
      ),
    );
    expect(state.status).toBe('compensating');
    expect(state.stages.get('a')?.compensation?.status).toBe('pending');
    expect(toOutcome(state).stages.a?.status).toBe('completed');
    expect(state.cancellation).toEqual({ reason: 'stop', by: 'external' });
  });

  it('is pure: the same journal always folds to equal states, and does not mutate its input', () => {
    const events = journal({ type: 'stage.started', stage: 'a', attempt: 1 }, { type: 'stage.completed', stage: 'a', attempt: 1, output: [1], durationMs: 1 });
    const copy = structuredClone(events);
    expect(toOutcome(foldJournal(events))).toEqual(toOutcome(foldJournal(events)));
    expect(events).toEqual(copy);
  });

  it('freezes outputs and input read back from a store, so no stage can change them', () => {
    const events = journal({ type: 'stage.started', stage: 'a', attempt: 1 }, { type: 'stage.completed', stage: 'a', attempt: 1, output: { deep: [1] }, durationMs: 1 });
    const state = foldJournal(JSON.parse(JSON.stringify(events)) as SagaEvent[]);
    const output = state.stages.get('a')?.output as { deep: number[] };
    expect(Object.isFrozen(output) && Object.isFrozen(output.deep) && Object.isFrozen(state.input)).toBe(true);
  });

  it('folds each run on its own: advancing one run never changes the stages of another that has not reached them', () => {
    const shape = [
      { name: 'a', after: [], compensates: true, compensateOnFailure: false },
      { name: 'b', after: ['a'], compensates: true, compensateOnFailure: false },
      { name: 'c', after: ['a', 'b'], compensates: true, compensateOnFailure: false },
    ];
    const runOf = (runId: string): JournalFold => {
      const fold = new JournalFold({ shape });
      fold.push({ type: 'run.started', runId, saga: 's', seq: 0, at: 1, version: '1', shapeHash: 'h', input: {}, stages: ['a', 'b', 'c'] });
      return fold;
    };
    const view = (fold: JournalFold): unknown => [...(fold.state?.stages ?? [])].map(([name, stage]) => [name, stage.status, stage.attempts, stage.waitingOn]);
    const first = runOf('r1');
    const second = runOf('r2');
    const untouched = view(second);
    expect(untouched).toEqual([
      ['a', 'not_started', 0, 0],
      ['b', 'not_started', 0, 1],
      ['c', 'not_started', 0, 2],
    ]);
    first.push({ type: 'stage.started', runId: 'r1', saga: 's', seq: 1, at: 2, stage: 'a', attempt: 1 });
    first.push({ type: 'stage.completed', runId: 'r1', saga: 's', seq: 2, at: 3, stage: 'a', attempt: 1, durationMs: 1 });
    first.push({ type: 'stage.started', runId: 'r1', saga: 's', seq: 3, at: 4, stage: 'b', attempt: 1 });
    expect(view(first)).toEqual([
      ['a', 'completed', 1, 0],
      ['b', 'running', 1, 0],
      ['c', 'not_started', 0, 1],
    ]);
    expect(first.state?.readyStages).toEqual([]);
    expect(view(second)).toEqual(untouched);
    expect(second.state?.readyStages).toEqual(['a']);
    second.push({ type: 'stage.started', runId: 'r2', saga: 's', seq: 1, at: 2, stage: 'a', attempt: 1 });
    second.push({ type: 'stage.retrying', runId: 'r2', saga: 's', seq: 2, at: 3, stage: 'a', attempt: 1, error, delayMs: 5 });
    expect(view(first)).toEqual([
      ['a', 'completed', 1, 0],
      ['b', 'running', 1, 0],
      ['c', 'not_started', 0, 1],
    ]);
    expect(second.state?.stages.get('a')?.retryAt).toBe(8);
    expect(first.state?.stages.get('a')?.retryAt).toBeUndefined();
  });

  it('runs of one saga folded interleaved, through every path that writes a stage not started yet, each end as when folded alone, and a run that never started stays pristine', () => {
    const shape = [
      { name: 'a', after: [], compensates: true, compensateOnFailure: false },
      { name: 'b', after: ['a'], compensates: true, compensateOnFailure: true },
      { name: 'c', after: ['a', 'b'], compensates: true, compensateOnFailure: false },
      { name: 'd', after: [], compensates: false, compensateOnFailure: false },
    ];
    const grown = [...shape, { name: 'e', after: ['c'], compensates: true, compensateOnFailure: false }];
    const failure = { stage: 'b', error };
    const paths: Record<string, SagaEventDraft[]> = {
      'retry, then a wait named on a stage that never started': [
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.retrying', stage: 'a', attempt: 1, error, delayMs: 5 },
        { type: 'wait.started', stage: 'c', kind: 'timer', dueAt: 50 },
        { type: 'signal.received', signal: 'go', signalId: 's1', payload: { n: 1 } },
        { type: 'stage.started', stage: 'a', attempt: 2 },
        { type: 'stage.completed', stage: 'a', attempt: 2, durationMs: 1 },
      ],
      'cancel of stages that never started': [
        { type: 'run.cancelling', reason: 'stop', by: 'external' },
        { type: 'stage.cancelled', stage: 'b', reason: 'stop' },
        { type: 'stage.cancelled', stage: 'c', reason: 'stop', outcomeUnknown: true },
        { type: 'run.cancelled' },
      ],
      'a failed stage compensated, its compensation failed, redriven (c and d never start)': [
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'stage.started', stage: 'b', attempt: 1 },
        { type: 'stage.failed', stage: 'b', attempt: 1, error },
        { type: 'run.compensating', cause: { kind: 'failed', stage: 'b', error } },
        { type: 'compensation.started', stage: 'b', attempt: 1 },
        { type: 'compensation.retrying', stage: 'b', attempt: 1, error, delayMs: 3 },
        { type: 'compensation.failed', stage: 'b', attempt: 1, error },
        { type: 'run.compensation_failed' },
        { type: 'run.resumed', mode: 'redrive' },
      ],
      'paused, then redriven (recountForward)': [
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'stage.started', stage: 'b', attempt: 1 },
        { type: 'stage.failed', stage: 'b', attempt: 1, error },
        { type: 'run.paused', failure },
        { type: 'run.resumed', mode: 'redrive' },
        { type: 'stage.started', stage: 'b', attempt: 2 },
        { type: 'stage.completed', stage: 'b', attempt: 2, durationMs: 1 },
      ],
      'resumed with a grown shape': [
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'run.resumed', mode: 'resume', version: '2', shapeHash: 'h2', shape: grown },
        { type: 'stage.started', stage: 'b', attempt: 1 },
        { type: 'stage.completed', stage: 'b', attempt: 1, durationMs: 1 },
        { type: 'stage.started', stage: 'c', attempt: 1 },
        { type: 'stage.completed', stage: 'c', attempt: 1, durationMs: 1 },
        { type: 'stage.started', stage: 'e', attempt: 1 },
      ],
      'never started': [],
    };
    const eventsOf = (runId: string, drafts: SagaEventDraft[]): SagaEvent[] =>
      [{ type: 'run.started', version: '1', shapeHash: 'h', input: {}, stages: ['a', 'b', 'c', 'd'] } as SagaEventDraft, ...drafts].map((draft, seq) => ({ ...draft, runId, saga: 's', seq, at: 100 + seq }));
    const view = (fold: JournalFold): unknown => {
      const state = fold.state;
      if (state === undefined) return undefined;
      return {
        outcome: toOutcome(state),
        stages: [...state.stages].map(([name, stage]) => [name, stage.status, stage.attempts, stage.waitingOn, stage.retryAt, stage.compensation?.status]),
        ready: [...state.readyStages],
        remaining: state.remaining,
      };
    };
    const names = Object.keys(paths);
    const first = new JournalFold({ shape });
    first.push(eventsOf('fresh', [])[0] as SagaEvent);
    const pristine = JSON.parse(JSON.stringify(view(first))) as unknown;
    // Each alone first, then all of them (twice over, as two runs each) one event at a time in turn.
    const alone = names.map((name) => {
      const fold = new JournalFold({ shape });
      for (const event of eventsOf(name, paths[name] as SagaEventDraft[])) fold.push(event);
      return view(fold);
    });
    const folds = [...names, ...names].map(() => new JournalFold({ shape }));
    const journals = [...names, ...names].map((name, index) => eventsOf(`${name}#${index}`, paths[name] as SagaEventDraft[]));
    const longest = Math.max(...journals.map((events) => events.length));
    for (let seq = 0; seq < longest; seq++) {
      for (let index = journals.length - 1; index >= 0; index--) {
        const event = journals[index]?.[seq];
        if (event !== undefined) folds[index]?.push(event);
      }
    }
    folds.forEach((fold, index) => {
      const expected = JSON.parse(JSON.stringify(alone[index % names.length]).replaceAll(`"${names[index % names.length]}"`, `"${names[index % names.length]}#${index}"`)) as unknown;
      expect(JSON.parse(JSON.stringify(view(fold))), names[index % names.length]).toEqual(expected);
    });
    const fresh = new JournalFold({ shape });
    fresh.push(eventsOf('fresh', [])[0] as SagaEvent);
    expect(JSON.parse(JSON.stringify(view(fresh)))).toEqual(pristine);
  });

  it.each<[string, SagaEventDraft[], number, string]>([
    ['an attempt end of a stage that never started', [{ type: 'stage.failed', stage: 'a', attempt: 1, error }], 1, "stage.failed of stage 'a', which never started (no stage.started before it)"],
    [
      'a stage completed twice',
      [
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
      ],
      3,
      "stage.completed of stage 'a', which is completed, not running (an attempt's end without its stage.started)",
    ],
    [
      'a retry of a cancelled stage',
      [
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'run.cancelling', reason: 'r', by: 'external' },
        { type: 'stage.cancelled', stage: 'a', reason: 'r' },
        { type: 'stage.retrying', stage: 'a', attempt: 1, error, delayMs: 1 },
      ],
      4,
      "stage.retrying of stage 'a', which is cancelled, not running",
    ],
    [
      'a stage cancelled while the run is not stopping',
      [
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.cancelled', stage: 'a', reason: 'r', outcomeUnknown: true },
      ],
      2,
      "stage.cancelled of stage 'a' while the run is not stopping (no run.cancelling or stage.failed before it)",
    ],
    [
      'a rollback begun while a stage is in flight',
      [
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'run.compensating', cause: { kind: 'failed', stage: 'a', error } },
      ],
      2,
      'run.compensating while 1 stage(s) are in flight',
    ],
    [
      'a rollback begun twice',
      [
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.failed', stage: 'a', attempt: 1, error },
        { type: 'run.compensating', cause: { kind: 'failed', stage: 'a', error } },
        { type: 'run.compensating', cause: { kind: 'failed', stage: 'a', error } },
      ],
      4,
      'run.compensating while the run is compensating',
    ],
    [
      'a compensation before the run compensates',
      [
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.completed', stage: 'a', attempt: 1, durationMs: 1 },
        { type: 'compensation.started', stage: 'a', attempt: 1 },
      ],
      3,
      "compensation.started of stage 'a' while the run is running (no run.compensating before it)",
    ],
    [
      'a compensation of a stage that never ran',
      [
        { type: 'stage.started', stage: 'a', attempt: 1 },
        { type: 'stage.failed', stage: 'a', attempt: 1, error },
        { type: 'run.compensating', cause: { kind: 'failed', stage: 'a', error } },
        { type: 'compensation.completed', stage: 'b', attempt: 1, durationMs: 1 },
      ],
      4,
      "compensation.completed of stage 'b', which never ran (no stage.started before it)",
    ],
  ])('refuses an order of events no run writes, which would leave the run unable to settle: %s', (_, drafts, seq, problem) => {
    const shape = [
      { name: 'a', after: [], compensates: true, compensateOnFailure: false },
      { name: 'b', after: ['a'], compensates: true, compensateOnFailure: false },
    ];
    const events = [{ type: 'run.started', version: '1', shapeHash: 'h', input: {}, stages: ['a', 'b'], shape } as SagaEventDraft, ...drafts].map(
      (draft, index) => ({ ...draft, runId: 'damaged-1', saga: 's', seq: index, at: 100 + index }),
    );
    let refused: unknown;
    try {
      foldJournal(events);
    } catch (caught) {
      refused = caught;
    }
    expect(refused).toBeInstanceOf(StoreCorruptionError);
    expect(refused).toMatchObject({ runId: 'damaged-1', seq });
    expect((refused as Error).message).toContain(problem);
  });

  it('accepts a journal from before shapes were journaled, redriven with a new version (run.resumed with a shapeHash and no shape), read with the definition\'s shape: a stage started after its dependency completed again after the redrive', () => {
    // What an orchestrator's load passes when the run's last shapeHash is its definition's.
    const shape = [
      { name: 'a', after: [], compensates: false, compensateOnFailure: false },
      { name: 'b', after: ['a'], compensates: false, compensateOnFailure: false },
    ];
    const events = [
      { type: 'run.started', version: '1', shapeHash: 'h1', input: {}, stages: ['a', 'b'] },
      { type: 'stage.started', stage: 'a', attempt: 1 },
      { type: 'stage.failed', stage: 'a', attempt: 1, error },
      { type: 'run.paused', failure: { stage: 'a', error } },
      { type: 'run.resumed', mode: 'redrive', version: '2', shapeHash: 'h2' },
      { type: 'stage.started', stage: 'a', attempt: 2 },
      { type: 'stage.completed', stage: 'a', attempt: 2, durationMs: 1 },
      { type: 'stage.started', stage: 'b', attempt: 1 },
      { type: 'stage.completed', stage: 'b', attempt: 1, durationMs: 1 },
      { type: 'run.completed' },
    ].map((draft, index) => ({ ...draft, runId: 'legacy-1', saga: 's', seq: index, at: 100 + index }) as SagaEvent);
    const state = foldJournal(events, { shape });
    expect(state.status).toBe('completed');
    expect(state.completionOrder).toEqual(['a', 'b']);
  });

  it('refuses a journal that does not start with run.started', () => {
    expect(() => foldJournal([])).toThrow('A journal must start with a run.started event.');
  });

  it('has a zod schema for every event type that accepts the events the runtime writes', () => {
    for (const event of journal(
      { type: 'stage.cancelled', stage: 'a', reason: 'r', outcomeUnknown: true },
      { type: 'run.resumed', mode: 'resume' },
      { type: 'run.paused', failure: { stage: 'a', error } },
    )) {
      expect(sagaEventSchema.safeParse(event).success).toBe(true);
    }
    expect(sagaEventSchema.safeParse({ type: 'stage.started', runId: 'r', saga: 's', seq: -1, at: 0, stage: 'a', attempt: 1 }).success).toBe(false);
  });
});
