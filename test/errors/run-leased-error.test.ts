import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore, RunLeasedError } from 'sagaflow';

describe('RunLeasedError', () => {
  it('says until when the lease is held, and what to do whether its owner is alive or died', async () => {
    let entered!: () => void;
    const started = new Promise<void>((resolve) => (entered = resolve));
    const saga = defineSaga({ name: 'held', input: z.object({}) })
      .stage('wait', {
        execute: ({ signal }) =>
          new Promise<number>((_resolve, reject) => {
            entered();
            signal.addEventListener('abort', () => reject(new Error('stopped')));
          }),
      })
      .build();
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    const store = new MemoryStore({ now: () => now });
    const owner = createOrchestrator({ store, sagas: [saga], ownerId: 'owner-1', leaseMs: 30_000 });
    const other = createOrchestrator({ store, sagas: [saga], ownerId: 'other' });
    const run = owner.start(saga, {});
    await started;

    const refused = await other.resume(run.runId).outcome.catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(RunLeasedError);
    expect((refused as RunLeasedError).expiresAt).toBe(now + 30_000);
    expect((refused as Error).message).toBe(
      `Run ${run.runId} is owned by owner-1 (lease epoch 1, held until 2026-01-01T12:00:30.000Z), so resume() was refused. ` +
        'If that process is alive, cancel the run with orchestrator.cancel(runId, reason), which its owner carries out, or wait until it releases the run. ' +
        'If it died (a crash, a SIGKILL), nothing takes the run over before its lease expires (leaseMs after its last heartbeat, 30 s by default): recover() or resume() it then, or call recover({ waitForLeases: true }) now, which waits for the lease to lapse.',
    );
    const recovered = await other.recover();
    // recover() says what it was refused as: its own takeover, not a resume() the application never called.
    expect(recovered.skipped.map((skipped) => skipped.detail)).toEqual([(refused as Error).message.replace('so resume() was refused', 'so taking it over in recover() was refused')]);

    run.cancel('done');
    await run.outcome;
    await Promise.all([owner.close(), other.close()]);
  });

  it('leaves the expiry out when it is not known', () => {
    expect(new RunLeasedError('r-1', 'o', 2).message).toMatch(/^Run r-1 is owned by o \(lease epoch 2\), so an append without that lease was refused\. If that process is alive/);
  });
});
