import { asyncScheduler, type SchedulerAction } from 'rxjs';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { z } from 'zod';
import {
  createOrchestrator,
  defineSaga,
  LeaseLostError,
  MemoryStore,
  OrchestratorClosedError,
  RunAlreadyExistsError,
  RunLeasedError,
  SagaInputError,
  StoreCorruptionError,
  StoreUnavailableError,
  type SagaEvent,
  type SagaStore,
} from 'sagaflow';
import { createVirtualClock } from 'sagaflow/testing';
import { aborted, deferred } from '../support/deferred.js';
import { storeOrphanedJournal } from '../support/journal.js';

const input = z.object({ id: z.string() });

function gatedSaga(name: string, gate: { opened: Promise<void>; entered: () => void }) {
  return defineSaga({ name, input })
    .stage('reserve', { execute: () => 'R', compensate: () => undefined })
    .stage('charge', {
      execute: async () => {
        gate.entered();
        await gate.opened;
        return 'C';
      },
      compensate: () => undefined,
    })
    .build();
}

/**
 * A saga whose 'charge' (its first call held until `lands` resolves) runs beside 'notify', and a
 * view of `memory` that fails every append from notify's completion on, until `up()`: a run of it
 * halts with the charge in flight. `counts`: charges called, and the most running at once.
 */
function haltingWithChargeInFlight(name: string, memory: MemoryStore) {
  const counts = { running: 0, most: 0, calls: 0 };
  const lands = deferred();
  const saga = defineSaga({ name, input })
    .stage('charge', {
      after: [],
      execute: async () => {
        counts.calls++;
        counts.running++;
        counts.most = Math.max(counts.most, counts.running);
        if (counts.calls === 1) await lands.promise;
        counts.running--;
        return 'C';
      },
    })
    .stage('notify', { after: [], execute: () => 'N' })
    .build();
  let down = false;
  const store: SagaStore = Object.assign(Object.create(memory) as MemoryStore, {
    append: (request: Parameters<SagaStore['append']>[0]) => {
      // Down at notify's completion, charge still in flight: the run halts here.
      if (request.events.some((event) => event.type === 'stage.completed' && event.stage === 'notify')) down = true;
      return down ? Promise.reject(new StoreUnavailableError('test store', 'it is down')) : memory.append(request);
    },
  });
  return {
    saga,
    store,
    counts,
    lands,
    up: () => {
      down = false;
    },
  };
}

/**
 * Two orchestrators on one MemoryStore (owner ids `ownerIds`), with a 3 s lease a loaded machine
 * cannot let lapse between heartbeats, and a run of a gated saga the first one drives, held inside
 * its 'charge' stage until `opened` resolves.
 */
async function runHeldByOne(name: string, ownerIds: readonly [string, string]) {
  const entered = deferred();
  const opened = deferred();
  const saga = gatedSaga(name, { opened: opened.promise, entered: () => entered.resolve() });
  const store = new MemoryStore();
  const owner = createOrchestrator({ store, sagas: [saga], leaseMs: 3_000, ownerId: ownerIds[0] });
  const other = createOrchestrator({ store, sagas: [saga], leaseMs: 3_000, ownerId: ownerIds[1] });
  const run = owner.start(saga, { id: '1' });
  await entered.promise;
  return { store, owner, other, run, opened };
}

/**
 * Resolves once something schedules work on the real-time `asyncScheduler` more than `delayMs`
 * ahead (recover({ waitForLeases: true }) waiting for leases that run out in real time).
 */
function realTimeWaitOver(delayMs: number): { readonly promise: Promise<void> } {
  const scheduled = deferred();
  const schedule = asyncScheduler.schedule.bind(asyncScheduler);
  const spy = vi.spyOn(asyncScheduler, 'schedule').mockImplementation(((work: (this: SchedulerAction<unknown>, state?: unknown) => void, delay?: number, state?: unknown) => {
    if ((delay ?? 0) > delayMs) scheduled.resolve();
    return schedule(work, delay, state);
  }));
  onTestFinished(() => spy.mockRestore());
  return scheduled;
}

describe('runs have owners (in one process, on one MemoryStore)', () => {
  it('says the id it holds its leases under (ownerId): the owner the store records for a run it drives, its own default unless one is given', async () => {
    const memory = new MemoryStore();
    let entered: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const gate = deferred();
    const saga = defineSaga({ name: 'owned', input }).stage('a', { execute: async () => (entered(), await gate.promise, 'A') }).build();
    const named = createOrchestrator({ store: memory, ownerId: 'billing-1' });
    const defaulted = createOrchestrator({ store: memory });
    expect(named.ownerId).toBe('billing-1');
    expect(defaulted.ownerId).toMatch(/^.+:\d+:[0-9a-f]{6}$/);
    expect(createOrchestrator({ store: memory }).ownerId).not.toBe(defaulted.ownerId);
    const run = defaulted.start(saga, { id: '1' });
    await inside;
    expect((await memory.leaseOf(run.runId))?.owner).toBe(defaulted.ownerId);
    gate.resolve();
    expect((await run.outcome).status).toBe('completed');
    await Promise.all([named.close(), defaulted.close()]);
  });

  it('recover({ waitForLeases: true }) whose second look finds the store unavailable (a database restarting) resolves with what its first look took over, and lists the run it waited for as owned, saying why', async () => {
    const saga = defineSaga({ name: 'outage', input }).stage('a', { execute: () => 'A' }).build();
    const started = (runId: string): Extract<SagaEvent, { type: 'run.started' }> => ({ type: 'run.started', runId, saga: 'outage', seq: 0, at: 1, version: saga.version, shapeHash: saga.shapeHash, input: { id: '1' }, stages: ['a'], shape: saga.shape });
    const memory = new MemoryStore();
    await storeOrphanedJournal(memory, [started('free-1')]);
    // A process that died 0.3 s into its lease: nobody may take its run before the lease runs out.
    await memory.create({ event: started('held-2'), owner: { owner: 'a-process-that-died', leaseMs: 300 } });
    let lists = 0;
    const store: SagaStore = Object.assign(Object.create(memory) as MemoryStore, {
      listRuns: (query: Parameters<SagaStore['listRuns']>[0]) => {
        lists++;
        return lists === 1 ? memory.listRuns(query) : Promise.reject(new StoreUnavailableError('memory:', 'the database is restarting'));
      },
    });
    const orchestrator = createOrchestrator({ store, sagas: [saga], onError: () => undefined });
    const recovered = await orchestrator.recover({ waitForLeases: true });
    expect(lists).toBe(2);
    expect(recovered.map((run) => run.runId)).toEqual(['free-1']);
    expect((await recovered[0]?.outcome)?.status).toBe('completed');
    expect(recovered.skipped.map(({ runId, reason }) => [runId, reason])).toEqual([['held-2', 'owned']]);
    expect(recovered.skipped[0]?.detail).toContain('Looked at again once its lease had run out, the store was unavailable (The saga store memory: is unavailable: the database is restarting.): call recover() again.');
    await orchestrator.close();
  });

  it("recover({ waitForLeases: true }) against a store whose clock is behind this process's (a database host's clock off by seconds) waits for the dead owner's lease by the store's clock, and takes its run over", async () => {
    const saga = defineSaga({ name: 'skewed', input }).stage('a', { execute: () => 'A' }).build();
    // The store's clock runs 10 s behind this process's: its leases run out 10 s later by this process's clock.
    const store = new MemoryStore({ now: () => Date.now() - 10_000 });
    const started: Extract<SagaEvent, { type: 'run.started' }> = { type: 'run.started', runId: 'left-1', saga: 'skewed', seq: 0, at: 1, version: saga.version, shapeHash: saga.shapeHash, input: { id: '1' }, stages: ['a'], shape: saga.shape };
    // A process that died just after starting the run: its lease has 0.3 s left, by the store's clock.
    await store.create({ event: started, owner: { owner: 'a-process-that-died', leaseMs: 300 } });
    const orchestrator = createOrchestrator({ store, sagas: [saga], onError: () => undefined });
    const recovered = await orchestrator.recover({ waitForLeases: true });
    expect(recovered.skipped.map(({ runId, reason }) => [runId, reason])).toEqual([]);
    expect(recovered.map((run) => run.runId)).toEqual(['left-1']);
    expect((await recovered[0]?.outcome)?.status).toBe('completed');
    await orchestrator.close();
  });

  it('recover({ waitForLeases: true }) next to a live owner lists its run as owned once that lease has run out; close() meanwhile ends the wait; bad options are a TypeError', async () => {
    const store = new MemoryStore();
    const gate = deferred();
    let entered!: () => void;
    const inFlight = new Promise<void>((resolve) => (entered = resolve));
    const saga = gatedSaga('held-by-a', { opened: gate.promise, entered });
    const a = createOrchestrator({ store, sagas: [saga], leaseMs: 60_000 });
    const run = a.start(saga, { id: '1' }, { runId: 'held-1' });
    await inFlight;
    // B waits for A's lease in real time (a MemoryStore's leases run out on Date.now): the real-time
    // scheduler says when B starts waiting (a delay of about a minute).
    const waitScheduled = realTimeWaitOver(30_000);
    const b = createOrchestrator({ store, sagas: [saga] });
    await expect(b.recover({ waitForLeases: 'yes' } as never)).rejects.toThrow('recover(): options.waitForLeases must be a boolean (got string).');
    await expect(b.recover({ waitForLease: true } as never)).rejects.toThrow("recover(): unknown option 'waitForLease' (known: waitForLeases).");
    // A's lease has a minute to run: only close() ends the wait (else this test times out).
    const waiting = b.recover({ waitForLeases: true });
    await waitScheduled.promise;
    await b.close();
    const recovered = await waiting;
    expect(recovered).toEqual([]);
    expect(recovered.skipped.map(({ runId, reason }) => [runId, reason])).toEqual([['held-1', 'owned']]);
    gate.resolve();
    expect((await run.outcome).status).toBe('completed');
    await a.close();
  });

  it('recover({ waitForLeases: true }) on a virtual-clock scheduler waits in real time for a lease that runs out in real time (a MemoryStore without now, as SQLite and PostgreSQL): it takes over the run of an owner that died (it looked again at once on virtual time and listed the run as owned)', async () => {
    const memory = new MemoryStore();
    let calls = 0;
    const entered = deferred();
    const saga = defineSaga({ name: 'died-holding', input })
      .stage('charge', {
        execute: async () => {
          calls++;
          if (calls === 1) {
            entered.resolve();
            await new Promise<never>(() => undefined); // the dead process's attempt never returns
          }
          return 'C';
        },
      })
      .build();
    // The owner "dies" once its charge is in flight: nothing it writes reaches the store any more,
    // its heartbeats included, and its lease (800 ms) runs out in real time.
    let dead = false;
    const down = (): Promise<never> => Promise.reject(new StoreUnavailableError('test store', 'the process is dead'));
    const view: SagaStore = Object.assign(Object.create(memory) as MemoryStore, {
      append: (request: Parameters<SagaStore['append']>[0]) => (dead ? down() : memory.append(request)),
      heartbeat: (...args: Parameters<SagaStore['heartbeat']>) => (dead ? down() : memory.heartbeat(...args)),
      release: (...args: Parameters<SagaStore['release']>) => (dead ? down() : memory.release(...args)),
    });
    const owner = createOrchestrator({ store: view, sagas: [saga], leaseMs: 800, onError: () => undefined });
    const run = owner.start(saga, { id: '1' }, { runId: 'died-1' });
    await entered.promise;
    dead = true;
    // A new process whose scheduler is a virtual clock (it jumps to its next timer when idle).
    const restarted = createOrchestrator({ store: memory, sagas: [saga], scheduler: createVirtualClock() });
    const recovered = await restarted.recover({ waitForLeases: true });
    expect(recovered.skipped.map(({ runId, reason }) => [runId, reason])).toEqual([]);
    expect(recovered.map((handle) => handle.runId)).toEqual(['died-1']);
    expect((await recovered[0]?.outcome)?.status).toBe('completed');
    await restarted.close();
    // The dead process's attempt never returns: its close() gives up on it at once.
    void run.outcome.catch(() => undefined);
    await owner.close({ timeoutMs: 1 }).catch(() => undefined);
  });

  it('recover({ waitForLeases: true }) with some 130,000 runs owned by a live process waits for their leases (it threw RangeError: a spread of that many arguments overflows the stack)', async () => {
    const store = new MemoryStore();
    const saga = defineSaga({ name: 'held-elsewhere', input: z.object({}) }).stage('a', { execute: () => 'A' }).build();
    const count = 130_000;
    for (let index = 0; index < count; index++) {
      await store.create({
        event: { type: 'run.started', runId: `run-${String(index).padStart(6, '0')}`, saga: saga.name, seq: 0, at: 1, version: saga.version, shapeHash: saga.shapeHash, shape: saga.shape, input: {}, stages: ['a'] },
        owner: { owner: 'live-elsewhere', leaseMs: 600_000 },
      });
    }
    // The wait for those 10-minute leases is scheduled in real time: close() then ends it.
    const waitScheduled = realTimeWaitOver(300_000);
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const waiting = orchestrator.recover({ waitForLeases: true });
    await Promise.race([waitScheduled.promise, waiting]);
    await orchestrator.close();
    const recovered = await waiting;
    expect(recovered).toEqual([]);
    expect(recovered.skipped.length).toBe(count);
    expect(new Set(recovered.skipped.map(({ reason }) => reason))).toEqual(new Set(['owned']));
  }, 60_000);

  it('close({ timeoutMs }) with the run\'s settling write in flight does not say the run was left in place, but that the write may still land: here it lands after the lease was given back, is refused, and recover() completes the run', async () => {
    const memory = new MemoryStore();
    const writing = deferred();
    const lands = deferred();
    let held: Promise<void> | undefined;
    // The write of run.completed is held: in flight when close() times out, let go after it.
    const store: SagaStore = Object.assign(Object.create(memory) as MemoryStore, {
      append: (request: Parameters<SagaStore['append']>[0]) => {
        if (!request.events.some((event) => event.type === 'run.completed')) return memory.append(request);
        writing.resolve();
        held = lands.promise.then(() => memory.append(request));
        return held;
      },
    });
    const saga = defineSaga({ name: 'closing-mid-write', input }).stage('a', { execute: () => 'A' }).build();
    const orchestrator = createOrchestrator({ store, sagas: [saga], onError: () => undefined });
    const run = orchestrator.start(saga, { id: '1' });
    await writing.promise;
    await orchestrator.close({ timeoutMs: 1 });
    const error: unknown = await run.outcome.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OrchestratorClosedError);
    expect((error as Error).message).toBe(
      `The orchestrator is closed: run ${run.runId} was still active when close() timed out after 1 ms; a write of its events was in flight and may still land, moving it on or settling it: inspect('${run.runId}') says where it ended; resume it if it is unfinished.`,
    );
    // Landing after close() gave the lease back, the write is fenced off; the run is where its
    // journal ends, and resumed, it completes.
    lands.resolve();
    await expect(held).rejects.toBeInstanceOf(LeaseLostError);
    const after = createOrchestrator({ store: memory, sagas: [saga] });
    expect((await after.inspect(run.runId)).status).toBe('running');
    const [recovered] = await after.recover();
    expect((await recovered?.outcome)?.status).toBe('completed');
    await after.close();
  });

  it('a second start with the same run id is refused with RunAlreadyExistsError naming the run, its status and its saga (another saga\'s, here); the journal is untouched', async () => {
    const saga = defineSaga({ name: 'once', input }).stage('a', { execute: () => 'A' }).build();
    const other = defineSaga({ name: 'other', input }).stage('a', { execute: () => 'A' }).build();
    const store = new MemoryStore();
    const orchestrator = createOrchestrator({ store });
    await orchestrator.run(saga, { id: '1' }, { runId: 'order-42' });
    const before = await store.load('order-42');
    const error = await orchestrator.run(other, { id: '2' }, { runId: 'order-42' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RunAlreadyExistsError);
    expect(error).toMatchObject({ runId: 'order-42', status: 'completed', saga: 'once' });
    expect((error as Error).message).toBe("Run order-42 already exists (saga 'once', completed); nothing was written: inspect it, or start with another runId.");
    expect(await store.load('order-42')).toEqual(before);
  });

  it('refuses run ids with NUL, ill-formed Unicode or control characters (a forged log line, an ANSI escape) before anything is written', async () => {
    const saga = defineSaga({ name: 'ids', input }).stage('a', { execute: () => 'A' }).build();
    const store = new MemoryStore();
    const orchestrator = createOrchestrator({ store });
    for (const runId of ['order\u000042', 'order-\ud800', '', ' ', 'order-1\nINFO payment approved', 'order\t1', '\u001b[31morder', 'order\u0085']) {
      expect(() => orchestrator.start(saga, { id: '1' }, { runId })).toThrow(SagaInputError);
      await expect(orchestrator.run(saga, { id: '1' }, { runId })).rejects.toBeInstanceOf(SagaInputError);
    }
    expect(await store.listRuns()).toEqual([]);
    expect(() => orchestrator.start(saga, { id: '1' }, { runId: 'order-1\nINFO' })).toThrow(/options\.runId: must not contain control characters \(it holds "\\n" at index 7\)/);
    // Not control characters: other Unicode is fine.
    expect((await orchestrator.run(saga, { id: '1' }, { runId: 'bestellung-ü-🙂 1' })).a).toBe('A');
  });

  it('another orchestrator cannot take over a run a live one drives: resume() is refused, recover() passes it over and says why, cancel() asks the owner', async () => {
    // A lease a loaded machine cannot let lapse between heartbeats (a third of it): the owner stays live throughout.
    const { store, owner, other, run, opened } = await runHeldByOne('owned', ['owner', 'other']);

    const resumed = await other.resume(run.runId).outcome.catch((caught: unknown) => caught);
    expect(resumed).toBeInstanceOf(RunLeasedError);
    expect((resumed as Error).message).toContain(`Run ${run.runId} is owned by owner`);
    const recovered = await other.recover();
    expect(recovered).toEqual([]);
    expect(recovered.skipped).toEqual([{ runId: run.runId, saga: 'owned', reason: 'owned', detail: expect.stringContaining('owned by owner') as unknown }]);
    // It names what it was doing, not the resume() it was not asked for.
    expect(recovered.skipped[0]?.detail).toContain('so taking it over in recover() was refused');

    // The cancel is a request: the owner carries it out (rule 1: the charge in flight settles first).
    await other.cancel(run.runId, 'customer asked');
    await expect.poll(async () => (await store.load(run.runId))?.some((event) => event.type === 'run.cancelling'), { timeout: 5_000, interval: 20 }).toBe(true);
    expect((await store.load(run.runId))?.some((event) => event.type === 'compensation.started')).toBe(false);
    opened.resolve();
    const outcome = await run.outcome;
    expect(outcome).toMatchObject({ status: 'cancelled', cancellation: { reason: 'customer asked', by: 'external' }, compensationOrder: ['charge', 'reserve'] });
    await owner.close();
    await other.close();
  });

  it('two orchestrators given the same ownerId (two replicas of one service): neither takes over the run the other drives', async () => {
    const { store, owner, other: replica, run, opened } = await runHeldByOne('shared-id', ['checkout-service', 'checkout-service']);

    const recovered = await replica.recover();
    expect(recovered).toEqual([]);
    expect(recovered.skipped.map((skipped) => skipped.reason)).toEqual(['owned']);
    await expect(replica.resume(run.runId).outcome).rejects.toBeInstanceOf(RunLeasedError);
    opened.resolve();
    expect((await run.outcome).status).toBe('completed');
    const journal = (await store.load(run.runId)) ?? [];
    expect(journal.filter((event) => event.type === 'run.resumed')).toEqual([]);
    expect(journal.filter((event) => event.type === 'stage.started' && event.stage === 'charge')).toHaveLength(1);
    await owner.close();
    await replica.close();
  });

  it('an orchestrator that could not give back the lease of a run it halted takes that run back itself, before the lease expires', async () => {
    const saga = defineSaga({ name: 'halted', input })
      .stage('a', { execute: () => 'A' })
      .stage('b', { execute: () => 'B' })
      .build();
    const memory = new MemoryStore();
    let [tripped, down] = [false, false];
    const unavailable = (): Promise<never> => Promise.reject(new StoreUnavailableError('test store', 'it is down'));
    const store: SagaStore = Object.assign(Object.create(memory) as MemoryStore, {
      append: (request: Parameters<SagaStore['append']>[0]) => {
        // Down at the first write of b's start: the run halts, and its lease cannot be given back.
        if (!tripped && request.events.some((event) => event.type === 'stage.started' && event.stage === 'b')) [tripped, down] = [true, true];
        return down ? unavailable() : memory.append(request);
      },
      release: (runId: string, lease: Parameters<SagaStore['release']>[1]) => (down ? unavailable() : memory.release(runId, lease)),
    });
    const reported: string[] = [];
    const orchestrator = createOrchestrator({ store, sagas: [saga], leaseMs: 60_000, onError: (_error, context) => reported.push(context.operation) });
    const run = orchestrator.start(saga, { id: '1' });
    await expect(run.outcome).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect.poll(() => reported).toContain('release');
    expect((await store.leaseOf(run.runId))?.live).toBe(true);
    down = false;
    const outcome = await orchestrator.resume(run.runId).outcome;
    expect(outcome).toMatchObject({ status: 'completed', completionOrder: ['a', 'b'] });
    await orchestrator.close();
  });

  it('close({ timeoutMs }) of a stopping run whose charge ignores its signal keeps the lease: nobody refunds the charge before it lands', async () => {
    let clock = 1_000_000;
    const store = new MemoryStore({ now: () => clock });
    const calls: string[] = [];
    const entered = deferred();
    const lands = deferred();
    const saga = defineSaga({ name: 'stubborn', input })
      .stage('charge', {
        after: [],
        // Ignores its signal: the provider call goes on whatever this process does.
        execute: async () => {
          entered.resolve();
          await lands.promise;
          calls.push('charge landed');
          return 'C';
        },
        compensate: ({ outcome }) => {
          calls.push(`refund (${outcome})`);
        },
      })
      .stage('check', {
        after: [],
        execute: async () => {
          await entered.promise;
          throw new Error('declined');
        },
      })
      .build();
    const owner = createOrchestrator({ store, sagas: [saga], leaseMs: 3_000, ownerId: 'leaving', onError: () => undefined });
    const other = createOrchestrator({ store, sagas: [saga], leaseMs: 3_000, ownerId: 'other' });
    const run = owner.start(saga, { id: '1' });
    await expect.poll(async () => (await store.load(run.runId))?.some((event) => event.type === 'stage.failed')).toBe(true);
    // Stopping after check's failure, charge still in flight: the owner shuts down with a bound.
    await owner.close({ timeoutMs: 1 });
    await expect(run.outcome).rejects.toBeInstanceOf(OrchestratorClosedError);

    const early = await other.recover();
    expect(early).toEqual([]);
    expect(early.skipped.map((skipped) => skipped.reason)).toEqual(['owned']);
    lands.resolve();
    await expect.poll(() => calls).toEqual(['charge landed']);
    // Once the lease has run out, the run is taken over, and the charge (unknown here) is refunded.
    clock += 3_001;
    const [recovered] = await other.recover();
    expect((await recovered?.outcome)?.status).toBe('compensated');
    expect(calls).toEqual(['charge landed', 'refund (unknown)']);
    await other.close();
  });

  it('close({ timeoutMs }) while a charge ignores its signal keeps the lease: no second process charges beside it; it charges again only after the lease expired', async () => {
    let clock = 1_000_000;
    const store = new MemoryStore({ now: () => clock });
    let [running, most, calls] = [0, 0, 0];
    const entered = deferred();
    const lands = deferred();
    const saga = defineSaga({ name: 'stubborn-forward', input })
      .stage('charge', {
        // Ignores its signal (the first call): the provider call goes on whatever this process does.
        execute: async () => {
          calls++;
          running++;
          most = Math.max(most, running);
          entered.resolve();
          if (calls === 1) await lands.promise;
          running--;
          return 'C';
        },
        compensate: () => undefined,
      })
      .build();
    const owner = createOrchestrator({ store, sagas: [saga], leaseMs: 3_000, ownerId: 'leaving', onError: () => undefined });
    const other = createOrchestrator({ store, sagas: [saga], leaseMs: 3_000, ownerId: 'other' });
    const run = owner.start(saga, { id: '1' });
    await entered.promise;
    await owner.close({ timeoutMs: 1 });
    await expect(run.outcome).rejects.toBeInstanceOf(OrchestratorClosedError);

    // Handed over now, the charge would run a second time while the first is still on its way.
    const early = await other.recover();
    expect(early).toEqual([]);
    expect(early.skipped).toMatchObject([{ runId: run.runId, reason: 'owned' }]);
    lands.resolve();
    await expect.poll(() => running).toBe(0);
    clock += 3_001;
    const [recovered] = await other.recover();
    expect((await recovered?.outcome)?.status).toBe('completed');
    expect({ calls, most }).toEqual({ calls: 2, most: 1 });
    await other.close();
  });

  it('close({ timeoutMs }) while a charge honours its aborted signal gives the run back before close() returns: taken over at once, charged again', async () => {
    const store = new MemoryStore();
    const entered = deferred();
    let calls = 0;
    const saga = defineSaga({ name: 'honouring', input })
      .stage('charge', {
        execute: async ({ signal }) => {
          calls++;
          if (calls === 1) {
            entered.resolve();
            await aborted(signal);
            throw signal.reason;
          }
          return 'C';
        },
      })
      .build();
    const owner = createOrchestrator({ store, sagas: [saga], leaseMs: 60_000, ownerId: 'leaving', onError: () => undefined });
    const run = owner.start(saga, { id: '1' });
    await entered.promise;
    await owner.close({ timeoutMs: 1 });
    await expect(run.outcome).rejects.toBeInstanceOf(OrchestratorClosedError);
    expect(await store.leaseOf(run.runId)).toBeUndefined();
    const other = createOrchestrator({ store, sagas: [saga], ownerId: 'other' });
    const [recovered] = await other.recover();
    expect((await recovered?.outcome)?.status).toBe('completed');
    expect(calls).toBe(2);
    await other.close();
  });

  it('a run halted by a store failure while a charge is in flight is given back when the charge lands, not before (and not only when its lease expires)', async () => {
    const memory = new MemoryStore();
    const { saga, store, counts, lands, up } = haltingWithChargeInFlight('halted-in-flight', memory);
    const owner = createOrchestrator({ store, sagas: [saga], leaseMs: 60_000, ownerId: 'halting', onError: () => undefined });
    const other = createOrchestrator({ store: memory, sagas: [saga], leaseMs: 60_000, ownerId: 'other' });
    const run = owner.start(saga, { id: '1' });
    await expect(run.outcome).rejects.toBeInstanceOf(StoreUnavailableError);
    up();

    const early = await other.recover();
    expect(early.skipped).toMatchObject([{ runId: run.runId, reason: 'owned' }]);
    lands.resolve();
    // Given back once the charge landed: taken over at once, a minute before the lease would expire.
    await expect.poll(async () => (await memory.leaseOf(run.runId))?.live ?? false).toBe(false);
    const [recovered] = await other.recover();
    expect((await recovered?.outcome)?.status).toBe('completed');
    expect({ calls: counts.calls, most: counts.most }).toEqual({ calls: 2, most: 1 });
    await Promise.all([owner.close(), other.close()]);
  });

  it('a call left in flight that never settles holds its halted run only for its stage timeoutMs: then the lease is given back', async () => {
    const memory = new MemoryStore();
    let down = false;
    const saga = defineSaga({ name: 'hung-charge', input })
      // Never settles, ignores its signal: a hung client.
      .stage('charge', { after: [], timeoutMs: 300, execute: () => new Promise<never>(() => undefined) })
      .stage('notify', { after: [], execute: () => 'N' })
      .build();
    const store: SagaStore = Object.assign(Object.create(memory) as MemoryStore, {
      append: (request: Parameters<SagaStore['append']>[0]) => {
        if (request.events.some((event) => event.type === 'stage.completed' && event.stage === 'notify')) down = true;
        return down ? Promise.reject(new StoreUnavailableError('test store', 'it is down')) : memory.append(request);
      },
    });
    const owner = createOrchestrator({ store, sagas: [saga], leaseMs: 60_000, ownerId: 'hung', onError: () => undefined });
    const run = owner.start(saga, { id: '1' });
    await expect(run.outcome).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await memory.leaseOf(run.runId)).toMatchObject({ owner: 'hung', live: true });
    // Past charge's 300 ms the call counts as landed (its result would be ignored): the run is given back, a minute before its lease.
    await expect.poll(async () => memory.leaseOf(run.runId), { timeout: 10_000 }).toBeUndefined();
    await owner.close();
  });

  it('a run halted by a store failure keeps its lease beaten while a call it left in flight runs past the lease: nobody charges beside it', async () => {
    let clock = 1_000_000;
    const memory = new MemoryStore({ now: () => clock });
    const halting = haltingWithChargeInFlight('halted-long-call', memory);
    const { saga, counts, lands } = halting;
    const forever = deferred();
    // Another run the halting orchestrator goes on driving, so that its heartbeats go on either way.
    const busy = defineSaga({ name: 'kept-busy', input })
      .stage('wait', { execute: () => forever.promise })
      .build();
    const beats: Array<readonly string[]> = [];
    let beaten: (() => void) | undefined;
    const store: SagaStore = Object.assign(Object.create(halting.store) as MemoryStore, {
      heartbeat: async (...args: Parameters<SagaStore['heartbeat']>) => {
        const result = await memory.heartbeat(...args);
        beats.push(args[1].map((run) => run.runId));
        beaten?.();
        return result;
      },
    });
    const owner = createOrchestrator({ store, sagas: [saga, busy], leaseMs: 300, ownerId: 'halting', onError: () => undefined });
    const rival = createOrchestrator({ store: memory, sagas: [saga, busy], leaseMs: 300, ownerId: 'rival' });
    const kept = owner.start(busy, { id: 'busy' });
    const run = owner.start(saga, { id: '1' });
    await expect(run.outcome).rejects.toBeInstanceOf(StoreUnavailableError);
    halting.up();

    // The charge runs on past the lease (on the store's clock); a heartbeat comes meanwhile.
    clock += 301;
    await new Promise<void>((resolve) => (beaten = resolve));
    const during = await rival.recover();
    expect(during.map((recovered) => recovered.runId)).toEqual([]);
    expect(during.skipped.map((skipped) => [skipped.runId, skipped.reason])).toContainEqual([run.runId, 'owned']);
    expect(beats.at(-1)).toContain(run.runId);
    lands.resolve();
    await expect.poll(async () => (await memory.leaseOf(run.runId))?.live ?? false).toBe(false);
    const [recovered] = await rival.recover();
    expect(recovered?.runId).toBe(run.runId);
    expect((await recovered?.outcome)?.status).toBe('completed');
    expect({ calls: counts.calls, most: counts.most }).toEqual({ calls: 2, most: 1 });
    forever.resolve();
    await kept.outcome;
    await Promise.all([owner.close(), rival.close()]);
  });

  it('recover() says which runs it passed over: saga not registered, another shape', async () => {
    const v1 = defineSaga({ name: 'shaped', input }).stage('a', { execute: () => 'A' }).stage('b', { execute: () => 'B' }).build();
    const v2 = defineSaga({ name: 'shaped', version: '2', input }).stage('a', { execute: () => 'A' }).stage('c', { execute: () => 'C' }).build();
    const stranger = defineSaga({ name: 'stranger', input }).stage('x', { execute: () => 'X' }).build();
    const store = new MemoryStore();
    const orphan = (saga: typeof v1 | typeof stranger, runId: string): SagaEvent[] => [
      { type: 'run.started', runId, saga: saga.name, seq: 0, at: 1, version: saga.version, shapeHash: saga.shapeHash, input: { id: '1' }, stages: saga.stages.map((stage) => stage.name), shape: saga.shape },
      { type: 'stage.started', runId, saga: saga.name, seq: 1, at: 2, stage: saga.stages[0]?.name ?? '', attempt: 1 },
    ];
    await storeOrphanedJournal(store, orphan(v1, 'old-shape'));
    await storeOrphanedJournal(store, orphan(stranger, 'not-mine'));
    const orchestrator = createOrchestrator({ store, sagas: [v2] });
    const recovered = await orchestrator.recover();
    expect(recovered).toEqual([]);
    expect(recovered.skipped.map(({ runId, reason }) => [runId, reason])).toEqual([
      ['not-mine', 'saga_not_registered'],
      ['old-shape', 'shape_mismatch'],
    ]);
    expect(recovered.skipped.find((skipped) => skipped.reason === 'shape_mismatch')?.detail).toContain("stage 'b' removed");
  });

  it('an event naming a stage the definition does not have (a hand-edited journal) is a StoreCorruptionError naming the run and seq', async () => {
    const saga = defineSaga({ name: 'edited', input }).stage('a', { execute: () => 'A' }).build();
    const store = new MemoryStore();
    await storeOrphanedJournal(store, [
      { type: 'run.started', runId: 'edited-1', saga: 'edited', seq: 0, at: 1, version: '1', shapeHash: saga.shapeHash, input: { id: '1' }, stages: ['a'], shape: saga.shape },
      { type: 'stage.started', runId: 'edited-1', saga: 'edited', seq: 1, at: 2, stage: 'a-typo', attempt: 1 },
    ]);
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const error = await orchestrator.inspect('edited-1').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreCorruptionError);
    expect(error).toMatchObject({ runId: 'edited-1', seq: 1 });
    expect((error as Error).message).toContain("names stage 'a-typo', which the run's definition does not have");
    await expect(orchestrator.resume('edited-1').outcome).rejects.toBeInstanceOf(StoreCorruptionError);
  });

  it('a stage.completed with no stage.started before it (a damaged journal) is a StoreCorruptionError: recover() passes the run over instead of executing the stage again and holding the run for ever', async () => {
    const executed: string[] = [];
    const saga = defineSaga({ name: 'damaged', input })
      .stage('a', { execute: () => void executed.push('a') })
      .stage('b', { execute: () => void executed.push('b') })
      .build();
    const store = new MemoryStore();
    await storeOrphanedJournal(store, [
      { type: 'run.started', runId: 'damaged-1', saga: 'damaged', seq: 0, at: 1, version: '1', shapeHash: saga.shapeHash, input: { id: '1' }, stages: ['a', 'b'], shape: saga.shape },
      { type: 'stage.completed', runId: 'damaged-1', saga: 'damaged', seq: 1, at: 2, stage: 'a', attempt: 1, durationMs: 1 },
    ]);
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const recovered = await orchestrator.recover();
    expect(recovered).toEqual([]);
    expect(recovered.skipped).toEqual([{ runId: 'damaged-1', saga: 'damaged', reason: 'unreadable', detail: expect.stringContaining("stage.completed of stage 'a', which never started") as unknown }]);
    await expect(orchestrator.inspect('damaged-1')).rejects.toMatchObject({ name: 'StoreCorruptionError', runId: 'damaged-1', seq: 1 });
    expect(executed).toEqual([]);
    expect(await store.load('damaged-1')).toHaveLength(2);
    await orchestrator.close();
  });

  it('a damaged journal that would leave the run nothing to do (a compensation of a stage that never ran, before any rollback): recover() passes it over as unreadable, compensates nothing, takes no lease, close() resolves', async () => {
    const compensated: string[] = [];
    const saga = defineSaga({ name: 'wedged', input })
      .stage('a', { execute: () => 'A', compensate: () => void compensated.push('a') })
      .stage('b', { execute: () => 'B', compensate: () => void compensated.push('b') })
      .build();
    const store = new MemoryStore();
    const error = { name: 'Error', message: 'x' };
    const event = { runId: 'wedged-1', saga: 'wedged' };
    // Found by fuzzing journals: every event is well-formed, their order is one no run writes.
    await storeOrphanedJournal(store, [
      { ...event, type: 'run.started', seq: 0, at: 1, version: '1', shapeHash: saga.shapeHash, input: { id: '1' }, stages: ['a', 'b'], shape: saga.shape },
      { ...event, type: 'compensation.started', seq: 1, at: 2, stage: 'a', attempt: 1 },
      { ...event, type: 'stage.started', seq: 2, at: 3, stage: 'b', attempt: 1 },
      { ...event, type: 'stage.cancelled', seq: 3, at: 4, stage: 'b', reason: 'r' },
      { ...event, type: 'stage.cancelled', seq: 4, at: 5, stage: 'a', reason: 'r' },
      { ...event, type: 'run.compensating', seq: 5, at: 6, cause: { kind: 'failed', stage: 'b', error } },
      { ...event, type: 'compensation.completed', seq: 6, at: 7, stage: 'a', attempt: 1, durationMs: 1 },
    ]);
    const orchestrator = createOrchestrator({ store, sagas: [saga], leaseMs: 60_000 });
    const recovered = await orchestrator.recover();
    expect(recovered).toEqual([]);
    expect(recovered.skipped).toEqual([
      { runId: 'wedged-1', saga: 'wedged', reason: 'unreadable', detail: expect.stringContaining("compensation.started of stage 'a' while the run is running (no run.compensating before it)") as unknown },
    ]);
    await expect(orchestrator.inspect('wedged-1')).rejects.toMatchObject({ name: 'StoreCorruptionError', runId: 'wedged-1', seq: 1 });
    expect(compensated).toEqual([]);
    expect(await store.load('wedged-1')).toHaveLength(7);
    await orchestrator.close();
    expect(await store.leaseOf('wedged-1')).toBeUndefined();
  });

  it("signal() of a run another live process owns, waiting for that owner to journal it, ends with close(): rejected with OrchestratorClosedError, as watch() is (it waited, polling the store, for ever); signal() after close() is refused at once", async () => {
    const saga = defineSaga({ name: 'approved-elsewhere', input })
      .waitForSignal('approval', { signal: 'approved', schema: z.object({ by: z.string() }) })
      .build();
    const store = new MemoryStore();
    // A live process owns the run for ten minutes (and is too busy to answer just now).
    const started: SagaEvent = { type: 'run.started', runId: 'elsewhere-1', saga: saga.name, seq: 0, at: 1, version: '1', shapeHash: saga.shapeHash, input: { id: '1' }, stages: ['approval'], shape: saga.shape };
    await store.create({ event: started, owner: { owner: 'a-live-process', leaseMs: 600_000 } });
    const recorded = deferred();
    const requestSignal = store.requestSignal.bind(store);
    store.requestSignal = async (request) => {
      await requestSignal(request);
      recorded.resolve();
    };
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const sent = orchestrator.signal('elsewhere-1', 'approved', { by: 'ann' }, { signalId: 'ticket-1' });
    const settled = sent.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await recorded.promise;
    await orchestrator.close();
    const error = await settled;
    expect(error).toBeInstanceOf(OrchestratorClosedError);
    expect((error as Error).message).toContain('elsewhere-1');
    expect((await store.leaseOf('elsewhere-1'))?.owner).toBe('a-live-process');
    await expect(orchestrator.signal('elsewhere-1', 'approved', { by: 'bob' }, { signalId: 'ticket-2' })).rejects.toBeInstanceOf(OrchestratorClosedError);
  });
});
