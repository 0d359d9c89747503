import { StoreCorruptionError } from '../errors/store-errors.js';
import { sagaEventSchema, type SagaEvent } from '../journal/saga-event.js';

/**
 * Turns a run's stored rows back into its journal, validating each event with `sagaEventSchema`.
 * Internal to the SQL stores: the one parser both share.
 *
 * @remarks
 * Each row is `[seq, body]`, in `seq` order, `body` the event's JSON text. The first bad row
 * fails the load with a `StoreCorruptionError` naming the run and its seq: a gap, a body that
 * is not text or not JSON, not a valid event, or an event of another run or position.
 * `recorded` is the journal length the run's summary row records (`undefined`: no such row);
 * rows and summary must agree. With `from` (a takeover of a journal the caller has read up to
 * there), the rows are the journal's from that `seq` on.
 *
 * @returns the events; `undefined` when the run has neither rows nor a summary row.
 * @throws StoreCorruptionError at the first row that is not the event it should be.
 *
 * @internal
 */
export function parseJournalRows(runId: string, rows: readonly (readonly unknown[])[], recorded: number | undefined, from = 0): SagaEvent[] | undefined {
  if (rows.length === 0 && recorded === undefined) return undefined;
  const events: SagaEvent[] = [];
  for (let index = 0; index < rows.length; index++) {
    const expected = from + index;
    const [seq, body] = rows[index] ?? [];
    if (seq !== expected) {
      throw new StoreCorruptionError(
        runId,
        expected,
        typeof seq === 'number' && seq > expected ? `the event is missing (the next row has seq ${seq})` : `the row has seq ${String(seq)}`,
      );
    }
    events.push(parseEventRow(runId, expected, body));
  }
  const end = from + rows.length;
  if (recorded === undefined) {
    throw new StoreCorruptionError(runId, undefined, 'it has events but no entry in the table of runs');
  }
  if (recorded > end) {
    throw new StoreCorruptionError(runId, end, `the event is missing (the run records ${recorded} events, ${end} rows remain)`);
  }
  if (recorded < end) {
    throw new StoreCorruptionError(runId, recorded, `the row lies past the end of the journal (the run records ${recorded} events)`);
  }
  return events;
}

/** One stored event body, parsed and checked against its run and position. */
function parseEventRow(runId: string, seq: number, body: unknown): SagaEvent {
  if (typeof body !== 'string') {
    const kind = body === null ? 'null' : Buffer.isBuffer(body) ? 'a blob' : `a ${typeof body}`;
    throw new StoreCorruptionError(runId, seq, `the row's body is ${kind}, not JSON text`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw new StoreCorruptionError(runId, seq, 'the row is not valid JSON', { cause: error });
  }
  const result = sagaEventSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
    throw new StoreCorruptionError(runId, seq, `the row is not a valid event (${issue?.message ?? 'invalid'}${where})`, { cause: result.error });
  }
  const event = result.data;
  if (event.seq !== seq) throw new StoreCorruptionError(runId, seq, `the row's event says seq ${event.seq}`);
  if (event.runId !== runId) throw new StoreCorruptionError(runId, seq, `the row's event belongs to run ${event.runId}`);
  return event;
}
