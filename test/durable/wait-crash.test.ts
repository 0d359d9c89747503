/**
 * A timer wait across a SIGKILL on SQLite: the wake-up time is journaled, so the process that
 * recovers the run waits only for what is left, and does not start the wait again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { filter, firstValueFrom } from 'rxjs';
import { z } from 'zod';
import { createOrchestrator, defineSaga } from 'sagaflow';
import { SqliteStore } from 'sagaflow/sqlite';
import { createVirtualClock } from 'sagaflow/testing';
import { runChild } from './child-process.js';
import { coolOff } from './wait-sagas.js';

const work = mkdtempSync(join(tmpdir(), 'sagaflow-wait-crash-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('a timer wait across a SIGKILL (SQLite)', () => {
  it('recover() re-arms the wait for what is left of it, from the journaled wake-up time', async () => {
    const path = join(work, 'waits.db');
    const runId = 'cool-off-1';
    const child = await runChild<{ type: 'waiting'; runId: string; dueAt: number }>(fileURLToPath(new URL('./wait-child.ts', import.meta.url)), { path, runId }, 60_000);
    expect(child.signal, child.output).toBe('SIGKILL');
    const dueAt = child.messages[0]?.dueAt as number;
    expect(dueAt).toBeGreaterThan(Date.now());

    const store = new SqliteStore({ path });
    try {
      // The dead process's lease runs out (300 ms): nobody drives the run, which holds no attempt.
      while ((await store.leaseOf(runId))?.live === true) await new Promise((resolve) => setTimeout(resolve, 50));
      const clock = createVirtualClock({ now: Date.now() });
      const recoveredAt = clock.now();
      const orchestrator = createOrchestrator({ store, sagas: [coolOff], scheduler: clock });
      const recovered = await orchestrator.recover();
      expect(recovered.map((run) => run.runId)).toEqual([runId]);
      const outcome = await (recovered[0] as (typeof recovered)[number]).outcome;
      await orchestrator.close();
      expect(outcome.status).toBe('completed');
      expect(outcome.outputs).toEqual({ hold: { held: 250 }, release: { released: 250 } });
      const journal = (await store.load(runId)) ?? [];
      expect(journal.filter((event) => event.type === 'wait.started')).toHaveLength(1);
      expect(journal.filter((event) => event.type === 'stage.started' && event.stage === 'cool')).toHaveLength(1);
      const woke = journal.find((event) => event.type === 'stage.completed' && event.stage === 'cool');
      // Woken at the journaled time, not a full minute after the recovery.
      expect(woke?.at).toBe(dueAt);
      expect(dueAt - recoveredAt).toBeLessThan(60_000);
    } finally {
      await store.close();
    }
  }, 90_000);
});

describe('a signal to a run another live owner drives (SQLite)', () => {
  it('is recorded in the store and delivered by the owner with its next heartbeat; the sender resolves once it is journaled', async () => {
    const saga = defineSaga({ name: 'approval', input: z.object({ cents: z.number() }) })
      .stage('hold', { execute: ({ input }) => ({ held: input.cents }), compensate: () => undefined })
      .waitForSignal('approve', { signal: 'approved', schema: z.object({ by: z.string() }) })
      .stage('pay', { execute: ({ results }) => `approved by ${results.approve.by}` })
      .build();
    const path = join(work, 'remote-signal.db');
    const ownerStore = new SqliteStore({ path });
    const senderStore = new SqliteStore({ path });
    try {
      // A lease a loaded machine cannot let lapse between heartbeats (a third of it): the owner stays live throughout.
      const owner = createOrchestrator({ store: ownerStore, sagas: [saga], leaseMs: 3_000 });
      const sender = createOrchestrator({ store: senderStore, sagas: [saga] });
      const run = owner.start(saga, { cents: 10 }, { runId: 'remote-1' });
      await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'wait.started')));
      await expect(sender.signal('remote-1', 'approved', { by: 'ops' }, { signalId: 'ops-1' })).resolves.toEqual({ accepted: true, signalId: 'ops-1', delivered: 'waiting' });
      const outcome = await run.outcome;
      expect(outcome.outputs.pay).toBe('approved by ops');
      // The owner drove it to the end: the sender never took it over.
      expect((await ownerStore.load('remote-1'))?.filter((event) => event.type === 'run.resumed')).toEqual([]);
      await Promise.all([owner.close(), sender.close()]);
    } finally {
      await Promise.all([ownerStore.close(), senderStore.close()]);
    }
  }, 60_000);
});
