import { StoreCorruptionError } from '../errors/store-errors.js';
import type { SagaEvent } from '../journal/saga-event.js';

/**
 * A run's journal after a takeover that asked only for what it had not read
 * (`AcquireRequest.knownEvents`): the journal, and the events it gained since the read
 * (`undefined` when the store returned the whole journal, as a store may, so it has to be folded
 * anew).
 */
export interface TakeoverJournal {
  readonly journal: readonly SagaEvent[];
  readonly added: readonly SagaEvent[] | undefined;
}

/**
 * Joins the journal read before a takeover with what the takeover returned: the events from
 * `read.length` on, or the whole journal (its first event at seq 0).
 *
 * @throws StoreCorruptionError when the store returned events that continue neither.
 */
export function journalAfterTakeover(runId: string, read: readonly SagaEvent[], returned: readonly SagaEvent[]): TakeoverJournal {
  const first = returned[0];
  if (first === undefined) return { journal: read, added: returned };
  if (first.seq === 0) return { journal: returned, added: undefined };
  if (first.seq !== read.length) {
    throw new StoreCorruptionError(runId, first.seq, `the takeover returned the journal from seq ${first.seq}, not from seq ${read.length} (the events read before it)`);
  }
  return { journal: [...read, ...returned], added: returned };
}
