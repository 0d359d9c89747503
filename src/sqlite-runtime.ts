// What `import 'sagaflow/sqlite'` runs (package.json `exports`). Its types and documentation are
// those of `sqlite.ts`, the entry point's `types`: this file exports the same names. The store is
// imported dynamically so that a project without better-sqlite3 (an optional peer dependency)
// gets an error naming the package to install, not Node's "Cannot find package" from deep inside.
import { importWithPeer } from './optional-peer.js';
import type * as SqliteStoreModule from './stores/sqlite-store.js';

const loaded: typeof SqliteStoreModule = await importWithPeer({ entry: 'sagaflow/sqlite', peer: 'better-sqlite3' }, () => import('./stores/sqlite-store.js'));

/** See `sqlite.ts`. */
export const SqliteStore: typeof SqliteStoreModule.SqliteStore = loaded.SqliteStore;
/** See `sqlite.ts`. */
export type SqliteStore = SqliteStoreModule.SqliteStore;
export type { SqliteDurability, SqliteStoreOptions, SqliteStoreSettings, SqliteStoreStats } from './stores/sqlite-store.js';
