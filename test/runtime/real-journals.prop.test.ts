import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, foldJournal, MemoryStore, NonRetryableError, StoreCorruptionError, type SagaEvent } from 'sagaflow';
import { crashAfter, crashingStore, createVirtualClock } from 'sagaflow/testing';
import { aborted } from '../support/deferred.js';

type Behaviour = 'ok' | 'fail' | 'flaky' | 'hang' | 'self-cancel';
interface StagePlan {
  readonly after: number[];
  readonly duration: number;
  readonly behaviour: Behaviour;
  readonly compensation: 'none' | 'ok' | 'flaky' | 'fails-once-through';
  readonly compensateOnFailure: boolean;
  readonly timeoutMs: number | undefined;
}
interface Scenario {
  readonly stages: StagePlan[];
  readonly wait: 'none' | 'signal' | 'signal-timeout' | 'signal-ontimeout' | 'sleep';
  readonly signalAt: number | undefined;
  readonly cancelAt: number | undefined;
  readonly onFailure: 'compensate' | 'pause';
  readonly onCancel: 'compensate' | 'keep';
  readonly compensationPolicy: 'sequential' | 'parallel';
  readonly concurrency: number;
  readonly crashes: number[];
  readonly continueWith: ('redrive' | 'compensate')[];
}

const stagePlan = (index: number): fc.Arbitrary<StagePlan> =>
  fc.record({
    after: fc.uniqueArray(fc.integer({ min: 0, max: Math.max(0, index - 1) }), { maxLength: index === 0 ? 0 : 2 }),
    duration: fc.integer({ min: 0, max: 30 }),
    behaviour: fc.constantFrom<Behaviour>('ok', 'ok', 'ok', 'fail', 'flaky', 'hang', 'self-cancel'),
    compensation: fc.constantFrom('none' as const, 'ok' as const, 'flaky' as const, 'fails-once-through' as const),
    compensateOnFailure: fc.boolean(),
    timeoutMs: fc.option(fc.integer({ min: 5, max: 40 }), { nil: undefined }),
  });

const scenario: fc.Arbitrary<Scenario> = fc.integer({ min: 1, max: 6 }).chain((count) =>
  fc.record({
    stages: fc.tuple(...Array.from({ length: count }, (_, index) => stagePlan(index))),
    wait: fc.constantFrom('none' as const, 'signal' as const, 'signal-timeout' as const, 'signal-ontimeout' as const, 'sleep' as const),
    signalAt: fc.option(fc.integer({ min: 0, max: 80 }), { nil: undefined }),
    cancelAt: fc.option(fc.integer({ min: 0, max: 120 }), { nil: undefined }),
    onFailure: fc.constantFrom('compensate' as const, 'pause' as const),
    onCancel: fc.constantFrom('compensate' as const, 'keep' as const),
    compensationPolicy: fc.constantFrom('sequential' as const, 'parallel' as const),
    concurrency: fc.constantFrom(1, 2, 100),
    crashes: fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 3 }),
    continueWith: fc.array(fc.constantFrom('redrive' as const, 'compensate' as const), { minLength: 4, maxLength: 4 }),
  }),
);

const name = (index: number): string => `s${index}`;

function build(plan: Scenario, clock: ReturnType<typeof createVirtualClock>, counts: Map<string, number>) {
  const count = (key: string): number => {
    const next = (counts.get(key) ?? 0) + 1;
    counts.set(key, next);
    return next;
  };
  let builder = defineSaga({
    name: 'real-journals',
    input: z.object({}),
    onFailure: plan.onFailure,
    onCancel: plan.onCancel,
    compensation: plan.compensationPolicy,
    concurrency: plan.concurrency,
  }) as unknown as { stage(n: string, d: object): typeof builder; waitForSignal(n: string, d: object): typeof builder; sleep(n: string, d: object): typeof builder; build(): ReturnType<ReturnType<typeof defineSaga>['build']> };
  plan.stages.forEach((stage, index) => {
    builder = builder.stage(name(index), {
      after: stage.after.map(name),
      compensateOnFailure: stage.compensateOnFailure,
      retry: { maxAttempts: 3, initialDelayMs: 10, jitter: false },
      ...(stage.timeoutMs === undefined ? {} : { timeoutMs: stage.timeoutMs }),
      execute: async ({ signal, cancel }: { signal: AbortSignal; cancel: (reason: string) => never }) => {
        const call = count(`x:${name(index)}`);
        const wait = clock.sleep(stage.behaviour === 'hang' && call === 1 ? 1_000 : stage.duration);
        await Promise.race([wait, aborted(signal).then(() => Promise.reject(new Error(`${name(index)} aborted`)))]);
        if (stage.behaviour === 'fail' && call <= 2) throw new NonRetryableError(`${name(index)} failed`);
        if (stage.behaviour === 'flaky' && call <= 2) throw new Error(`${name(index)} flaky`);
        if (stage.behaviour === 'self-cancel' && call === 1) cancel(`${name(index)} cancelled`);
        return { from: name(index) };
      },
      ...(stage.compensation === 'none'
        ? {}
        : {
            compensation: { retry: { maxAttempts: 2, initialDelayMs: 5, jitter: false } },
            compensate: async () => {
              const call = count(`c:${name(index)}`);
              await clock.sleep(stage.duration % 7);
              if (stage.compensation === 'flaky' && call === 1) throw new Error('compensation flaky');
              if (stage.compensation === 'fails-once-through' && call <= 2) throw new Error('compensation fails');
            },
          }),
    });
  });
  const last = name(plan.stages.length - 1);
  if (plan.wait === 'signal') builder = builder.waitForSignal('w', { signal: 'go', schema: z.object({}), after: [last] });
  if (plan.wait === 'signal-timeout') builder = builder.waitForSignal('w', { signal: 'go', schema: z.object({}), timeoutMs: 50, after: [last] });
  if (plan.wait === 'signal-ontimeout') builder = builder.waitForSignal('w', { signal: 'go', schema: z.object({}), timeoutMs: 50, onTimeout: { output: {} }, after: [last] });
  if (plan.wait === 'sleep') builder = builder.sleep('w', { durationMs: 40, after: [last] });
  if (plan.wait !== 'none') builder = builder.stage('after-wait', { after: ['w'], execute: () => 'done', compensate: () => undefined });
  return builder.build();
}

const FINAL = ['completed', 'compensated', 'cancelled'];

async function drive(plan: Scenario): Promise<{ journal: readonly SagaEvent[]; trail: string[] }> {
  const durable = new MemoryStore();
  const counts = new Map<string, number>();
  const trail: string[] = [];
  const crashes = [...plan.crashes];
  const continues = [...plan.continueWith];
  let runId: string | undefined;
  for (let step = 0; step < 12; step++) {
    const clock = createVirtualClock({ now: 1_000_000 });
    const saga = build(plan, clock, counts);
    const crashAt = crashes.shift();
    const written = { n: 0 };
    const store = crashAt === undefined ? durable : crashingStore(durable, [crashAfter(() => ++written.n === crashAt)]);
    const orchestrator = createOrchestrator({ store, sagas: [saga], scheduler: clock, onError: () => undefined });
    let handle;
    if (runId === undefined) {
      handle = orchestrator.start(saga, {});
      runId = handle.runId;
      trail.push('start');
    } else {
      const state = foldJournal((await durable.load(runId)) ?? []);
      if (FINAL.includes(state.status)) break;
      if (state.status === 'paused' || state.status === 'compensation_failed') {
        const mode = state.status === 'compensation_failed' ? 'redrive' : (continues.shift() ?? 'redrive');
        trail.push(`${mode}@${state.status}`);
        handle = mode === 'redrive' ? orchestrator.redrive(runId) : orchestrator.compensate(runId);
      } else {
        trail.push(`recover@${state.status}`);
        const recovered = await orchestrator.recover();
        expect(recovered.skipped).toEqual([]);
        handle = recovered[0];
      }
    }
    const id = runId;
    if (plan.cancelAt !== undefined && step === 0) clock.schedule(() => void Promise.resolve(handle?.cancel('external stop')).catch(() => undefined), plan.cancelAt);
    if (plan.wait.startsWith('signal')) {
      clock.schedule(() => void orchestrator.signal(id, 'go', {}).catch(() => undefined), plan.signalAt ?? 60);
    }
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`stuck at step ${step} (${trail.join(' > ')})`)), 5_000);
    });
    // A run that fails, is cancelled, pauses or crashes rejects its outcome; one the fold refuses, or
    // one that never settles, fails the property.
    await Promise.race([stuck, handle?.outcome]).catch((error: unknown) => {
      if (error instanceof StoreCorruptionError || (error instanceof Error && error.message.startsWith('stuck'))) throw error;
    });
    clearTimeout(timer);
    await orchestrator.close({ timeoutMs: 1 }).catch(() => undefined);
    const journal = (await durable.load(id)) ?? [];
    // Whatever sagaflow wrote, at every step, folds.
    foldJournal(journal);
    if (FINAL.includes(foldJournal(journal).status)) break;
  }
  return { journal: (await durable.load(runId as string)) ?? [], trail };
}

describe('journals sagaflow writes are never refused by the fold (real runs, crashes, redrives, compensate)', () => {
  it('every journal of a random scenario folds, at every step', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (plan) => {
        const result = await drive(plan);
        expect(() => foldJournal(result.journal)).not.toThrow();
      }),
      { numRuns: Number(process.env.RUNS ?? 150), ...(process.env.SEED === undefined ? {} : { seed: Number(process.env.SEED) }) },
    );
  }, 300_000);
});
