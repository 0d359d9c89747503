// What `import 'sagaflow/postgres'` runs (package.json `exports`). Its types and documentation are
// those of `postgres.ts`, the entry point's `types`: this file exports the same names. The store
// is imported dynamically so that a project without pg (an optional peer dependency) gets an
// error naming the package to install, not Node's "Cannot find package" from deep inside.
import { importWithPeer } from './optional-peer.js';
import type * as PostgresStoreModule from './stores/postgres-store.js';

const loaded: typeof PostgresStoreModule = await importWithPeer(
  { entry: 'sagaflow/postgres', peer: 'pg', hint: 'and, for TypeScript, `npm install --save-dev @types/pg`' },
  () => import('./stores/postgres-store.js'),
);

/** See `postgres.ts`. */
export const PostgresStore: typeof PostgresStoreModule.PostgresStore = loaded.PostgresStore;
/** See `postgres.ts`. */
export type PostgresStore = PostgresStoreModule.PostgresStore;
export type {
  PostgresConnectionStringOptions,
  PostgresPoolOptions,
  PostgresStoreOptions,
  PostgresStoreSettings,
} from './stores/postgres-store.js';
