import { describe, expect, it } from 'vitest';
import { importWithPeer, isMissingPackage, missingPeerError } from '../../src/optional-peer.js';

/** What Node throws for `import 'better-sqlite3'` when the package is not installed. */
function nodeMissingPackage(name: string): Error {
  const error = new Error(`Cannot find package '${name}' imported from /app/node_modules/sagaflow/dist/stores/sqlite-store.js`);
  return Object.assign(error, { code: 'ERR_MODULE_NOT_FOUND' });
}

describe('optional peer dependencies (better-sqlite3, pg, @opentelemetry/api)', () => {
  it('the runtime entries export the same values as the typed entries they stand for', async () => {
    const pairs = [
      [await import('../../src/sqlite.js'), await import('../../src/sqlite-runtime.js')],
      [await import('../../src/postgres.js'), await import('../../src/postgres-runtime.js')],
      [await import('../../src/otel.js'), await import('../../src/otel-runtime.js')],
    ] as const;
    for (const [typed, runtime] of pairs) {
      expect(Object.keys(runtime).sort()).toEqual(Object.keys(typed).sort());
      for (const name of Object.keys(typed)) expect((runtime as Record<string, unknown>)[name]).toBe((typed as Record<string, unknown>)[name]);
    }
  });

  it('names the package to install and the entry that needs it, with the original error as cause', async () => {
    const original = nodeMissingPackage('better-sqlite3');
    const error = await importWithPeer({ entry: 'sagaflow/sqlite', peer: 'better-sqlite3' }, () => Promise.reject(original)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      "sagaflow/sqlite needs the package 'better-sqlite3', which is not installed: run `npm install better-sqlite3` in your project. It is an optional peer dependency of sagaflow, installed only by the projects that use sagaflow/sqlite.",
    );
    expect((error as Error).cause).toBe(original);
    expect((error as Error & { code: string }).code).toBe('SAGAFLOW_MISSING_PEER_DEPENDENCY');
  });

  it('adds the hint (the PostgreSQL types) for pg', () => {
    const error = missingPeerError({ entry: 'sagaflow/postgres', peer: 'pg', hint: 'and, for TypeScript, `npm install --save-dev @types/pg`' }, undefined);
    expect(error.message).toContain('run `npm install pg` in your project (and, for TypeScript, `npm install --save-dev @types/pg`).');
  });

  it('passes every other error through unchanged: another missing package, a failing native binding', async () => {
    const otherPackage = nodeMissingPackage('rxjs');
    expect(await importWithPeer({ entry: 'sagaflow/sqlite', peer: 'better-sqlite3' }, () => Promise.reject(otherPackage)).catch((caught: unknown) => caught)).toBe(otherPackage);
    const binding = new Error('Could not locate the bindings file.');
    expect(await importWithPeer({ entry: 'sagaflow/sqlite', peer: 'better-sqlite3' }, () => Promise.reject(binding)).catch((caught: unknown) => caught)).toBe(binding);
    expect(await importWithPeer({ entry: 'sagaflow/sqlite', peer: 'better-sqlite3' }, () => Promise.resolve(42))).toBe(42);
  });

  it('recognises only a missing-package error that names the peer exactly', () => {
    expect(isMissingPackage(nodeMissingPackage('pg'), 'pg')).toBe(true);
    expect(isMissingPackage(nodeMissingPackage('pg-types'), 'pg')).toBe(false);
    expect(isMissingPackage(new Error("Cannot find package 'pg'"), 'pg')).toBe(false);
    expect(isMissingPackage(undefined, 'pg')).toBe(false);
  });
});
