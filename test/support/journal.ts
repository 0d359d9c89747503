import type { SagaEvent, SagaStore } from 'sagaflow';

/**
 * Stores a journal as a process that died would have left it: the run created and written under
 * that process's lease, then the lease gone (as it is once it expires), so that another process
 * may take the run over.
 */
export async function storeOrphanedJournal(store: SagaStore, events: readonly SagaEvent[]): Promise<void> {
  const [started, ...rest] = events;
  if (started?.type !== 'run.started') throw new TypeError('a journal starts with run.started');
  const lease = { owner: 'a-process-that-died', epoch: 1 };
  await store.create({ event: started, owner: { owner: lease.owner, leaseMs: 60_000 } });
  if (rest.length > 0) {
    const status = rest.some((event) => event.type === 'run.compensating') ? 'compensating' : 'running';
    await store.append({ runId: started.runId, saga: started.saga, expectedSeq: 1, events: rest, status, lease });
  }
  await store.release(started.runId, lease);
}
