import type { SagaStore } from '../index.js';
import { CliUsageError } from './exit-codes.js';

/** The fewest characters taken as the start of a run id (as git takes 4 of a commit's). */
export const MIN_RUN_ID_PREFIX = 4;

/** How many of the runs an ambiguous prefix names the error lists. */
const LISTED = 5;

/** The error of a command given the id of no run in its store. */
export function noSuchRun(store: SagaStore, runId: string, options?: ErrorOptions): CliUsageError {
  return new CliUsageError(`There is no run ${runId} in ${store.description}: list the runs with 'npx sagaflow runs', and pass --store if they are elsewhere.`, options);
}

/**
 * The run a command's `<runId>` argument names: the run with that id, or else the one run whose id
 * starts with it, as users copy the first characters of an id from `sagaflow runs`.
 *
 * @remarks
 * An exact id always wins, even when it also starts longer ids (`order-1` and `order-10`). A
 * prefix is looked for only from {@link MIN_RUN_ID_PREFIX} characters on, so that `cancel 0` does
 * not act on whichever run happens to be alone in the store. uuid v7 ids of runs started within
 * about a minute share their first 8 characters (the time), so the error for a prefix of several
 * runs lists them and says so. Uses only the public store API (`listRuns` by id prefix).
 *
 * @throws {@link CliUsageError} when no run has that id or starts with it, or several start with it.
 */
export async function resolveRunId(store: SagaStore, given: string): Promise<string> {
  const notFound = (): CliUsageError => noSuchRun(store, given);
  // No run id holds a NUL (stores refuse one), and a prefix of one would match none anyway.
  if (given.includes('\u0000')) throw notFound();
  // Ids come back in id order, so an exact id comes first among the ids it starts.
  const matches = await store.listRuns({ runIdPrefix: given, limit: given.length >= MIN_RUN_ID_PREFIX ? LISTED + 1 : 1 });
  const [match] = matches;
  if (match === undefined) throw notFound();
  if (match.runId === given) return given;
  if (given.length < MIN_RUN_ID_PREFIX) throw notFound();
  if (matches.length === 1) return match.runId;
  const listed = matches.slice(0, LISTED).map((run) => `${run.runId} (${run.saga}, ${run.status})`);
  const count = matches.length > LISTED ? `more than ${LISTED}` : String(matches.length);
  throw new CliUsageError(
    `The run id '${given}' is the start of ${count} runs in ${store.description}: ${listed.join(', ')}${matches.length > LISTED ? ', …' : ''}; ` +
      'give more of the id (the first 8 characters of a uuid v7 are its start time, shared by runs started within a minute of each other).',
  );
}

/**
 * How many characters of each listed run id {@link resolveRunId} needs to name that run: the
 * shortest start of it that no other run in the store shares, {@link MIN_RUN_ID_PREFIX} or more
 * (the whole id when another id starts with it: an exact id always wins).
 *
 * @remarks
 * `runIds` are listed in id order, as `listRuns` returns them. Neighbours in the store's id order
 * are what a start must tell apart, so when the listing is every run in a stretch of that order
 * (`complete`: no filter, only a `limit`, with `before` the run just before the stretch), the
 * listing alone says how much each id needs. A filtered listing leaves runs out between its rows:
 * the stretch from its first row to the run after its last is then read unfiltered, in at most
 * {@link STRETCH_PAGES} pages, and how much the first row shares with the run before it is found
 * by prefix queries (a binary search over its length): a bounded number of store calls, whatever
 * the number of rows. Rows past a stretch too long to read are left out of the map (shown as they are).
 */
export async function uniqueRunIdPrefixes(
  store: Pick<SagaStore, 'listRuns'>,
  runIds: readonly string[],
  context: { readonly before: string | undefined; readonly complete: boolean },
): Promise<Map<string, number>> {
  const lengths = new Map<string, number>();
  const [first] = runIds;
  if (first === undefined) return lengths;
  if (context.complete) {
    for (const [index, runId] of runIds.entries()) lengths.set(runId, lengthBetween(index === 0 ? context.before : runIds[index - 1], runId, runIds[index + 1]));
    return lengths;
  }
  const stretch = await readStretch(store, first, runIds[runIds.length - 1] ?? first);
  const beforeFirst = await sharedWithPredecessor(store, first);
  for (const runId of runIds) {
    const index = stretch.ids.indexOf(runId);
    const next = stretch.ids[index + 1];
    // Past what was read: its next neighbour is unknown.
    if (index < 0 || (next === undefined && !stretch.toEnd)) continue;
    const previousShares = index === 0 ? beforeFirst : commonStart(stretch.ids[index - 1], runId);
    lengths.set(runId, Math.min(runId.length, Math.max(MIN_RUN_ID_PREFIX, previousShares + 1, commonStart(next, runId) + 1)));
  }
  return lengths;
}

/** Pages of {@link STRETCH_PAGE} runs that a filtered listing's stretch is read in, at most. */
const STRETCH_PAGES = 5;
/** Runs per page of a stretch. */
const STRETCH_PAGE = 1_000;

/** The length that tells `runId` from the ids on either side of it. */
function lengthBetween(previous: string | undefined, runId: string, next: string | undefined): number {
  const shared = Math.max(commonStart(previous, runId), commonStart(next, runId));
  return Math.min(runId.length, Math.max(MIN_RUN_ID_PREFIX, shared + 1));
}

/**
 * Every run id in the store from `first` to the one after `last`, unfiltered, in id order;
 * `toEnd`: whether the read got that far (or to the end of the store), within {@link STRETCH_PAGES}.
 */
async function readStretch(store: Pick<SagaStore, 'listRuns'>, first: string, last: string): Promise<{ readonly ids: readonly string[]; readonly toEnd: boolean }> {
  const ids = [first];
  for (let page = 0; page < STRETCH_PAGES; page++) {
    const runs = await store.listRuns({ afterRunId: ids[ids.length - 1], limit: STRETCH_PAGE });
    ids.push(...runs.map((run) => run.runId));
    // The store's order decides (by code point), not JavaScript's string comparison: read until `last` has a run after it.
    const lastAt = ids.indexOf(last);
    if (runs.length < STRETCH_PAGE || (lastAt >= 0 && lastAt < ids.length - 1)) return { ids, toEnd: true };
  }
  return { ids, toEnd: false };
}

/**
 * How many characters `runId` shares with the run just before it in the store's id order, when
 * that is {@link MIN_RUN_ID_PREFIX} or more (less changes nothing, so 0 then). A run before it that
 * shares `length` characters exists exactly when the first run starting with them sorts before it.
 */
async function sharedWithPredecessor(store: Pick<SagaStore, 'listRuns'>, runId: string): Promise<number> {
  const sharesSoMuch = async (length: number): Promise<boolean> => {
    // `runId` starts with them too: the first such run is it, or one before it.
    const [firstWithStart] = await store.listRuns({ runIdPrefix: runId.slice(0, length), limit: 1 });
    return firstWithStart !== undefined && firstWithStart.runId !== runId;
  };
  // No run before it starts with the whole of it.
  let shared = 0;
  let low = MIN_RUN_ID_PREFIX;
  let high = runId.length - 1;
  while (low <= high) {
    const length = Math.floor((low + high) / 2);
    if (await sharesSoMuch(length)) {
      shared = length;
      low = length + 1;
    } else {
      high = length - 1;
    }
  }
  return shared;
}

/** How many characters two ids share at their start (0 when there is no other id). */
function commonStart(other: string | undefined, runId: string): number {
  if (other === undefined) return 0;
  let length = 0;
  while (length < other.length && length < runId.length && other[length] === runId[length]) length++;
  return length;
}
