import { validate, version } from 'uuid';
import { describe, expect, it } from 'vitest';
import { timeOrderedId } from '../../src/runtime/time-ordered-id.js';

describe('timeOrderedId', () => {
  it('makes lowercase uuid v7 text that sorts in the order the ids were made, also within one millisecond', () => {
    const ids = Array.from({ length: 5_000 }, () => timeOrderedId());
    for (const id of ids) {
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('carries the time it was made in its first 48 bits', () => {
    const before = Date.now();
    const id = timeOrderedId();
    const after = Date.now();
    const ms = Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    // uuid's counter may move the clock forward by at most a millisecond when it wraps.
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after + 1);
  });

  it('returns a new string each time, not a view of a reused buffer', () => {
    const first = timeOrderedId();
    const copy = `${first}`;
    timeOrderedId();
    expect(first).toBe(copy);
  });
});
