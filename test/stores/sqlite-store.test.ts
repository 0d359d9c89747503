import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from 'sagaflow/sqlite';
import { describeStoreConformance } from './store-conformance.js';
import { tempDatabase, type TempDatabase } from './sqlite-temp.js';

describeStoreConformance('SqliteStore', () => {
  const temp = tempDatabase();
  return Promise.resolve({ store: new SqliteStore({ path: temp.path }), cleanup: temp.remove });
});
