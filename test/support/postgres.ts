import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server the PostgreSQL tests use; override with SAGAFLOW_TEST_POSTGRES_URL. */
export const POSTGRES_URL = process.env['SAGAFLOW_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Whether the tests run in CI: `CI` set to anything but empty, `false` or `0` (CI services set
 * `CI=true`, `CI=1` or their own value).
 */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = (env['CI'] ?? '').trim().toLowerCase();
  return value !== '' && value !== 'false' && value !== '0';
}

/**
 * Checks that the test server answers. Resolves to its URL, or to `undefined` after a loud
 * warning so the caller can skip; in CI (see {@link isCi}) an unreachable server fails the run
 * instead, because silently skipped database tests prove nothing.
 */
export async function postgresForTests(options: { readonly url?: string; readonly env?: NodeJS.ProcessEnv } = {}): Promise<string | undefined> {
  const url = options.url ?? POSTGRES_URL;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return url;
  } catch (error) {
    const message =
      `PostgreSQL is not reachable at ${url} (${error instanceof Error ? error.message || error.name : String(error)}): ` +
      'start it (pg_ctlcluster <version> main start) or point SAGAFLOW_TEST_POSTGRES_URL at a server.';
    if (isCi(options.env)) throw new Error(`${message} (CI is set, so a missing server fails the run)`, { cause: error });
    const bar = '!'.repeat(100);
    console.warn(`\n${bar}\nSKIPPING the PostgreSQL tests: ${message}\n${bar}\n`);
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A schema name no other test run uses: `test_<label>_<random>`. */
export function uniqueSchema(label: string): string {
  return `test_${label}_${randomBytes(5).toString('hex')}`.toLowerCase().slice(0, 63);
}

/**
 * Runs `work` with a plain client outside any store (to inspect or tamper with tables, hold
 * locks, terminate backends), then closes it.
 */
export async function withAdminClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Drops test schemas and everything in them. */
export async function dropSchemas(url: string, ...schemas: string[]): Promise<void> {
  await withAdminClient(url, async (client) => {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  });
}
