/**
 * sagaflow/postgres: the PostgreSQL store, for durable journals shared by many processes and
 * for distributed workers.
 *
 * @remarks
 * {@link PostgresStore} keeps every run's journal in one schema (default `sagaflow`, created on
 * first use) and implements the worker queue: `submit`, `claim` with `FOR UPDATE SKIP LOCKED`,
 * leases with fencing epochs on the database clock, cancel requests and `LISTEN`/`NOTIFY`
 * wake-ups. It needs the `pg` package, an optional peer dependency of sagaflow:
 * `npm install pg`, and for TypeScript `npm install --save-dev @types/pg` (the store's options
 * accept a `pg.Pool` of your own). Importing `sagaflow/postgres` without `pg` fails with an error
 * that says so.
 *
 * @example
 * ```ts
 * import { PostgresStore } from 'sagaflow/postgres';
 * const store = new PostgresStore({ connectionString: process.env['DATABASE_URL'] ?? 'postgres://localhost/app' });
 * // Pass `store` to createOrchestrator and createWorker; every process sees the same runs.
 * const stuck = await store.listRuns({ status: ['paused', 'compensation_failed'] });
 * await store.close();
 * ```
 *
 * @packageDocumentation
 * @module sagaflow/postgres
 */

export { PostgresStore } from './stores/postgres-store.js';
export type {
  PostgresConnectionStringOptions,
  PostgresPoolOptions,
  PostgresStoreOptions,
  PostgresStoreSettings,
} from './stores/postgres-store.js';
