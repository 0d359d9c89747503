/**
 * Micro-benchmark of SqliteStore's group commit.
 *
 * Run: `npx tsx bench/sqlite-store.ts [--duration=1500] [--rounds=3]`
 *
 * Compares the raw rate of durable commits (one single-row INSERT per transaction, WAL,
 * synchronous=FULL) with the store's append rate when 1, 10 and 100 runs append concurrently,
 * each one event at a time and awaiting each append, as the runtime does. The project's
 * target: at 100 concurrent runs, ≥ 5× the raw commit rate at `durability: 'full'`.
 * It also compares flushing on `setImmediate` (the store's choice) with flushing on a
 * microtask, with and without the extra promise hops a runtime puts between two appends.
 * Numbers are medians over the rounds; files live in bench/.work (git-ignored).
 */
import type { RunStartedEvent, SagaEvent } from '../dist/index.js';
import { SqliteStore, type SqliteDurability } from '../dist/sqlite.js';
import {
  benchDatabasePath,
  formatNumber as format,
  numberArgument as argument,
  printTable,
  rawCommitsPerSecond,
  removeDatabase,
} from './lib/sqlite-bench.js';
import { median } from './lib/stats.js';

const DURATION_MS = argument('duration', 1_500);
const ROUNDS = argument('rounds', 3);
function eventFor(runId: string, seq: number): SagaEvent {
  if (seq === 0) {
    return { type: 'run.started', runId, saga: 'bench', seq, at: Date.now(), version: '1', shapeHash: 'shape', input: { from: 'alice', to: 'bob', cents: 1_250 }, stages: ['debit', 'credit'] };
  }
  return seq % 2 === 1
    ? { type: 'stage.started', runId, saga: 'bench', seq, at: Date.now(), stage: `stage-${seq}`, attempt: 1 }
    : { type: 'stage.completed', runId, saga: 'bench', seq, at: Date.now(), stage: `stage-${seq - 1}`, attempt: 1, output: { entryId: `e-${runId}-${seq}`, cents: 1_250 }, durationMs: 2 };
}

type Flush = 'immediate' | 'microtask';

class MicrotaskFlushStore extends SqliteStore {
  protected override scheduleFlush(flush: () => void): void {
    queueMicrotask(flush);
  }
}

interface StoreResult {
  readonly eventsPerSecond: number;
  readonly eventsPerTransaction: number;
}

/**
 * What a run does between two appends: nothing; five promise hops (the runtime's own chain:
 * fold, emit, schedule the next stage); or wait for an I/O callback, as a stage calling
 * another system does (a `setImmediate` stands in for the socket).
 */
type Gap = 'none' | 'hops' | 'io';

/** `appenders` runs, each appending one event at a time and awaiting it, for DURATION_MS. */
async function storeRate(durability: SqliteDurability, appenders: number, flush: Flush = 'immediate', gap: Gap = 'none'): Promise<StoreResult> {
  const path = benchDatabasePath(`store-${durability}-${appenders}-${flush}`);
  const store = flush === 'immediate' ? new SqliteStore({ path, durability }) : new MicrotaskFlushStore({ path, durability });
  await store.open();
  const deadline = performance.now() + DURATION_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: appenders }, async (_, appender) => {
      const runId = `run-${String(appender).padStart(4, '0')}`;
      const lease = { owner: 'bench', epoch: 1 };
      await store.create({ event: eventFor(runId, 0) as RunStartedEvent, owner: { owner: lease.owner, leaseMs: 600_000 } });
      for (let seq = 1; performance.now() < deadline; seq++) {
        await store.append({ runId, saga: 'bench', expectedSeq: seq, events: [eventFor(runId, seq)], status: 'running', lease });
        if (gap === 'hops') for (let hop = 0; hop < 5; hop++) await Promise.resolve();
        if (gap === 'io') await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1_000;
  const { events, transactions } = store.stats;
  await store.close();
  removeDatabase(path);
  return { eventsPerSecond: events / elapsed, eventsPerTransaction: events / Math.max(1, transactions) };
}

async function main(): Promise<void> {
  console.log(`SqliteStore group commit: ${ROUNDS} round(s) of ${DURATION_MS} ms per measurement; medians over rounds.`);
  console.log('The disk is shared and noisy, so each round measures the raw rate right before the store and the ratio is taken per round.\n');

  const configs = (['full', 'normal'] as const).flatMap((durability) => [1, 10, 100].map((appenders) => ({ durability, appenders })));
  const flushConfigs = (['none', 'hops', 'io'] as const).flatMap((gap) => (['immediate', 'microtask'] as const).map((flush) => ({ gap, flush })));
  const raw = { full: [] as number[], normal: [] as number[] };
  const measured = new Map<string, { rate: number[]; perTransaction: number[]; ratio: number[] }>();
  const record = (key: string, result: StoreResult, rawFull: number): void => {
    const entry = measured.get(key) ?? { rate: [], perTransaction: [], ratio: [] };
    entry.rate.push(result.eventsPerSecond);
    entry.perTransaction.push(result.eventsPerTransaction);
    entry.ratio.push(result.eventsPerSecond / rawFull);
    measured.set(key, entry);
  };

  for (let round = 0; round < ROUNDS; round++) {
    const rawFull = rawCommitsPerSecond('FULL', DURATION_MS);
    raw.full.push(rawFull);
    raw.normal.push(rawCommitsPerSecond('NORMAL', DURATION_MS));
    for (const { durability, appenders } of configs) record(`${durability}-${appenders}`, await storeRate(durability, appenders), rawFull);
    for (const { gap, flush } of flushConfigs) record(`flush-${gap}-${flush}`, await storeRate('full', 100, flush, gap), rawFull);
    process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`);
  }

  console.log(`\nraw single-row commits/s, WAL, synchronous=FULL:   ${format(median(raw.full))}  (rounds: ${raw.full.map((value) => format(value)).join(', ')})`);
  console.log(`raw single-row commits/s, WAL, synchronous=NORMAL: ${format(median(raw.normal))}\n`);

  const rows: string[][] = [['durability', 'appenders', 'events/s', 'events/txn', '× raw FULL']];
  for (const { durability, appenders } of configs) {
    const entry = measured.get(`${durability}-${appenders}`);
    if (entry === undefined) continue;
    rows.push([durability, String(appenders), format(median(entry.rate)), format(median(entry.perTransaction), 1), format(median(entry.ratio), 2)]);
  }
  printTable(rows);
  const target = measured.get('full-100');
  console.log(
    `\nratio at 100 appenders, durability 'full': ${format(median(target?.ratio ?? [0]), 2)}× raw commits/s (target ≥ 5×; rounds: ${(target?.ratio ?? []).map((value) => format(value, 2)).join(', ')})\n`,
  );

  const flushRows: string[][] = [['between appends', 'flush on', 'events/s', 'events/txn']];
  for (const { gap, flush } of flushConfigs) {
    const entry = measured.get(`flush-${gap}-${flush}`);
    if (entry === undefined) continue;
    const gapLabel = gap === 'none' ? 'nothing' : gap === 'hops' ? '5 promise hops' : 'an I/O callback';
    flushRows.push([gapLabel, flush, format(median(entry.rate)), format(median(entry.perTransaction), 1)]);
  }
  console.log("Flush scheduling, 100 appenders, durability 'full':");
  printTable(flushRows);
}

await main();
