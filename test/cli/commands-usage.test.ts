/**
 * `start`, `cancel` and `prune`: bad input of every kind, in-process (the same code as the
 * binary). These refuse before any run is touched.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseJsonInput } from '../../src/cli/json-input.js';
import { parseOlderThan } from '../../src/cli/older-than.js';
import { cli } from './support/cli-in-process.js';
import { fixture } from './support/cli-process.js';

let work: string;
const savedStore = process.env['SAGAFLOW_STORE'];
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'sagaflow-commands-'));
});
afterEach(() => {
  if (savedStore === undefined) delete process.env['SAGAFLOW_STORE'];
  else process.env['SAGAFLOW_STORE'] = savedStore;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('bad input: one line on stderr, exit 2', () => {
  const missing = (): string => `sqlite:${join(work, 'missing.db')}`;
  const cases: Array<[string, () => string[], string | RegExp]> = [
    ['prune without --older-than', () => ['prune', '--store', 'memory:'], "error: required option '--older-than <age>' not specified (see 'sagaflow prune --help')"],
    ['prune with an age that is neither a duration nor a date', () => ['prune', '--older-than', '30 days', '--store', 'memory:'], "error: --older-than takes a duration such as 30d, 12h, 90m or 45s, or an ISO date such as 2026-01-31 or 2026-01-31T12:00:00Z, not '30 days'."],
    ['prune of unfinished runs', () => ['prune', '--older-than', '1d', '--status', 'completed,running', '--store', 'memory:'], 'error: --status running: unfinished runs are never pruned; prune takes completed, compensated, cancelled, paused or compensation_failed.'],
    ['prune with an unknown status', () => ['prune', '--older-than', '1d', '--status', 'done', '--store', 'memory:'], /^error: Unknown run status 'done' for --status: use queued, /],
    ['prune of a store that does not exist', () => ['prune', '--older-than', '1d', '--store', missing()], /^error: There is no saga store at sqlite:.*missing\.db/],
    ['start without --sagas', () => ['start', 'greeting', '--store', 'memory:'], "error: required option '--sagas <module>' not specified (see 'sagaflow start --help')"],
    ['start with input that is not JSON', () => ['start', 'greeting', '{name: Ada}', '--sagas', fixture('greeting.mjs'), '--store', 'memory:'], /^error: The input argument \(as received: \{name: Ada\}\) is not JSON \(.*\): pass it as JSON, e\.g\. '\{"orderId":"o-1"\}'/],
    ['start with an input file that does not exist', () => ['start', 'greeting', `@${join(work, 'nope.json')}`, '--sagas', fixture('greeting.mjs'), '--store', 'memory:'], /^error: Cannot read the input file .*nope\.json \(ENOENT\)/],
    ['start of a saga the module does not export', () => ['start', 'farewell', '--sagas', fixture('greeting.mjs'), '--store', 'memory:'], `error: The module ${fixture('greeting.mjs')} exports no saga 'farewell' (it exports 'greeting'): pass one of those names.`],
    ['start of a version the module does not export', () => ['start', 'greeting', '--saga-version', '7', '--sagas', fixture('greeting.mjs'), '--store', 'memory:'], `error: The module ${fixture('greeting.mjs')} exports saga 'greeting' in version 1, not 7: pass one of those to --saga-version.`],
    ['start --detach on a store without workers', () => ['start', 'greeting', '--detach', '--sagas', fixture('greeting.mjs'), '--store', 'memory:'], "error: --detach hands the run to workers, and memory: cannot be shared with them: use a postgres://… store with 'sagaflow worker' running, or leave --detach out to drive the run in this process."],
    ['cancel of a store that does not exist', () => ['cancel', 'run-1', '--store', missing()], /^error: There is no saga store at sqlite:.*missing\.db/],
    ['cancel of an unknown run', () => ['cancel', 'run-1', '--store', 'memory:'], "error: There is no run run-1 in memory:: list the runs with 'npx sagaflow runs', and pass --store if they are elsewhere."],
  ];
  it.each(cases)('%s', async (_, argv, expected) => {
    const result = await cli(...argv());
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    if (typeof expected === 'string') expect(result.stderr.trimEnd()).toBe(expected);
    else expect(result.stderr).toMatch(expected);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('--help', () => {
  it('lists start, cancel and prune, and says which commands create a sqlite: file', async () => {
    const { code, stdout } = await cli('--help');
    expect(code).toBe(0);
    for (const name of ['start', 'cancel', 'prune']) expect(stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    expect(stdout).toContain('sqlite:PATH (a file: demo and start create it; runs, show,\nprune, cancel, resume, redrive and compensate need it to exist)');
    expect(stdout).not.toContain('(a file; created on first use)');
  });
});

describe('parseOlderThan', () => {
  const now = Date.parse('2026-06-15T12:00:00Z');
  it.each([
    ['30d', now - 30 * 86_400_000],
    ['12h', now - 12 * 3_600_000],
    ['90m', now - 90 * 60_000],
    ['45s', now - 45_000],
    ['2w', now - 14 * 86_400_000],
    ['1.5h', now - 5_400_000],
    ['0s', now],
    ['2026-01-31', Date.parse('2026-01-31T00:00:00Z')],
    ['2026-01-31T12:30:00Z', Date.parse('2026-01-31T12:30:00Z')],
    ['2026-01-31T12:30:00+02:00', Date.parse('2026-01-31T10:30:00Z')],
  ])('%s', (value, expected) => {
    expect(parseOlderThan(value, now)).toBe(expected);
  });
  it.each(['', '30', 'd', '-1d', '30 days', '2026-13-45', 'yesterday'])('refuses %j', (value) => {
    expect(() => parseOlderThan(value, now)).toThrow('--older-than takes a duration');
  });
});

describe('parseJsonInput', () => {
  it('JSON text, @FILE, or {} when absent', () => {
    const path = join(work, 'input.json');
    writeFileSync(path, '{"name":"Ada"}');
    expect(parseJsonInput('{"name":"Bo"}')).toEqual({ name: 'Bo' });
    expect(parseJsonInput(`@${path}`)).toEqual({ name: 'Ada' });
    expect(parseJsonInput(undefined)).toEqual({});
  });
});
