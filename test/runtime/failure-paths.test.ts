import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createOrchestrator,
  createWorker,
  defineSaga,
  MemoryStore,
  NonRetryableError,
  SagaCancelledError,
  SagaFailedError,
  SagaInputError,
  SagaRunError,
  type Saga,
  type SagaOutcome,
} from 'sagaflow';
import { SqliteStore } from 'sagaflow/sqlite';
import { collect, trace } from '../support/collect.js';
import { aborted, deferred } from '../support/deferred.js';

const input = z.object({ id: z.string() });

async function rejection(promise: Promise<unknown>): Promise<SagaRunError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(SagaRunError);
  return error as SagaRunError;
}

/** A one-stage saga that counts the calls of its stage: a refused start() must not have run it. */
function countingSaga(name: string): { readonly saga: Saga<{ id: string }, { charge: string }, { id: string }>; readonly calls: () => number } {
  let ran = 0;
  const saga = defineSaga({ name, input })
    .stage('charge', {
      execute: () => {
        ran++;
        return 'charged';
      },
    })
    .build();
  return { saga, calls: () => ran };
}
describe('what the old pipeline framework lost', () => {
  it('chain A→B with B failing: A’s output is on the error and on the outcome, and A is compensated', async () => {
    const undone: string[] = [];
    const saga = defineSaga({ name: 'chain', input })
      .stage('a', { execute: async () => ({ reserved: 3 }), compensate: async ({ output }) => void undone.push(`a:${output?.reserved}`) })
      .stage('b', {
        execute: async () => {
          throw new Error('card declined');
        },
      })
      .build();
    const orchestrator = createOrchestrator();
    const error = await rejection(orchestrator.run(saga, { id: '1' }));
    expect(error).toBeInstanceOf(SagaFailedError);
    expect(error.outputs).toEqual({ a: { reserved: 3 } });
    expect(error.outcome.outputs).toEqual({ a: { reserved: 3 } });
    expect(error.outcome.status).toBe('compensated');
    expect(error.outcome.failure).toMatchObject({ stage: 'b', error: { name: 'Error', message: 'card declined' } });
    expect(error.message).toBe(`Saga 'chain' run ${error.runId} failed at stage 'b' (Error: card declined); rolled back 'a'.`);
    expect(undone).toEqual(['a:3']);
  });

  it('fan-out A→[B, C]: C completes, then B fails — C is kept and compensated before A', async () => {
    const cDone = deferred();
    const undone: string[] = [];
    const saga = defineSaga({ name: 'fan', input })
      .stage('a', { execute: async () => 'A', compensate: async () => void undone.push('a') })
      .stage('b', {
        after: ['a'],
        execute: async () => {
          await cDone.promise;
          throw new Error('b broke');
        },
        compensate: async () => void undone.push('b'),
      })
      .stage('c', {
        after: ['a'],
        execute: async () => {
          cDone.resolve();
          return 'C';
        },
        compensate: async () => void undone.push('c'),
      })
      .build();
    const outcome = await createOrchestrator().start(saga, { id: '1' }).outcome;
    expect(outcome.outputs).toEqual({ a: 'A', c: 'C' });
    expect(outcome.completionOrder).toEqual(['a', 'c']);
    expect(outcome.compensationOrder).toEqual(['c', 'a']);
    expect(undone).toEqual(['c', 'a']);
    expect(outcome.stages.b).toMatchObject({ status: 'failed', attempts: 1 });
  });

  it('B fails while C is in flight; C sees its signal abort, completes anyway, is kept and compensated first', async () => {
    const cStarted = deferred();
    let cReason: unknown;
    const saga = defineSaga({ name: 'settle', input })
      .stage('a', { execute: async () => 'A', compensate: async () => undefined })
      .stage('b', {
        after: ['a'],
        execute: async () => {
          await cStarted.promise;
          throw new Error('b broke');
        },
      })
      .stage('c', {
        after: ['a'],
        execute: async ({ signal }) => {
          cStarted.resolve();
          cReason = await aborted(signal);
          return 'C-late';
        },
        compensate: async () => undefined,
      })
      .stage('d', { after: ['c'], execute: async () => 'never' })
      .build();
    const run = createOrchestrator().start(saga, { id: '1' });
    const [outcome, events] = await Promise.all([run.outcome, collect(run.events$)]);
    expect(cReason).toBeInstanceOf(DOMException);
    expect((cReason as DOMException).name).toBe('AbortError');
    expect((cReason as DOMException).message).toContain("stage 'b' failed");
    expect(outcome.outputs).toEqual({ a: 'A', c: 'C-late' });
    expect(outcome.compensationOrder).toEqual(['c', 'a']);
    expect(outcome.stages.d?.status).toBe('not_started');
    expect(trace(events)).not.toContain('stage.started:d');
    // The failure is written before in-flight stages settle, and the rollback starts only after.
    const order = trace(events);
    expect(order.indexOf('stage.failed:b')).toBeLessThan(order.indexOf('stage.completed:c'));
    expect(order.indexOf('stage.completed:c')).toBeLessThan(order.indexOf('run.compensating'));
  });

  it('three branches in flight, the middle one fails: the first started and the last started both see their signals abort', async () => {
    const bothStarted = deferred();
    const reasons = new Map<string, unknown>();
    let waiting = 0;
    const sibling = async ({ stage, signal }: { stage: string; signal: AbortSignal }): Promise<string> => {
      if (++waiting === 2) bothStarted.resolve();
      reasons.set(stage, await aborted(signal));
      return `${stage}-late`;
    };
    const saga = defineSaga({ name: 'three', input })
      .stage('first', { after: [], execute: sibling })
      .stage('middle', {
        after: [],
        execute: async () => {
          await bothStarted.promise;
          throw new Error('middle broke');
        },
      })
      .stage('last', { after: [], execute: sibling })
      .build();
    const outcome = await createOrchestrator().start(saga, { id: '1' }).outcome;
    expect([...reasons.keys()].sort()).toEqual(['first', 'last']);
    for (const reason of reasons.values()) expect((reason as DOMException).message).toContain("stage 'middle' failed");
    expect(outcome.outputs).toEqual({ first: 'first-late', last: 'last-late' });
    expect(outcome.failure?.stage).toBe('middle');
  });

  it('a stage-initiated cancel and a failure give outcomes and errors of the same shape', async () => {
    const build = (how: 'fail' | 'cancel') =>
      defineSaga({ name: `same-${how}`, input })
        .stage('a', { execute: async () => 'A', compensate: async () => undefined })
        .stage('b', {
          execute: async ({ cancel }) => {
            if (how === 'cancel') cancel('customer changed their mind');
            throw new Error('boom');
          },
        })
        .build();
    const orchestrator = createOrchestrator();
    const failed = await rejection(orchestrator.run(build('fail'), { id: '1' }));
    const cancelled = await rejection(orchestrator.run(build('cancel'), { id: '1' }));
    expect(cancelled).toBeInstanceOf(SagaCancelledError);
    expect(cancelled.outcome.cancellation).toEqual({ reason: 'customer changed their mind', by: 'b' });
    expect(cancelled.outcome.stages.b?.status).toBe('cancelled');
    const shape = (outcome: SagaOutcome) => ({
      keys: Object.keys(outcome).filter((key) => key !== 'failure' && key !== 'cancellation').sort(),
      outputs: outcome.outputs,
      compensationOrder: outcome.compensationOrder,
    });
    expect(shape(cancelled.outcome)).toEqual(shape(failed.outcome));
    for (const error of [failed, cancelled]) {
      expect(error.outputs).toEqual({ a: 'A' });
      expect(error.runId).toBe(error.outcome.runId);
      expect(error.message).toMatch(/rolled back 'a'\.$/);
    }
    expect(cancelled.message).toContain(`was cancelled by stage 'b' ("customer changed their mind")`);
  });
});

describe('cancellation', () => {
  const build = (onCancel: 'compensate' | 'keep', hold: Promise<void>, running = deferred()) =>
    defineSaga({ name: `cancel-${onCancel}`, input, onCancel })
      .stage('a', { execute: async () => 'A', compensate: async () => undefined })
      .stage('b', {
        execute: async ({ signal }) => {
          running.resolve();
          await Promise.race([hold, aborted(signal)]);
          throw new Error('aborted by the cancel');
        },
        compensate: async () => undefined,
      })
      .stage('c', { execute: async () => 'never' })
      .build();

  it('external cancel: in-flight stages settle as cancelled (error kept), completed ones are compensated, status cancelled', async () => {
    const orchestrator = createOrchestrator();
    const bRunning = deferred();
    const run = orchestrator.start(build('compensate', new Promise(() => undefined), bRunning), { id: '1' });
    await bRunning.promise;
    run.cancel('operator said stop');
    const outcome = await run.outcome;
    expect(outcome.status).toBe('cancelled');
    expect(outcome.cancellation).toEqual({ reason: 'operator said stop', by: 'external' });
    expect(outcome.failure).toBeUndefined();
    expect(outcome.stages.b).toMatchObject({ status: 'cancelled', error: { message: 'aborted by the cancel' } });
    expect(outcome.compensationOrder).toEqual(['a']);
    expect(outcome.outputs).toEqual({ a: 'A' });
    expect(outcome.stages.c?.status).toBe('not_started');
  });

  it('the start signal cancels the run, and onCancel: keep stops without compensating', async () => {
    const controller = new AbortController();
    const orchestrator = createOrchestrator();
    const bRunning = deferred();
    const run = orchestrator.start(build('keep', new Promise(() => undefined), bRunning), { id: '1' }, { signal: controller.signal });
    await bRunning.promise;
    controller.abort('deadline passed');
    const outcome = await run.outcome;
    expect(outcome.status).toBe('cancelled');
    expect(outcome.cancellation).toEqual({ reason: 'deadline passed', by: 'external' });
    expect(outcome.compensationOrder).toEqual([]);
    expect(outcome.stages.a?.status).toBe('completed');
    expect(outcome.stages.b?.status).toBe('cancelled');
    expect(outcome.outputs).toEqual({ a: 'A' });
    const error = await rejection(Promise.reject(new SagaCancelledError(outcome)));
    expect(error.message).toBe(`Saga 'cancel-keep' run ${outcome.runId} was cancelled ("deadline passed"); kept completed stage(s) 'a' without rolling back.`);
  });

  it('an already-aborted signal cancels before any stage runs', async () => {
    let ran = false;
    const saga = defineSaga({ name: 'pre-aborted', input })
      .stage('a', {
        execute: async () => {
          ran = true;
        },
      })
      .build();
    const outcome = await createOrchestrator().start(saga, { id: '1' }, { signal: AbortSignal.abort(new Error('too late')) }).outcome;
    expect(outcome.status).toBe('cancelled');
    expect(outcome.cancellation).toEqual({ reason: 'too late', by: 'external' });
    expect(ran).toBe(false);
  });

  it('a start signal that is not an AbortSignal (a plain object, a string, a Proxy that throws) is refused with SagaInputError before anything is stored or run', async () => {
    const { saga, calls } = countingSaga('bad-signal');
    const store = new MemoryStore();
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const hostile = new Proxy({}, { get: () => { throw new Error('trap'); } });
    for (const [signal, got] of [
      [{ aborted: false }, 'an object without addEventListener'],
      ['abort', '"abort"'],
      [hostile, 'an object whose aborted could not be read: Error: trap'],
    ] as const) {
      let thrown: unknown;
      try {
        orchestrator.start(saga, { id: '1' }, { signal: signal as unknown as AbortSignal });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(SagaInputError);
      expect((thrown as SagaInputError).issues).toEqual([{ path: 'options.signal', message: `must be an AbortSignal (got ${got})` }]);
    }
    // The caller was told start() failed: no run may go on behind its back (a retry would charge twice).
    await orchestrator.close();
    expect(calls()).toBe(0);
    expect(await store.listRuns()).toEqual([]);
  });

  it('start(), run() and submit() options whose reads throw (a revoked Proxy, a throwing getter) are refused with a SagaInputError naming the field, before anything is stored or run', async () => {
    const { saga, calls } = countingSaga('hostile-options');
    const store = new MemoryStore();
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    const throwing = (field: string): object =>
      Object.defineProperty({}, field, {
        enumerable: true,
        get() {
          throw new Error(`${field} is gone`);
        },
      });
    const refusal = async (call: () => unknown): Promise<unknown> => {
      try {
        await call();
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const cases = [
      [() => orchestrator.start(saga, { id: '1' }, revoked), { path: 'options.runId', message: "could not be read: TypeError: Cannot perform 'get' on a proxy that has been revoked" }],
      [() => orchestrator.start(saga, { id: '1' }, throwing('runId')), { path: 'options.runId', message: 'could not be read: Error: runId is gone' }],
      [() => orchestrator.run(saga, { id: '1' }, throwing('signal')), { path: 'options.signal', message: 'could not be read: Error: signal is gone' }],
      [() => orchestrator.submit(saga, { id: '1' }, throwing('runId')), { path: 'options.runId', message: 'could not be read: Error: runId is gone' }],
    ] as const;
    for (const [call, issue] of cases) {
      const thrown = await refusal(call);
      expect(thrown).toBeInstanceOf(SagaInputError);
      expect((thrown as SagaInputError).issues).toEqual([issue]);
    }
    await orchestrator.close();
    expect(calls()).toBe(0);
    expect(await store.listRuns()).toEqual([]);
  });

  it('createOrchestrator() and createWorker() options whose reads throw are refused with a TypeError naming the field, not what the read threw', () => {
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    const queue = Object.assign(new MemoryStore(), { workQueue: true });
    const { saga } = countingSaga('hostile-factory-options');
    const leaseGetter = (): { readonly leaseMs: number } => ({
      get leaseMs(): number {
        throw new Error('leaseMs is gone');
      },
    });
    expect(() => createOrchestrator(revoked)).toThrow(new TypeError("createOrchestrator: options could not be read: TypeError: Cannot perform 'IsArray' on a proxy that has been revoked."));
    expect(() => createOrchestrator({ sagas: revoked as never })).toThrow(new TypeError("createOrchestrator: options.sagas could not be read: TypeError: Cannot perform 'IsArray' on a proxy that has been revoked."));
    expect(() => createOrchestrator(leaseGetter())).toThrow(new TypeError('createOrchestrator: options.leaseMs could not be read: Error: leaseMs is gone.'));
    expect(() => createWorker({ store: queue, sagas: [saga], retry: revoked })).toThrow(new TypeError("createWorker: options.retry could not be read: TypeError: Cannot perform 'IsArray' on a proxy that has been revoked."));
    expect(() => createWorker(Object.assign(leaseGetter(), { store: queue, sagas: [saga] }))).toThrow(new TypeError('createWorker: options.leaseMs could not be read: Error: leaseMs is gone.'));
  });

  it('signal(), close() and a worker\'s stop() options whose reads throw are refused with a TypeError naming the field; nothing is signalled or stopped', async () => {
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    const unreadable = "could not be read: TypeError: Cannot perform 'IsArray' on a proxy that has been revoked";
    const orchestrator = createOrchestrator();
    await expect(orchestrator.signal('run-1', 'approved', {}, revoked)).rejects.toThrow(new TypeError(`signal() of run run-1: options ${unreadable}.`));
    const timeoutGetter = {
      get timeoutMs(): number {
        throw new Error('timeoutMs is gone');
      },
    };
    await expect(orchestrator.close(timeoutGetter)).rejects.toThrow(new TypeError('orchestrator.close(): options.timeoutMs could not be read: Error: timeoutMs is gone.'));
    const worker = createWorker({ store: Object.assign(new MemoryStore(), { workQueue: true }), sagas: [countingSaga('stop-options').saga], workerId: 'w-1' });
    await expect(worker.stop(revoked)).rejects.toThrow(new TypeError(`worker w-1: stop(): options ${unreadable}.`));
    // Refused calls stopped nothing: the orchestrator still takes runs.
    expect((await orchestrator.run(countingSaga('still-open').saga, { id: '1' })).charge).toBe('charged');
    await orchestrator.close();
  });

  it('a stage that has been announced but not yet invoked when the cancel lands is never invoked', async () => {
    let invoked = false;
    const saga = defineSaga({ name: 'announced', input })
      .stage('a', {
        execute: async () => {
          invoked = true;
        },
      })
      .build();
    const run = createOrchestrator().start(saga, { id: '1' });
    run.events$.subscribe((event) => {
      if (event.type === 'stage.started') run.cancel('right now');
    });
    const outcome = await run.outcome;
    expect(invoked).toBe(false);
    expect(outcome.stages.a).toMatchObject({ status: 'cancelled', attempts: 1 });
    expect(outcome.stages.a?.error).toBeUndefined();
  });

  it('cancel after the run settled does nothing; unsubscribing from events$ never cancels', async () => {
    const saga = defineSaga({ name: 'quiet', input })
      .stage('a', { execute: async () => 1 })
      .stage('b', { execute: async () => 2 })
      .build();
    const run = createOrchestrator().start(saga, { id: '1' });
    run.events$.subscribe().unsubscribe();
    const outcome = await run.outcome;
    run.cancel('too late');
    expect(outcome.status).toBe('completed');
    expect(await collect(run.events$)).toHaveLength(6);
  });

  it('a cancel reason that is not a string is refused with a TypeError naming the run: the run goes on, its journal readable', async () => {
    // JSON.stringify journaled 42 as a number, an Error as {}: a run.cancelling event the store then
    // called corrupt, so the run could never be read, resumed or redriven again.
    const store = new SqliteStore({ path: ':memory:' });
    const orchestrator = createOrchestrator({ store });
    const bRunning = deferred();
    const run = orchestrator.start(build('compensate', new Promise(() => undefined), bRunning), { id: '1' });
    await bRunning.promise;
    const hostile: unknown[] = [42, null, {}, new Error('stop it'), Symbol('why'), { toString: () => Promise.reject(new Error('no text')) }];
    for (const reason of hostile) {
      expect(() => (run.cancel as (reason: unknown) => void)(reason)).toThrow(new RegExp(`^cancel\\(\\) of run ${run.runId}: the reason must be a string`));
      await expect((orchestrator.cancel as (runId: string, reason: unknown) => Promise<void>)(run.runId, reason)).rejects.toThrow(TypeError);
    }
    // Nor one no store can keep as text (a cancel recorded for another process is stored so): the same answer wherever the run is driven.
    for (const reason of ['stop\u0000now', 'half \ud800']) {
      expect(() => run.cancel(reason)).toThrow(`cancel() of run ${run.runId}: the reason must not hold a NUL character or a lone surrogate, which no store can keep`);
      await expect(orchestrator.cancel(run.runId, reason)).rejects.toThrow('the reason must not hold a NUL character or a lone surrogate');
    }
    expect((await orchestrator.inspect(run.runId)).status).toBe('running');
    run.cancel('a reason at last');
    expect((await run.outcome).cancellation).toEqual({ reason: 'a reason at last', by: 'external' });
    expect((await orchestrator.inspect(run.runId)).status).toBe('cancelled');
    await orchestrator.close();
    await store.close();
  });

  it('a start signal aborted with a reason that is neither a string nor an Error, or that cannot be read, cancels the run with the default reason', async () => {
    // The reason's message was read unguarded in the signal's abort listener: the getter's error
    // was thrown from the listener (an uncaught exception in the host process) and the run went on.
    const unreadableMessage = new Error('x');
    Object.defineProperty(unreadableMessage, 'message', {
      get: () => {
        throw new Error('lazy message');
      },
    });
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    for (const reason of [unreadableMessage, revoked, 504, { status: 504 }]) {
      const controller = new AbortController();
      const orchestrator = createOrchestrator();
      const bRunning = deferred();
      const run = orchestrator.start(build('keep', new Promise(() => undefined), bRunning), { id: '1' }, { signal: controller.signal });
      await bRunning.promise;
      controller.abort(reason);
      expect((await run.outcome).cancellation).toEqual({ reason: 'the start signal was aborted', by: 'external' });
      await orchestrator.close();
    }
  });

  it('a start signal aborted with a reason no store can keep as text (a NUL, a lone surrogate; as a string or an Error message) cancels the run with that reason made storable, before start() or while it runs', async () => {
    // run.cancel refuses such a reason with a TypeError (eb4cd07): thrown from the abort listener it
    // was an uncaught exception, and from start() (a signal already aborted) it lost the handle of a
    // run that went on, uncancelled.
    const reasons: Array<[unknown, string]> = [
      ['stop\u0000now', 'stop\ufffdnow'],
      [new Error('half \ud800'), 'half \ufffd'],
    ];
    for (const [reason, journaled] of reasons) {
      for (const when of ['before', 'during'] as const) {
        const controller = new AbortController();
        if (when === 'before') controller.abort(reason);
        const orchestrator = createOrchestrator();
        const bRunning = deferred();
        const run = orchestrator.start(build('keep', new Promise(() => undefined), bRunning), { id: '1' }, { signal: controller.signal });
        if (when === 'during') {
          await bRunning.promise;
          controller.abort(reason);
        }
        expect((await run.outcome).cancellation).toEqual({ reason: journaled, by: 'external' });
        await orchestrator.close();
      }
    }
  });

  it('orchestrator.cancel(runId) cancels a run this orchestrator drives', async () => {
    const orchestrator = createOrchestrator();
    const bRunning = deferred();
    const run = orchestrator.start(build('compensate', new Promise(() => undefined), bRunning), { id: '1' });
    await bRunning.promise;
    await orchestrator.cancel(run.runId, 'by id');
    expect((await run.outcome).cancellation).toEqual({ reason: 'by id', by: 'external' });
  });
});

describe('a cancel of a run that is already stopping or rolling back', () => {
  it('resolves and changes nothing, from the owner and from another orchestrator on the store: the failure stays the run’s ending', async () => {
    const slow = deferred();
    const undoing = deferred();
    const undo = deferred();
    const saga = defineSaga({ name: 'late-cancel', input })
      .stage('a', {
        after: [],
        execute: async () => 'A',
        compensate: async () => {
          undoing.resolve();
          await undo.promise;
        },
      })
      .stage('b', {
        after: ['a'],
        execute: async () => {
          await slow.promise; // ignores its signal: the run stays stopping until it settles
          return 'B';
        },
      })
      .stage('c', {
        after: ['a'],
        execute: async () => {
          throw new NonRetryableError('c failed');
        },
      })
      .build();
    const store = new MemoryStore();
    const owner = createOrchestrator({ store, sagas: [saga] });
    const other = createOrchestrator({ store, sagas: [saga] });
    const run = owner.start(saga, { id: '1' });
    await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'stage.failed')));
    await expect(owner.inspect(run.runId)).resolves.toMatchObject({ status: 'running', failure: { stage: 'c' } });
    await expect(other.cancel(run.runId, 'too late (stopping)')).resolves.toBeUndefined();
    await expect(owner.cancel(run.runId, 'too late (stopping)')).resolves.toBeUndefined();
    slow.resolve();
    await undoing.promise;
    await expect(owner.inspect(run.runId)).resolves.toMatchObject({ status: 'compensating' });
    await expect(other.cancel(run.runId, 'too late (rolling back)')).resolves.toBeUndefined();
    await expect(owner.cancel(run.runId, 'too late (rolling back)')).resolves.toBeUndefined();
    run.cancel('too late (rolling back)');
    undo.resolve();
    const outcome = await run.outcome;
    expect(outcome).toMatchObject({ status: 'compensated', failure: { stage: 'c' }, compensationOrder: ['a'], outputs: { a: 'A', b: 'B' } });
    expect(outcome.cancellation).toBeUndefined();
    const journal = await collect(run.events$);
    expect(journal.filter((event) => event.type === 'run.cancelling')).toEqual([]);
    expect(await store.load(run.runId)).toHaveLength(journal.length);
    await Promise.all([owner.close(), other.close()]);
  });
});

describe('only the first final failure is the run’s failure', () => {
  it('a second stage rejecting while the run stops is recorded cancelled with its error kept', async () => {
    const bFailed = deferred();
    const saga = defineSaga({ name: 'two-failures', input })
      .stage('b', {
        after: [],
        execute: async () => {
          bFailed.resolve();
          throw new Error('first');
        },
      })
      .stage('c', {
        after: [],
        execute: async ({ signal }) => {
          await bFailed.promise;
          await aborted(signal);
          throw new Error('second');
        },
      })
      .build();
    const outcome = await createOrchestrator({ store: new MemoryStore() }).start(saga, { id: '1' }).outcome;
    expect(outcome.failure?.stage).toBe('b');
    expect(outcome.stages.b?.status).toBe('failed');
    expect(outcome.stages.c).toMatchObject({ status: 'cancelled', error: { message: 'second' } });
    expect(outcome.status).toBe('compensated');
  });
});
