import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, NonRetryableError, OrchestratorClosedError, StageTimeoutError, type SagaEvent } from 'sagaflow';
import { createVirtualClock } from 'sagaflow/testing';
import { collect } from '../support/collect.js';
import { aborted, deferred } from '../support/deferred.js';

const input = z.object({ id: z.string() });
type Retrying = Extract<SagaEvent, { type: 'stage.retrying' }>;

describe('retries (virtual time: no real waiting)', () => {
  it('retries with exponential backoff capped at maxDelayMs, journaling each retry, then succeeds', async () => {
    const clock = createVirtualClock({ now: 0 });
    let calls = 0;
    const saga = defineSaga({ name: 'backoff', input })
      .stage('flaky', {
        retry: { maxAttempts: 5, initialDelayMs: 1_000, backoffFactor: 3, maxDelayMs: 5_000, jitter: false },
        execute: async ({ attempt }) => {
          calls++;
          if (attempt < 5) throw new Error(`attempt ${attempt} failed`);
          return 'ok';
        },
      })
      .build();
    const run = createOrchestrator({ scheduler: clock }).start(saga, { id: '1' });
    const [outcome, events] = await Promise.all([run.outcome, collect(run.events$)]);
    expect(outcome.status).toBe('completed');
    expect(calls).toBe(5);
    const retries = events.filter((event): event is Retrying => event.type === 'stage.retrying');
    expect(retries.map((event) => [event.attempt, event.delayMs, event.error.message])).toEqual([
      [1, 1_000, 'attempt 1 failed'],
      [2, 3_000, 'attempt 2 failed'],
      [3, 5_000, 'attempt 3 failed'],
      [4, 5_000, 'attempt 4 failed'],
    ]);
    const starts = events.filter((event) => event.type === 'stage.started').map((event) => event.at);
    expect(starts).toEqual([0, 1_000, 4_000, 9_000, 14_000]);
    expect(outcome.stages.flaky?.attempts).toBe(5);
  });

  it('jitter draws each delay from the upper half of the backoff', async () => {
    const clock = createVirtualClock({ now: 0 });
    const draws = [0, 0.5, 0.999];
    const saga = defineSaga({ name: 'jitter', input })
      .stage('flaky', {
        retry: { maxAttempts: 4, initialDelayMs: 1_000, backoffFactor: 2 },
        execute: async ({ attempt }) => {
          if (attempt < 4) throw new Error('again');
        },
      })
      .build();
    const run = createOrchestrator({ scheduler: clock, random: () => draws.shift() ?? 0 }).start(saga, { id: '1' });
    const events = await collect(run.events$);
    expect(events.filter((event): event is Retrying => event.type === 'stage.retrying').map((event) => event.delayMs)).toEqual([500, 1_500, 3_998]);
  });

  it('never retries a NonRetryableError, nor an error the policy’s retryable() rejects', async () => {
    const clock = createVirtualClock();
    const attempts: Record<string, number> = { typed: 0, predicate: 0 };
    const saga = (name: 'typed' | 'predicate') =>
      defineSaga({ name, input })
        .stage('s', {
          retry: { maxAttempts: 5, retryable: (error) => !(error instanceof RangeError) },
          execute: async () => {
            attempts[name] = (attempts[name] ?? 0) + 1;
            throw name === 'typed' ? new NonRetryableError('card declined') : new RangeError('out of range');
          },
        })
        .build();
    const orchestrator = createOrchestrator({ scheduler: clock });
    const typed = await orchestrator.start(saga('typed'), { id: '1' }).outcome;
    const predicate = await orchestrator.start(saga('predicate'), { id: '1' }).outcome;
    expect(attempts).toEqual({ typed: 1, predicate: 1 });
    expect(typed.failure?.error).toMatchObject({ name: 'NonRetryableError', code: 'NON_RETRYABLE', message: 'card declined' });
    expect(predicate.failure?.error.name).toBe('RangeError');
  });

  it('a retryable() that throws does not retry the error, and the journaled error says why it was not retried (naming what the predicate threw)', async () => {
    const clock = createVirtualClock();
    let attempts = 0;
    // A predicate written for HTTP errors, meeting a network error that has no response.
    const saga = defineSaga({ name: 'broken-predicate', input })
      .stage('charge', {
        retry: { maxAttempts: 5, retryable: (error) => (error as { response: { status: number } }).response.status >= 500 },
        execute: async () => {
          attempts++;
          throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        },
      })
      .build();
    const outcome = await createOrchestrator({ scheduler: clock }).start(saga, { id: '1' }).outcome;
    expect(attempts).toBe(1);
    expect(outcome.failure?.error).toMatchObject({ name: 'Error', message: 'socket hang up', code: 'ECONNRESET' });
    expect(outcome.failure?.error.data?.['$sagaflow']).toEqual({
      retryableFailed: "the retry policy's retryable threw TypeError: Cannot read properties of undefined (reading 'status'); the error was treated as not retryable",
    });
  });

  it('never retries a NonRetryableError thrown by another copy of sagaflow (matched by its code)', async () => {
    // A saga module built against a second install (a global CLI running a project's sagas)
    // throws that copy's NonRetryableError: not `instanceof` this copy's class, same code.
    class ForeignNonRetryableError extends Error {
      override readonly name = 'NonRetryableError';
      readonly code = 'NON_RETRYABLE';
    }
    const clock = createVirtualClock();
    let attempts = 0;
    const saga = defineSaga({ name: 'foreign', input })
      .stage('s', {
        retry: { maxAttempts: 5 },
        execute: async () => {
          attempts++;
          throw new ForeignNonRetryableError('card declined');
        },
      })
      .build();
    const outcome = await createOrchestrator({ scheduler: clock }).start(saga, { id: '1' }).outcome;
    expect(attempts).toBe(1);
    expect(outcome.failure?.error).toMatchObject({ name: 'NonRetryableError', code: 'NON_RETRYABLE' });
  });

  it('retries whatever was thrown as it would a plain Error: a revoked Proxy, a string, and an error its redactError hook fails on', async () => {
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    const thrown: unknown[] = [revoked, 'socket hang up', new Error('secret body')];
    let calls = 0;
    const saga = defineSaga({
      name: 'hostile-retries',
      input,
      redactError: (error) => {
        if (error.message === 'secret body') throw new Error('hook broke');
        return error;
      },
    })
      .stage('call', {
        retry: { maxAttempts: 4, initialDelayMs: 10, jitter: false },
        execute: async () => {
          const next = thrown[calls++];
          if (next !== undefined) throw next;
          return 'answered';
        },
      })
      .build();
    const run = createOrchestrator({ scheduler: createVirtualClock({ now: 0 }) }).start(saga, { id: '1' });
    const [outcome, events] = await Promise.all([run.outcome, collect(run.events$)]);
    expect(outcome.status).toBe('completed');
    expect(outcome.stages.call?.attempts).toBe(4);
    const retries = events.filter((event): event is Retrying => event.type === 'stage.retrying');
    expect(retries.map((event) => [event.attempt, event.error.name, event.delayMs])).toEqual([
      [1, 'UnreadableError', 10],
      [2, 'NonErrorThrown', 20],
      [3, 'Error', 40],
    ]);
    expect(retries[2]?.error.message).toMatch(/^\[withheld: the saga's redactError hook failed/);
  });

  it('retries a compensation with its own policy', async () => {
    const clock = createVirtualClock({ now: 0 });
    let tries = 0;
    const saga = defineSaga({ name: 'comp-retry', input })
      .stage('a', {
        execute: async () => 'A',
        compensation: { retry: { maxAttempts: 3, initialDelayMs: 10_000, jitter: false } },
        compensate: async () => {
          if (++tries < 3) throw new Error('refund api 503');
        },
      })
      .stage('b', {
        execute: async () => {
          throw new Error('b');
        },
      })
      .build();
    const run = createOrchestrator({ scheduler: clock }).start(saga, { id: '1' });
    const [outcome, events] = await Promise.all([run.outcome, collect(run.events$)]);
    expect(outcome.status).toBe('compensated');
    expect(events.flatMap((event) => (event.type === 'compensation.retrying' ? [event.delayMs] : []))).toEqual([10_000, 20_000]);
    expect(outcome.stages.a?.compensation?.attempts).toBe(3);
  });
});

describe('timeouts (virtual time)', () => {
  it('fails a timed-out attempt at once with a StageTimeoutError, aborts its signal, ignores what it returns later, retries it', async () => {
    // The first attempt hangs until aborted: after 50 ms of real time the clock takes it to hang and moves on.
    const clock = createVirtualClock({ now: 0, realTimeHoldMs: 50 });
    const reasons: unknown[] = [];
    const saga = defineSaga({ name: 'slow', input })
      .stage('pay', {
        timeoutMs: 2_000,
        retry: { maxAttempts: 2, initialDelayMs: 500, jitter: false },
        execute: async ({ signal, attempt }) => {
          if (attempt === 1) {
            reasons.push(await aborted(signal));
            return 'too late';
          }
          await clock.sleep(1_000);
          return 'paid';
        },
      })
      .build();
    const run = createOrchestrator({ scheduler: clock }).start(saga, { id: '1' });
    const [outcome, events] = await Promise.all([run.outcome, collect(run.events$)]);
    expect(outcome.status).toBe('completed');
    expect(outcome.outputs).toEqual({ pay: 'paid' });
    expect(reasons[0]).toBeInstanceOf(StageTimeoutError);
    const retry = events.find((event): event is Retrying => event.type === 'stage.retrying');
    expect(retry?.error).toMatchObject({
      name: 'StageTimeoutError',
      code: 'STAGE_TIMEOUT',
      message: `Stage 'pay' of saga 'slow' run ${outcome.runId} timed out after 2000 ms of virtual time (a call of user code was still pending after 50 ms of real time, so the test clock moved on; raise createVirtualClock({ realTimeHoldMs }) for slow real I/O) (attempt 1).`,
    });
    expect(retry?.at).toBe(2_000);
    const completed = events.find((event) => event.type === 'stage.completed');
    expect(completed).toMatchObject({ attempt: 2, at: 3_500, durationMs: 1_000 });
  });

  it('times a compensation out with its own timeout; the run’s cancellation never aborts it', async () => {
    // The compensation hangs until aborted: after 50 ms of real time the clock takes it to hang and moves on.
    const clock = createVirtualClock({ now: 0, realTimeHoldMs: 50 });
    const seen: boolean[] = [];
    const saga = defineSaga({ name: 'slow-undo', input })
      .stage('a', {
        execute: async () => 'A',
        compensation: { timeoutMs: 100, retry: { maxAttempts: 1 } },
        compensate: async ({ signal }) => {
          await clock.sleep(50);
          seen.push(signal.aborted);
          await aborted(signal);
        },
      })
      .stage('b', { execute: async ({ cancel }) => cancel('stop') })
      .build();
    const outcome = await createOrchestrator({ scheduler: clock }).start(saga, { id: '1' }).outcome;
    expect(seen).toEqual([false]);
    expect(outcome.status).toBe('compensation_failed');
    expect(outcome.stages.a?.compensation?.error?.name).toBe('StageTimeoutError');
    expect(outcome.cancellation).toEqual({ reason: 'stop', by: 'b' });
  });

  it('a run that starts stopping during a retry wait gives the retry up at once', async () => {
    const clock = createVirtualClock({ now: 0 });
    let flakyCalls = 0;
    const saga = defineSaga({ name: 'give-up', input })
      .stage('flaky', {
        after: [],
        retry: { maxAttempts: 3, initialDelayMs: 60_000, jitter: false },
        execute: async () => {
          flakyCalls++;
          throw new Error('flaky');
        },
      })
      .stage('broken', {
        after: [],
        execute: async () => {
          await clock.sleep(10);
          throw new NonRetryableError('broken');
        },
      })
      .build();
    const outcome = await createOrchestrator({ scheduler: clock }).start(saga, { id: '1' }).outcome;
    expect(flakyCalls).toBe(1);
    expect(outcome.failure?.stage).toBe('broken');
    expect(outcome.stages.flaky).toMatchObject({ status: 'cancelled', error: { message: 'flaky' } });
    expect(clock.now()).toBeLessThan(60_000);
  });
});

describe('delays longer than one Node timer holds (2^31 - 1 ms, about 24.8 days), in real time', () => {
  const DAY = 24 * 3_600_000;

  /** Runs `body` with Node's timers faked (they fire an overflowing delay after 1 ms, as Node does). */
  async function withFakeTimers(body: () => Promise<void>): Promise<void> {
    vi.useFakeTimers();
    try {
      await body();
    } finally {
      vi.useRealTimers();
    }
  }

  it('a 30-day timeout, retry delay, sleep and signal window each wait 30 days, not 1 ms', () =>
    withFakeTimers(async () => {
      const calls: string[] = [];
      const slow = defineSaga({ name: 'slow-call', input })
        .stage('call', {
          timeoutMs: 30 * DAY,
          execute: async () => {
            await new Promise((resolve) => setTimeout(resolve, 40 * 24 * 3_600));
            return 'answered';
          },
        })
        .build();
      const patient = defineSaga({ name: 'patient', input })
        .stage('flaky', {
          retry: { maxAttempts: 2, initialDelayMs: 30 * DAY, maxDelayMs: 30 * DAY, jitter: false },
          execute: ({ attempt }) => {
            calls.push(`flaky ${attempt}`);
            if (attempt === 1) throw new Error('later');
            return 'ok';
          },
        })
        .build();
      const coolingOff = defineSaga({ name: 'cooling-off', input })
        .sleep('cool', { durationMs: 30 * DAY })
        .stage('ship', { execute: () => void calls.push('shipped') })
        .build();
      const approval = defineSaga({ name: 'approval-window', input })
        .waitForSignal('approve', { signal: 'ok', schema: z.object({}), timeoutMs: 30 * DAY })
        .build();
      const orchestrator = createOrchestrator({ sagas: [slow, patient, coolingOff, approval] });
      const runs = [orchestrator.start(slow, { id: '1' }), orchestrator.start(patient, { id: '2' }), orchestrator.start(coolingOff, { id: '3' }), orchestrator.start(approval, { id: '4' })];
      const statuses = runs.map(() => 'running');
      runs.forEach((run, index) => void run.outcome.then((outcome) => (statuses[index] = outcome.status)));

      await vi.advanceTimersByTimeAsync(60_000);
      expect(statuses).toEqual(['running', 'running', 'running', 'running']);
      expect(calls).toEqual(['flaky 1']);

      await vi.advanceTimersByTimeAsync(30 * DAY);
      expect(statuses).toEqual(['completed', 'completed', 'completed', 'compensated']);
      expect(calls).toEqual(['flaky 1', 'flaky 2', 'shipped']);
      await orchestrator.close();
    }));

  it('signal() to a run another process owns, bounded by 30 days, waits for the owner instead of timing out at once', () =>
    withFakeTimers(async () => {
      const saga = defineSaga({ name: 'held-for-approval', input })
        .waitForSignal('approval', { signal: 'approve', schema: z.object({ by: z.string() }) })
        .build();
      const store = new MemoryStore();
      const owner = createOrchestrator({ store, sagas: [saga], ownerId: 'owner' });
      const sender = createOrchestrator({ store, sagas: [saga], ownerId: 'sender' });
      const run = owner.start(saga, { id: '1' });
      await vi.advanceTimersByTimeAsync(10);
      let result: unknown = 'pending';
      void sender.signal(run.runId, 'approve', { by: 'ann' }, { timeoutMs: 30 * DAY }).then(
        (value) => (result = value),
        (error: unknown) => (result = error),
      );
      // The owner delivers the request with its next heartbeat (a third of its 30 s lease).
      await vi.advanceTimersByTimeAsync(15_000);
      expect(result).toMatchObject({ accepted: true, delivered: 'waiting' });
      expect((await run.outcome).status).toBe('completed');
      await owner.close();
      await sender.close();
    }));

  it('close({ timeoutMs: 30 days }) waits 30 days before it leaves the runs in place, not 1 ms', () =>
    withFakeTimers(async () => {
      const gate = deferred();
      const saga = defineSaga({ name: 'month-close', input }).stage('hold', { execute: () => gate.promise.then(() => 'done') }).build();
      const orchestrator = createOrchestrator({ sagas: [saga] });
      const run = orchestrator.start(saga, { id: 'x' });
      let closed = false;
      const closing = orchestrator.close({ timeoutMs: 30 * DAY }).then(() => (closed = true));
      await vi.advanceTimersByTimeAsync(29 * DAY);
      expect(closed).toBe(false);
      await vi.advanceTimersByTimeAsync(DAY + 1_000);
      await closing;
      await expect(run.outcome).rejects.toBeInstanceOf(OrchestratorClosedError);
    }));

  it('close({ timeoutMs: Infinity }) waits for the runs, like close()', () =>
    withFakeTimers(async () => {
      const saga = defineSaga({ name: 'finishing', input })
        .stage('a', { execute: () => new Promise((resolve) => setTimeout(() => resolve('A'), 5_000)) })
        .build();
      const orchestrator = createOrchestrator();
      const run = orchestrator.start(saga, { id: '1' });
      const closed = orchestrator.close({ timeoutMs: Infinity });
      await vi.advanceTimersByTimeAsync(5_000);
      await closed;
      expect((await run.outcome).status).toBe('completed');
    }));
});
