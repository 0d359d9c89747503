import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createOrchestrator,
  defineSaga,
  foldJournal,
  ACTIVE_RUN_STATUSES,
  MemoryStore,
  NonRetryableError,
  SETTLED_RUN_STATUSES,
  RUN_STATUSES,
  RunStateError,
  SagaNotRegisteredError,
  type RunStatus,
  type SagaEvent,
  type SagaRun,
} from 'sagaflow';
import type { ActionName } from '../../src/inspector/client/view-model.js';
import { performAction } from '../../src/inspector/actions.js';
import { layoutOf } from '../../src/inspector/dag-layout.js';
import { escapeHtml, html } from '../../src/inspector/html.js';
import { runsListPage } from '../../src/inspector/pages.js';
import { runViewOf, type ActionContext } from '../../src/inspector/run-view.js';
import { timelineOf } from '../../src/inspector/timeline.js';
import { deferred, type Deferred } from '../support/deferred.js';

const drivesAll: ActionContext = { readOnly: false, drives: () => true, workers: false };

describe('the run view, read from the fold', () => {
  it('says what a waiting stage waits for and until when, and notes it on the timeline', async () => {
    const saga = defineSaga({ name: 'view-wait', input: z.object({}) })
      .stage('hold', { execute: () => 'held' })
      .waitForSignal('approval', { signal: 'approved', schema: z.object({ by: z.string() }), timeoutMs: 60_000 })
      .build();
    const store = new MemoryStore();
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const run = orchestrator.start(saga, {});
    const waited = await new Promise<SagaEvent>((resolve) => {
      run.events$.subscribe((event) => {
        if (event.type === 'wait.started') resolve(event);
      });
    });
    const journal = (await store.load(run.runId)) ?? [];
    const view = runViewOf(foldJournal(journal), journal, drivesAll, Date.now());
    const dueAt = (waited as { dueAt: number }).dueAt;
    expect(view.stages.find((stage) => stage.name === 'approval')?.waiting).toEqual({ kind: 'signal', signal: 'approved', dueAt });
    expect(view.stages.find((stage) => stage.name === 'hold')).not.toHaveProperty('waiting');
    expect(view.timeline.bars.find((bar) => bar.stage === 'approval')?.note).toBe(`waits for signal 'approved' until ${new Date(dueAt).toISOString()}`);
    await orchestrator.signal(run.runId, 'approved', { by: 'ann' });
    await run.outcome;
  });

  it('numbers the rollback in reverse completion order, marks the failing stage, and draws every attempt and wait', async () => {
    let flaky = 0;
    const saga = defineSaga({ name: 'view', input: z.object({}) })
      .stage('a', { execute: async () => 'A', compensate: async () => undefined })
      .stage('b', {
        after: ['a'],
        retry: { maxAttempts: 3, initialDelayMs: 1, jitter: false },
        execute: async () => {
          flaky += 1;
          if (flaky < 3) throw new Error(`try ${flaky}`);
          return 'B';
        },
        compensate: async () => undefined,
      })
      .stage('c', { after: ['a'], execute: async () => 'C' })
      .stage('d', { after: ['b', 'c'], execute: async (): Promise<string> => Promise.reject(new NonRetryableError('d is broken')) })
      .build();
    const store = new MemoryStore();
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const outcome = await orchestrator.start(saga, {}).outcome;
    const journal = (await store.load(outcome.runId)) ?? [];
    const view = runViewOf(foldJournal(journal), journal, drivesAll, Date.now());
    expect(view.status).toBe('compensated');
    expect(view.rollbackOrder).toEqual(outcome.compensationOrder);
    expect(
      view.stages
        .filter((stage) => stage.rollbackStep !== undefined)
        .map((stage) => [stage.name, stage.rollbackStep])
        .sort((left, right) => Number(left[1]) - Number(right[1])),
    ).toEqual(
      outcome.compensationOrder.map((name, index) => [name, index + 1]),
    );
    expect(view.stages.filter((stage) => stage.failing).map((stage) => stage.name)).toEqual(['d']);
    expect(view.stages.find((stage) => stage.name === 'c')?.tone).toBe('completed'); // no compensate: left as it is
    const b = view.timeline.bars.filter((bar) => bar.stage === 'b' && bar.lane === 'execute');
    expect(b.map((bar) => `${bar.kind}:${bar.attempt}:${bar.outcome}`)).toEqual([
      'attempt:1:retried',
      'retry-wait:1:waiting',
      'attempt:2:retried',
      'retry-wait:2:waiting',
      'attempt:3:completed',
    ]);
    expect(b[0]?.note).toBe('try 1');
    expect(view.timeline.bars.filter((bar) => bar.lane === 'compensate').map((bar) => bar.stage)).toEqual(outcome.compensationOrder);
    expect(view.timeline.marks.map((mark) => mark.kind)).toEqual(['rollback', 'settled']);
    expect(view.actions).toEqual({
      redrive: { enabled: false, reason: 'only a run that is paused or compensation_failed can be redriven; this one is compensated' },
      compensate: { enabled: false, reason: 'only a run that is paused can be rolled back; this one is compensated' },
      cancel: { enabled: false, reason: 'only a run that is queued, running or compensating can be cancelled; this one is compensated' },
    });
    const layout = layoutOf(view.shapeHash, foldJournal(journal).shape ?? []);
    expect(layout.nodes.map((node) => node.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(layout.edges.map((edge) => `${edge.from}->${edge.to}`).sort()).toEqual(['a->b', 'a->c', 'b->d', 'c->d']);
    const x = (name: string): number => layout.nodes.find((node) => node.name === name)?.x ?? Number.NaN;
    expect(x('a')).toBeLessThan(x('b'));
    expect(x('b')).toBeLessThan(x('d'));
    expect(layoutOf(view.shapeHash, foldJournal(journal).shape ?? [])).toBe(layout);
    await orchestrator.close();
  });

  it('lays out stages named like members of Object.prototype, and leaves the global Object alone', () => {
    // dagre's graph keeps nodes in plain objects and tests them with `in`: 'constructor' was taken
    // for a node already there, and its edges were written onto the global Object function.
    const names = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];
    const shape = names.map((name, index) => ({ name, after: index === 0 ? [] : [names[index - 1] ?? ''], compensates: false, compensateOnFailure: false }));
    const before = Object.getOwnPropertyNames(Object);
    const layout = layoutOf('shape-of-prototype-names', shape);
    expect(Object.getOwnPropertyNames(Object)).toEqual(before);
    expect(layout.nodes.map((node) => node.name)).toEqual(names);
    for (const node of layout.nodes) expect([node.x, node.y, node.width, node.height].every(Number.isFinite)).toBe(true);
    expect(layout.edges.map((edge) => `${edge.from}->${edge.to}`)).toEqual(names.slice(1).map((name, index) => `${names[index] ?? ''}->${name}`));
    const x = (name: string): number => layout.nodes.find((node) => node.name === name)?.x ?? Number.NaN;
    expect(x('constructor')).toBeLessThan(x('toString'));
    expect(x('valueOf')).toBeLessThan(x('__defineGetter__'));
  });

  it('ends an attempt its process never settled where the run was picked up again; keeps a live one open', () => {
    const base = { runId: 'r', saga: 's' };
    const journal = [
      { ...base, seq: 0, at: 100, type: 'run.started', version: '1', shapeHash: 'h', input: {}, stages: ['a'] },
      { ...base, seq: 1, at: 110, type: 'stage.started', stage: 'a', attempt: 1 },
      { ...base, seq: 2, at: 500, type: 'run.resumed', mode: 'resume' },
      { ...base, seq: 3, at: 510, type: 'stage.started', stage: 'a', attempt: 2 },
    ] as SagaEvent[];
    const live = timelineOf(journal, true, 900);
    expect(live.bars.map((bar) => [bar.attempt, bar.outcome, bar.start, bar.end])).toEqual([
      [1, 'interrupted', 110, 510],
      [2, 'running', 510, undefined],
    ]);
    expect(live.end).toBe(900);
    expect(live.marks).toEqual([{ at: 500, kind: 'resumed', label: 'resume' }]);
    const stopped = timelineOf(journal, false, 900);
    expect(stopped.bars[1]).toMatchObject({ outcome: 'interrupted', end: 510 });
    expect(stopped.end).toBe(510);
  });

  it('offers actions by status, saga and read-only', async () => {
    const saga = defineSaga({ name: 'pause-me', input: z.object({}), onFailure: 'pause' })
      .stage('a', { execute: async (): Promise<string> => Promise.reject(new NonRetryableError('down')) })
      .build();
    const store = new MemoryStore();
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const outcome = await orchestrator.start(saga, {}).outcome;
    const journal = (await store.load(outcome.runId)) ?? [];
    const state = foldJournal(journal);
    expect(runViewOf(state, journal, drivesAll, 0).actions).toMatchObject({ redrive: { enabled: true }, compensate: { enabled: true }, cancel: { enabled: false } });
    expect(runViewOf(state, journal, { ...drivesAll, drives: () => false }, 0).actions.redrive).toEqual({
      enabled: false,
      reason: "the inspector was not given saga 'pause-me' (start it with --sagas MODULE)",
    });
    expect(runViewOf(state, journal, { ...drivesAll, readOnly: true }, 0).actions.compensate).toEqual({ enabled: false, reason: 'the inspector is read-only' });
    await orchestrator.close();
  });
});

describe('server-side HTML', () => {
  it('escapes every interpolation that is not markup made by html``', () => {
    const name = `<img src=x onerror="alert('1')">&`;
    expect(escapeHtml(name)).toBe('&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;');
    expect(html`<p title="${name}">${[name, html`<b>${name}</b>`]}${undefined}${false}${3}</p>`.text).toBe(
      `<p title="${escapeHtml(name)}">${escapeHtml(name)}<b>${escapeHtml(name)}</b>3</p>`,
    );
  });
});

describe('the actions a run page offers are those the orchestrator accepts', () => {
  const gates = new Map<string, Deferred<void>>();
  const hold = (key: string, signal?: AbortSignal): Promise<void> => {
    const gate = gates.get(key) ?? deferred();
    gates.set(key, gate);
    signal?.addEventListener('abort', () => gate.reject(signal.reason), { once: true });
    return gate.promise;
  };
  const plan = z.object({ key: z.string(), fail: z.boolean().default(false), holdExecute: z.boolean().default(false), holdUndo: z.boolean().default(false), undoFails: z.boolean().default(false) });
  const stages = (name: string, onFailure: 'compensate' | 'pause') =>
    defineSaga({ name, input: plan, onFailure })
      .stage('a', {
        execute: async ({ input, signal }) => {
          if (input.holdExecute) await hold(input.key, signal);
          return 'A';
        },
        compensate: async ({ input }) => {
          if (input.holdUndo) await hold(input.key);
          if (input.undoFails) throw new NonRetryableError('the refund was refused');
        },
        compensation: { retry: { maxAttempts: 1 } },
      })
      .stage('b', {
        execute: async ({ input }) => {
          if (input.fail) throw new NonRetryableError('b failed');
          return 'B';
        },
      })
      .build();
  const byStatus = stages('by-status', 'compensate');
  const pauses = stages('pauses', 'pause');

  it('RUN_STATUSES is every status once, the one list the runs page filters by', () => {
    expect([...RUN_STATUSES].sort()).toEqual([...ACTIVE_RUN_STATUSES, ...SETTLED_RUN_STATUSES].sort());
    expect(new Set(RUN_STATUSES).size).toBe(8);
    const page = runsListPage({ store: 'memory:', filter: {}, page: { runs: [] }, counts: {}, sagas: [], readOnly: false });
    expect([...page.matchAll(/<option value="(\w+)"/g)].map((match) => match[1])).toEqual(RUN_STATUSES);
  });

  it('for every status a run can be in here, each action is offered exactly when the orchestrator takes it', async () => {
    const store = new MemoryStore();
    const driver = createOrchestrator({ store, sagas: [byStatus, pauses] });
    // Knows no saga: a redrive or rollback it accepts by status stops at SagaNotRegisteredError and changes nothing.
    const checker = createOrchestrator({ store });
    let count = 0;
    const until = (run: SagaRun, type: SagaEvent['type']): Promise<unknown> => firstValueFrom(run.events$.pipe(filter((event) => event.type === type)));
    const runIn = async (status: RunStatus): Promise<string> => {
      const key = `run-${count++}`;
      switch (status) {
        case 'completed':
          return (await driver.start(byStatus, { key }).outcome).runId;
        case 'compensated':
          return (await driver.start(byStatus, { key, fail: true }).outcome).runId;
        case 'compensation_failed':
          return (await driver.start(byStatus, { key, fail: true, undoFails: true }).outcome).runId;
        case 'paused':
          return (await driver.start(pauses, { key, fail: true }).outcome).runId;
        case 'cancelled': {
          const run = driver.start(byStatus, { key, holdExecute: true });
          await until(run, 'stage.started');
          run.cancel('enough');
          return (await run.outcome).runId;
        }
        case 'running': {
          const run = driver.start(byStatus, { key, holdExecute: true });
          await until(run, 'stage.started');
          return run.runId;
        }
        case 'compensating': {
          const run = driver.start(byStatus, { key, fail: true, holdUndo: true });
          await until(run, 'compensation.started');
          return run.runId;
        }
        case 'queued':
          throw new Error('a MemoryStore queues no runs');
      }
    };
    const accepts = async (action: ActionName, runId: string): Promise<boolean> => {
      try {
        if (action === 'cancel') await checker.cancel(runId, 'checking');
        else await (action === 'redrive' ? checker.redrive(runId) : checker.compensate(runId)).outcome;
        return true;
      } catch (error) {
        if (error instanceof RunStateError) return false;
        if (error instanceof SagaNotRegisteredError) return true;
        throw error;
      }
    };
    const offered: Record<string, Record<string, boolean>> = {};
    const accepted: Record<string, Record<string, boolean>> = {};
    // A MemoryStore shares no runs with workers: `queued` is the one status it cannot hold.
    for (const status of RUN_STATUSES.filter((candidate) => candidate !== 'queued')) {
      for (const action of ['redrive', 'compensate', 'cancel'] as const) {
        const runId = await runIn(status);
        const journal = (await store.load(runId)) ?? [];
        const state = foldJournal(journal);
        expect(state.status).toBe(status);
        (offered[status] ??= {})[action] = runViewOf(state, journal, drivesAll, Date.now()).actions[action].enabled;
        (accepted[status] ??= {})[action] = await accepts(action, runId);
      }
    }
    expect(offered).toEqual(accepted);
    // Cancelling a run that is rolling back is accepted (it changes nothing): the page offers it too.
    expect(offered['compensating']?.['cancel']).toBe(true);
    for (const gate of gates.values()) gate.resolve();
    await driver.close();
    await checker.close();
  });
});

describe('an action the orchestrator accepts but that changes nothing', () => {
  it('a cancel of a run that is rolling back is accepted, and the page is told it changes nothing', async () => {
    const gate = deferred();
    const saga = defineSaga({ name: 'undoing', input: z.object({}) })
      .stage('a', { execute: async () => 'A', compensate: () => gate.promise })
      .stage('b', {
        execute: async (): Promise<void> => {
          throw new NonRetryableError('b failed');
        },
      })
      .build();
    const store = new MemoryStore();
    const driver = createOrchestrator({ store, sagas: [saga] });
    const inspector = createOrchestrator({ store });
    const run = driver.start(saga, {});
    await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'compensation.started')));
    const answer = await performAction(inspector, store, { action: 'cancel', runId: run.runId }, (error) => {
      throw error;
    });
    expect(answer).toEqual({ status: 202, result: { ok: true, message: 'The run is already rolling back: the cancel changes nothing, and the run ends as it was going to.' } });
    gate.resolve();
    expect((await run.outcome).status).toBe('compensated');
    await driver.close();
    await inspector.close();
  });
});
