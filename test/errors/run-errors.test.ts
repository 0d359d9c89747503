import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createOrchestrator,
  defineSaga,
  isRunError,
  runErrorFor,
  SagaCancelledError,
  SagaCompensationError,
  SagaFailedError,
  type SagaOutcome,
  type StageRecord,
} from 'sagaflow';

const saga = defineSaga({ name: 'order', input: z.object({}) })
  .stage('reserve', { execute: async () => ({ reservationId: 'r-1' }), compensate: async () => undefined })
  .stage('charge', { execute: async () => ({ chargeId: 'c-1' }), compensate: async () => undefined })
  .stage('ship', { execute: async () => ({ trackingId: 't-1' }) })
  .build();

function outcome(status: SagaOutcome['status'], stages: Record<string, StageRecord>, extra: Partial<SagaOutcome> = {}): SagaOutcome {
  return {
    runId: 'run-1',
    saga: 'order',
    version: '1',
    status,
    input: {},
    outputs: { reserve: { reservationId: 'r-1' }, charge: { chargeId: 'c-1' } },
    stages,
    completionOrder: ['reserve', 'charge'],
    compensationOrder: [],
    ...extra,
  };
}

const failure = { stage: 'ship', error: { name: 'Error', message: 'carrier down.' } };

describe('SagaCompensationError', () => {
  it('names each failed compensation with its attempts and error, and what was rolled back', () => {
    const error = new SagaCompensationError(
      outcome(
        'compensation_failed',
        {
          reserve: { status: 'compensated', attempts: 1, compensation: { attempts: 1 } },
          charge: {
            status: 'compensation_failed',
            attempts: 1,
            compensation: { attempts: 5, error: { name: 'TypeError', message: "Cannot read properties of undefined (reading 'chargeId')" } },
          },
          ship: { status: 'failed', attempts: 1 },
        },
        { failure, compensationOrder: ['reserve'] },
      ),
    );
    expect(error.message).toBe(
      "Saga 'order' run run-1 failed at stage 'ship' (Error: carrier down), and its rollback failed: compensation of 'charge' failed after 5 attempts (TypeError: Cannot read properties of undefined (reading 'chargeId')); rolled back 'reserve'; fix the cause and redrive it.",
    );
  });

  it('lists several failed compensations, after a cancellation', () => {
    const error = new SagaCompensationError(
      outcome(
        'compensation_failed',
        {
          reserve: { status: 'compensation_failed', attempts: 1, compensation: { attempts: 1, error: { name: 'NonRetryableError', message: 'gone' } } },
          charge: { status: 'compensation_failed', attempts: 1, compensation: { attempts: 3, error: { name: 'Error', message: 'refunds closed' } } },
          ship: { status: 'cancelled', attempts: 1 },
        },
        { cancellation: { reason: 'customer left', by: 'external' } },
      ),
    );
    expect(error.message).toBe(
      "Saga 'order' run run-1 was cancelled (\"customer left\"), and its rollback failed: compensation of 'reserve' failed after 1 attempt (NonRetryableError: gone), 'charge' failed after 3 attempts (Error: refunds closed); fix the cause and redrive it.",
    );
  });
});

describe('the sentence of a run error, for hostile error messages', () => {
  it("is made for messages of many full stops not at their end ('....x', an echoed input), which took quadratic time to lose their final stops — some 3 s for 50,000 characters, on every run() that rejects", () => {
    // 250,000 characters: done at once in linear time; quadratic, some 2 minutes, past the test's timeout.
    const dots = `${'.'.repeat(250_000)}x`;
    const error = new SagaCompensationError(
      outcome(
        'compensation_failed',
        {
          reserve: { status: 'compensated', attempts: 1, compensation: { attempts: 1 } },
          charge: { status: 'compensation_failed', attempts: 1, compensation: { attempts: 1, error: { name: 'Error', message: dots } } },
          ship: { status: 'failed', attempts: 1 },
        },
        { failure: { stage: 'ship', error: { name: 'Error', message: `${dots}...` } }, compensationOrder: ['reserve'] },
      ),
    );
    // Its final full stops, and only those, are still dropped inside the sentence.
    expect(error.message).toContain(`(Error: ${dots}), and its rollback failed`);
    expect(error.message).toContain(`failed after 1 attempt (Error: ${dots});`);
  });
});

describe('SagaCancelledError', () => {
  it('says plainly that a run cancelled before any stage completed had nothing to undo', async () => {
    const run = createOrchestrator().start(saga, {}, { signal: AbortSignal.abort('customer left') });
    const settled = await run.outcome;
    expect(settled).toMatchObject({ status: 'cancelled', completionOrder: [], compensationOrder: [] });
    expect(runErrorFor(settled).message).toBe(
      `Saga 'order' run ${run.runId} was cancelled ("customer left") before any stage completed, so nothing needed undoing.`,
    );
    // The same sentence for a stage's own ctx.cancel, with `onCancel: 'keep'` too.
    const keep = defineSaga({ name: 'order', input: z.object({}), onCancel: 'keep' })
      .stage('reserve', { execute: ({ cancel }) => cancel('out of stock') })
      .build();
    const cancelled = await createOrchestrator().run(keep, {}).catch((error: unknown) => error);
    expect(cancelled).toBeInstanceOf(SagaCancelledError);
    expect((cancelled as SagaCancelledError).message).toBe(
      `Saga 'order' run ${(cancelled as SagaCancelledError).runId} was cancelled by stage 'reserve' ("out of stock") before any stage completed, so nothing needed undoing.`,
    );
  });

  it('still names what was rolled back, or kept, once a stage had completed', () => {
    const cancellation = { reason: 'customer left', by: 'external' };
    expect(new SagaCancelledError(outcome('cancelled', {}, { cancellation, compensationOrder: ['charge', 'reserve'] })).message).toBe(
      "Saga 'order' run run-1 was cancelled (\"customer left\"); rolled back 'charge', 'reserve'.",
    );
    expect(new SagaCancelledError(outcome('cancelled', {}, { cancellation })).message).toBe(
      "Saga 'order' run run-1 was cancelled (\"customer left\"); kept completed stage(s) 'reserve', 'charge' without rolling back.",
    );
  });
});

describe('isRunError', () => {
  it('accepts a run error of the saga, whatever its kind, and refuses others', () => {
    const failed = runErrorFor(outcome('compensated', {}, { failure, compensationOrder: ['charge', 'reserve'] }));
    expect(failed).toBeInstanceOf(SagaFailedError);
    expect(isRunError(saga, failed)).toBe(true);
    expect(isRunError(saga, runErrorFor(outcome('cancelled', {}, { cancellation: { reason: 'x', by: 'external' } })))).toBe(true);
    expect(isRunError(saga, new SagaCancelledError(outcome('cancelled', {})))).toBe(true);
    const otherSaga = defineSaga({ name: 'other', input: z.object({}) }).stage('a', { execute: async () => 1 }).build();
    expect(isRunError(otherSaga, failed)).toBe(false);
    expect(isRunError(saga, new Error('boom'))).toBe(false);
    expect(isRunError(saga, undefined)).toBe(false);
    expect(isRunError(saga, { saga: 'order', outputs: {} })).toBe(false);
  });

  it('types outputs with the saga stages once narrowed', () => {
    const error: unknown = runErrorFor(outcome('compensated', {}, { failure }));
    if (!isRunError(saga, error)) throw new Error('expected a run error of the saga');
    expect(error.outputs.reserve?.reservationId).toBe('r-1');
    expect(error.outputs.ship).toBeUndefined();
  });
});
