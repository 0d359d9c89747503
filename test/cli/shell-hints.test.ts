/**
 * The commands the CLI prints for the next step (`timeline: npx sagaflow show …`, `continue: npx
 * sagaflow redrive …`) must work when pasted into a shell. A store URL or a module path holding a
 * space, a `?` (`postgres://…?schema=NAME`: zsh's "no matches found"), a `&` (a second query
 * parameter: bash runs the command in the background) or a masked password (`***`, a glob) was
 * printed bare.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellWord } from '../../src/cli/shell-word.js';
import { CLI, ensureBuilt, fixture, sagaflow } from './support/cli-process.js';

let work: string;

beforeAll(() => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'sagaflow-shell-hints-'));
}, 240_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('shellWord', () => {
  it('leaves plain words alone and quotes anything a shell would split, glob or expand', () => {
    expect(shellWord('sqlite:.sagaflow/sagaflow.db')).toBe('sqlite:.sagaflow/sagaflow.db');
    expect(shellWord('postgres://app@db:5432/app')).toBe('postgres://app@db:5432/app');
    expect(shellWord('postgres://app@db:5432/app?schema=orders')).toBe('"postgres://app@db:5432/app?schema=orders"');
    expect(shellWord('postgres://app:***@db/app?sslmode=require&schema=x')).toBe('"postgres://app:***@db/app?sslmode=require&schema=x"');
    expect(shellWord("sqlite:my runs/o'brien.db")).toBe('"sqlite:my runs/o\'brien.db"');
    expect(shellWord('sqlite:$HOME/a "b".db')).toBe("'sqlite:$HOME/a \"b\".db'");
  });

  it('is read back by sh as the same word', () => {
    for (const word of ['a b', 'x?y&z', "it's", '$HOME', '`id`', '*', 'plain', 'a\\b', "it's $HOME", 'wow!', '"q"']) {
      expect(execFileSync('sh', ['-c', `printf %s ${shellWord(word)}`], { encoding: 'utf8' })).toBe(word);
    }
  });
});

describe('the next-step commands the CLI prints', () => {
  it('can be pasted into a shell as printed, with a store whose path holds a space', async () => {
    const dir = join(work, 'my runs');
    mkdirSync(dir, { recursive: true });
    const store = `sqlite:${join(dir, 'app.db')}`;
    const result = await sagaflow(['start', 'stuck', '{"name":"Ada"}', '--sagas', fixture('stuck.mjs'), '--store', store], { cwd: work });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    const show = /timeline: (npx sagaflow show .*)$/m.exec(result.stdout)?.[1];
    const undo = /or undo: {2}(npx sagaflow compensate .*)$/m.exec(result.stdout)?.[1];
    expect(show).toBeDefined();
    expect(undo).toBeDefined();
    // As a user would paste them, with `npx sagaflow` standing for the built CLI.
    const asPasted = (command: string): string => command.replace('npx sagaflow', `'${process.execPath}' '${CLI}'`);
    const shown = execFileSync('sh', ['-c', asPasted(show!)], { encoding: 'utf8' });
    expect(shown).toContain('status     paused');
    const undone = (() => {
      try {
        return execFileSync('sh', ['-c', asPasted(undo!)], { encoding: 'utf8', stdio: 'pipe' });
      } catch (error) {
        return String((error as { stdout?: string; stderr?: string }).stdout) + String((error as { stderr?: string }).stderr);
      }
    })();
    expect(undone).toContain("Saga 'stuck' run");
    expect(undone).toContain("rolled back 'reserve'");
  });
});
