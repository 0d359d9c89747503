/**
 * Sagas per second of the benchmark saga (5 stages; with `fail`, stage 5 fails into 4
 * compensations) on the embedded SqliteStore, driven the way the durable peers are: a closed
 * loop keeping `concurrency` runs in flight (`runPool` of bench/peers/peer.ts). This is the
 * figure `sqlite.ratioVsDbos` puts next to DBOS on PostgreSQL, same saga, same concurrency.
 */
import { createOrchestrator } from '../dist/index.js';
import { SqliteStore, type SqliteDurability } from '../dist/sqlite.js';
import { benchSaga } from './lib/bench-saga.js';
import { benchDatabasePath, removeDatabase } from './lib/sqlite-bench.js';
import { runPool } from './peers/peer.js';

/** Options of {@link sqliteSagasPerSecond}. */
export interface SqliteSagasOptions {
  readonly count: number;
  readonly concurrency: number;
  readonly fail: boolean;
  /** Default `'full'` (an fsync per group commit). */
  readonly durability?: SqliteDurability;
  /** Runs before measuring. Default 64. */
  readonly warmup?: number;
}

/** Runs `count` sagas on a fresh database file and returns sagas settled per second. */
export async function sqliteSagasPerSecond(options: SqliteSagasOptions): Promise<number> {
  const path = benchDatabasePath('sagas');
  const store = new SqliteStore({ path, durability: options.durability ?? 'full' });
  const orchestrator = createOrchestrator({ store });
  const expected = options.fail ? 'compensated' : 'completed';
  const batch = async (count: number): Promise<number> => {
    const started = performance.now();
    await runPool(count, options.concurrency, async () => {
      const outcome = await orchestrator.start(benchSaga, { fail: options.fail }).outcome;
      if (outcome.status !== expected) throw new Error(`sqlite: a run ended ${outcome.status}, expected ${expected}`);
    });
    return (count * 1_000) / (performance.now() - started);
  };
  try {
    await batch(options.warmup ?? 64);
    return await batch(options.count);
  } finally {
    await orchestrator.close();
    await store.close();
    removeDatabase(path);
  }
}
