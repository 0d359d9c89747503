import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, runErrorFor, SagaCancelledError, SagaCompensationError, type SagaEvent } from 'sagaflow';
import { collect, trace } from '../support/collect.js';
import { deferred, type Deferred } from '../support/deferred.js';

const input = z.object({ id: z.string() });

describe('compensation: sequential (default)', () => {
  it('runs one at a time in strict reverse completion order, across parallel branches', async () => {
    // Root r fans out to x, y, z, which complete in the order the test releases them: z, x, y.
    const release: Record<string, Deferred> = { x: deferred(), y: deferred(), z: deferred() };
    let inFlight = 0;
    let maxInFlight = 0;
    const compensate = (name: string) => async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await Promise.resolve();
      inFlight--;
      return name;
    };
    let builder = defineSaga({ name: 'seq', input }).stage('r', { execute: async () => 'r', compensate: compensate('r') });
    for (const name of ['x', 'y', 'z'] as const) {
      builder = builder.stage(name, {
        after: ['r'],
        execute: async () => {
          await release[name]?.promise;
          return name;
        },
        compensate: compensate(name),
      });
    }
    const saga = builder
      .stage('fail', {
        after: ['x', 'y', 'z'] as never,
        execute: async () => {
          throw new Error('late failure');
        },
      })
      .build();
    const run = createOrchestrator().start(saga, { id: '1' });
    const events = collect(run.events$);
    const completed = (name: string) =>
      new Promise<void>((resolve) =>
        run.events$.subscribe((event) => {
          if (event.type === 'stage.completed' && event.stage === name) resolve();
        }),
      );
    release.z?.resolve();
    await completed('z');
    release.x?.resolve();
    await completed('x');
    release.y?.resolve();
    const outcome = await run.outcome;
    expect(outcome.completionOrder).toEqual(['r', 'z', 'x', 'y']);
    expect(outcome.compensationOrder).toEqual(['y', 'x', 'z', 'r']);
    expect(maxInFlight).toBe(1);
    const rollback = trace(await events).filter((entry) => entry.startsWith('compensation.'));
    expect(rollback).toEqual([
      'compensation.started:y',
      'compensation.completed:y',
      'compensation.started:x',
      'compensation.completed:x',
      'compensation.started:z',
      'compensation.completed:z',
      'compensation.started:r',
      'compensation.completed:r',
    ]);
  });

  it('passes over stages without compensate: no events, status stays completed, not in compensationOrder', async () => {
    const saga = defineSaga({ name: 'skip', input })
      .stage('a', { execute: async () => 'A', compensate: async () => undefined })
      .stage('log', { execute: async () => 'logged' })
      .stage('c', {
        execute: async () => {
          throw new Error('no');
        },
      })
      .build();
    const run = createOrchestrator().start(saga, { id: '1' });
    const [outcome, events] = await Promise.all([run.outcome, collect(run.events$)]);
    expect(outcome.stages.log?.status).toBe('completed');
    expect(outcome.compensationOrder).toEqual(['a']);
    expect(outcome.outputs).toEqual({ a: 'A', log: 'logged' });
    expect(trace(events).filter((entry) => entry.endsWith(':log'))).toEqual(['stage.started:log', 'stage.completed:log']);
  });

  it('compensateOnFailure: the failed stage’s own compensate runs with outcome unknown and output undefined, first, as if it completed when it failed', async () => {
    const calls: Array<{ stage: string; outcome: string; output: unknown; cause: unknown }> = [];
    const saga = defineSaga({ name: 'charge', input })
      .stage('reserve', {
        execute: async () => ({ holdId: 'h1' }),
        compensate: async ({ stage, outcome, output, cause }) => void calls.push({ stage, outcome, output, cause }),
      })
      .stage('charge', {
        compensateOnFailure: true,
        execute: async (): Promise<{ chargeId: string }> => {
          throw new Error('gateway timeout, charge state unknown');
        },
        compensate: async ({ stage, outcome, output, cause }) => void calls.push({ stage, outcome, output, cause }),
      })
      .build();
    const outcome = await createOrchestrator().start(saga, { id: '1' }).outcome;
    expect(calls.map((call) => [call.stage, call.outcome, call.output])).toEqual([
      ['charge', 'unknown', undefined],
      ['reserve', 'completed', { holdId: 'h1' }],
    ]);
    expect(calls[0]?.cause).toMatchObject({ kind: 'failed', stage: 'charge', error: { message: 'gateway timeout, charge state unknown' } });
    expect(outcome.stages.charge?.status).toBe('compensated');
    expect(outcome.outputs).toEqual({ reserve: { holdId: 'h1' } });
    expect(outcome.compensationOrder).toEqual(['charge', 'reserve']);
  });

  it('compensateOnFailure also covers a stage aborted in flight when another branch fails: recorded cancelled, its compensate runs with outcome unknown', async () => {
    const calls: Array<{ stage: string; outcome: string; cause: unknown }> = [];
    // An email that may have gone out before its request was aborted: only compensateOnFailure undoes it.
    const emailStage = (compensateOnFailure: boolean, inFlight: Deferred<void>) => ({
      after: ['root' as const],
      compensateOnFailure,
      execute: ({ signal }: { signal: AbortSignal }) =>
        new Promise<{ messageId: string }>((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(new Error('request aborted, mail may be sent')));
          inFlight.resolve();
        }),
      compensate: ({ stage, outcome, cause }: { stage: string; outcome: string; cause: unknown }) => void calls.push({ stage, outcome, cause }),
    });
    const saga = (compensateOnFailure: boolean, inFlight = deferred<void>()) =>
      defineSaga({ name: 'order', input })
        .stage('root', { execute: async () => ({ ok: true }) })
        .stage('email', emailStage(compensateOnFailure, inFlight))
        .stage('ship', {
          after: ['root'],
          execute: async () => {
            await inFlight.promise;
            throw new Error('no courier');
          },
        })
        .build();
    const covered = await createOrchestrator().start(saga(true), { id: '1' }).outcome;
    expect(covered.stages.email?.status).toBe('compensated');
    expect(covered.compensationOrder).toEqual(['email']);
    expect(calls).toMatchObject([{ stage: 'email', outcome: 'unknown', cause: { kind: 'failed', stage: 'ship' } }]);

    calls.length = 0;
    const plain = await createOrchestrator().start(saga(false), { id: '2' }).outcome;
    expect(plain.stages.email?.status).toBe('cancelled');
    expect(plain.compensationOrder).toEqual([]);
    expect(calls).toEqual([]);

    // An external cancel aborts it the same way.
    const inFlight = deferred<void>();
    const alone = defineSaga({ name: 'mail', input }).stage('email', { ...emailStage(true, inFlight), after: [] }).build();
    const run = createOrchestrator().start(alone, { id: '3' });
    await inFlight.promise;
    run.cancel('customer changed their mind');
    const cancelled = await run.outcome;
    expect([cancelled.status, cancelled.stages.email?.status]).toEqual(['cancelled', 'compensated']);
    expect(calls).toMatchObject([{ stage: 'email', outcome: 'unknown', cause: { kind: 'cancelled', reason: 'customer changed their mind', by: 'external' } }]);
  });
});

describe('compensation: parallel', () => {
  it('starts a compensation only after every dependent’s settled; independent ones run concurrently', async () => {
    // a → [b, c]; b → d. Rollback: d first, then b; c concurrently with d/b; a last.
    const log: string[] = [];
    const gates: Record<string, Deferred> = { c: deferred(), d: deferred() };
    const compensate = (name: string) => async () => {
      log.push(`start:${name}`);
      if (name === 'd') gates.c?.resolve();
      if (name === 'c') gates.d?.resolve();
      await gates[name]?.promise;
      log.push(`end:${name}`);
    };
    const saga = defineSaga({ name: 'par', input, compensation: 'parallel' })
      .stage('a', { execute: async () => 'a', compensate: compensate('a') })
      .stage('b', { after: ['a'], execute: async () => 'b', compensate: compensate('b') })
      .stage('c', { after: ['a'], execute: async () => 'c', compensate: compensate('c') })
      .stage('d', { after: ['b'], execute: async () => 'd', compensate: compensate('d') })
      .stage('boom', {
        after: ['c', 'd'],
        execute: async () => {
          throw new Error('boom');
        },
      })
      .build();
    const outcome = await createOrchestrator().start(saga, { id: '1' }).outcome;
    const at = (entry: string) => log.indexOf(entry);
    // Dependencies: a after b and c; b after d.
    expect(at('start:a')).toBeGreaterThan(at('end:b'));
    expect(at('start:a')).toBeGreaterThan(at('end:c'));
    expect(at('start:b')).toBeGreaterThan(at('end:d'));
    // Concurrency: c and d each waited for the other to start.
    expect(at('start:c')).toBeLessThan(at('end:d'));
    expect(at('start:d')).toBeLessThan(at('end:c'));
    expect([...outcome.compensationOrder].sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(outcome.compensationOrder.at(-1)).toBe('a');
  });

  it('starts a compensation once its dependents’ compensations settled, failed ones included', async () => {
    const log: string[] = [];
    const saga = defineSaga({ name: 'par-failed', input, compensation: 'parallel' })
      .stage('a', { execute: async () => 'a', compensate: async () => void log.push('a') })
      .stage('b', {
        execute: async () => 'b',
        compensation: { retry: { maxAttempts: 2, initialDelayMs: 0, jitter: false } },
        compensate: async () => {
          log.push('b');
          throw new Error('refund service down');
        },
      })
      .stage('boom', {
        execute: async () => {
          throw new Error('boom');
        },
      })
      .build();
    const outcome = await createOrchestrator().start(saga, { id: '1' }).outcome;
    expect(log).toEqual(['b', 'b', 'a']);
    expect(outcome).toMatchObject({ status: 'compensation_failed', compensationOrder: ['a'] });
    expect(outcome.stages.b?.status).toBe('compensation_failed');
  });

  it('waits through stages that have nothing to compensate', async () => {
    const log: string[] = [];
    const saga = defineSaga({ name: 'par-skip', input, compensation: 'parallel' })
      .stage('a', { execute: async () => 'a', compensate: async () => void log.push('a') })
      .stage('b', { execute: async () => 'b' })
      .stage('c', { execute: async () => 'c', compensate: async () => void log.push('c') })
      .stage('boom', {
        execute: async () => {
          throw new Error('boom');
        },
      })
      .build();
    await createOrchestrator().start(saga, { id: '1' }).outcome;
    expect(log).toEqual(['c', 'a']);
  });
});

describe('what compensate returns', () => {
  it('is not used: a compensation that returns { ok: false }, false or a value nobody can read (a revoked Proxy) has succeeded, and nothing of it is journaled', async () => {
    const { proxy: unreadable, revoke } = Proxy.revocable({}, {});
    revoke();
    const calls: string[] = [];
    // Synchronous: an async function returning the revoked Proxy would itself reject (resolving
    // a promise with an object reads its `then`), and a rejection is a failed compensation.
    const undo = (name: string, returned: unknown) => (): Promise<void> => {
      calls.push(name);
      return returned as Promise<void>;
    };
    const saga = defineSaga({ name: 'returns', input })
      .stage('a', { execute: async () => 'A', compensate: undo('a', { ok: false }) })
      .stage('b', { execute: async () => 'B', compensate: undo('b', false) })
      .stage('c', { execute: async () => 'C', compensate: undo('c', unreadable) })
      .stage('d', {
        execute: async () => {
          throw new Error('d failed');
        },
      })
      .build();
    const run = createOrchestrator().start(saga, { id: '1' });
    const [outcome, events] = await Promise.all([run.outcome, collect(run.events$)]);
    expect(outcome.status).toBe('compensated');
    expect(outcome.compensationOrder).toEqual(['c', 'b', 'a']);
    expect(calls).toEqual(['c', 'b', 'a']);
    const completed = events.filter((event) => event.type === 'compensation.completed');
    expect(completed.map((event) => [event.stage, event.attempt])).toEqual([
      ['c', 1],
      ['b', 1],
      ['a', 1],
    ]);
    for (const event of completed) expect(Object.keys(event).sort()).toEqual(['at', 'attempt', 'durationMs', 'runId', 'saga', 'seq', 'stage', 'type']);
  });
});

describe('a compensation that exhausts its retries', () => {
  const build = (attemptsUntilHealthy: { remaining: number }, calls: string[]) =>
    defineSaga({ name: 'stuck', input })
      .stage('a', { execute: async () => 'A', compensate: async () => void calls.push('a') })
      .stage('b', {
        execute: async () => 'B',
        compensation: { retry: { maxAttempts: 2, initialDelayMs: 0, jitter: false } },
        compensate: async () => {
          calls.push('b');
          if (attemptsUntilHealthy.remaining-- > 0) throw new Error('refund service down');
        },
      })
      .stage('c', {
        execute: async () => {
          throw new Error('c failed');
        },
      })
      .build();

  it('does not stop the others; the run ends compensation_failed; redrive retries only the failed one', async () => {
    const calls: string[] = [];
    const health = { remaining: 2 };
    const store = new MemoryStore();
    const saga = build(health, calls);
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const error = await orchestrator.run(saga, { id: '1' }).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(SagaCompensationError);
    const outcome = (error as SagaCompensationError).outcome;
    expect(outcome.status).toBe('compensation_failed');
    expect(outcome.stages.b).toMatchObject({ status: 'compensation_failed', compensation: { attempts: 2, error: { message: 'refund service down' } } });
    expect(outcome.stages.a?.status).toBe('compensated');
    expect(outcome.compensationOrder).toEqual(['a']);
    expect(calls).toEqual(['b', 'b', 'a']);
    expect((error as Error).message).toBe(
      `Saga 'stuck' run ${outcome.runId} failed at stage 'c' (Error: c failed), and its rollback failed: compensation of 'b' failed after 2 attempts (Error: refund service down); rolled back 'a'; fix the cause and redrive it.`,
    );

    const redriven = orchestrator.redrive(outcome.runId);
    const [after, events] = await Promise.all([redriven.outcome, collect(redriven.events$)]);
    expect(after.status).toBe('compensated');
    expect(after.compensationOrder).toEqual(['a', 'b']);
    expect(after.stages.b?.compensation?.attempts).toBe(3);
    expect(calls).toEqual(['b', 'b', 'a', 'b']);
    const resumed = events.find((event): event is Extract<SagaEvent, { type: 'run.resumed' }> => event.type === 'run.resumed');
    expect(resumed?.mode).toBe('redrive');
    expect(after.failure?.stage).toBe('c');
  });

  it('gives a compensation one idempotencyKey across its retries and a redrive, not the execute key, which it gets as executeIdempotencyKey', async () => {
    const keys: string[] = [];
    let executeKey = '';
    const healthy = { value: false };
    const saga = defineSaga({ name: 'undo-keys', input })
      .stage('a', {
        execute: async ({ idempotencyKey }) => {
          executeKey = idempotencyKey;
          return 'A';
        },
        compensation: { retry: { maxAttempts: 2, initialDelayMs: 0, jitter: false } },
        compensate: async ({ idempotencyKey, executeIdempotencyKey }) => {
          keys.push(`${idempotencyKey} ${executeIdempotencyKey}`);
          if (!healthy.value) throw new Error('refund service down');
        },
      })
      .stage('b', {
        execute: async () => {
          throw new Error('b failed');
        },
      })
      .build();
    const orchestrator = createOrchestrator({ sagas: [saga] });
    const stuck = await orchestrator.start(saga, { id: '1' }).outcome;
    expect(stuck.status).toBe('compensation_failed');
    healthy.value = true;
    expect((await orchestrator.redrive(stuck.runId).outcome).status).toBe('compensated');
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    const [key, given] = (keys[0] ?? '').split(' ');
    expect(key).not.toBe(executeKey);
    expect(given).toBe(executeKey);
    await orchestrator.close();
  });

  it('after a cancellation: the run ends compensation_failed with its cancellation, and a successful redrive ends it cancelled again', async () => {
    const healthy = { value: false };
    const saga = defineSaga({ name: 'stuck-cancel', input })
      .stage('a', {
        execute: async () => 'A',
        compensation: { retry: { maxAttempts: 1 } },
        compensate: async () => {
          if (!healthy.value) throw new Error('refund service down');
        },
      })
      .stage('b', { execute: async ({ cancel }) => cancel('customer left') })
      .build();
    const orchestrator = createOrchestrator({ sagas: [saga] });
    const error = await orchestrator.run(saga, { id: '1' }).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(SagaCompensationError);
    const stuck = (error as SagaCompensationError).outcome;
    expect(stuck).toMatchObject({ status: 'compensation_failed', cancellation: { reason: 'customer left', by: 'b' }, compensationOrder: [] });
    expect(stuck.failure).toBeUndefined();

    healthy.value = true;
    const after = await orchestrator.redrive(stuck.runId).outcome;
    expect(after).toMatchObject({ status: 'cancelled', cancellation: { reason: 'customer left', by: 'b' }, compensationOrder: ['a'], outputs: { a: 'A' } });
    expect(after.failure).toBeUndefined();
    expect(runErrorFor(after)).toBeInstanceOf(SagaCancelledError);
    expect(await orchestrator.inspect(stuck.runId)).toEqual(after);
    await orchestrator.close();
  });
});
