// A stage's `execute` that times out while its call ignores the signal: the attempt fails at once
// (and may be retried), but the call is still in flight and its effect may land later. Nothing
// may undo the stage before that: not its compensation here, not another process taking the run
// over. These tests hold the call open with a deferred promise and move a virtual clock by hand.
import { firstValueFrom, filter, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, NonRetryableError, OrchestratorClosedError, StoreUnavailableError, type SagaEvent, type SagaStore } from 'sagaflow';
import { createVirtualClock } from 'sagaflow/testing';
import { deferred } from '../support/deferred.js';

const input = z.object({ id: z.string() });

/** A clock that moves only when told to, and never waits for calls in flight. */
const manualClock = () => createVirtualClock({ now: 0, autoAdvance: false, realTimeHoldMs: 0 });

/** Resolves with the run's first event of `type` (its `events$` replays from the start). */
const eventOf = (run: { events$: Observable<SagaEvent> }, type: SagaEvent['type']) =>
  firstValueFrom(run.events$.pipe(filter((event) => event.type === type)));

/**
 * A stage's `execute` whose first call ignores its signal and settles only once `lands` resolves;
 * `log` gets 'charged (attempt N)' as each call settles, `counts` how many ran and the most at once.
 */
function firstCallLingers() {
  const entered = deferred();
  const lands = deferred();
  const log: string[] = [];
  const counts = { calls: 0, running: 0, most: 0 };
  const execute = async ({ attempt }: { attempt: number }): Promise<string> => {
    counts.calls++;
    counts.running++;
    counts.most = Math.max(counts.most, counts.running);
    if (attempt === 1) {
      entered.resolve();
      await lands.promise;
    }
    counts.running--;
    log.push(`charged (attempt ${attempt})`);
    return `C${attempt}`;
  };
  return { entered, lands, log, counts, execute };
}

describe('a timed-out execute whose call ignores its signal', () => {
  it('is compensated (compensateOnFailure) only once its call has landed, not before the charge it undoes', async () => {
    const clock = manualClock();
    const charge = firstCallLingers();
    const saga = defineSaga({ name: 'late-charge', input })
      .stage('charge', {
        timeoutMs: 1_000,
        retry: { maxAttempts: 1 },
        compensateOnFailure: true,
        execute: charge.execute,
        compensate: ({ outcome }) => {
          charge.log.push(`refunded (${outcome})`);
        },
      })
      .build();
    const run = createOrchestrator({ scheduler: clock }).start(saga, { id: '1' });
    await charge.entered.promise;
    await clock.advanceBy(1_000);
    // The stage failed by its timeout and the rollback began: its compensation is journaled as
    // started, but its call waits for the charge still in flight.
    expect(await eventOf(run, 'compensation.started')).toMatchObject({ stage: 'charge' });
    await clock.advanceBy(999);
    expect(charge.log).toEqual([]);
    charge.lands.resolve();
    const outcome = await run.outcome;
    expect(outcome.status).toBe('compensated');
    expect(charge.log).toEqual(['charged (attempt 1)', 'refunded (unknown)']);
    expect(outcome.stages.charge?.error).toMatchObject({ name: 'StageTimeoutError' });
  });

  it('counts as landed one more timeoutMs after its timeout, so a call that never settles does not hold the rollback for ever', async () => {
    const clock = manualClock();
    const log: string[] = [];
    const entered = deferred();
    const saga = defineSaga({ name: 'never-lands', input })
      .stage('charge', {
        timeoutMs: 1_000,
        retry: { maxAttempts: 1 },
        compensateOnFailure: true,
        execute: async () => {
          entered.resolve();
          await new Promise(() => undefined);
        },
        compensate: ({ outcome }) => {
          log.push(`refunded (${outcome})`);
        },
      })
      .build();
    const run = createOrchestrator({ scheduler: clock }).start(saga, { id: '1' });
    await entered.promise;
    await clock.advanceBy(1_000);
    await eventOf(run, 'compensation.started');
    await clock.advanceBy(999);
    expect(log).toEqual([]);
    await clock.advanceBy(1);
    expect((await run.outcome).status).toBe('compensated');
    expect(log).toEqual(['refunded (unknown)']);
  });

  it('a stage retried after a timeout, completed, then rolled back, is compensated only once the timed-out first call has landed', async () => {
    const clock = manualClock();
    const charge = firstCallLingers();
    const saga = defineSaga({ name: 'retried-charge', input })
      .stage('charge', {
        timeoutMs: 1_000,
        retry: { maxAttempts: 2, initialDelayMs: 100, jitter: false },
        execute: charge.execute,
        compensate: ({ output }) => {
          charge.log.push(`refunded ${String(output)}`);
        },
      })
      .stage('ship', {
        execute: () => {
          throw new NonRetryableError('no stock');
        },
      })
      .build();
    const run = createOrchestrator({ scheduler: clock }).start(saga, { id: '1' });
    await charge.entered.promise;
    await clock.advanceBy(1_100);
    expect(await eventOf(run, 'compensation.started')).toMatchObject({ stage: 'charge' });
    expect(charge.log).toEqual(['charged (attempt 2)']);
    charge.lands.resolve();
    expect((await run.outcome).status).toBe('compensated');
    expect(charge.log).toEqual(['charged (attempt 2)', 'charged (attempt 1)', 'refunded C2']);
  });

  /** A saga of one such charge, timing out after 1 s and retried after 60 s: a run of it waits to retry with its first call in flight. */
  const retriedLater = (name: string, execute: ReturnType<typeof firstCallLingers>['execute']) =>
    defineSaga({ name, input })
      .stage('charge', { timeoutMs: 1_000, retry: { maxAttempts: 2, initialDelayMs: 60_000, jitter: false }, execute })
      .build();

  it('keeps the lease at close({ timeoutMs }) while the call lingers: no second process runs the stage beside it', async () => {
    const clock = manualClock();
    let storeClock = 1_000_000;
    const store = new MemoryStore({ now: () => storeClock });
    const charge = firstCallLingers();
    const saga = retriedLater('lingering-handover', charge.execute);
    const owner = createOrchestrator({ store, sagas: [saga], scheduler: clock, leaseMs: 3_000, ownerId: 'leaving', onError: () => undefined });
    const other = createOrchestrator({ store, sagas: [saga], leaseMs: 3_000, ownerId: 'other' });
    const run = owner.start(saga, { id: '1' });
    await charge.entered.promise;
    await clock.advanceBy(1_000);
    // Timed out, waiting 60 s to retry, the first call still on its way: the owner shuts down.
    await eventOf(run, 'stage.retrying');
    await owner.close({ timeoutMs: 1 });
    await expect(run.outcome).rejects.toBeInstanceOf(OrchestratorClosedError);

    const early = await other.recover();
    expect(early).toEqual([]);
    expect(early.skipped).toMatchObject([{ runId: run.runId, reason: 'owned' }]);
    charge.lands.resolve();
    await expect.poll(() => charge.counts.running).toBe(0);
    storeClock += 3_001;
    const [recovered] = await other.recover();
    expect((await recovered?.outcome)?.status).toBe('completed');
    expect(charge.counts).toMatchObject({ calls: 2, most: 1 });
    await other.close();
  });

  it('keeps the lease of a run halted by a store outage while the call lingers, and gives it back once the call lands', async () => {
    const clock = manualClock();
    const memory = new MemoryStore();
    const charge = firstCallLingers();
    const saga = retriedLater('lingering-outage', charge.execute);
    // The store goes down as the retry is journaled: the run halts, its first call still in flight.
    const store: SagaStore = Object.assign(Object.create(memory) as MemoryStore, {
      append: (request: Parameters<SagaStore['append']>[0]) =>
        request.events.some((event) => event.type === 'stage.retrying') ? Promise.reject(new StoreUnavailableError('test store', 'it is down')) : memory.append(request),
    });
    const owner = createOrchestrator({ store, sagas: [saga], scheduler: clock, leaseMs: 60_000, ownerId: 'halted', onError: () => undefined });
    const run = owner.start(saga, { id: '1' });
    await charge.entered.promise;
    await clock.advanceBy(1_000);
    await expect(run.outcome).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await memory.leaseOf(run.runId)).toMatchObject({ owner: 'halted', live: true });
    charge.lands.resolve();
    await expect.poll(async () => memory.leaseOf(run.runId)).toBeUndefined();
    await owner.close();
  });

  it('a run that pauses on the failure (onFailure: pause) pauses only once the call has landed: no redrive from another process charges beside it', async () => {
    const clock = manualClock();
    const store = new MemoryStore();
    const charge = firstCallLingers();
    const saga = defineSaga({ name: 'lingering-pause', input, onFailure: 'pause' })
      .stage('charge', { timeoutMs: 1_000, retry: { maxAttempts: 1 }, execute: charge.execute })
      .build();
    const owner = createOrchestrator({ store, sagas: [saga], scheduler: clock, ownerId: 'owner' });
    const operator = createOrchestrator({ store, sagas: [saga], ownerId: 'operator' });
    const run = owner.start(saga, { id: '1' });
    await charge.entered.promise;
    await clock.advanceBy(1_000);
    await eventOf(run, 'stage.failed');
    await clock.advanceBy(999);
    // Failed, but not paused yet: the run is still this process's, so no operator can redrive it.
    expect((await store.load(run.runId))?.map((event) => event.type)).not.toContain('run.paused');
    expect(await store.leaseOf(run.runId)).toMatchObject({ owner: 'owner', live: true });
    await expect(operator.redrive(run.runId).outcome).rejects.toThrow(/it is running, and redrive needs a run that is paused/);
    charge.lands.resolve();
    expect((await run.outcome).status).toBe('paused');
    const redriven = operator.redrive(run.runId);
    expect((await redriven.outcome).status).toBe('completed');
    expect(charge.counts).toMatchObject({ calls: 2, most: 1 });
    await Promise.all([owner.close(), operator.close()]);
  });
});
