import { PostgresStore } from 'sagaflow/postgres';
import { afterAll, describe } from 'vitest';
import { dropSchemas, postgresForTests, uniqueSchema, withAdminClient } from '../support/postgres.js';
import { describeStoreConformance } from './store-conformance.js';

const url = await postgresForTests();
const schemas: string[] = [];

afterAll(async () => {
  if (url !== undefined) await dropSchemas(url, ...schemas);
});

describe.skipIf(url === undefined)('PostgresStore', () => {
  describeStoreConformance('PostgresStore', () => {
    // A fresh schema per test keeps every test's listing independent.
    const schema = uniqueSchema('conformance');
    schemas.push(schema);
    const open = (): PostgresStore => new PostgresStore({ connectionString: url ?? '', schema, maxConnections: 4 });
    return Promise.resolve({
      store: open(),
      openPeer: open,
      // The status CHECK keeps bad statuses out; a hand edit that drops it does not.
      corruptSummary: (runId: string) =>
        withAdminClient(url ?? '', async (client) => {
          await client.query(`ALTER TABLE "${schema}".runs DROP CONSTRAINT IF EXISTS runs_status_check`);
          await client.query(`UPDATE "${schema}".runs SET status = 'exploded' WHERE run_id = $1`, [runId]);
        }),
    });
  });
});
