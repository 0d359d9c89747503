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
});
