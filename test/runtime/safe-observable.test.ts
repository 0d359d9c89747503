/**
 * Subscribers of events$ streams can never crash the process or disturb the producer. RxJS
 * rethrows a subscriber's error from a setTimeout (its `config.onUnhandledError` hook sees it
 * first): every test checks that nothing reaches it.
 */
import { format } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { config, filter, finalize, map, Observable, take, toArray, firstValueFrom, type OperatorFunction } from 'rxjs';
import { EventStream } from '../../src/runtime/event-stream.js';
import type { SubscriberErrorContext } from '../../src/runtime/safe-observable.js';
import { flushZeroDelayTimers } from '../support/flush-timers.js';

interface Tick {
  readonly runId: string;
  readonly n: number;
}

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


function streamWithReports(): { stream: EventStream<Tick>; reports: Array<{ error: unknown; context: SubscriberErrorContext }> } {
  const reports: Array<{ error: unknown; context: SubscriberErrorContext }> = [];
  const stream = new EventStream<Tick>({ onError: (error, context) => reports.push({ error, context }), runIdOf: (tick) => tick.runId });
  return { stream, reports };
}

const emit = (stream: EventStream<Tick>, count: number): void => {
  for (let n = 1; n <= count; n++) stream.next({ runId: `run-${n}`, n });
};

describe('EventStream: subscribers that throw', () => {
  it('(the check the tests below rely on) an error RxJS reports from a timer is seen once the zero-delay timers are flushed', async () => {
    new Observable<number>((subscriber) => subscriber.error(new Error('nobody listens'))).subscribe();
    expect(unhandled).toEqual([]);
    await flushZeroDelayTimers();
    expect(unhandled.map((error) => (error as Error).message)).toEqual(['nobody listens']);
  });

  it('a subscriber that throws in next: reported with the run of the event; the others get every event; next never throws', async () => {
    const { stream, reports } = streamWithReports();
    const before: number[] = [];
    const after: number[] = [];
    let completed = false;
    stream.observable$.subscribe((tick) => before.push(tick.n));
    stream.observable$.subscribe((tick) => {
      throw new Error(`bad subscriber at ${tick.n}`);
    });
    stream.observable$.subscribe({ next: (tick) => after.push(tick.n), complete: () => (completed = true) });
    expect(() => emit(stream, 3)).not.toThrow();
    stream.complete();
    await flushZeroDelayTimers();
    expect(before).toEqual([1, 2, 3]);
    expect(after).toEqual([1, 2, 3]);
    expect(completed).toBe(true);
    expect(reports.map(({ error, context }) => [(error as Error).message, context])).toEqual([
      ['bad subscriber at 1', { operation: 'subscriber', runId: 'run-1' }],
      ['bad subscriber at 2', { operation: 'subscriber', runId: 'run-2' }],
      ['bad subscriber at 3', { operation: 'subscriber', runId: 'run-3' }],
    ]);
    expect(unhandled).toEqual([]);
  });

  it('an operator that throws (events$.pipe(map(throwing)).subscribe(next), no error callback): reported, not rethrown', async () => {
    const { stream, reports } = streamWithReports();
    const mapped: number[] = [];
    const others: number[] = [];
    stream.observable$
      .pipe(
        map((tick) => {
          if (tick.n === 2) throw new Error('projection failed');
          return tick.n * 10;
        }),
      )
      .subscribe((value) => mapped.push(value));
    stream.observable$.subscribe((tick) => others.push(tick.n));
    emit(stream, 3);
    stream.complete();
    await flushZeroDelayTimers();
    expect(mapped).toEqual([10]);
    expect(others).toEqual([1, 2, 3]);
    expect(reports.map(({ error }) => (error as Error).message)).toEqual(['projection failed']);
    expect(unhandled).toEqual([]);
  });

  it('events$.pipe(filter(…)).subscribe(throwingNext), and a throwing complete: reported', async () => {
    const { stream, reports } = streamWithReports();
    const others: number[] = [];
    stream.observable$.pipe(filter((tick) => tick.n % 2 === 1)).subscribe((tick) => {
      throw new Error(`odd ${tick.n}`);
    });
    stream.observable$.subscribe({
      next: (tick) => others.push(tick.n),
      complete: () => {
        throw new Error('complete failed');
      },
    });
    emit(stream, 3);
    expect(() => stream.complete()).not.toThrow();
    await flushZeroDelayTimers();
    expect(others).toEqual([1, 2, 3]);
    expect(reports.map(({ error }) => (error as Error).message)).toEqual(['odd 1', 'odd 3', 'complete failed']);
    expect(unhandled).toEqual([]);
  });

  it('an error callback that throws, and a teardown (finalize) that throws when an operator error unsubscribes: the others still get every event', async () => {
    const { stream, reports } = streamWithReports();
    const first: number[] = [];
    const last: number[] = [];
    stream.observable$.subscribe((tick) => first.push(tick.n));
    stream.observable$
      .pipe(
        map((tick) => {
          if (tick.n === 1) throw new Error('operator failed');
          return tick;
        }),
        finalize(() => {
          throw new Error('teardown failed');
        }),
      )
      .subscribe({
        error: () => {
          throw new Error('error callback failed');
        },
      });
    stream.observable$.subscribe((tick) => last.push(tick.n));
    expect(() => emit(stream, 3)).not.toThrow();
    stream.complete();
    await flushZeroDelayTimers();
    expect(first).toEqual([1, 2, 3]);
    expect(last).toEqual([1, 2, 3]);
    const messages = reports.map(({ error }) => (error instanceof Error ? error.message : String(error)));
    expect(messages[0]).toBe('error callback failed');
    expect(messages[1]).toContain('teardown failed');
    expect(reports).toHaveLength(2);
    expect(unhandled).toEqual([]);
  });

  it('a custom operator that does not use lift keeps the chain safe', async () => {
    const { stream, reports } = streamWithReports();
    const double: OperatorFunction<Tick, number> = (source) =>
      new Observable<number>((subscriber) => source.subscribe({ next: (tick) => subscriber.next(tick.n * 2), complete: () => subscriber.complete() }));
    stream.observable$.pipe(double).subscribe((value) => {
      throw new Error(`custom ${value}`);
    });
    emit(stream, 2);
    stream.complete();
    await flushZeroDelayTimers();
    expect(reports.map(({ error }) => (error as Error).message)).toEqual(['custom 2', 'custom 4']);
    expect(unhandled).toEqual([]);
  });

  it('an onError handler that throws is swallowed', async () => {
    const stream = new EventStream<Tick>({
      onError: () => {
        throw new Error('handler failed too');
      },
    });
    stream.observable$.subscribe(() => {
      throw new Error('subscriber failed');
    });
    expect(() => emit(stream, 1)).not.toThrow();
    await flushZeroDelayTimers();
    expect(unhandled).toEqual([]);
  });

  it('the default report says so on stderr even when the error cannot be printed (its stack getter throws)', async () => {
    // console.error formats the error with its stack: a throwing getter made it throw, and the
    // report was swallowed with it: nothing said a subscriber had failed.
    const printed: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void printed.push(format(...args)));
    try {
      const stream = new EventStream<Tick>({});
      stream.observable$.subscribe(() => {
        const error = new Error('subscriber failed');
        Object.defineProperty(error, 'stack', {
          get: () => {
            throw new Error('no stack today');
          },
        });
        throw error;
      });
      emit(stream, 1);
      await flushZeroDelayTimers();
    } finally {
      spy.mockRestore();
    }
    expect(printed).toEqual([expect.stringMatching(/^sagaflow: an events\$ subscriber threw.*It threw Error: subscriber failed \(it could not be printed: Error: no stack today\)\.$/)]);
    expect(unhandled).toEqual([]);
  });

  it('ordinary use is unchanged: operators, promises, unsubscribing, completion for late subscribers', async () => {
    const { stream, reports } = streamWithReports();
    const firstTwo = firstValueFrom(stream.observable$.pipe(take(2), toArray()));
    const seen: number[] = [];
    const subscription = stream.observable$.subscribe((tick) => seen.push(tick.n));
    expect(stream.observed).toBe(true);
    emit(stream, 2);
    subscription.unsubscribe();
    emit(stream, 1);
    expect(await firstTwo).toEqual([
      { runId: 'run-1', n: 1 },
      { runId: 'run-2', n: 2 },
    ]);
    expect(seen).toEqual([1, 2]);
    expect(stream.observed).toBe(false);
    stream.complete();
    let lateCompleted = false;
    stream.observable$.subscribe({ complete: () => (lateCompleted = true) });
    expect(lateCompleted).toBe(true);
    expect(reports).toEqual([]);
  });
});

describe('orchestrator.watch(runId): subscribers that throw', () => {
  it('a throwing next and complete on a watched run are reported to onError with the run; an unknown run is an error notification, not a crash', async () => {
    const { createOrchestrator, defineSaga, MemoryStore, RunNotFoundError } = await import('sagaflow');
    const { z } = await import('zod');
    const saga = defineSaga({ name: 'watched', input: z.object({}) }).stage('a', { execute: () => 1 }).build();
    const reports: Array<{ message: string; runId: string | undefined }> = [];
    const store = new MemoryStore();
    const driver = createOrchestrator({ store, sagas: [saga] });
    const watcher = createOrchestrator({ store, onError: (error, context) => void reports.push({ message: error.message, runId: context.runId }) });
    const run = driver.start(saga, {});
    await run.outcome;
    const seen = await new Promise<number>((resolve) => {
      let count = 0;
      watcher.watch(run.runId).subscribe({
        next: () => {
          count++;
          throw new Error('next throws');
        },
        complete: () => {
          resolve(count);
          throw new Error('complete throws');
        },
      });
    });
    const missing = await firstValueFrom(watcher.watch('no-such-run')).catch((error: unknown) => error);
    await flushZeroDelayTimers();
    expect(seen).toBe(4);
    expect(reports).toEqual([...Array.from({ length: 4 }, () => ({ message: 'next throws', runId: run.runId })), { message: 'complete throws', runId: run.runId }]);
    expect(missing).toBeInstanceOf(RunNotFoundError);
    expect(unhandled).toEqual([]);
    await Promise.all([driver.close(), watcher.close()]);
  });
});
