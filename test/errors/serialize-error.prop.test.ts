import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serializedErrorSchema, serializeError } from 'sagaflow';
import { anythingThrown, isPlainJson } from '../support/hostile.js';

describe('serializeError over hostile values', () => {
  it('never throws; the result is plain JSON that round-trips and that the schema accepts', () => {
    fc.assert(
      fc.property(anythingThrown, (make) => {
        let thrown: unknown;
        try {
          thrown = make();
        } catch {
          return; // building the value itself failed: nothing to serialise
        }
        const result = serializeError(thrown);
        expect(isPlainJson(result)).toBe(true);
        expect(serializedErrorSchema.safeParse(result).success).toBe(true);
        expect(JSON.parse(JSON.stringify(result))).toEqual(result);
        expect(JSON.stringify(result).length).toBeLessThan(120_000);
      }),
      { numRuns: 400 },
    );
  });

  it('fc.anything(), thrown as is or as an Error field and cause', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withMap: true, withSet: true, withDate: true, withTypedArray: true, withSparseArray: true, withNullPrototype: true, withBoxedValues: true }), (value) => {
        for (const thrown of [value, Object.assign(new Error('wrapped', { cause: value }), { value })]) {
          const result = serializeError(thrown);
          expect(isPlainJson(result)).toBe(true);
          expect(serializedErrorSchema.safeParse(result).success).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
