/**
 * What the inspector reports when a request fails for a reason no page can show (the store
 * failing): `onError` gets the error as it was thrown and what the inspector was doing; the
 * default prints both, with the error's name and code and its causes, not a bare message.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryStore, StoreUnavailableError } from 'sagaflow';
import { createInspector, type InspectorProblemContext } from 'sagaflow/inspector';
import { serve } from './browser.js';

/** A store whose run list fails as a database that went away would. */
function failingStore(): { store: MemoryStore; failure: StoreUnavailableError } {
  const store = new MemoryStore();
  const failure = new StoreUnavailableError('postgres://db/app', 'list runs', { cause: new Error('connect ECONNREFUSED 10.0.0.5:5432') });
  store.listRuns = () => Promise.reject(failure);
  return { store, failure };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the inspector's onError", () => {
  it('is given the error as thrown and the request it failed to answer', async () => {
    const { store, failure } = failingStore();
    const reports: Array<[Error, InspectorProblemContext]> = [];
    const inspector = createInspector({ store, onError: (error, context) => reports.push([error, context]) });
    const site = await serve(inspector);
    try {
      expect((await fetch(`${site.url}?status=running`)).status).toBe(500);
      expect(reports).toEqual([[failure, { request: 'GET /' }]]);
    } finally {
      await site.close();
      await inspector.close();
    }
  });

  it('by default prints what the inspector was doing, the error with its name and code, and its cause', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { store, failure } = failingStore();
    const inspector = createInspector({ store });
    const site = await serve(inspector);
    try {
      expect((await fetch(site.url)).status).toBe(500);
      expect(warn.mock.calls).toEqual([
        [`sagaflow inspector: could not answer GET /: StoreUnavailableError (${failure.code}): ${failure.message} Caused by Error: connect ECONNREFUSED 10.0.0.5:5432`],
      ]);
    } finally {
      await site.close();
      await inspector.close();
    }
  });
});
