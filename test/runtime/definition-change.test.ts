/**
 * Issue 12, item 4: continuing a run on a changed definition never skips a compensation.
 * v1 a→b→c, v2 a→c→d (b removed): continuing with v2 would leave b's effect in place forever,
 * so it is refused, naming b; nothing is written; the run can still be rolled back with v1.
 *
 * Needs the merged runtime (the orchestrator calls continuationProblems / diffShapes).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, SagaShapeMismatchError } from 'sagaflow';

const input = z.object({});

function versions(calls: string[], options: { hangAt?: string } = {}) {
  const step = (name: string, fail = false) => ({
    execute: async ({ signal }: { signal: AbortSignal }) => {
      calls.push(`execute:${name}`);
      if (options.hangAt === name) await new Promise((resolve) => signal.addEventListener('abort', resolve));
      if (fail) throw new Error(`${name} is down`);
      return `${name}-out`;
    },
    compensate: async () => {
      calls.push(`compensate:${name}`);
    },
  });
  const v1 = defineSaga({ name: 'evolving', version: '1', input, onFailure: 'pause' })
    .stage('a', step('a'))
    .stage('b', step('b'))
    .stage('c', step('c', true))
    .build();
  const v2 = defineSaga({ name: 'evolving', version: '2', input, onFailure: 'pause' })
    .stage('a', step('a'))
    .stage('c', { after: ['a'], ...step('c') })
    .stage('d', step('d', true))
    .build();
  return { v1, v2 };
}

describe('continuing a run on a definition that lost a stage (issue 12, item 4)', () => {
  it('redrive with { saga: v2 } is refused naming the completed stage b; nothing is written; v1 can still roll it back', async () => {
    const calls: string[] = [];
    const { v1, v2 } = versions(calls);
    const store = new MemoryStore();
    const orchestrator = createOrchestrator({ store, sagas: [v1] });
    const paused = await orchestrator.start(v1, {}).outcome;
    expect(paused.status).toBe('paused');
    const before = await store.load(paused.runId);

    const refused = await orchestrator.redrive(paused.runId, { saga: v2 }).outcome.catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SagaShapeMismatchError);
    const mismatch = refused as SagaShapeMismatchError;
    expect(mismatch.uncompensatable).toEqual([{ stage: 'b', state: 'completed', reason: 'removed' }]);
    expect(mismatch.changes).toMatchObject({ removed: ['b'], added: ['d'], rewired: [{ stage: 'c', before: ['b'], after: ['a'] }] });
    expect(mismatch.message).toContain("completed stage 'b' (removed) could then never be compensated");
    expect(mismatch.message).toContain("stage 'b' removed; stage 'd' added; 'c' now after [a] (was [b])");
    expect(await store.load(paused.runId)).toEqual(before);

    const rolledBack = await orchestrator.compensate(paused.runId).outcome;
    expect(rolledBack.status).toBe('compensated');
    expect(rolledBack.compensationOrder).toEqual(['b', 'a']);
    expect(calls.filter((call) => call.startsWith('execute:d'))).toEqual([]);
    await orchestrator.close();
  });

  it('resume with { saga: v2 } of a run left running is refused the same way', async () => {
    const calls: string[] = [];
    const { v1, v2 } = versions(calls, { hangAt: 'c' });
    const store = new MemoryStore();
    const first = createOrchestrator({ store, sagas: [v1] });
    const run = first.start(v1, {});
    // Leave the run in place, stage c in flight, as a process that stopped would.
    await new Promise<void>((resolve) => {
      const subscription = run.events$.subscribe((event) => {
        if (event.type === 'stage.started' && event.stage === 'c') {
          resolve();
          queueMicrotask(() => subscription.unsubscribe());
        }
      });
    });
    await first.close({ timeoutMs: 0 });

    const second = createOrchestrator({ store, sagas: [v1, v2] });
    const refused = await second.resume(run.runId, { saga: v2 }).outcome.catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SagaShapeMismatchError);
    expect((refused as SagaShapeMismatchError).uncompensatable).toEqual([{ stage: 'b', state: 'completed', reason: 'removed' }]);
    expect(calls).not.toContain('execute:d');
    await second.close();
  });

  it('without { saga }, only v2 registered: refused, and the message says what differs', async () => {
    const calls: string[] = [];
    const { v1, v2 } = versions(calls);
    const store = new MemoryStore();
    const paused = await createOrchestrator({ store, sagas: [v1] }).start(v1, {}).outcome;
    const later = createOrchestrator({ store, sagas: [v2] });
    const refused = await later.redrive(paused.runId).outcome.catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SagaShapeMismatchError);
    expect((refused as Error).message).toContain("(stage 'b' removed; stage 'd' added; 'c' now after [a] (was [b]))");
    await later.close();
  });
});

describe('continuing a waiting run on a definition that changed its wait', () => {
  const hold = { execute: () => 'held', compensate: () => undefined };
  const v1 = defineSaga({ name: 'held', version: '1', input }).stage('hold', hold).waitForSignal('approval', { signal: 'approve', schema: z.object({ ok: z.boolean() }) }).stage('pay', { execute: () => 'paid' }).build();
  const renamed = defineSaga({ name: 'held', version: '2', input }).stage('hold', hold).waitForSignal('approval', { signal: 'approved', schema: z.object({ ok: z.boolean() }) }).stage('pay', { execute: () => 'paid' }).build();
  const removed = defineSaga({ name: 'held', version: '3', input }).stage('hold', hold).stage('pay', { execute: () => 'paid' }).build();

  it.each([
    ['its signal renamed', renamed, /waiting stage 'approval' \(its wait changed: nothing would end its wait\)/],
    ['the wait stage removed', removed, /waiting stage 'approval' \(removed: nothing would end its wait\)/],
  ])('resume with %s is refused naming the waiting stage; nothing is written; v1 still delivers the signal', async (_label, next, message) => {
    const store = new MemoryStore();
    const first = createOrchestrator({ store, sagas: [v1] });
    const run = first.start(v1, {});
    await new Promise<void>((resolve) => run.events$.subscribe((event) => event.type === 'wait.started' && resolve()));
    await first.close({ timeoutMs: 0 });
    const length = (await store.load(run.runId))?.length;

    const second = createOrchestrator({ store, sagas: [v1, next] });
    const refused = await second.resume(run.runId, { saga: next }).outcome.catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(SagaShapeMismatchError);
    expect((refused as Error).message).toMatch(message);
    expect((await store.load(run.runId))?.length).toBe(length);

    await second.signal(run.runId, 'approve', { ok: true });
    await expect.poll(async () => (await second.inspect(run.runId)).status).toBe('completed');
    await second.close();
  });
});
