import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineSaga, MemoryStore, SignalPayloadError } from 'sagaflow';
import { crashAfter, createSagaTest, createVirtualClock } from 'sagaflow/testing';

const released: string[] = [];
const approval = defineSaga({ name: 'kit-approval', input: z.object({ cents: z.number() }) })
  .stage('hold', { execute: ({ input }) => ({ held: input.cents }), compensate: ({ output }) => void released.push(`release ${output?.held ?? '?'}`) })
  .waitForSignal('approve', { signal: 'approved', schema: z.object({ by: z.string() }), timeoutMs: 15 * 60_000 })
  .sleep('cool-off', { durationMs: 60_000 })
  .stage('pay', { execute: ({ results }) => `paid, approved by ${results.approve.by}` })
  .build();

describe('sagaflow/testing and waits', () => {
  it('run(…, { signals }) answers a wait as it starts, before virtual time reaches its timeout; the timer wait then elapses at once', async () => {
    const h = createSagaTest();
    const result = await h.run(approval, { cents: 10 }, { signals: { approved: { by: 'ann' } } });
    expect(result.outcome.status).toBe('completed');
    expect(result.outcome.outputs.pay).toBe('paid, approved by ann');
    const wait = result.journal.find((event) => event.type === 'wait.started' && event.stage === 'cool-off');
    const woke = result.journal.find((event) => event.type === 'stage.completed' && event.stage === 'cool-off');
    expect(woke?.at).toBe((wait?.at ?? 0) + 60_000);
  });

  it('when every run waits, virtual time jumps to the next due timer: an unanswered wait times out and rolls back', async () => {
    released.length = 0;
    const h = createSagaTest();
    const started = h.clock.now();
    const result = await h.run(approval, { cents: 20 });
    expect(result.outcome.status).toBe('compensated');
    expect(result.outcome.failure?.error.code).toBe('WAIT_TIMEOUT');
    expect(released).toEqual(['release 20']);
    expect(h.clock.now() - started).toBe(15 * 60_000);
  });

  it("run(…, { signals }) with a payload the wait's schema refuses rejects with SignalPayloadError, and leaves no run behind (a wait without timeoutMs never ended: the run, and the test, hung; close() then waited for it for ever)", async () => {
    const forever = defineSaga({ name: 'kit-forever', input: z.object({}) })
      .stage('hold', { execute: () => 'held', compensate: () => undefined })
      .waitForSignal('approve', { signal: 'approved', schema: z.object({ by: z.string() }) })
      .build();
    const h = createSagaTest();
    // @ts-expect-error the payload's type is checked at compile time too; this is what untyped code meets
    const refused = await h.run(forever, {}, { signals: { approved: { by: 42 } } }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(SignalPayloadError);
    expect((refused as SignalPayloadError).issues[0]?.path).toBe('payload.by');
    const [run] = await h.store.listRuns({});
    expect(run?.status).toBe('cancelled');
    expect((await h.orchestrator.inspect(run?.runId ?? '')).cancellation).toEqual({ reason: "the test harness could not send signal 'approved'", by: 'external' });
    await h.close();
  });

  it('run(…, { signals }) naming a signal no stage of the saga waits for (a typo) rejects with a TypeError before anything is started; it was never sent, and the wait timed out', async () => {
    const h = createSagaTest();
    // @ts-expect-error the name is checked at compile time too; this is what untyped code meets
    await expect(h.run(approval, { cents: 40 }, { signals: { aproved: { by: 'ann' } } })).rejects.toThrow(
      "createSagaTest().run(): options.signals names signal 'aproved', which no stage of saga 'kit-approval' waits for (it waits for 'approved' (stage 'approve')).",
    );
    expect(await h.store.listRuns({})).toEqual([]);
    await h.close();
  });

  it('crashAfter works across a wait: a second harness on the same store resumes it, and a signal sent then completes it', async () => {
    const store = new MemoryStore();
    const first = createSagaTest({ store, faults: [crashAfter((event) => event.type === 'wait.started')] });
    const crashed = await first.run(approval, { cents: 30 });
    expect(crashed.crashed).toBe(true);
    expect(crashed.trace.at(-1)).toBe('wait.started:approve');
    const second = createSagaTest({ store, sagas: [approval] });
    const resumed = second.resume(crashed.runId);
    await expect(second.signal(crashed.runId, 'approved', { by: 'bob' })).resolves.toMatchObject({ accepted: true, delivered: 'waiting' });
    const result = await resumed;
    expect(result.outcome.status).toBe('completed');
    expect(result.outcome.outputs.pay).toBe('paid, approved by bob');
    expect(result.journal.filter((event) => event.type === 'wait.started' && event.stage === 'approve')).toHaveLength(1);
  });

  it('resume(runId, { signals }) answers the wait a crash left open, before an auto-advancing clock times it out, and does not answer a wait its replay shows was already over', async () => {
    const approver = z.object({ by: z.string() });
    const twice = defineSaga({ name: 'kit-twice', input: z.object({ cents: z.number() }) })
      .stage('hold', { execute: ({ input }) => ({ held: input.cents }), compensate: () => undefined })
      .waitForSignal('first', { signal: 'approved', schema: approver, timeoutMs: 15 * 60_000 })
      .waitForSignal('second', { signal: 'approved', schema: approver, timeoutMs: 15 * 60_000 })
      .waitForSignal('third', { signal: 'approved', schema: approver, timeoutMs: 15 * 60_000 })
      .stage('pay', { execute: ({ results }) => `paid, approved by ${results.first.by}, ${results.second.by} and ${results.third.by}` })
      .build();
    const store = new MemoryStore();
    // The first wait is answered by the test's own signal; the process dies as the second starts.
    const first = createSagaTest({ store, faults: [crashAfter((event) => event.type === 'wait.started' && event.stage === 'second')], clock: createVirtualClock({ autoAdvance: false }) });
    const firstWait = firstValueFrom(first.orchestrator.events$.pipe(filter((event) => event.type === 'wait.started' && event.stage === 'first')));
    const pending = first.run(twice, { cents: 5 }, { runId: 'kit-twice-1' });
    await firstWait;
    await first.signal('kit-twice-1', 'approved', { by: 'ann' }, { signalId: 'ann-1' });
    const crashed = await pending;
    expect(crashed.crashed).toBe(true);

    // A harness whose clock jumps: without the answer, the resumed wait would time out at once.
    const h = createSagaTest({ store, sagas: [twice] });
    const resumed = await h.resume(crashed.runId, { saga: twice, signals: { approved: { by: 'bob' } } });
    expect(resumed.outcome.status).toBe('completed');
    // The open wait is answered as the run is picked up, the third as it starts. The first, which its replay shows
    // answered already, is not: such an answer (test-first-…) was buffered, and taken by the third wait.
    const received = resumed.journal.flatMap((event) => (event.type === 'signal.received' ? [`${event.stage ?? 'buffered'} ${event.signalId}`] : []));
    expect(received).toEqual(['first ann-1', expect.stringMatching(/^second test-second-\d+$/), expect.stringMatching(/^third test-third-\d+$/)]);
    expect(resumed.outcome.outputs.pay).toBe('paid, approved by ann, bob and bob');
    await expect(h.resume(crashed.runId, { saga: twice, signals: { aproved: { by: 'bob' } } as never })).rejects.toThrow(
      "createSagaTest().resume(): options.signals names signal 'aproved', which no stage of saga 'kit-twice' waits for",
    );
  });

  it('warns on the console when a run waits for a signal with no timeout that run()\'s signals does not answer (a test that forgot it hung silently until its timeout); the run goes on when the test sends it', async () => {
    const forever = defineSaga({ name: 'kit-unanswered', input: z.object({}) })
      .stage('hold', { execute: () => 'held', compensate: () => undefined })
      .waitForSignal('approve', { signal: 'approved', schema: z.object({ by: z.string() }) })
      .build();
    let warned: (message: string) => void = () => undefined;
    const warning = new Promise<string>((resolve) => (warned = resolve));
    const warn = vi.spyOn(console, 'warn').mockImplementation((message: unknown) => warned(String(message)));
    try {
      const h = createSagaTest({ unansweredSignalWarningMs: 20 });
      const pending = h.run(forever, {}, { runId: 'forgot-signals' });
      expect(await warning).toBe(
        "sagaflow/testing: run forgot-signals of saga 'kit-unanswered' has waited 20 ms (real time) for signal 'approved' (stage 'approve'), with no timeoutMs, and run()'s signals option does not answer it: " +
          'it waits until something sends it (h.signal(runId, name, payload)), or for ever. Pass signals: { name: payload } to run(), or give the wait a timeoutMs.',
      );
      // Nothing was changed: the test may still send it.
      await h.signal('forgot-signals', 'approved', { by: 'ann' });
      expect((await pending).outcome.status).toBe('completed');
      expect(warn).toHaveBeenCalledTimes(1);
      await h.close();
    } finally {
      warn.mockRestore();
    }
  });

  it('refuses an unansweredSignalWarningMs that is not a number >= 0', () => {
    for (const bad of [-1, Number.NaN, '2000']) {
      expect(() => createSagaTest({ unansweredSignalWarningMs: bad as number })).toThrow(/unansweredSignalWarningMs must be a number of milliseconds >= 0/);
    }
  });
});
