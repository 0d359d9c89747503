import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, StoreCorruptionError, type SagaEvent } from 'sagaflow';
import { storeOrphanedJournal } from '../support/journal.js';

const saga = defineSaga({ name: 'damaged', input: z.object({ id: z.string() }) })
  .stage('a', { execute: () => 'A', compensate: () => undefined })
  .stage('b', { execute: () => 'B', compensate: () => undefined, compensateOnFailure: true })
  .build();

const error = { name: 'Error', message: 'x' };

/** One well-formed event of any type the fold reads, in any order: what a hand edit or a half-restored backup leaves. */
const draft = fc.tuple(
  fc.constantFrom(
    'stage.started',
    'stage.completed',
    'stage.failed',
    'stage.retrying',
    'stage.cancelled',
    'stage.cancelled, outcome unknown',
    'run.cancelling',
    'run.compensating',
    'compensation.started',
    'compensation.retrying',
    'compensation.completed',
    'compensation.failed',
    'run.paused',
    'run.resumed, resume',
    'run.resumed, redrive',
    'run.completed',
    'run.compensated',
    'run.compensation_failed',
  ),
  fc.constantFrom('a', 'b'),
);

function journalOf(runId: string, drafts: readonly (readonly [string, string])[]): SagaEvent[] {
  const events: Record<string, unknown>[] = [
    { type: 'run.started', runId, saga: 'damaged', seq: 0, at: 1, version: saga.version, shapeHash: saga.shapeHash, input: { id: '1' }, stages: ['a', 'b'], shape: saga.shape },
  ];
  for (const [kind, stage] of drafts) {
    const base = { runId, saga: 'damaged', seq: events.length, at: events.length + 1 };
    const [type, detail] = kind.split(', ') as [string, string | undefined];
    switch (type) {
      case 'stage.started':
      case 'compensation.started':
        events.push({ ...base, type, stage, attempt: 1 });
        break;
      case 'stage.completed':
        events.push({ ...base, type, stage, attempt: 1, durationMs: 1, output: stage.toUpperCase() });
        break;
      case 'compensation.completed':
        events.push({ ...base, type, stage, attempt: 1, durationMs: 1 });
        break;
      case 'stage.failed':
      case 'compensation.failed':
        events.push({ ...base, type, stage, attempt: 1, error });
        break;
      case 'stage.retrying':
      case 'compensation.retrying':
        events.push({ ...base, type, stage, attempt: 1, error, delayMs: 1 });
        break;
      case 'stage.cancelled':
        events.push(detail === undefined ? { ...base, type, stage, reason: 'r' } : { ...base, type, stage, reason: 'r', outcomeUnknown: true });
        break;
      case 'run.cancelling':
        events.push({ ...base, type, reason: 'r', by: 'external' });
        break;
      case 'run.compensating':
        events.push({ ...base, type, cause: { kind: 'failed', stage, error } });
        break;
      case 'run.paused':
        events.push({ ...base, type, failure: { stage, error } });
        break;
      case 'run.resumed':
        events.push({ ...base, type, mode: detail });
        break;
      default:
        events.push({ ...base, type });
    }
  }
  return events as unknown as SagaEvent[];
}

describe('damaged journals (property)', () => {
  it('every order of well-formed events is either refused where it is read or driven to an end: none leaves a resumed run unable to settle', async () => {
    let trial = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(draft, { minLength: 1, maxLength: 9 }), async (drafts) => {
        const runId = `damaged-${trial++}`;
        const store = new MemoryStore();
        await storeOrphanedJournal(store, journalOf(runId, drafts));
        const orchestrator = createOrchestrator({ store, sagas: [saga], leaseMs: 60_000, onError: () => undefined });
        try {
          const recovered = await orchestrator.recover();
          if (recovered.skipped.some((skipped) => skipped.reason === 'unreadable')) refused++;
          for (const run of recovered) {
            const failure = await run.outcome.then(
              () => undefined,
              (caught: unknown) => caught,
            );
            // The interpreter's last resort: a journal the fold accepted that leaves nothing to do.
            if (failure instanceof StoreCorruptionError) expect(failure.message).not.toContain('could never settle');
          }
        } finally {
          await orchestrator.close();
        }
      }),
      { seed: 20261205, numRuns: 1_500 },
    );
    // The generator does reach the fold's refusals (not a property that holds because nothing is refused).
    expect(refused).toBeGreaterThan(100);
  });
});
