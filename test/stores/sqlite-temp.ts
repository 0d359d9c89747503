import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory under the OS temp dir, and a database path inside it. */
export interface TempDatabase {
  readonly directory: string;
  readonly path: string;
  readonly remove: () => Promise<void>;
}

/** Makes a unique temp directory for one test's database file (and its -wal/-shm files). */
export function tempDatabase(): TempDatabase {
  const directory = join(tmpdir(), `sagaflow-sqlite-${process.pid}-${randomBytes(6).toString('hex')}`);
  mkdirSync(directory, { recursive: true });
  return {
    directory,
    path: join(directory, 'sagas.db'),
    remove: () => {
      rmSync(directory, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}
