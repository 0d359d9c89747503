import { RUN_STATUSES, type ListRunsQuery, type RunStatus, type RunSummary, type SagaStore } from '../index.js';

/** Which runs the list shows. */
export interface RunsFilter {
  /** Only runs in this status. */
  readonly status?: RunStatus;
  /** Only runs of this saga. */
  readonly saga?: string;
  /** Only runs whose id starts with this. */
  readonly runIdPrefix?: string;
}

/** Where a page starts: after a run id, going to older runs (`before`) or to newer ones (`after`). */
export type RunsCursor = { readonly before: string } | { readonly after: string } | undefined;

/** One page of the list, newest first, with the cursors of its neighbours. */
export interface RunsPage {
  readonly runs: readonly RunSummary[];
  /** The cursor of the page of newer runs (`after` this id), when there is one. */
  readonly newer?: string;
  /** The cursor of the page of older runs (`before` this id), when there is one. */
  readonly older?: string;
}

/**
 * Reads one page of runs, newest first, with keyset paging on the run id (uuid v7: creation order).
 *
 * @remarks
 * Every store query reads at most `size + 1` summaries along an index, whatever the store holds:
 * the id itself, `(status, run_id)` or `(saga, status, run_id)`. A saga with no status
 * filter is the one shape no index serves in id order, so it is read as one query per status,
 * each along `(saga, status, run_id)`, and merged: eight short index ranges instead of a sort of
 * all the saga's runs.
 */
export async function readRunsPage(store: SagaStore, filter: RunsFilter, cursor: RunsCursor, size: number): Promise<RunsPage> {
  // No run id holds a NUL (stores refuse one): a prefix with one (a crafted address) matches none.
  if (filter.runIdPrefix?.includes('\u0000') === true) return { runs: [] };
  const towardNewer = cursor !== undefined && 'after' in cursor;
  const order = towardNewer ? 'asc' : 'desc';
  const base: ListRunsQuery = {
    ...(filter.saga === undefined ? {} : { saga: filter.saga }),
    ...(filter.runIdPrefix === undefined ? {} : { runIdPrefix: filter.runIdPrefix }),
    ...(cursor === undefined ? {} : { afterRunId: 'after' in cursor ? cursor.after : cursor.before }),
    order,
    limit: size + 1,
  };
  let rows: RunSummary[];
  if (filter.status !== undefined || filter.saga === undefined) {
    rows = [...(await store.listRuns({ ...base, ...(filter.status === undefined ? {} : { status: filter.status }) }))];
  } else {
    const perStatus = await Promise.all(RUN_STATUSES.map((status) => store.listRuns({ ...base, status })));
    rows = perStatus
      .flat()
      .sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0) * (towardNewer ? 1 : -1))
      .slice(0, size + 1);
  }
  const more = rows.length > size;
  const page = rows.slice(0, size);
  if (towardNewer) page.reverse();
  const first = page[0]?.runId;
  const last = page[page.length - 1]?.runId;
  const hasNewer = towardNewer ? more : cursor !== undefined;
  const hasOlder = towardNewer ? true : more;
  return {
    runs: page,
    ...(hasNewer && first !== undefined ? { newer: first } : {}),
    ...(hasOlder && last !== undefined ? { older: last } : {}),
  };
}
