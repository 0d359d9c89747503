import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { serializedErrorSchema } from 'sagaflow';
import { tempDatabase } from '../stores/sqlite-temp.js';
import { dropSchemas, postgresForTests, uniqueSchema } from '../support/postgres.js';
import { runChild, type ChildResult } from './child-process.js';

const child = fileURLToPath(new URL('./hostile-child.ts', import.meta.url));
const postgresUrl = await postgresForTests();

interface Message {
  readonly type: 'outcome' | 'done' | 'uncaught' | 'unhandled';
  readonly saga?: string;
  readonly status?: string;
  readonly failure?: unknown;
  readonly compensationOrder?: string[];
  readonly undone?: string[];
  readonly subscriberErrors?: number;
  readonly lingeringWatch?: string;
}

/** The child lived (nothing uncaught, exit 0) and each hostile saga was rolled back: its outcomes. */
function expectEveryRunRolledBack(result: ChildResult<Message>): Message[] {
  expect(result.messages.filter((message) => message.type === 'uncaught' || message.type === 'unhandled')).toEqual([]);
  expect(result.code, result.output).toBe(0);
  const outcomes = result.messages.filter((message) => message.type === 'outcome');
  expect(outcomes.map((outcome) => [outcome.saga, outcome.status, outcome.compensationOrder])).toEqual([
    ['lazy-body', 'compensated', ['charge']],
    ['revoked-proxy', 'compensated', ['charge']],
    ['bad-output', 'compensated', ['charge']],
  ]);
  return outcomes;
}

describe('values user code hands the engine cannot break it (a real process on SQLite)', () => {
  const database = tempDatabase();
  afterAll(() => database.remove());

  it('a thrown error with a throwing getter, a thrown revoked Proxy, an unreadable output and throwing subscribers: every run is rolled back, the process lives', { timeout: 60_000 }, async () => {
    const result = await runChild<Message>(child, { databasePath: database.path, mode: 'run' }, 45_000);
    const outcomes = expectEveryRunRolledBack(result);
    const [lazyBody, revoked, badOutput] = outcomes.map((outcome) => serializedErrorSchema.parse(outcome.failure));
    // The readable part is kept, the unreadable one said so.
    expect(lazyBody).toMatchObject({ name: 'Error', message: 'Request failed with status code 502', data: { status: 502 } });
    expect(JSON.stringify(lazyBody?.data)).toContain('could not be read');
    expect(revoked).toMatchObject({ name: 'UnreadableError' });
    expect(badOutput?.message).toMatch(/output\.total/);
    const done = result.messages.find((message) => message.type === 'done');
    expect(done?.undone?.sort()).toEqual(['bad-output:charge', 'lazy-body:charge', 'revoked-proxy:charge']);
    // Every throwing subscriber was reported to onError, not to the process.
    expect(done?.subscriberErrors).toBeGreaterThan(0);
  });

  it('a later recover() of that store finds nothing left to do and dies of nothing (no crash loop)', { timeout: 60_000 }, async () => {
    const result = await runChild<Message>(child, { databasePath: database.path, mode: 'recover' }, 45_000);
    expect(result.code, result.output).toBe(0);
    expect(result.messages.filter((message) => message.type === 'outcome')).toEqual([]);
  });
});

describe.runIf(postgresUrl !== undefined)('the same values in a PostgreSQL worker (a real process; its events$ subscriber throws too)', () => {
  const schema = uniqueSchema('hostile');
  afterAll(() => dropSchemas(postgresUrl ?? '', schema));

  // The child is killed after 45 s, within the test's own timeout, so that a hang fails with what it printed.
  it('the worker lives, every run is rolled back, every throwing subscriber is reported to onError, and the process exits by itself', { timeout: 60_000 }, async () => {
    const result = await runChild<Message>(child, { postgres: { url: postgresUrl, schema }, mode: 'worker' }, 45_000);
    expect(result.timedOut, `the child did not exit: ${JSON.stringify(result.messages)} ${result.output}`).toBe(false);
    expectEveryRunRolledBack(result);
    const done = result.messages.find((message) => message.type === 'done');
    expect(done?.undone?.sort()).toEqual(['bad-output:charge', 'lazy-body:charge', 'revoked-proxy:charge']);
    expect(done?.subscriberErrors).toBeGreaterThan(0);
    // A watch still following a run when the orchestrator closed was ended by close().
    expect(done?.lingeringWatch).toBe('OrchestratorClosedError');
  });
});
