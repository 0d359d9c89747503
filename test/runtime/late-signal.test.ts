import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, NonRetryableError, StageTimeoutError } from 'sagaflow';
import { createVirtualClock } from 'sagaflow/testing';
import { deferred } from '../support/deferred.js';

const input = z.object({ id: z.string() });

/** What a stage saw when it first read `ctx.signal`, after the abort. */
interface Seen {
  readonly aborted: boolean;
  readonly reason: unknown;
}

/** A saga of one stage that starts, waits for `gate`, and only then reads its signal for the first time. */
function lateReader(name: string) {
  const gate = deferred();
  const started = deferred();
  const seen = deferred<Seen>();
  const saga = defineSaga({ name, input })
    .stage('pay', {
      execute: async (ctx) => {
        started.resolve();
        await gate.promise;
        seen.resolve({ aborted: ctx.signal.aborted, reason: ctx.signal.reason });
      },
    })
    .build();
  return { saga, gate, started, seen };
}

/**
 * An attempt's signal is made only when the stage reads `ctx.signal` (see LazyAbort): these stages
 * read it for the first time after their attempt was aborted, and must see it aborted, with the
 * reason a stage reading it at once would have got.
 */
describe('a stage that reads its signal only after the abort', () => {
  it('sees it aborted by its timeout, with the StageTimeoutError', async () => {
    const clock = createVirtualClock({ now: 0 });
    const seen = deferred<Seen>();
    const saga = defineSaga({ name: 'late-timeout', input })
      .stage('pay', {
        timeoutMs: 100,
        execute: async (ctx) => {
          // A timer on the test clock: virtual time moves on, and the timeout (at 100) fires first.
          await clock.sleep(200);
          seen.resolve({ aborted: ctx.signal.aborted, reason: ctx.signal.reason });
        },
      })
      .build();
    const outcome = await createOrchestrator({ scheduler: clock }).start(saga, { id: '1' }).outcome;
    expect(outcome.stages.pay?.error?.name).toBe('StageTimeoutError');
    const late = await seen.promise;
    expect(late.aborted).toBe(true);
    expect(late.reason).toBeInstanceOf(StageTimeoutError);
    expect((late.reason as StageTimeoutError).message).toBe(outcome.stages.pay?.error?.message);
  });

  it('sees it aborted by a cancel of the run, naming the reason', async () => {
    const { saga, gate, started, seen } = lateReader('late-cancel');
    const run = createOrchestrator().start(saga, { id: '1' });
    await started.promise;
    run.cancel('customer request');
    gate.resolve();
    const late = await seen.promise;
    expect(late.aborted).toBe(true);
    expect(late.reason).toMatchObject({ name: 'AbortError' });
    expect((late.reason as Error).message).toContain('is stopping: the run was cancelled: customer request');
    expect((await run.outcome).status).toBe('cancelled');
  });

  it('sees it aborted when another stage fails the run', async () => {
    const gate = deferred();
    const seen = deferred<Seen>();
    const saga = defineSaga({ name: 'late-sibling', input })
      .stage('slow', {
        after: [],
        execute: async (ctx) => {
          await gate.promise;
          seen.resolve({ aborted: ctx.signal.aborted, reason: ctx.signal.reason });
        },
      })
      .stage('broken', {
        after: [],
        execute: async () => {
          throw new NonRetryableError('broken');
        },
      })
      .build();
    const run = createOrchestrator().start(saga, { id: '1' });
    run.events$.subscribe((event) => {
      if (event.type === 'stage.failed') gate.resolve();
    });
    const late = await seen.promise;
    expect(late.aborted).toBe(true);
    expect(late.reason).toMatchObject({ name: 'AbortError' });
    expect((late.reason as Error).message).toContain('is stopping');
    expect((await run.outcome).stages.broken?.status).toBe('failed');
  });

  it('sees it aborted when the process stops driving the run (close)', async () => {
    const { saga, gate, started, seen } = lateReader('late-close');
    const orchestrator = createOrchestrator();
    orchestrator.start(saga, { id: '1' });
    await started.promise;
    // Not waiting for the stage, which reads its signal only once close() has returned.
    await orchestrator.close({ timeoutMs: 0 });
    gate.resolve();
    const late = await seen.promise;
    expect(late.aborted).toBe(true);
    expect(late.reason).toMatchObject({ name: 'AbortError' });
    expect((late.reason as Error).message).toContain('stopped here');
  });

  it('(control) a stage that reads it before any abort sees it live', async () => {
    const seen: boolean[] = [];
    const saga = defineSaga({ name: 'live', input })
      .stage('pay', {
        execute: async (ctx) => {
          seen.push(ctx.signal.aborted);
          return 'paid';
        },
      })
      .build();
    const outcome = await createOrchestrator().start(saga, { id: '1' }).outcome;
    expect(outcome.status).toBe('completed');
    expect(seen).toEqual([false]);
  });
});
