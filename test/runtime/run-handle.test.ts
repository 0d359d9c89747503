/**
 * RunHandle, the runtime's side of a SagaRun: replay to late subscribers, completion after
 * settle, cancel before attach, and subscribers that cannot reach the runtime.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { config, filter, firstValueFrom, map, toArray, type Observable } from 'rxjs';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, type SagaEvent, type SagaOutcome } from 'sagaflow';
import { LENT_JOURNAL } from '../../src/stores/memory-store.js';
import { deferred } from '../support/deferred.js';
import { RunHandle } from '../../src/runtime/saga-run.js';
import type { SubscriberErrorContext } from '../../src/runtime/safe-observable.js';
import { flushZeroDelayTimers } from '../support/flush-timers.js';

const RUN = 'run-1';
const event = (seq: number): SagaEvent =>
  seq === 0
    ? { type: 'run.started', runId: RUN, saga: 's', seq, at: seq, version: '1', shapeHash: 'h', input: {}, stages: ['a'] }
    : { type: 'stage.started', runId: RUN, saga: 's', seq, at: seq, stage: 'a', attempt: seq };
const outcome = { runId: RUN, status: 'completed' } as unknown as SagaOutcome;

let unhandled: unknown[];
let previous: typeof config.onUnhandledError;
beforeEach(() => {
  unhandled = [];
  previous = config.onUnhandledError;
  config.onUnhandledError = (error) => void unhandled.push(error);
});
afterEach(() => {
  config.onUnhandledError = previous;
});

function record(handle: RunHandle): { seqs: number[]; completed: () => boolean } {
  const seqs: number[] = [];
  let completed = false;
  handle.events$.subscribe({ next: (received) => seqs.push(received.seq), complete: () => (completed = true) });
  return { seqs, completed: () => completed };
}

describe('RunHandle.events$', () => {
  it('replays the journal from the first event to a subscriber that comes late, then follows it live, then completes after settle', async () => {
    const handle = new RunHandle(RUN);
    handle.replay([event(0), event(1)]);
    const early = record(handle);
    handle.push(event(2));
    const late = record(handle);
    handle.push(event(3));
    expect(early.seqs).toEqual([0, 1, 2, 3]);
    expect(late.seqs).toEqual([0, 1, 2, 3]);
    expect(early.completed()).toBe(false);
    handle.settle(outcome);
    expect(early.completed()).toBe(true);
    expect(late.completed()).toBe(true);
    const afterSettle = record(handle);
    expect(afterSettle.seqs).toEqual([0, 1, 2, 3]);
    expect(afterSettle.completed()).toBe(true);
    expect(handle.isEnded).toBe(true);
    await expect(handle.outcome).resolves.toBe(outcome);
  });

  it('a handle nobody subscribed to replays everything once someone does, even after it ended', () => {
    const handle = new RunHandle(RUN);
    for (let seq = 0; seq < 5; seq++) handle.push(event(seq));
    handle.settle(outcome);
    const late = record(handle);
    expect(late.seqs).toEqual([0, 1, 2, 3, 4]);
    expect(late.completed()).toBe(true);
  });

  it("with a store that lends its journal, replays the events pushed (not the store's later ones) and copies from the first event the store does not have next", () => {
    const stored = [event(0), event(1), event(2)];
    const handle = new RunHandle(RUN, { journals: { heldJournal: (runId) => (runId === RUN ? stored : undefined) } });
    handle.push(stored[0] as SagaEvent);
    handle.push(stored[1] as SagaEvent);
    // The store has a third event the handle was not given yet: a subscriber sees only what was pushed.
    const early = record(handle);
    expect(early.seqs).toEqual([0, 1]);

    const diverging = new RunHandle(RUN, { journals: { heldJournal: () => stored } });
    diverging.push(stored[0] as SagaEvent);
    diverging.push(event(1)); // an equal event, not the store's: copied from here on
    stored.push(event(3)); // what the store holds later does not change what the handle replays
    diverging.push(event(2));
    diverging.settle(outcome);
    expect(record(diverging).seqs).toEqual([0, 1, 2]);

    const elsewhere = new RunHandle(RUN, { journals: { heldJournal: () => undefined } });
    for (let seq = 0; seq < 3; seq++) elsewhere.push(event(seq));
    expect(record(elsewhere).seqs).toEqual([0, 1, 2]);
  });

  it("on MemoryStore, an orchestrator's handle keeps no copy of the journal: it replays the store's own array", async () => {
    const store = new MemoryStore();
    const gate = deferred();
    const saga = defineSaga({ name: 'lent', input: z.object({}) }).stage('a', { execute: () => gate.promise.then(() => 'A') }).build();
    const orchestrator = createOrchestrator({ store });
    const run = orchestrator.start(saga, {});
    await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'stage.started')));
    const lateStarted = firstValueFrom(orchestrator.events$.pipe(filter((event) => event.type === 'stage.started' && event.runId !== run.runId)));
    const late = orchestrator.start(saga, {});
    await lateStarted;
    // Nobody subscribed to the second run: its events so far are the store's journal, lent, not copied.
    const internals = late as unknown as { held: unknown; own: unknown };
    expect(internals.held).toBe(store[LENT_JOURNAL](late.runId));
    expect(internals.own).toBeUndefined();
    gate.resolve();
    await Promise.all([run.outcome, late.outcome]);
    expect((await collectAll(late)).map((event) => event.seq)).toEqual(((await store.load(late.runId)) ?? []).map((event) => event.seq));
    await orchestrator.close();
  });

  it('fail() rejects outcome and completes events$; settle after fail does nothing', async () => {
    const handle = new RunHandle(RUN);
    const watcher = record(handle);
    handle.push(event(0));
    handle.fail(new Error('store down'));
    handle.settle(outcome);
    expect(watcher.completed()).toBe(true);
    await expect(handle.outcome).rejects.toThrow('store down');
  });

  it('subscribers that throw in next, in an operator and in complete: reported with the run id, the others get every event, push never throws', async () => {
    const reports: Array<{ message: string; context: SubscriberErrorContext }> = [];
    const handle = new RunHandle(RUN, { onError: (error, context) => reports.push({ message: (error as Error).message, context }) });
    handle.events$.subscribe(() => {
      throw new Error('next failed');
    });
    handle.events$
      .pipe(
        map((received) => {
          if (received.seq === 1) throw new Error('operator failed');
          return received.seq;
        }),
      )
      .subscribe(() => undefined);
    handle.events$.pipe(filter((received) => received.seq === 2)).subscribe({
      complete: () => {
        throw new Error('complete failed');
      },
    });
    const watcher = record(handle);
    expect(() => {
      for (let seq = 0; seq < 3; seq++) handle.push(event(seq));
      handle.settle(outcome);
    }).not.toThrow();
    await flushZeroDelayTimers();
    expect(watcher.seqs).toEqual([0, 1, 2]);
    expect(watcher.completed()).toBe(true);
    expect(reports).toEqual([
      { message: 'next failed', context: { operation: 'subscriber', runId: RUN } },
      { message: 'next failed', context: { operation: 'subscriber', runId: RUN } },
      { message: 'operator failed', context: { operation: 'subscriber', runId: RUN } },
      { message: 'next failed', context: { operation: 'subscriber', runId: RUN } },
      { message: 'complete failed', context: { operation: 'subscriber', runId: RUN } },
    ]);
    expect(unhandled).toEqual([]);
  });

  it('a late subscriber that throws during the replay does not stop the replay to others', async () => {
    const reports: unknown[] = [];
    const handle = new RunHandle(RUN, { onError: (error) => reports.push(error) });
    for (let seq = 0; seq < 3; seq++) handle.push(event(seq));
    handle.events$.subscribe(() => {
      throw new Error('replay subscriber failed');
    });
    const watcher = record(handle);
    expect(watcher.seqs).toEqual([0, 1, 2]);
    expect(reports).toHaveLength(3);
    await flushZeroDelayTimers();
    expect(unhandled).toEqual([]);
  });
});

describe('RunHandle.cancel', () => {
  it('a cancel before attach is handed to the canceller when it attaches; cancel after the end does nothing', () => {
    const handle = new RunHandle(RUN);
    const { cancel } = handle;
    cancel('too slow');
    cancel('second reason');
    const requested: string[] = [];
    handle.attach({ cancelRequested: (reason) => void requested.push(reason) });
    expect(handle.cancel).toBe(cancel);
    handle.cancel();
    handle.settle(outcome);
    handle.cancel('after the end');
    expect(requested).toEqual(['too slow', 'cancelled']);
  });

  it('cancel read first after the end, or of a failed handle, is a function that does nothing; cancelAsked is the cancel asked before attach, until attached', () => {
    const settled = new RunHandle(RUN);
    settled.settle(outcome);
    const { cancel: late } = settled;
    expect(typeof late).toBe('function');
    late('too late');
    const failed = new RunHandle(RUN);
    const { cancel } = failed;
    cancel('before the failure');
    expect(failed.cancelAsked).toBe('before the failure');
    failed.fail(new Error('store down'));
    cancel('after the failure');
    expect(failed.cancelAsked).toBe('before the failure');
    const attached = new RunHandle(RUN);
    attached.cancel('first');
    const requested: string[] = [];
    attached.attach({ cancelRequested: (reason) => void requested.push(reason) });
    expect(attached.cancelAsked).toBeUndefined();
    attached.cancel('second');
    expect(requested).toEqual(['first', 'second']);
  });
});

/** Every event a handle replays, to its end. */
function collectAll(run: { readonly events$: Observable<SagaEvent> }): Promise<SagaEvent[]> {
  return firstValueFrom(run.events$.pipe(toArray()));
}
