import { v7, validate, version } from 'uuid';
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

  it("lays its bits out as uuid's v7() does, and counts up by one within a millisecond", () => {
    const fields = (id: string): { ms: number; counter: number; random: Uint8Array } => {
      const hex = id.replace(/-/g, '');
      const byte = (index: number): number => Number.parseInt(hex.slice(index * 2, index * 2 + 2), 16);
      const counter = (((byte(6) & 0x0f) << 28) | (byte(7) << 20) | ((byte(8) & 0x3f) << 14) | (byte(9) << 6) | (byte(10) >> 2)) >>> 0;
      const random = new Uint8Array(16);
      for (let index = 10; index < 16; index++) random[index] = byte(index);
      return { ms: Number.parseInt(hex.slice(0, 12), 16), counter, random };
    };
    const ids = Array.from({ length: 2_000 }, () => timeOrderedId());
    let sameMs = 0;
    for (let index = 0; index < ids.length; index++) {
      const id = ids[index] as string;
      const { ms, counter, random } = fields(id);
      // uuid's own v7(), given the same time, counter and random bits, writes the same id.
      expect(v7({ msecs: ms, seq: counter | 0, random })).toBe(id);
      const previous = index === 0 ? undefined : fields(ids[index - 1] as string);
      if (previous?.ms === ms) {
        sameMs++;
        expect(counter).toBe((previous.counter + 1) >>> 0);
      }
    }
    expect(sameMs).toBeGreaterThan(0);
  });

  it('returns a new string each time, not a view of a reused buffer', () => {
    const first = timeOrderedId();
    const copy = `${first}`;
    timeOrderedId();
    expect(first).toBe(copy);
  });
});
