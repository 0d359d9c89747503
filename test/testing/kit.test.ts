import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineSaga, MemoryStore, NonRetryableError, type SagaStore } from 'sagaflow';
import { PostgresStore } from 'sagaflow/postgres';
import { SqliteStore } from 'sagaflow/sqlite';
import {
  crashAfter,
  createSagaTest,
  createVirtualClock,
  delayStage,
  failCompensation,
  failStage,
  rollbackProblems,
  traceOf,
  withFaults,
} from 'sagaflow/testing';
import { dropSchemas, postgresForTests, uniqueSchema } from '../support/postgres.js';

const effects: string[] = [];
const transfer = defineSaga({ name: 'kit-transfer', input: z.object({ cents: z.number() }) })
  .stage('debit', {
    execute: async ({ input, idempotencyKey }) => {
      effects.push(`debit:${idempotencyKey}`);
      return { entry: `d-${input.cents}` };
    },
    compensate: async ({ output }) => void effects.push(`refund:${output?.entry}`),
  })
  .stage('credit', {
    retry: { maxAttempts: 3, initialDelayMs: 30_000, jitter: false },
    timeoutMs: 5_000,
    execute: async ({ input }) => {
      effects.push('credit');
      return { entry: `c-${input.cents}` };
    },
    compensate: async () => void effects.push('reverse-credit'),
  })
  .stage('notify', {
    execute: async () => {
      effects.push('notify');
    },
  })
  .build();

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('fault injection', () => {
  it('failStage below the retry budget: the run recovers, with retries journaled in virtual time', async () => {
    effects.length = 0;
    const harness = createSagaTest({ faults: [failStage('credit', { times: 2 })] });
    const started = harness.clock.now();
    const result = await harness.run(transfer, { cents: 5 });
    expect(result.outcome.status).toBe('completed');
    expect(result.outcome.stages.credit?.attempts).toBe(3);
    expect(result.trace.filter((entry) => entry === 'stage.retrying:credit')).toHaveLength(2);
    // Two backoffs of 30 s (the second capped by the default maxDelayMs of 30 s) passed on the
    // virtual clock, none on the wall clock.
    expect(harness.clock.now() - started).toBe(60_000);
    expect(effects).toEqual([expect.stringMatching(/^debit:/), 'credit', 'notify']);
    await harness.close();
  });

  it('failStage at or above the budget rolls back; a custom error is journaled as thrown', async () => {
    const harness = createSagaTest({ faults: [failStage('credit', { error: () => new NonRetryableError('account closed') })] });
    const result = await harness.run(transfer, { cents: 5 });
    expect(result.outcome.status).toBe('compensated');
    expect(result.outcome.stages.credit).toMatchObject({ attempts: 1, error: { name: 'NonRetryableError', message: 'account closed' } });
    expect(rollbackProblems(result.outcome, ['debit', 'credit'])).toEqual([]);
    expect(result.outcome.compensationOrder).toEqual(['debit']);
  });

  it("rollbackProblems refuses a name in `compensates` that is no stage of the saga: a typo left that stage out of the check, and a stage left uncompensated passed", async () => {
    const harness = createSagaTest({ faults: [failStage('notify', { error: () => new NonRetryableError('mail down') })] });
    const { outcome } = await harness.run(transfer, { cents: 5 });
    expect(outcome.compensationOrder).toEqual(['credit', 'debit']);
    // As if the rollback had forgotten credit: the check must say so, whatever the spelling.
    const forgotten = { ...outcome, compensationOrder: ['debit' as const] };
    expect(rollbackProblems(forgotten, ['debit', 'credit'])).toEqual(['expected compensations ["credit","debit"] (reverse completion order), got ["debit"]']);
    // @ts-expect-error 'crdit' is not a stage of the saga
    expect(rollbackProblems(forgotten, ['debit', 'crdit'])).toEqual([
      "compensates names 'crdit', which is not a stage of saga 'kit-transfer' (its stages: debit, credit, notify)",
    ]);
  });

  it('rollbackProblems without `compensates` says, for a stage it expected compensated, that a stage with nothing to compensate (a wait) must be left out through it', async () => {
    const held = defineSaga({ name: 'kit-held', input: z.object({}) })
      .stage('reserve', { execute: async () => ({ holdId: 'h' }), compensate: async () => undefined })
      .waitForSignal('paid', { signal: 'paid', schema: z.object({}), timeoutMs: 1_000 })
      .stage('ship', { execute: async () => 1 })
      .build();
    const { outcome } = await createSagaTest({ faults: [failStage('ship')] }).run(held, {}, { signals: { paid: {} } });
    expect(outcome.compensationOrder).toEqual(['reserve']); // a correct rollback
    expect(rollbackProblems(outcome)).toEqual([
      'expected compensations ["paid","reserve"] (reverse completion order of every completed stage, as no `compensates` list was given), got ["reserve"]',
      "stage 'paid' completed but was not compensated: if it has no compensate (a wait or a sleep never has one), pass `compensates`, the stages that have one",
    ]);
    expect(rollbackProblems(outcome, ['reserve'])).toEqual([]);
  });

  it('delayStage past timeoutMs times the attempt out; the next attempt runs undelayed', async () => {
    const harness = createSagaTest({ faults: [delayStage('credit', 60_000, { times: 1 })] });
    const result = await harness.run(transfer, { cents: 5 });
    expect(result.outcome.status).toBe('completed');
    const retry = result.journal.find((event) => event.type === 'stage.retrying');
    expect(retry).toMatchObject({ stage: 'credit', attempt: 1, error: { name: 'StageTimeoutError' } });
  });

  it('failCompensation: recovers within the compensation budget, or ends compensation_failed', async () => {
    const flaky = await createSagaTest({ faults: [failStage('notify'), failCompensation('debit', { times: 2 })] }).run(transfer, { cents: 5 });
    expect(flaky.outcome.status).toBe('compensated');
    expect(flaky.outcome.stages.debit?.compensation?.attempts).toBe(3);
    const broken = await createSagaTest({ faults: [failStage('notify'), failCompensation('debit')] }).run(transfer, { cents: 5 });
    expect(broken.outcome.status).toBe('compensation_failed');
    expect(broken.outcome.compensationOrder).toEqual(['credit']);
    expect(broken.outcome.stages.debit?.compensation?.attempts).toBe(5);
  });

  it('counts `times` per run, and refuses a fault naming an unknown stage', async () => {
    const harness = createSagaTest({ faults: [failStage('credit', { times: 2 })] });
    const first = await harness.run(transfer, { cents: 1 });
    const second = await harness.run(transfer, { cents: 2 });
    expect([first.outcome.stages.credit?.attempts, second.outcome.stages.credit?.attempts]).toEqual([3, 3]);
    expect(() => withFaults(transfer, [failStage('wire')], createVirtualClock())).toThrow(
      "A fail-stage fault names stage 'wire', but saga 'kit-transfer' has no such stage (stages: debit, credit, notify).",
    );
  });

  it("an `error` option that returns nothing fails the attempt with a TypeError naming the fault, the stage and the attempt, not a bare 'undefined was thrown'", async () => {
    // The mistake: expecting `error` to choose which attempts fail (only the 2nd here). Every attempt up to `times` fails.
    const onlySecond = failStage('credit', { times: 2, error: (attempt) => (attempt === 2 ? new NonRetryableError('declined') : undefined) });
    const { journal } = await createSagaTest({ faults: [onlySecond] }).run(transfer, { cents: 4 });
    const retried = journal.find((event) => event.type === 'stage.retrying');
    expect(retried?.type === 'stage.retrying' ? retried.error : undefined).toMatchObject({
      name: 'TypeError',
      message:
        "failStage('credit'): its error option returned undefined for attempt 1; return the error to throw. A failStage fault fails every attempt up to `times` (here attempts 1 to 2), before the stage's execute runs.",
    });
    const undo = failCompensation('debit', { times: 1, error: () => undefined });
    const rolledBack = await createSagaTest({ faults: [failStage('notify'), undo] }).run(transfer, { cents: 4 });
    const compensationRetry = rolledBack.journal.find((event) => event.type === 'compensation.retrying');
    expect(compensationRetry?.type === 'compensation.retrying' ? compensationRetry.error.message : undefined).toBe(
      "failCompensation('debit'): its error option returned undefined for attempt 1; return the error to throw. A failCompensation fault fails every attempt up to `times` (here attempt 1), before the stage's compensate runs.",
    );
  });

  it('a harness resuming a run of a saga it was not given says how to give it: createSagaTest({ sagas }) or { saga }', async () => {
    const store = new MemoryStore();
    const crashed = await createSagaTest({ store, faults: [crashAfter((event) => event.type === 'stage.completed')] }).run(transfer, { cents: 2 });
    const error = await createSagaTest({ store }).resume(crashed.runId).catch((reason: unknown) => reason);
    expect((error as Error).message).toBe(
      `Run ${crashed.runId} belongs to saga 'kit-transfer', which is not registered (registered: none): pass it in the sagas option (createOrchestrator({ sagas }), createSagaTest({ sagas }), --sagas on the command line), or as { saga } to resume, redrive or compensate.`,
    );
  });

  it('keeps the shape hash: a faulty copy resumes as the original', () => {
    expect(withFaults(transfer, [failStage('credit')], createVirtualClock()).shapeHash).toBe(transfer.shapeHash);
  });
});

describe.each<[string, () => SagaStore]>([
  ['MemoryStore', () => new MemoryStore()],
  [
    'SqliteStore',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'sagaflow-kit-'));
      tempDirs.push(dir);
      return new SqliteStore({ path: join(dir, 'kit.db') });
    },
  ],
])('crashAfter on %s', (_name, makeStore) => {
  it('stops right after the matching event; another harness on the same store resumes without redoing completed work', async () => {
    effects.length = 0;
    const store = makeStore();
    const crashing = createSagaTest({ store, faults: [crashAfter((event) => event.type === 'stage.completed' && event.stage === 'debit')] });
    const crashed = await crashing.run(transfer, { cents: 7 });
    expect(crashed.crashed).toBe(true);
    expect(crashed.trace).toEqual(['run.started', 'stage.started:debit', 'stage.completed:debit']);
    expect(crashed.outcome.status).toBe('running');
    expect((await store.listRuns({ status: 'running' })).map((run) => run.runId)).toEqual([crashed.runId]);

    const resumed = await createSagaTest({ store, sagas: [transfer] }).resume(crashed.runId);
    expect(resumed.outcome.status).toBe('completed');
    expect(resumed.trace.slice(3, 4)).toEqual(['run.resumed']);
    expect(effects.filter((effect) => effect.startsWith('debit:'))).toHaveLength(1);
    await store.close();
  });

  it('prints nothing about the simulated crash itself (the lease release it refuses)', async () => {
    const store = makeStore();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const crashing = createSagaTest({ store, faults: [crashAfter((event) => event.type === 'stage.completed' && event.stage === 'debit')] });
      const crashed = await crashing.run(transfer, { cents: 3 });
      expect(crashed.crashed).toBe(true);
      await crashing.close();
      expect([...warn.mock.calls, ...error.mock.calls]).toEqual([]);
    } finally {
      warn.mockRestore();
      error.mockRestore();
      await store.close();
    }
  });

  it('crashes in the middle of a rollback and resumes it in reverse completion order', async () => {
    effects.length = 0;
    const store = makeStore();
    const crashing = createSagaTest({
      store,
      faults: [failStage('notify'), crashAfter((event) => event.type === 'compensation.completed' && event.stage === 'credit')],
    });
    const crashed = await crashing.run(transfer, { cents: 9 });
    expect(crashed.outcome.status).toBe('compensating');
    const resumed = await createSagaTest({ store, sagas: [transfer] }).resume(crashed.runId);
    expect(resumed.outcome.status).toBe('compensated');
    expect(resumed.outcome.compensationOrder).toEqual(['credit', 'debit']);
    expect(effects.filter((effect) => effect === 'reverse-credit')).toHaveLength(1);
    await store.close();
  });
});

describe('vitest fake timers', () => {
  // Also here, not only in the test's finally: a run that hangs never reaches its finally, and the fake
  // timers would then stay installed for the tests after it.
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a harness run settles under vi.useFakeTimers(): the virtual clock's own turns and waits use Node's real timers, not the faked globals", async () => {
    vi.useFakeTimers(); // as a test (or a setup file) of the user's may have done
    try {
      const { outcome } = await createSagaTest({ faults: [failStage('credit', { times: 1 })] }).run(transfer, { cents: 3 });
      expect(outcome.status).toBe('completed');
      expect(outcome.stages.credit?.attempts).toBe(2);
      // A call that hangs still times out once realTimeHoldMs of real time passed, though Date is faked (frozen) too.
      const hanging = defineSaga({ name: 'kit-hangs', input: z.object({}) })
        .stage('hang', { timeoutMs: 1_000, execute: () => new Promise<never>(() => undefined) })
        .build();
      const hung = await createSagaTest({ clock: createVirtualClock({ realTimeHoldMs: 50 }) }).run(hanging, {});
      expect(hung.outcome.failure?.error.message).toContain('timed out after 1000 ms of virtual time (a call of user code was still pending after 50 ms of real time');
    } finally {
      vi.useRealTimers();
    }
  }, 10_000);
});

describe('virtual time and real I/O', () => {
  const io = async () => {
    const { readFile } = await import('node:fs/promises');
    const { createServer } = await import('node:http');
    const server = createServer((_request, response) => setTimeout(() => response.end('pong'), 20));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const saga = defineSaga({ name: 'real-io', input: z.object({}) })
      .stage('readFile', { timeoutMs: 5_000, execute: async () => (await readFile('package.json', 'utf8')).length })
      .stage('fetch', { timeoutMs: 5_000, execute: async () => (await fetch(`http://127.0.0.1:${port}/`)).text() })
      .stage('tick', { timeoutMs: 5_000, execute: () => new Promise((resolve) => setTimeout(() => resolve('ticked'), 0)) })
      .build();
    return { saga, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  };

  it('a stage doing real I/O (a file, a local HTTP call, setTimeout 0) never times out in virtual time: the clock stands still while it runs', async () => {
    const { saga, close } = await io();
    try {
      const { outcome } = await createSagaTest().run(saga, {});
      expect(outcome.status).toBe('completed');
      expect(outcome.outputs).toMatchObject({ fetch: 'pong', tick: 'ticked' });
    } finally {
      await close();
    }
  });

  it('without the hold (realTimeHoldMs: 0) the same stages time out at once, and the message says it was virtual time', async () => {
    const { saga, close } = await io();
    try {
      const { outcome } = await createSagaTest({ clock: createVirtualClock({ realTimeHoldMs: 0 }) }).run(saga, {});
      expect(outcome.status).toBe('compensated');
      expect(outcome.failure?.error.message).toMatch(/timed out after 5000 ms of virtual time/);
    } finally {
      await close();
    }
  });
});

const postgresUrl = await postgresForTests();
const writesSchema = uniqueSchema('kit_writes');
afterAll(async () => {
  if (postgresUrl !== undefined) await dropSchemas(postgresUrl, writesSchema);
});

describe.each<[string, boolean, () => SagaStore]>([
  [
    'SqliteStore',
    true,
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'sagaflow-kit-'));
      tempDirs.push(dir);
      return new SqliteStore({ path: join(dir, 'kit.db') });
    },
  ],
  ['PostgresStore', postgresUrl !== undefined, () => new PostgresStore({ connectionString: postgresUrl ?? '', schema: writesSchema })],
])('virtual time and store writes, on %s', (_name, available, makeStore) => {
  const cooling = defineSaga({ name: 'kit-cooling', input: z.object({}) })
    .stage('order', { execute: () => 'o-1' })
    .sleep('cool-off', { durationMs: 60_000 })
    .stage('ship', { execute: () => 's-1' })
    .build();

  it.runIf(available)('the clock stands still while the store writes: advanceBy(60 s) carries a run through its 60-second wait, as on MemoryStore', async () => {
    const store = makeStore();
    const clock = createVirtualClock({ autoAdvance: false });
    const h = createSagaTest({ store, clock });
    const running = h.run(cooling, {}, { runId: 'kit-cooling-1' });
    // Before: the clock jumped 60 s while run.started was being written, and the wait's timer was
    // then set for 60 s after that — advanceBy returned with the wait still pending.
    await clock.advanceBy(60_000);
    expect(traceOf((await store.load('kit-cooling-1')) ?? [])).toContain('run.completed');
    const { journal } = await running;
    const started = journal.find((event) => event.type === 'wait.started');
    const woke = journal.find((event) => event.type === 'stage.completed' && event.stage === 'cool-off');
    expect((woke?.at ?? 0) - (started?.at ?? 0)).toBe(60_000);
    await h.close();
    await store.close();
  });
});
