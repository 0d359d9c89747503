import { describe, expect, it } from 'vitest';
import { youngArray } from '../../src/runtime/young-array.js';

describe('youngArray', () => {
  it('returns a new, empty, writable array each time', () => {
    const first = youngArray<number>();
    const second = youngArray<number>();
    expect(first).toEqual([]);
    expect(first).not.toBe(second);
    first.push(1, 2);
    expect(first).toEqual([1, 2]);
    expect(second).toEqual([]);
    expect(youngArray()).toEqual([]);
    expect(Object.isFrozen(first)).toBe(false);
  });

  it('with room: still a new, empty, writable array each time, that grows past its room', () => {
    const first = youngArray<number>(4);
    const second = youngArray<number>(4);
    expect(first).toEqual([]);
    expect(first).not.toBe(second);
    first.push(1, 2, 3, 4, 5, 6);
    expect(first).toEqual([1, 2, 3, 4, 5, 6]);
    expect(second).toEqual([]);
    expect(youngArray(1)).toEqual([]);
    expect(youngArray(16)).toHaveLength(0);
  });
});
