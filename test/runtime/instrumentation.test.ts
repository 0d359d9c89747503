import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, type AttemptInfo } from 'sagaflow';

describe('instrumentation hooks', () => {
  it("a hook's error reaches the default onError as one printable line: a newline or an escape in its message forges no log line", async () => {
    const printed: string[] = [];
    const warn = vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => void printed.push(args.map(String).join(' ')));
    try {
      const saga = defineSaga({ name: 'hooked', input: z.object({}) })
        .stage('charge', { execute: () => 'C' })
        .build();
      const orchestrator = createOrchestrator({
        store: new MemoryStore(),
        instrumentation: {
          carrier: () => {
            throw new Error('collector down\nsagaflow: all runs settled \u001b[8m');
          },
        },
      });
      expect((await orchestrator.start(saga, {}, { runId: 'printable-1' }).outcome).status).toBe('completed');
      await orchestrator.close();
      expect(printed).toEqual(['sagaflow: instrumentation of run printable-1 failed: collector down\\nsagaflow: all runs settled \\u001b[8m']);
    } finally {
      warn.mockRestore();
    }
  });

  it('tell each attempt its run, saga, stage, phase and number, and its idempotency key when read', async () => {
    const seen: AttemptInfo[] = [];
    const keys: string[] = [];
    const saga = defineSaga({ name: 'hooked', input: z.object({}) })
      .stage('charge', { execute: ({ idempotencyKey }) => idempotencyKey, compensate: () => undefined })
      .stage('ship', { execute: () => { throw new Error('no truck'); }, retry: { maxAttempts: 1 } })
      .build();
    const orchestrator = createOrchestrator({
      store: new MemoryStore(),
      instrumentation: {
        drive: () => ({
          attempt: (info) => {
            seen.push(info);
            if (info.stage === 'charge') keys.push(info.idempotencyKey);
            return undefined;
          },
        }),
      },
    });
    const outcome = await orchestrator.start(saga, {}).outcome;
    expect(outcome.status).toBe('compensated');
    const runId = outcome.runId;
    // Plain data: a spread or JSON of the info holds the five fields (the key is a getter).
    expect(seen.map((info) => ({ ...info }))).toEqual([
      { runId, saga: 'hooked', stage: 'charge', phase: 'execute', attempt: 1 },
      { runId, saga: 'hooked', stage: 'ship', phase: 'execute', attempt: 1 },
      { runId, saga: 'hooked', stage: 'charge', phase: 'compensate', attempt: 1 },
    ]);
    expect(JSON.parse(JSON.stringify(seen[0]))).toEqual({ runId, saga: 'hooked', stage: 'charge', phase: 'execute', attempt: 1 });
    // The execute key is the one the stage saw; the compensation's is its own.
    expect(keys[0]).toBe(outcome.stages.charge?.output);
    expect(keys[1]).not.toBe(keys[0]);
    expect(seen[2]?.idempotencyKey).toBe(keys[1]);
    await orchestrator.close();
  });
});

describe('an attempt hook that breaks its invoke contract', () => {
  // The contract: invoke calls `call` exactly once and returns what it returns. A hook that does
  // not is reported to onError and otherwise ignored: the user's call runs once, and its result is
  // the attempt's, as without the hook ("instrumentation can never break a run").
  const cases: Array<{ name: string; invoke: <T>(call: () => T) => T }> = [
    {
      name: 'throws before calling',
      invoke: () => {
        throw new Error('tracer down');
      },
    },
    {
      name: 'throws after calling',
      invoke: (call) => {
        call();
        throw new Error('span export failed');
      },
    },
    { name: 'never calls', invoke: <T>() => undefined as T },
    {
      name: 'calls twice',
      invoke: (call) => {
        call();
        return call();
      },
    },
    { name: 'returns something else', invoke: <T>() => Promise.resolve('forged') as T },
  ];

  it.each(cases)('one that $name: the stage runs once, and its own result is kept', async ({ invoke }) => {
    let calls = 0;
    const saga = defineSaga({ name: 'hooked', input: z.object({}) })
      .stage('charge', {
        execute: async () => {
          calls++;
          await Promise.resolve();
          return { chargeId: `ch_${calls}` };
        },
      })
      .build();
    const reported: string[] = [];
    const orchestrator = createOrchestrator({
      store: new MemoryStore(),
      instrumentation: { drive: () => ({ attempt: () => ({ invoke, end: () => undefined }) }) },
      onError: (error, context) => void reported.push(`${context.operation}: ${error.message}`),
    });
    const outcome = await orchestrator.start(saga, {}).outcome;
    await orchestrator.close();
    expect(calls).toBe(1);
    expect(outcome.status).toBe('completed');
    expect(outcome.outputs).toEqual({ charge: { chargeId: 'ch_1' } });
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatch(/^instrumentation: .*invoke/);
  });

  it("one that keeps the contract passes the user's own throw through as the stage's failure", async () => {
    const saga = defineSaga({ name: 'hooked', input: z.object({}) })
      .stage('charge', {
        execute: () => {
          throw new Error('card declined');
        },
      })
      .build();
    const reported: Error[] = [];
    const orchestrator = createOrchestrator({
      store: new MemoryStore(),
      instrumentation: { drive: () => ({ attempt: () => ({ invoke: (call) => call(), end: () => undefined }) }) },
      onError: (error) => void reported.push(error),
    });
    const outcome = await orchestrator.start(saga, {}).outcome;
    await orchestrator.close();
    expect(outcome.status).toBe('compensated');
    expect(outcome.failure?.error.message).toBe('card declined');
    expect(reported).toEqual([]);
  });
});
