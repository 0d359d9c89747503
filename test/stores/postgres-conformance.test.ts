import { PostgresStore } from 'sagaflow/postgres';
import { afterAll, describe } from 'vitest';
import { dropSchemas, postgresForTests, uniqueSchema } from '../support/postgres.js';
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
    return Promise.resolve({ store: new PostgresStore({ connectionString: url ?? '', schema }) });
  });
});
