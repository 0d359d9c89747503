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
 * `runIds` are listed in id order, as `listRuns` returns them. Neighbours in id order are what a
 * start must tell apart, so when the listing is every run in a stretch of the store's id order
 * (`complete`: no filter, only a `limit`, with `before` the run just before the stretch), the
 * listing alone says how much each id needs. A filtered listing leaves runs out between its
 * rows: each start found from the listing is then checked against the store by a prefix query,
 * and lengthened until it names one run.
 */
export async function uniqueRunIdPrefixes(
  store: Pick<SagaStore, 'listRuns'>,
  runIds: readonly string[],
  context: { readonly before: string | undefined; readonly complete: boolean },
): Promise<Map<string, number>> {
  const lengths = new Map<string, number>();
  for (const [index, runId] of runIds.entries()) {
    const previous = index === 0 ? context.before : runIds[index - 1];
    const shared = Math.max(commonStart(previous, runId), commonStart(runIds[index + 1], runId));
    let length = Math.min(runId.length, Math.max(MIN_RUN_ID_PREFIX, shared + 1));
    if (!context.complete) {
      while (length < runId.length && (await store.listRuns({ runIdPrefix: runId.slice(0, length), limit: 2 })).length > 1) length++;
    }
    lengths.set(runId, length);
  }
  return lengths;
}

/** How many characters two ids share at their start (0 when there is no other id). */
function commonStart(other: string | undefined, runId: string): number {
  if (other === undefined) return 0;
  let length = 0;
  while (length < other.length && length < runId.length && other[length] === runId[length]) length++;
  return length;
}
