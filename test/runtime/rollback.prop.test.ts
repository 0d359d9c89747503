import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, foldJournal, NonRetryableError, toOutcome } from 'sagaflow';
import { createVirtualClock } from 'sagaflow/testing';
import { collect } from '../support/collect.js';
import { aborted } from '../support/deferred.js';

interface StagePlan {
  readonly after: number[];
  readonly duration: number;
  readonly compensates: boolean;
  readonly compensateOnFailure: boolean;
  readonly abortable: boolean;
}

interface Scenario {
  readonly stages: StagePlan[];
  readonly stop: { kind: 'none' } | { kind: 'fail' | 'self-cancel'; stage: number } | { kind: 'external-cancel'; at: number };
  readonly compensation: 'sequential' | 'parallel';
}

const scenario: fc.Arbitrary<Scenario> = fc
  .integer({ min: 1, max: 12 })
  .chain((count) =>
    fc.record({
      stages: fc.tuple(
        ...Array.from({ length: count }, (_, index) =>
          fc.record({
            after: fc.uniqueArray(fc.integer({ min: 0, max: Math.max(0, index - 1) }), { maxLength: index === 0 ? 0 : 3 }),
            duration: fc.integer({ min: 0, max: 50 }),
            compensates: fc.boolean(),
            compensateOnFailure: fc.boolean(),
            abortable: fc.boolean(),
          }),
        ),
      ),
      stop: fc.oneof(
        fc.constant({ kind: 'none' as const }),
        fc.record({ kind: fc.constantFrom('fail' as const, 'self-cancel' as const), stage: fc.integer({ min: 0, max: count - 1 }) }),
        fc.record({ kind: fc.constant('external-cancel' as const), at: fc.integer({ min: 0, max: 120 }) }),
      ),
      compensation: fc.constantFrom('sequential' as const, 'parallel' as const),
    }),
  );

const name = (index: number): string => `s${index}`;

async function run(plan: Scenario) {
  const clock = createVirtualClock({ now: 0 });
  const compensateCalls: Array<{ stage: string; output: unknown }> = [];
  let builder = defineSaga({ name: 'random-dag', input: z.object({}), compensation: plan.compensation }) as unknown as {
    stage(stageName: string, definition: object): typeof builder;
    build(): ReturnType<ReturnType<typeof defineSaga>['build']>;
  };
  plan.stages.forEach((stage, index) => {
    builder = builder.stage(name(index), {
      after: stage.after.map(name),
      compensateOnFailure: stage.compensateOnFailure,
      execute: async ({ signal, cancel }: { signal: AbortSignal; cancel: (reason: string) => never }) => {
        const wait = clock.sleep(stage.duration);
        if (stage.abortable) {
          await Promise.race([wait, aborted(signal).then(() => Promise.reject(new Error(`${name(index)} aborted`)))]);
        } else {
          await wait;
        }
        if (plan.stop.kind === 'fail' && plan.stop.stage === index) throw new NonRetryableError(`${name(index)} failed`);
        if (plan.stop.kind === 'self-cancel' && plan.stop.stage === index) cancel(`${name(index)} cancelled`);
        return { from: name(index) };
      },
      ...(stage.compensates
        ? {
            compensate: async ({ output, stage: stageName }: { output: unknown; stage: string }) => {
              compensateCalls.push({ stage: stageName, output });
              await clock.sleep(stage.duration % 7);
            },
          }
        : {}),
    });
  });
  const saga = builder.build();
  const orchestrator = createOrchestrator({ scheduler: clock });
  const handle = orchestrator.start(saga, {});
  if (plan.stop.kind === 'external-cancel') clock.schedule(() => handle.cancel('external stop'), plan.stop.at);
  const [outcome, events] = await Promise.all([handle.outcome, collect(handle.events$)]);
  return Object.assign(outcome, { events, compensateCalls });
}

describe('rollback invariants over random DAGs, durations and stop points', () => {
  it('compensates exactly the completed stages (+ compensateOnFailure ones), in reverse order, and the journal folds to the outcome', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (plan) => {
        const outcome = await run(plan);
        const events = outcome.events;
        const index = (stage: string) => Number(stage.slice(1));
        const planOf = (stage: string) => plan.stages[index(stage)] as StagePlan;

        // The journal is contiguous and folds to exactly the outcome.
        expect(events.map((event) => event.seq)).toEqual(events.map((_, position) => position));
        const { events: _events, compensateCalls: _calls, ...plain } = outcome;
        expect(toOutcome(foldJournal(events))).toEqual(plain);

        // outputs hold exactly the completed stages.
        expect(Object.keys(outcome.outputs).sort()).toEqual([...outcome.completionOrder].sort());

        // The settle order, from the journal: completions, and failures/cancellations of started stages.
        const settled: string[] = [];
        for (const event of events) {
          if (event.type === 'stage.completed' || event.type === 'stage.failed') settled.push(event.stage);
          if (event.type === 'stage.cancelled' && outcome.stages[event.stage]?.attempts) settled.push(event.stage);
        }
        const expected = settled.filter((stage) => {
          const stagePlan = planOf(stage);
          if (!stagePlan.compensates) return false;
          const record = outcome.stages[stage];
          if (outcome.completionOrder.includes(stage)) return true;
          return stagePlan.compensateOnFailure && record?.error !== undefined;
        });

        if (plan.stop.kind === 'none' || outcome.status === 'completed') {
          expect(outcome.compensationOrder).toEqual([]);
          if (plan.stop.kind === 'none') expect(outcome.status).toBe('completed');
          return;
        }
        expect(['compensated', 'cancelled']).toContain(outcome.status);
        expect([...outcome.compensationOrder].sort()).toEqual([...expected].sort());
        // Each compensation ran once, and got the stage's output (undefined when it did not complete).
        expect(outcome.compensateCalls.map((call) => call.stage).sort()).toEqual([...expected].sort());
        for (const call of outcome.compensateCalls) {
          expect(call.output).toEqual(outcome.completionOrder.includes(call.stage) ? { from: call.stage } : undefined);
        }
        if (plan.compensation === 'sequential') {
          expect(outcome.compensationOrder).toEqual([...expected].reverse());
          // One at a time: no compensation starts while another is in flight.
          let inFlight = 0;
          for (const event of events) {
            if (event.type === 'compensation.started') expect(++inFlight).toBe(1);
            if (event.type === 'compensation.completed' || event.type === 'compensation.failed') inFlight--;
          }
        } else {
          // A stage is compensated only after every compensated stage that depends on it.
          const position = (type: string, stage: string) => events.findIndex((event) => event.type === type && 'stage' in event && event.stage === stage);
          const descendants = (stage: string): Set<string> => {
            const found = new Set<string>();
            const stack = [stage];
            while (stack.length > 0) {
              const current = stack.pop() as string;
              plan.stages.forEach((candidate, candidateIndex) => {
                if (candidate.after.includes(index(current)) && !found.has(name(candidateIndex))) {
                  found.add(name(candidateIndex));
                  stack.push(name(candidateIndex));
                }
              });
            }
            return found;
          };
          for (const parent of outcome.compensationOrder) {
            for (const child of descendants(parent)) {
              if (!outcome.compensationOrder.includes(child)) continue;
              expect(position('compensation.completed', child)).toBeLessThan(position('compensation.started', parent));
            }
          }
        }
      }),
      { numRuns: 150 },
    );
  }, 60_000);
});
