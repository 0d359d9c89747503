import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, type SagaStore } from 'sagaflow';
import { SqliteStore } from 'sagaflow/sqlite';
import { createSagaTest, createVirtualClock, crashAfter, type VirtualClock } from 'sagaflow/testing';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function sqliteStore(): SqliteStore {
  const dir = mkdtempSync(join(tmpdir(), 'sagaflow-leases-kit-'));
  tempDirs.push(dir);
  return new SqliteStore({ path: join(dir, 'kit.db') });
}

const nap = defineSaga({ name: 'kit-nap', input: z.object({}) })
  .stage('open', { execute: () => ({ account: 'a-1' }), compensate: () => undefined })
  .sleep('nap', { durationMs: HOUR })
  .stage('bill', { execute: () => 'billed' })
  .build();

const trial = defineSaga({ name: 'kit-trial', input: z.object({}) })
  .stage('open', { execute: () => ({ account: 'a-1' }), compensate: () => undefined })
  .sleep('trial', { durationMs: 30 * DAY })
  .stage('bill', { execute: () => 'billed' })
  .build();

/** The stores whose leases expire in real time, made fresh per test. */
const WALL_CLOCK_STORES: ReadonlyArray<[string, () => SagaStore]> = [
  ['MemoryStore', () => new MemoryStore()],
  ['SqliteStore', sqliteStore],
];

describe.each(WALL_CLOCK_STORES)('leases under virtual time, on %s (leases expire in real time)', (_name, makeStore) => {
  it('a run that sleeps 30 virtual days is not heartbeated once per virtual 10 s (259,200 store writes): its lease is kept in real time', async () => {
    const store = makeStore();
    const heartbeat = vi.spyOn(store, 'heartbeat');
    const h = createSagaTest({ store });
    const result = await h.run(trial, {});
    expect(result.outcome.status).toBe('completed');
    expect(h.clock.now() - (result.journal[0]?.at ?? 0)).toBeGreaterThanOrEqual(30 * DAY);
    // Beats come every 10 s of real time (a third of the 30 s lease): a handful at most, not one per virtual 10 s.
    expect(heartbeat.mock.calls.length).toBeLessThan(100);
    await h.close();
    await store.close();
  });

  it('a stage awaiting real I/O for longer than the lease, on a virtual clock that stands still meanwhile: the lease is renewed in real time, nobody takes the run over, the stage runs once', async () => {
    const store = makeStore();
    let beats = 0;
    const heartbeat = store.heartbeat.bind(store);
    vi.spyOn(store, 'heartbeat').mockImplementation(async (...args) => {
      const result = await heartbeat(...args);
      beats++;
      return result;
    });
    const executions: string[] = [];
    const skipped: string[] = [];
    const slow = defineSaga({ name: 'kit-slow-io', input: z.object({}) })
      .stage('call', {
        timeoutMs: 60_000,
        execute: async ({ runId }) => {
          executions.push('call');
          // Four beats, 100 ms of real time apart: past the 300 ms lease, which would have run out
          // without them (before: no beat came while the virtual clock stood still, and it did).
          await expect.poll(async () => beats >= 4 || (await store.leaseOf(runId))?.live !== true, { timeout: 10_000 }).toBe(true);
          const recovered = await other.recover();
          skipped.push(...recovered.skipped.filter((run) => run.runId === runId).map((run) => run.reason));
          return 'done';
        },
      })
      .build();
    const other = createOrchestrator({ store, sagas: [slow], ownerId: 'other-process', leaseMs: 300 });
    const orchestrator = createOrchestrator({ store, sagas: [slow], scheduler: createVirtualClock({ realTimeHoldMs: 60_000 }), leaseMs: 300 });
    const outcome = await orchestrator.start(slow, {}).outcome;
    expect(outcome.status).toBe('completed');
    expect(skipped).toEqual(['owned']);
    expect(executions).toEqual(['call']);
    await orchestrator.close();
    await other.close();
    await store.close();
  });

  it('so is a run under a crashAfter fault (the crashing store keeps its leases on the wrapped store\'s clock)', async () => {
    const store = makeStore();
    const heartbeat = vi.spyOn(store, 'heartbeat');
    const h = createSagaTest({ store, faults: [crashAfter((event) => event.type === 'stage.completed' && event.stage === 'bill')] });
    const result = await h.run(trial, {});
    expect(result.crashed).toBe(true);
    expect(heartbeat.mock.calls.length).toBeLessThan(100);
    await store.close();
  });
});

describe.each(WALL_CLOCK_STORES)('advanceBy on %s, with a run on its leases in real time', (_name, makeStore) => {
  it('halfway through a 30-day virtual sleep the run is still owned: another orchestrator on the store passes it over', async () => {
    const store = makeStore();
    const clock = createVirtualClock({ autoAdvance: false });
    const h = createSagaTest({ store, clock });
    const running = h.run(trial, {});
    await clock.advanceBy(15 * DAY);
    const other = createOrchestrator({ store, sagas: [trial], ownerId: 'other-process' });
    const recovered = await other.recover();
    expect(recovered).toEqual([]);
    expect(recovered.skipped.map((skipped) => skipped.reason)).toEqual(['owned']);
    await clock.advanceBy(15 * DAY);
    expect((await running).outcome.status).toBe('completed');
    await other.close();
    await h.close();
    await store.close();
  });
});

describe('leases under virtual time, on a MemoryStore whose clock is the virtual one', () => {
  const onClock = (clock: VirtualClock): MemoryStore => new MemoryStore({ now: () => clock.now() });

  it('the lease is heartbeated on the virtual clock: halfway through a one-hour sleep the run is still owned', async () => {
    const clock = createVirtualClock({ autoAdvance: false });
    const store = onClock(clock);
    const h = createSagaTest({ store, clock });
    const running = h.run(nap, {});
    await clock.advanceBy(HOUR / 2);
    const other = createOrchestrator({ store, sagas: [nap], ownerId: 'other-process' });
    const recovered = await other.recover();
    expect(recovered.skipped.map((skipped) => skipped.reason)).toEqual(['owned']);
    await clock.advanceBy(HOUR / 2);
    expect((await running).outcome.status).toBe('completed');
    await other.close();
    await h.close();
  });
});
