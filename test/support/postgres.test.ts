import { afterEach, describe, expect, it, vi } from 'vitest';
import { isCi, postgresForTests } from './postgres.js';

// Nothing listens on port 1: the connection is refused at once.
const unreachable = 'postgres://postgres@127.0.0.1:1/test';

describe('the PostgreSQL test server check', () => {
  afterEach(() => vi.restoreAllMocks());

  it('treats any non-empty CI but false and 0 as CI', () => {
    for (const value of ['true', '1', 'yes', 'TRUE', 'github', ' 1 ']) expect(isCi({ CI: value }), value).toBe(true);
    for (const value of ['', 'false', 'FALSE', '0', ' ']) expect(isCi({ CI: value }), JSON.stringify(value)).toBe(false);
    expect(isCi({})).toBe(false);
  });

  it('fails when the server is missing and CI=1 (not only CI=true)', async () => {
    await expect(postgresForTests({ url: unreachable, env: { CI: '1' } })).rejects.toThrow(/PostgreSQL is not reachable at .*CI is set/);
    await expect(postgresForTests({ url: unreachable, env: { CI: 'true' } })).rejects.toThrow(/not reachable/);
  });

  it('skips with a loud warning outside CI', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(await postgresForTests({ url: unreachable, env: { CI: '0' } })).toBeUndefined();
    expect(await postgresForTests({ url: unreachable, env: {} })).toBeUndefined();
    expect(warn).toHaveBeenCalledTimes(2);
    expect(String(warn.mock.calls[0]?.[0])).toContain('SKIPPING the PostgreSQL tests');
  });
});
