import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineSaga } from 'sagaflow';
import { positionOf, StageTable, stageIndexOf } from '../../src/journal/stage-table.js';

describe('positionOf', () => {
  it('answers for the index asked, whatever was asked of another index before', () => {
    const forward = stageIndexOf(['a', 'b', 'c']);
    const backward = stageIndexOf(['c', 'b', 'a']);
    // The same name in turn of two indexes: a lookup kept for one must not answer for the other.
    expect(positionOf(forward, 'a')).toBe(0);
    expect(positionOf(backward, 'a')).toBe(2);
    expect(positionOf(backward, 'a')).toBe(2);
    expect(positionOf(forward, 'a')).toBe(0);
    expect(positionOf(forward, 'c')).toBe(2);
    expect(positionOf(backward, 'c')).toBe(0);
  });

  it('answers undefined for a name the index does not list, also right after a name it does', () => {
    const index = stageIndexOf(['a', 'b']);
    expect(positionOf(index, 'b')).toBe(1);
    expect(positionOf(index, 'z')).toBeUndefined();
    expect(positionOf(index, 'b')).toBe(1);
    expect(positionOf(index, '__proto__')).toBeUndefined();
  });

  it('answers what the index\'s Map answers, for any sequence of lookups in several indexes (names repeated or not)', () => {
    const name = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'join', '__proto__');
    fc.assert(
      fc.property(
        fc.array(fc.array(name, { maxLength: 8 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(fc.nat(), name), { maxLength: 60 }),
        (lists, lookups) => {
          // A list with a name twice is a hand-edited journal's: its Map keeps the last position.
          const indexes = lists.map((names) => ({ names, indexOf: new Map(names.map((stage, position) => [stage, position])) }));
          for (const [which, stage] of lookups) {
            const index = indexes[which % indexes.length]!;
            expect(positionOf(index, stage)).toBe(index.indexOf.get(stage));
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('answers for a fan-in\'s pattern: the parallel stages in order, each followed by the join', () => {
    const names = ['root', ...Array.from({ length: 50 }, (_, position) => `w${position}`), 'join'];
    const index = stageIndexOf(names);
    for (let position = 1; position <= 50; position++) {
      expect(positionOf(index, `w${position - 1}`)).toBe(position);
      expect(positionOf(index, 'join')).toBe(51);
    }
  });
});

describe('StageTable', () => {
  it('finds each record by name, and a stage added later, in tables sharing an index', () => {
    const index = stageIndexOf(['a', 'b']);
    const first = new StageTable(index, ['a1', 'b1']);
    const second = new StageTable(index, ['a2', 'b2']);
    expect(first.get('b')).toBe('b1');
    expect(second.get('b')).toBe('b2');
    second.set('extra', 'x2');
    expect(second.get('extra')).toBe('x2');
    expect(first.get('extra')).toBeUndefined();
    expect(first.has('extra')).toBe(false);
    expect([...second.keys()]).toEqual(['a', 'b', 'extra']);
    expect(second.get('b')).toBe('b2');
  });
});

describe('saga.stage(name)', () => {
  it('returns the stage of that name, in turn with lookups of another saga naming the same stages in another order', () => {
    const noop = { execute: async () => 1 };
    const one = defineSaga({ name: 'one', input: z.object({}) }).stage('x', noop).stage('y', noop).build();
    const two = defineSaga({ name: 'two', input: z.object({}) }).stage('y', noop).stage('x', { ...noop, after: [] }).build();
    for (const name of ['x', 'y', 'y', 'x']) {
      expect(one.stage(name)?.name).toBe(name);
      expect(two.stage(name)?.name).toBe(name);
      expect(one.stage(name)).toBe(one.stages.find((stage) => stage.name === name));
      expect(two.stage(name)).toBe(two.stages.find((stage) => stage.name === name));
    }
    expect(one.stage('nope')).toBeUndefined();
    expect(one.stage('constructor')).toBeUndefined();
  });
});
