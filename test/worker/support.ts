import { foldJournal, type SagaEvent, type SagaStore } from 'sagaflow';
import { expect } from 'vitest';

/** Polls `check` until it holds, failing with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const SETTLED = new Set(['completed', 'compensated', 'cancelled', 'compensation_failed', 'paused']);

/** Waits until every run has settled; resolves with their journals. */
export async function waitForSettled(store: SagaStore, runIds: readonly string[], timeoutMs = 40_000): Promise<Map<string, readonly SagaEvent[]>> {
  const journals = new Map<string, readonly SagaEvent[]>();
  await waitFor(
    `${runIds.length} runs to settle`,
    async () => {
      for (const runId of runIds) {
        if (journals.has(runId)) continue;
        const journal = await store.load(runId).catch(() => undefined);
        if (journal !== undefined && SETTLED.has(foldJournal(journal).status)) journals.set(runId, journal);
      }
      return journals.size === runIds.length;
    },
    timeoutMs,
  );
  return journals;
}

/** A sound journal: seqs 0..n-1 in order, one run, and it folds. */
export function expectSoundJournal(journal: readonly SagaEvent[]): void {
  expect(journal.map((event) => event.seq)).toEqual(journal.map((_, index) => index));
  expect(new Set(journal.map((event) => event.runId)).size).toBe(1);
  expect(() => foldJournal(journal)).not.toThrow();
}
