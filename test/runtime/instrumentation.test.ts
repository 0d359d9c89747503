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
