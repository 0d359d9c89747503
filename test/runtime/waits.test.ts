import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createOrchestrator,
  defineSaga,
  LeaseLostError,
  MemoryStore,
  NonRetryableError,
  RunNotFoundError,
  RunStateError,
  SagaDefinitionError,
  SagaError,
  SagaErrorCode,
  SagaFailedError,
  serializeError,
  SignalPayloadError,
  StoreUnavailableError,
  UnknownSignalError,
  WaitTimeoutError,
  WaitUntilError,
  type SagaEvent,
  type SagaRun,
  type SagaStore,
} from 'sagaflow';
import { createVirtualClock } from 'sagaflow/testing';
import { collect, trace } from '../support/collect.js';
import { deferred } from '../support/deferred.js';

const input = z.object({ cents: z.number() });

/** hold (compensates) → approval (signal 'approved', 60 s) → pay */
function approvalSaga(options: { hold?: () => Promise<void>; release?: () => Promise<void>; onTimeout?: { output: { by: string } } } = {}) {
  const log: string[] = [];
  const saga = defineSaga({ name: 'approval', input })
    .stage('hold', {
      execute: async ({ input }) => {
        await options.hold?.();
        log.push(`hold ${input.cents}`);
        return { holdId: `h-${input.cents}` };
      },
      compensate: async ({ output }) => {
        await options.release?.();
        log.push(`release ${output?.holdId ?? '?'}`);
      },
    })
    .waitForSignal('approval', {
      signal: 'approved',
      schema: z.object({ by: z.string().min(1) }),
      timeoutMs: 60_000,
      ...(options.onTimeout === undefined ? {} : { onTimeout: options.onTimeout }),
    })
    .stage('pay', {
      execute: async ({ results }) => {
        log.push(`pay, approved by ${results.approval.by}`);
        return `paid (${results.approval.by})`;
      },
    })
    .build();
  return { saga, log };
}

/** Resolves once the run's wait is journaled (durable). */
function waitStarted(run: SagaRun): Promise<SagaEvent> {
  return firstValueFrom(run.events$.pipe(filter((event) => event.type === 'wait.started')));
}

describe('signal waits', () => {
  it('a signal sent once the wait is reached completes the wait stage with its payload; later stages read it', async () => {
    const { saga, log } = approvalSaga();
    const orchestrator = createOrchestrator({ sagas: [saga], scheduler: createVirtualClock({ autoAdvance: false }) });
    const run = orchestrator.start(saga, { cents: 500 });
    await waitStarted(run);
    expect((await orchestrator.inspect(run.runId)).status).toBe('running');
    await expect(orchestrator.signal(run.runId, 'approved', { by: 'ann' }, { signalId: 'ticket-1' })).resolves.toEqual({
      accepted: true,
      signalId: 'ticket-1',
      delivered: 'waiting',
    });
    const outcome = await run.outcome;
    expect(outcome.status).toBe('completed');
    expect(outcome.outputs).toEqual({ hold: { holdId: 'h-500' }, approval: { by: 'ann' }, pay: 'paid (ann)' });
    expect(log).toEqual(['hold 500', 'pay, approved by ann']);
    expect(trace(await collect(run.events$))).toEqual([
      'run.started',
      'stage.started:hold',
      'stage.completed:hold',
      'stage.started:approval',
      'wait.started:approval',
      'signal.received:approval',
      'stage.completed:approval',
      'stage.started:pay',
      'stage.completed:pay',
      'run.completed',
    ]);
  });

  it('a signal sent before the wait is reached is journaled, buffered, and satisfies the wait as it starts', async () => {
    const gate = deferred();
    const { saga } = approvalSaga({ hold: () => gate.promise });
    const orchestrator = createOrchestrator({ sagas: [saga], scheduler: createVirtualClock({ autoAdvance: false }) });
    const run = orchestrator.start(saga, { cents: 7 });
    await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'stage.started')));
    await expect(orchestrator.signal(run.runId, 'approved', { by: 'early' })).resolves.toMatchObject({ accepted: true, delivered: 'buffered' });
    gate.resolve();
    const outcome = await run.outcome;
    expect(outcome.status).toBe('completed');
    expect(outcome.outputs.approval).toEqual({ by: 'early' });
    const events = await collect(run.events$);
    const received = events.find((event) => event.type === 'signal.received');
    const wait = events.find((event) => event.type === 'wait.started');
    expect(received).not.toHaveProperty('stage');
    expect(wait).toMatchObject({ kind: 'signal', signal: 'approved', signalId: (received as { signalId: string }).signalId });
  });

  it('without a signalId, each call is a new signal: the same payload sent twice is journaled twice, under two ids', async () => {
    const gate = deferred();
    const { saga } = approvalSaga({ hold: () => gate.promise });
    const orchestrator = createOrchestrator({ sagas: [saga], scheduler: createVirtualClock({ autoAdvance: false }) });
    const run = orchestrator.start(saga, { cents: 3 });
    await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'stage.started')));
    const first = await orchestrator.signal(run.runId, 'approved', { by: 'ann' });
    const second = await orchestrator.signal(run.runId, 'approved', { by: 'ann' });
    expect([first, second]).toEqual([
      { accepted: true, signalId: expect.any(String), delivered: 'buffered' },
      { accepted: true, signalId: expect.any(String), delivered: 'buffered' },
    ]);
    expect(first.signalId).not.toBe(second.signalId);
    gate.resolve();
    expect((await run.outcome).status).toBe('completed');
    const received = (await collect(run.events$)).filter((event) => event.type === 'signal.received');
    expect(received.map((event) => event.signalId)).toEqual([first.signalId, second.signalId]);
  });

  it('a duplicate signalId is a no-op: journaled once, reported as a duplicate', async () => {
    const { saga } = approvalSaga();
    const orchestrator = createOrchestrator({ sagas: [saga], scheduler: createVirtualClock({ autoAdvance: false }) });
    const run = orchestrator.start(saga, { cents: 1 });
    await waitStarted(run);
    await orchestrator.signal(run.runId, 'approved', { by: 'ann' }, { signalId: 'webhook-1' });
    await expect(orchestrator.signal(run.runId, 'approved', { by: 'bob' }, { signalId: 'webhook-1' })).resolves.toEqual({ accepted: false, signalId: 'webhook-1', duplicate: true });
    const outcome = await run.outcome;
    // Settled, the run still knows the id: the same signal again is a duplicate, not an error.
    await expect(orchestrator.signal(run.runId, 'approved', { by: 'bob' }, { signalId: 'webhook-1' })).resolves.toMatchObject({ duplicate: true });
    expect(outcome.outputs.approval).toEqual({ by: 'ann' });
    expect((await collect(run.events$)).filter((event) => event.type === 'signal.received')).toHaveLength(1);
  });

  it('refuses clearly: a bad payload (naming the field), an unknown signal (naming what the saga waits for), an unknown run, a settled run', async () => {
    const { saga } = approvalSaga();
    const orchestrator = createOrchestrator({ sagas: [saga], scheduler: createVirtualClock({ autoAdvance: false }) });
    const run = orchestrator.start(saga, { cents: 1 });
    await waitStarted(run);
    const bad = await orchestrator.signal(run.runId, 'approved', { by: 42 }).catch((error: unknown) => error);
    expect(bad).toBeInstanceOf(SignalPayloadError);
    expect((bad as SignalPayloadError).issues.map((issue) => issue.path)).toEqual(['payload.by']);
    expect((bad as SignalPayloadError).message).toMatch(/signal 'approved' to run .* of saga 'approval' \(stage 'approval'\)/);
    // A payload that throws when read, with a thrown value that throws when printed: still a SignalPayloadError.
    const unprintable = { toString: () => { throw new Error('toString threw'); } };
    const hostile = Object.defineProperty({}, 'by', { enumerable: true, get: () => { throw unprintable; } });
    const unreadable = await orchestrator.signal(run.runId, 'approved', hostile).catch((error: unknown) => error);
    expect(unreadable).toBeInstanceOf(SignalPayloadError);
    expect((unreadable as SignalPayloadError).issues[0]?.message).toMatch(/^could not be read: /);
    // Named at the field whose getter threw, as a payload the schema refuses is.
    expect((unreadable as SignalPayloadError).issues[0]?.path).toBe('payload.by');
    const unknown = await orchestrator.signal(run.runId, 'aproved', { by: 'ann' }).catch((error: unknown) => error);
    expect(unknown).toBeInstanceOf(UnknownSignalError);
    expect((unknown as UnknownSignalError).message).toContain("it waits for 'approved' (stage 'approval')");
    await expect(orchestrator.signal('no-such-run', 'approved', { by: 'ann' })).rejects.toBeInstanceOf(RunNotFoundError);
    expect((await orchestrator.store.load(run.runId))?.filter((event) => event.type === 'signal.received')).toEqual([]);
    expect((await orchestrator.inspect(run.runId)).stages.approval?.status).toBe('running');
    await orchestrator.signal(run.runId, 'approved', { by: 'ann' });
    await run.outcome;
    await expect(orchestrator.signal(run.runId, 'approved', { by: 'again' })).rejects.toBeInstanceOf(RunStateError);
  });

  it('refuses a signal to a run that is stopping or rolling back with RunStateError, and journals nothing of it', async () => {
    const slow = deferred();
    const slowStarted = deferred();
    const undo = deferred();
    const undoStarted = deferred();
    const saga = defineSaga({ name: 'stopping', input })
      .stage('hold', {
        after: [],
        execute: async () => 'held',
        compensate: async () => {
          undoStarted.resolve();
          await undo.promise;
        },
      })
      .stage('slow', {
        after: [],
        execute: async () => {
          slowStarted.resolve();
          await slow.promise; // ignores its signal: the run stays stopping until it settles
        },
      })
      .waitForSignal('approval', { signal: 'approved', schema: z.object({ by: z.string() }), after: ['hold'] })
      .build();
    const orchestrator = createOrchestrator({ sagas: [saga], scheduler: createVirtualClock({ autoAdvance: false }) });
    const run = orchestrator.start(saga, { cents: 1 });
    await Promise.all([waitStarted(run), slowStarted.promise]);
    await orchestrator.cancel(run.runId, 'customer withdrew');
    const stopping = await orchestrator.signal(run.runId, 'approved', { by: 'ann' }).catch((error: unknown) => error);
    expect(stopping).toBeInstanceOf(RunStateError);
    slow.resolve();
    await undoStarted.promise;
    expect((await orchestrator.inspect(run.runId)).status).toBe('compensating');
    const rollingBack = await orchestrator.signal(run.runId, 'approved', { by: 'ann' }).catch((error: unknown) => error);
    expect(rollingBack).toBeInstanceOf(RunStateError);
    undo.resolve();
    expect((await run.outcome).status).toBe('cancelled');
    expect((await collect(run.events$)).filter((event) => event.type === 'signal.received')).toEqual([]);
  });

  it('a wait that times out fails its stage and rolls back the stages before it', async () => {
    const clock = createVirtualClock({ now: 0, autoAdvance: false });
    const { saga, log } = approvalSaga();
    const orchestrator = createOrchestrator({ sagas: [saga], scheduler: clock });
    const run = orchestrator.start(saga, { cents: 900 });
    await waitStarted(run);
    await clock.advanceBy(59_999);
    expect((await orchestrator.inspect(run.runId)).status).toBe('running');
    await clock.advanceBy(1);
    const outcome = await run.outcome;
    expect(outcome.status).toBe('compensated');
    expect(outcome.failure).toMatchObject({ stage: 'approval', error: { name: 'WaitTimeoutError', code: 'WAIT_TIMEOUT' } });
    expect(outcome.compensationOrder).toEqual(['hold']);
    expect(log).toEqual(['hold 900', 'release h-900']);
  });

  it('a timed-out wait fails with the exported WaitTimeoutError: its code, its message naming saga, run, stage and signal, its fields as data', async () => {
    const { saga } = approvalSaga();
    const orchestrator = createOrchestrator({ sagas: [saga], scheduler: createVirtualClock() });
    const failed = await orchestrator.run(saga, { cents: 7 }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(SagaFailedError);
    const { outcome } = failed as SagaFailedError;
    const expected = new WaitTimeoutError('approval', outcome.runId, 'approval', 'approved', 60_000);
    expect(expected).toBeInstanceOf(SagaError);
    expect(expected.code).toBe(SagaErrorCode.WaitTimeout);
    const { stack: _stack, ...journaled } = serializeError(expected);
    expect(outcome.failure?.error).toEqual(journaled);
    expect(outcome.failure?.error.code).toBe(SagaErrorCode.WaitTimeout);
    expect(outcome.failure?.error.message).toBe(`Stage 'approval' of saga 'approval' run ${outcome.runId} waited 60000 ms for signal 'approved', which did not come.`);
    expect(outcome.stages.approval?.error).toEqual(journaled);
  });

  it('with onTimeout, a wait that times out completes with the fallback', async () => {
    const { saga } = approvalSaga({ onTimeout: { output: { by: 'nobody' } } });
    const outcome = await createOrchestrator({ sagas: [saga], scheduler: createVirtualClock() }).start(saga, { cents: 3 }).outcome;
    expect(outcome.status).toBe('completed');
    expect(outcome.outputs.pay).toBe('paid (nobody)');
  });

  it("with onTimeout and a schema that transforms the payload, the fallback is a payload as sent, and the stage's output is what the schema returns for it", async () => {
    // Before, the fallback was typed as the schema's output but checked against its input: `{ cents: 0 }` was
    // refused at build(), `{ cents: '0' }` was a type error, and forced through, the output held the string.
    const saga = defineSaga({ name: 'tip', input: z.object({}) })
      .waitForSignal('tip', { signal: 'tipped', schema: z.object({ cents: z.string().transform(Number) }), timeoutMs: 1_000, onTimeout: { output: { cents: '0' } } })
      .stage('thank', { execute: ({ results }) => `thanks for ${results.tip.cents + 0} cents` })
      .build();
    const outcome = await createOrchestrator({ scheduler: createVirtualClock() }).start(saga, {}).outcome;
    expect(outcome.status).toBe('completed');
    expect(outcome.outputs.tip).toEqual({ cents: 0 });
    expect(outcome.outputs.thank).toBe('thanks for 0 cents');
    // A fallback whose parsed value is not JSON is refused at build(), naming the field.
    expect(() =>
      defineSaga({ name: 'dated-fallback', input: z.object({}) })
        // @ts-expect-error a schema that returns a Date is a compile error too; this is what untyped code meets
        .waitForSignal('when', { signal: 'at', schema: z.object({ at: z.string().transform((text) => new Date(text)) }), timeoutMs: 1, onTimeout: { output: { at: '2026-01-01' } } })
        .build(),
    ).toThrow(/stages\.when\.onTimeout\.output\.at.*as the signal's schema returns it, is not plain JSON/);
  });

  it('reads an onTimeout fallback once, where the wait is declared, and reports at build() a schema that is not one or whose transform throws', () => {
    // The schema given was read at the .waitForSignal() call: a value that is not a schema threw a
    // TypeError there, a throwing transform escaped build() raw, and every fallback was parsed twice.
    let reads = 0;
    const counted = z.object({ by: z.string().transform((by) => (reads++, by)) });
    defineSaga({ name: 'counted', input: z.object({}) }).waitForSignal('w', { signal: 'a', schema: counted, timeoutMs: 1, onTimeout: { output: { by: 'nobody' } } }).build();
    expect(reads).toBe(1);
    const notASchema = defineSaga({ name: 'not-a-schema', input: z.object({}) }).waitForSignal('w', { signal: 'a', schema: 'nope' as never, timeoutMs: 1, onTimeout: { output: 1 } });
    expect(() => notASchema.build()).toThrow(SagaDefinitionError);
    expect(() => notASchema.build()).toThrow(/stages\.w\.schema: must be a zod schema/);
    const throwing = z.object({
      by: z.string().transform(() => {
        throw new Error('transform blew up');
      }),
    });
    expect(() => defineSaga({ name: 'throwing', input: z.object({}) }).waitForSignal('w', { signal: 'a', schema: throwing, timeoutMs: 1, onTimeout: { output: { by: 'x' } } }).build()).toThrow(
      /stages\.w\.onTimeout\.output: could not be read by the signal's schema: it threw Error: transform blew up/,
    );
  });

  it('cancel during a wait settles the wait, clears its timer and compensates the stages before it', async () => {
    const releasing = deferred();
    const release = deferred();
    const { saga, log } = approvalSaga({
      release: () => {
        releasing.resolve();
        return release.promise;
      },
    });
    const clock = createVirtualClock({ autoAdvance: false });
    const orchestrator = createOrchestrator({ sagas: [saga], scheduler: clock });
    const run = orchestrator.start(saga, { cents: 40 });
    await waitStarted(run);
    expect(clock.pendingTimers).toBe(1);
    await orchestrator.cancel(run.runId, 'customer withdrew');
    await releasing.promise;
    expect(clock.pendingTimers).toBe(0); // during the rollback, not only once the run has ended
    release.resolve();
    const outcome = await run.outcome;
    expect(outcome.status).toBe('cancelled');
    expect(outcome.stages.approval?.status).toBe('cancelled');
    expect(clock.pendingTimers).toBe(0);
    expect(outcome.compensationOrder).toEqual(['hold']);
    expect(log).toEqual(['hold 40', 'release h-40']);
  });
});

describe('signals across orchestrators', () => {
  it('a signal sent by a process that does not own the run is recorded in the store, and its owner delivers it', async () => {
    const { saga } = approvalSaga();
    const store = new MemoryStore();
    // A lease a loaded machine cannot let lapse between heartbeats (a third of it): the owner stays live throughout.
    const owner = createOrchestrator({ store, sagas: [saga], leaseMs: 3_000 });
    const other = createOrchestrator({ store, sagas: [saga], leaseMs: 3_000 });
    const run = owner.start(saga, { cents: 5 });
    await waitStarted(run);
    await expect(other.signal(run.runId, 'approved', { by: 'remote' }, { signalId: 'remote-1' })).resolves.toEqual({
      accepted: true,
      signalId: 'remote-1',
      delivered: 'waiting',
    });
    const outcome = await run.outcome;
    expect(outcome.outputs.approval).toEqual({ by: 'remote' });
    const received = (await collect(run.events$)).filter((event) => event.type === 'signal.received');
    // Redelivered with every heartbeat until the run settled, journaled once.
    expect(received).toHaveLength(1);
    await expect(other.signal(run.runId, 'approved', { by: 'remote' }, { signalId: 'remote-1' })).resolves.toMatchObject({ duplicate: true });
    await Promise.all([owner.close(), other.close()]);
  });

  it('one signalId sent by two processes at once with different payloads is journaled once, and the sender whose payload was dropped is told it was a duplicate', async () => {
    const { saga } = approvalSaga();
    const store = new MemoryStore();
    const owner = createOrchestrator({ store, sagas: [saga], leaseMs: 3_000 });
    const ann = createOrchestrator({ store, sagas: [saga], leaseMs: 3_000 });
    const bob = createOrchestrator({ store, sagas: [saga], leaseMs: 3_000 });
    const run = owner.start(saga, { cents: 5 });
    await waitStarted(run);
    // Both are recorded in the store before the owner's next heartbeat delivers the first: one request is kept.
    const [fromAnn, fromBob] = await Promise.all([
      ann.signal(run.runId, 'approved', { by: 'ann' }, { signalId: 'webhook-7' }),
      bob.signal(run.runId, 'approved', { by: 'bob' }, { signalId: 'webhook-7' }),
    ]);
    const outcome = await run.outcome;
    expect(outcome.outputs.approval).toEqual({ by: 'ann' });
    expect(fromAnn).toEqual({ accepted: true, signalId: 'webhook-7', delivered: 'waiting' });
    // Bob's payload never made it into the run: "accepted" would be a lie (it is what a second send in one process is told).
    expect(fromBob).toEqual({ accepted: false, signalId: 'webhook-7', duplicate: true });
    await Promise.all([owner.close(), ann.close(), bob.close()]);
  });

  it('a signal to a run nobody drives, which another process takes over first (its own signal), is handed to that owner, not refused', async () => {
    const saga = defineSaga({ name: 'two-approvals', input })
      .waitForSignal('finance', { signal: 'finance', schema: z.object({ by: z.string() }), timeoutMs: 60_000 })
      .waitForSignal('legal', { signal: 'legal', schema: z.object({ by: z.string() }), timeoutMs: 60_000, after: [] })
      .stage('pay', { after: ['finance', 'legal'], execute: async ({ results }) => `paid (${results.finance.by}, ${results.legal.by})` })
      .build();
    const store = new MemoryStore();
    const first = createOrchestrator({ store, sagas: [saga], leaseMs: 3_000 });
    const run = first.start(saga, { cents: 5 });
    await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'wait.started' && event.stage === 'legal')));
    // Its process stops without settling it: the run is left in the store, nobody's.
    await first.close({ timeoutMs: 1 });
    expect(await store.leaseOf(run.runId)).toBeUndefined();
    const ann = createOrchestrator({ store, sagas: [saga], leaseMs: 3_000 });
    const bob = createOrchestrator({ store, sagas: [saga], leaseMs: 3_000 });
    // Both find the run nobody's and try to take it over; one does, the other must ask it.
    const results = await Promise.all([
      ann.signal(run.runId, 'finance', { by: 'ann' }, { signalId: 'finance-1' }),
      bob.signal(run.runId, 'legal', { by: 'bob' }, { signalId: 'legal-1' }),
    ]);
    expect(results).toEqual([
      { accepted: true, signalId: 'finance-1', delivered: 'waiting' },
      { accepted: true, signalId: 'legal-1', delivered: 'waiting' },
    ]);
    await firstValueFrom(ann.watch(run.runId).pipe(filter((event) => event.type === 'run.completed')));
    expect((await ann.inspect(run.runId)).outputs.pay).toBe('paid (ann, bob)');
    await Promise.all([ann.close(), bob.close()]);
  });

  /**
   * A run of the approval saga left waiting (60 s timeout) by a process that stopped, and a
   * process two hours later: the wait's deadline passed while nobody drove the run.
   */
  async function leftWaitingPastItsDeadline(onTimeout?: { output: { by: string } }) {
    const { saga, log } = approvalSaga(onTimeout === undefined ? {} : { onTimeout });
    const store = new MemoryStore();
    const startedAt = Date.UTC(2026, 0, 1);
    const first = createOrchestrator({ store, sagas: [saga], scheduler: createVirtualClock({ now: startedAt, autoAdvance: false }) });
    const run = first.start(saga, { cents: 5 });
    await waitStarted(run);
    await first.close({ timeoutMs: 1 });
    const later = createOrchestrator({ store, sagas: [saga], scheduler: createVirtualClock({ now: startedAt + 2 * 3_600_000 }) });
    return { log, run, later };
  }

  it('a signal sent after the deadline of a wait nobody drove is late: the wait times out, as it would have in a live process, and the signal is refused', async () => {
    const { log, run, later } = await leftWaitingPastItsDeadline();
    // signal() takes the run over to deliver it; the deadline passed two hours ago.
    const refused = await later.signal(run.runId, 'approved', { by: 'late-ann' }, { signalId: 'late' }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RunStateError);
    const outcome = await later.inspect(run.runId);
    expect(outcome.status).toBe('compensated');
    expect(outcome.failure?.error.code).toBe(SagaErrorCode.WaitTimeout);
    expect(outcome.outputs).not.toHaveProperty('approval');
    expect(log).toEqual(['hold 5', 'release h-5']);
    await later.close();
  });

  it('with onTimeout, a signal sent after the deadline of a wait nobody drove is buffered: the wait completes with the fallback', async () => {
    const { log, run, later } = await leftWaitingPastItsDeadline({ output: { by: 'nobody' } });
    const late = await later.signal(run.runId, 'approved', { by: 'late-ann' }, { signalId: 'late' });
    expect(late).toEqual({ accepted: true, signalId: 'late', delivered: 'buffered' });
    await firstValueFrom(later.watch(run.runId).pipe(filter((event) => event.type === 'run.completed')));
    expect((await later.inspect(run.runId)).outputs.approval).toEqual({ by: 'nobody' });
    expect(log).toEqual(['hold 5', 'pay, approved by nobody']);
    await later.close();
  });

  it('a signal recorded in time for an owner that froze is on time, though the run is taken over past the deadline: the signal wins, as it was sent before the timeout', async () => {
    const { saga, log } = approvalSaga();
    const startedAt = Date.UTC(2026, 0, 1);
    // The store's clock and the sender's; the owner's own clock never moves (it froze: no timer of its fires).
    const clock = createVirtualClock({ now: startedAt, autoAdvance: false });
    const store = new MemoryStore({ now: () => clock.now() });
    const frozen = createOrchestrator({ store, sagas: [saga], leaseMs: 120_000, scheduler: createVirtualClock({ now: startedAt, autoAdvance: false }) });
    const run = frozen.start(saga, { cents: 5 });
    await waitStarted(run);
    // 10 s into the 60-s wait: the owner's lease is live, so the request is recorded for it.
    await clock.advanceBy(10_000);
    const recorded = deferred();
    const requestSignal = store.requestSignal.bind(store);
    store.requestSignal = async (request) => {
      await requestSignal(request);
      recorded.resolve();
    };
    const sender = createOrchestrator({ store, sagas: [saga], scheduler: clock });
    const sent = sender.signal(run.runId, 'approved', { by: 'ann' }, { signalId: 'in-time' }).catch((error: unknown) => error);
    await recorded.promise;
    // The owner never journals it. Its lease lapses 2 min in, past the wait's deadline: the sender takes the run over.
    await clock.advanceBy(130_000);
    expect(await sent).toEqual({ accepted: true, signalId: 'in-time', delivered: 'waiting' });
    const outcome = await sender.inspect(run.runId);
    expect(outcome.status).toBe('completed');
    expect(outcome.outputs.approval).toEqual({ by: 'ann' });
    expect(log).toEqual(['hold 5', 'pay, approved by ann']);
    await sender.close();
    await frozen.close({ timeoutMs: 1 });
  });

  /**
   * A run of the approval saga waiting for its signal, started by `first`, which froze past its
   * lease, and taken over by `second`: `first` still believes it drives it (a long lease: it does
   * not heartbeat, and learn it lost the run, during the test), and its appends are fenced.
   */
  async function takenOverFromFrozenOwner() {
    const { saga, log } = approvalSaga();
    // The store's clock, moved by hand: the first owner's lease runs out when the test says so.
    let now = 1_000_000;
    const store = new MemoryStore({ now: () => now });
    const first = createOrchestrator({ store, sagas: [saga], leaseMs: 60_000, ownerId: 'first' });
    const second = createOrchestrator({ store, sagas: [saga], leaseMs: 3_000, ownerId: 'second' });
    const run = first.start(saga, { cents: 7 });
    await waitStarted(run);
    now += 120_000;
    const taken = second.resume(run.runId);
    await firstValueFrom(taken.events$.pipe(filter((event) => event.type === 'run.resumed')));
    return { log, first, second, run, taken };
  }

  it('a signal sent by a process whose run another process has just taken over (it froze past its lease) reaches the new owner, not a false "stopped going forward"', async () => {
    const { first, second, run, taken } = await takenOverFromFrozenOwner();
    // The first still believes it drives the run: its append of the signal is refused (LeaseLostError).
    await expect(first.signal(run.runId, 'approved', { by: 'ann' }, { signalId: 'late-1' })).resolves.toEqual({ accepted: true, signalId: 'late-1', delivered: 'waiting' });
    const outcome = await taken.outcome;
    expect(outcome.status).toBe('completed');
    expect(outcome.outputs.approval).toEqual({ by: 'ann' });
    await expect(run.outcome).rejects.toThrow(LeaseLostError);
    await Promise.all([first.close(), second.close()]);
  });

  it('a cancel from a process whose run another process has just taken over (it froze past its lease) is carried out by the new owner, not lost', async () => {
    const { log, first, second, run, taken } = await takenOverFromFrozenOwner();
    // Accepted here, by a process that still believes it drives the run; its run.cancelling is fenced.
    await first.cancel(run.runId, 'customer withdrew');
    await expect(run.outcome).rejects.toThrow(LeaseLostError);
    // The run waits for a signal for a minute: only the cancel, passed on through the store, ends it now.
    const outcome = await taken.outcome;
    expect([outcome.status, outcome.cancellation]).toEqual(['cancelled', { reason: 'customer withdrew', by: 'external' }]);
    expect(log).toEqual(['hold 7', 'release h-7']);
    await Promise.all([first.close(), second.close()]);
  });

  it('a signal whose append the store refuses (a database outage) rejects with that store error, not a false "stopped going forward": the run is halted, resumable, and the signal can be sent again', async () => {
    const { saga } = approvalSaga();
    const memory = new MemoryStore();
    let down = false;
    const store: SagaStore = Object.assign(Object.create(memory) as MemoryStore, {
      append: (request: Parameters<SagaStore['append']>[0]) => (down ? Promise.reject(new StoreUnavailableError('test store', 'it is restarting')) : memory.append(request)),
    });
    const orchestrator = createOrchestrator({ store, sagas: [saga], onError: () => undefined });
    const run = orchestrator.start(saga, { cents: 3 });
    await waitStarted(run);
    down = true;
    const sent = orchestrator.signal(run.runId, 'approved', { by: 'ann' }, { signalId: 'retry-me' });
    await expect(run.outcome).rejects.toThrow(StoreUnavailableError);
    // The store is back by the time the caller hears: the run is halted (still 'running' in the store), not stopped.
    down = false;
    await expect(sent).rejects.toThrow(StoreUnavailableError);
    const again = await orchestrator.signal(run.runId, 'approved', { by: 'ann' }, { signalId: 'retry-me' });
    expect(again).toEqual({ accepted: true, signalId: 'retry-me', delivered: 'waiting' });
    await orchestrator.close();
  });

  it('refuses a timeoutMs that is not a finite number of milliseconds > 0, before anything is recorded', async () => {
    const { saga } = approvalSaga();
    const orchestrator = createOrchestrator({ sagas: [saga], scheduler: createVirtualClock({ autoAdvance: false }) });
    const run = orchestrator.start(saga, { cents: 1 });
    await waitStarted(run);
    for (const timeoutMs of [0, -1, Number.NaN, Infinity, '5' as unknown as number]) {
      await expect(orchestrator.signal(run.runId, 'approved', { by: 'ann' }, { timeoutMs })).rejects.toThrow(/timeoutMs must be a finite number of milliseconds > 0/);
    }
    expect((await orchestrator.inspect(run.runId)).stages.approval?.status).toBe('running');
    run.cancel('done');
    await run.outcome;
  });

  it('refuses a signalId no store can keep or a log can print as it is (a webhook delivery id with a newline, a NUL, empty, over 200 characters, a lone surrogate), before anything is recorded', async () => {
    const { saga } = approvalSaga();
    const orchestrator = createOrchestrator({ sagas: [saga], scheduler: createVirtualClock({ autoAdvance: false }) });
    const run = orchestrator.start(saga, { cents: 1 });
    await waitStarted(run);
    await expect(orchestrator.signal(run.runId, 'approved', { by: 'ann' }, { signalId: 'delivery-1\nINFO approved' })).rejects.toThrow(
      `signal() of run ${run.runId}: signalId must not contain control characters (it holds "\\n" at index 10).`,
    );
    await expect(orchestrator.signal(run.runId, 'approved', { by: 'ann' }, { signalId: 'a\u0000b' })).rejects.toThrow('signalId must not contain NUL');
    await expect(orchestrator.signal(run.runId, 'approved', { by: 'ann' }, { signalId: '' })).rejects.toThrow('signalId must be a non-empty string');
    await expect(orchestrator.signal(run.runId, 'approved', { by: 'ann' }, { signalId: 'x'.repeat(201) })).rejects.toThrow(
      `signal() of run ${run.runId}: signalId must be at most 200 characters (got 201).`,
    );
    await expect(orchestrator.signal(run.runId, 'approved', { by: 'ann' }, { signalId: 'half \ud800' })).rejects.toThrow(
      'signalId must be well-formed Unicode (it holds a lone surrogate)',
    );
    expect(((await orchestrator.store.load(run.runId)) ?? []).filter((event) => event.type === 'signal.received')).toEqual([]);
    run.cancel('done');
    await run.outcome;
  });
});

describe('timer waits', () => {
  it('sleeps for a duration or until an instant computed from the input, on the virtual clock', async () => {
    const clock = createVirtualClock({ now: 1_000 });
    const saga = defineSaga({ name: 'cool-off', input: z.object({ releaseAt: z.number() }) })
      .sleep('short', { durationMs: 5_000 })
      .sleep('until', { until: ({ input }) => new Date(input.releaseAt) })
      .stage('after', { execute: async () => 'done' })
      .build();
    const run = createOrchestrator({ sagas: [saga], scheduler: clock }).start(saga, { releaseAt: 60_000 });
    const [outcome, events] = await Promise.all([run.outcome, collect(run.events$)]);
    expect(outcome.status).toBe('completed');
    const waits = events.filter((event) => event.type === 'wait.started');
    expect(waits.map((event) => [event.stage, event.dueAt])).toEqual([
      ['short', 6_000],
      ['until', 60_000],
    ]);
    expect(events.find((event) => event.type === 'stage.started' && event.stage === 'after')?.at).toBe(60_000);
  });
});

describe('sleeps at the edges', () => {
  it('an instant in the past completes the wait at once', async () => {
    const clock = createVirtualClock({ now: 50_000, autoAdvance: false });
    const saga = defineSaga({ name: 'overdue', input: z.object({ releaseAt: z.number() }) })
      .sleep('until', { until: ({ input }) => input.releaseAt })
      .build();
    const run = createOrchestrator({ sagas: [saga], scheduler: clock }).start(saga, { releaseAt: 10_000 });
    const outcome = await run.outcome; // the clock never advances: a timer would never fire
    expect(outcome.status).toBe('completed');
    expect(clock.now()).toBe(50_000);
    expect((await collect(run.events$)).find((event) => event.type === 'wait.started')).toMatchObject({ stage: 'until', dueAt: 10_000 });
  });

  it('a waiting stage counts as in flight for the saga’s concurrency', async () => {
    const clock = createVirtualClock({ now: 0 });
    const saga = defineSaga({ name: 'one-at-a-time', input, concurrency: 1 })
      .sleep('cool-off', { durationMs: 1_000, after: [] })
      .stage('work', { after: [], execute: async () => 'done' })
      .build();
    const run = createOrchestrator({ sagas: [saga], scheduler: clock }).start(saga, { cents: 1 });
    const [outcome, events] = await Promise.all([run.outcome, collect(run.events$)]);
    expect(outcome.status).toBe('completed');
    expect(trace(events).slice(1, 5)).toEqual(['stage.started:cool-off', 'wait.started:cool-off', 'stage.completed:cool-off', 'stage.started:work']);
    expect(events.find((event) => event.type === 'stage.started' && event.stage === 'work')?.at).toBe(1_000);
  });
});

describe("a sleep's until() that returns no instant", () => {
  const { proxy: revoked, revoke } = Proxy.revocable(new Date(0), {});
  revoke();
  const cases: Array<[string, () => unknown, string]> = [
    ['a revoked Proxy', () => revoked, 'a Proxy'],
    ['a Proxy of a Date', () => new Proxy(new Date(0), {}), 'a Proxy'],
    ['NaN', () => Number.NaN, 'NaN'],
    ['Infinity', () => Infinity, 'Infinity'],
    ['an invalid Date', () => new Date('not a date'), 'an invalid Date'],
    ['a string', () => '2030-01-01', '"2030-01-01"'],
    ['undefined', () => undefined, 'undefined'],
    ['an object', () => ({ getTime: () => 0 }), 'an object that is not a Date'],
  ];

  it.each(cases)('%s fails the stage at once, not retryable, naming saga, stage and what came back', async (_label, until, problem) => {
    const log: string[] = [];
    const retryable: boolean[] = [];
    const saga = defineSaga({ name: 'cool-off', input: z.object({}) })
      .stage('hold', { execute: async () => 'held', compensate: async () => void log.push('released') })
      .sleep('until', { until: until as () => Date })
      .stage('after', { execute: async () => 'done' })
      .build();
    const orchestrator = createOrchestrator({
      sagas: [saga],
      scheduler: createVirtualClock(),
      instrumentation: { drive: () => ({ attempt: (info) => (info.stage === 'until' ? { invoke: (call) => call(), end: (result) => void (result.ok || retryable.push(result.retryable)) } : undefined) }) },
    });
    const run = orchestrator.start(saga, {});
    const [outcome, events] = await Promise.all([run.outcome, collect(run.events$)]);
    expect(outcome.status).toBe('compensated');
    expect(outcome.failure?.stage).toBe('until');
    expect(outcome.failure?.error).toMatchObject({ name: 'WaitUntilError', code: SagaErrorCode.WaitUntilInvalid });
    expect(outcome.failure?.error.message).toBe(
      `until() of wait stage 'until' of saga 'cool-off' run ${run.runId} returned ${problem}, not a valid Date or a finite number of epoch ms.`,
    );
    expect(retryable).toEqual([false]);
    expect(events.filter((event) => event.type === 'stage.retrying' || event.type === 'wait.started')).toEqual([]);
    expect(log).toEqual(['released']);
  });

  it('WaitUntilError is a NonRetryableError with a code of its own', () => {
    const error = new WaitUntilError('cool-off', 'run-1', 'until', 'NaN');
    expect(error).toBeInstanceOf(NonRetryableError);
    expect(error.code).toBe('WAIT_UNTIL_INVALID');
    expect(error.message).toBe("until() of wait stage 'until' of saga 'cool-off' run run-1 returned NaN, not a valid Date or a finite number of epoch ms.");
  });
});

describe('many waiting runs', () => {
  it('10,000 runs waiting at once are all woken by a burst of signals', async () => {
    const saga = defineSaga({ name: 'burst', input: z.object({ n: z.number() }) })
      .waitForSignal('go', { signal: 'go', schema: z.object({ n: z.number() }) })
      .stage('done', { execute: async ({ results }) => results.go.n })
      .build();
    const orchestrator = createOrchestrator({ sagas: [saga], store: new MemoryStore() });
    const runs = Array.from({ length: 10_000 }, (_, n) => orchestrator.start(saga, { n }));
    await Promise.all(runs.map((run) => waitStarted(run)));
    const results = await Promise.all(runs.map((run, n) => orchestrator.signal(run.runId, 'go', { n })));
    expect(results.every((result) => result.accepted && result.delivered === 'waiting')).toBe(true);
    const outcomes = await Promise.all(runs.map((run) => run.outcome));
    expect(outcomes.every((outcome, n) => outcome.status === 'completed' && outcome.outputs.done === n)).toBe(true);
  }, 60_000);
});
