/**
 * Issue 12, item 6: the CLI never prints a store password. Each of the five error paths that
 * printed it, run as a real process, plus the in-process masking rules.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskSecrets, maskUrl, secretsOf, storeUrlsOf } from '../../src/cli/mask-secrets.js';
import { ensureBuilt, sagaflow, type CliResult } from './support/cli-process.js';

const PASSWORD = 'S3CRETPW';
let work: string;
/**
 * A TCP server that answers PostgreSQL's startup message with an error that is not about the
 * connection (SQLSTATE 42501, permission denied), as a server with a locked-down role would.
 */
let refusing: Server;
let refusingPort: number;

/** A PostgreSQL ErrorResponse message. */
function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`, 'utf8');
  const header = Buffer.alloc(5);
  header.write('E', 0);
  header.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([header, fields]);
}

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'sagaflow-secrets-'));
  refusing = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.end(errorResponse('42501', 'permission denied to log in with this role')));
  });
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
  refusingPort = (refusing.address() as AddressInfo).port;
}, 240_000);

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  await new Promise((resolve) => refusing.close(resolve));
});

function expectNoPassword(result: CliResult): void {
  const printed = result.stdout + result.stderr;
  expect(printed).not.toContain(PASSWORD);
  expect(printed).not.toContain(encodeURIComponent(PASSWORD + '@!'));
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(/^error: /);
}

describe('the CLI masks store passwords in every message (real processes)', () => {
  it('a bad ?schema=', async () => {
    const result = await sagaflow(['runs', '--store', `postgres://postgres:${PASSWORD}@127.0.0.1:1/db?schema=Bad-Name`], { cwd: work });
    expectNoPassword(result);
    expect(result.stderr).toContain("The store URL 'postgres://postgres:***@127.0.0.1:1/db?schema=Bad-Name' is not usable");
  });

  it('a pg_ schema', async () => {
    const result = await sagaflow(['runs', '--store', `postgres://postgres:${PASSWORD}@127.0.0.1:1/db?schema=pg_mine`], { cwd: work });
    expectNoPassword(result);
    expect(result.stderr).toContain('reserved');
  });

  it('an unparsable URL (a password with an @, an invalid port), also given through SAGAFLOW_STORE', async () => {
    const url = `postgres://postgres:${PASSWORD}@!@localhost:99999999/db`;
    for (const result of [
      await sagaflow(['runs', '--store', url], { cwd: work }),
      await sagaflow(['runs'], { cwd: work, env: { SAGAFLOW_STORE: url } }),
      await sagaflow(['runs', `--store=${url}`], { cwd: work }),
    ]) {
      expectNoPassword(result);
      expect(result.stderr).toContain("The store URL 'postgres://postgres:***@localhost:99999999/db' is not a valid URL");
    }
  });

  it('an unknown scheme', async () => {
    const result = await sagaflow(['show', 'some-run', '--store', `mysql://root:${PASSWORD}@localhost/db`], { cwd: work });
    expectNoPassword(result);
    expect(result.stderr).toContain("Unknown store URL 'mysql://root:***@localhost/db'");
  });

  it('any other error while opening the store (the server refuses the role: not a connection error)', async () => {
    const result = await sagaflow(['runs', '--store', `postgres://postgres:${PASSWORD}@127.0.0.1:${refusingPort}/db`], { cwd: work });
    expectNoPassword(result);
    expect(result.stderr).toContain(`postgres://postgres:***@127.0.0.1:${refusingPort}/db`);
    expect(result.stderr).toContain('permission denied to log in with this role');
  });
});

describe('masking rules', () => {
  it.each([
    ['postgres://app:pw12@db/app?schema=x', 'postgres://app:***@db/app?schema=x'],
    ['postgresql://app:p@ss@db:5432/app', 'postgresql://app:***@db:5432/app'],
    ['mysql://root:secret@localhost', 'mysql://root:***@localhost'],
    ['postgres://app@db/app', 'postgres://app@db/app'],
    ['postgres://db:5432/app', 'postgres://db:5432/app'],
    ['postgres://db/app?password=hunter2&sslmode=require', 'postgres://db/app?password=***&sslmode=require'],
    ["host=db user=app password='a b c' dbname=app", 'host=db user=app password=*** dbname=app'],
    ['sqlite:.sagaflow/sagaflow.db', 'sqlite:.sagaflow/sagaflow.db'],
  ])('maskUrl(%s)', (url, masked) => {
    expect(maskUrl(url)).toBe(masked);
  });

  it('masks URLs inside text, and known secrets anywhere', () => {
    expect(maskSecrets("error: The saga store postgres://u:hunter22@h/db cannot be opened: password 'hunter22' rejected", secretsOf('postgres://u:hunter22@h/db'))).toBe(
      "error: The saga store postgres://u:***@h/db cannot be opened: password '***' rejected",
    );
    expect(secretsOf('postgres://u:p%40ssword@h/db')).toEqual(['p%40ssword', 'p@ssword']);
    expect(secretsOf('postgres://u:abc@h/db')).toEqual([]);
  });

  it("masks a large output in linear time: compact JSON full of URLs with ports (no whitespace, no '@'), and 'a.a.a.…@' (a word boundary at every other character)", () => {
    // Everything the CLI prints goes through maskSecrets (`sagaflow show --json` of a run whose
    // output lists endpoints, say). Each of these took about a minute in quadratic time, past the
    // test's timeout (every 'scheme://user:' looked for an '@' as far as the next whitespace; every
    // word boundary for a scheme as long as the word ran on); in linear time they are done at once.
    const urls = JSON.stringify(Array.from({ length: 40_000 }, (_, index) => `http://host${index}:8080/orders/${index}`));
    expect(maskSecrets(urls)).toBe(urls);
    const dotted = `${'a.'.repeat(150_000)}@`;
    expect(maskSecrets(dotted)).toBe(dotted);
    // The password still runs to the last '@' of its run of text, whatever comes before it.
    expect(maskSecrets(`${urls.slice(0, 40)} "postgres://app:p@ss/w:rd@db/app" ${'a.'.repeat(10)}`)).toBe(`${urls.slice(0, 40)} "postgres://app:***@db/app" ${'a.'.repeat(10)}`);
  });

  it('finds the store URLs of a command line', () => {
    expect(storeUrlsOf(['runs', '--store', 'a', '--store=b'], { SAGAFLOW_STORE: 'c' })).toEqual(['a', 'b', 'c']);
    expect(storeUrlsOf(['runs'], {})).toEqual([]);
  });
});
