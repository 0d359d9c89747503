/**
 * sagaflow/sqlite: the embedded, durable saga store, on SQLite through better-sqlite3.
 *
 * @remarks
 * {@link SqliteStore} keeps every run's journal in one database file (WAL mode, group
 * commit), so runs survive a crash and `orchestrator.recover()` picks them up on restart.
 * It suits one process, or a few on one machine; share runs between machines with
 * `sagaflow/postgres`. It needs the `better-sqlite3` package, an optional peer dependency of
 * sagaflow: `npm install better-sqlite3` (importing `sagaflow/sqlite` without it fails with an
 * error that says so).
 *
 * @example
 * ```ts
 * import { createOrchestrator } from 'sagaflow';
 * import { SqliteStore } from 'sagaflow/sqlite';
 * const orchestrator = createOrchestrator({ store: new SqliteStore({ path: '.sagaflow/sagas.db' }), sagas: [] });
 * ```
 *
 * @packageDocumentation
 * @module sagaflow/sqlite
 */

export { SqliteStore } from './stores/sqlite-store.js';
export type { SqliteDurability, SqliteStoreOptions, SqliteStoreSettings, SqliteStoreStats } from './stores/sqlite-store.js';
