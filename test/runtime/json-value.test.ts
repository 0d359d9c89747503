import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyJson } from '../../src/runtime/json-value.js';
import { hostileValue, isPlainJson, revokedProxy, throwingProxy, withThrowingGetter } from '../support/hostile.js';

const problemOf = (value: unknown): { path: string; problem: string } | undefined => {
  const result = copyJson(value, 'output');
  return result.ok ? undefined : result.problem;
};

describe('copyJson', () => {
  it('copies JSON, drops undefined fields, freezes the copy, writes -0 as 0', () => {
    const source = { a: [1, 'two', { three: true, gone: undefined }], b: null, zero: -0 };
    const result = copyJson(source, 'output');
    expect(result).toEqual({ ok: true, value: { a: [1, 'two', { three: true }], b: null, zero: 0 } });
    if (result.ok) {
      expect(Object.is((result.value as { zero: number }).zero, 0)).toBe(true);
      expect(Object.isFrozen((result.value as { a: unknown[] }).a)).toBe(true);
    }
  });

  it('says where a value stops being JSON', () => {
    expect(problemOf({ items: [{ at: new Date(0) }] })).toEqual({
      path: 'output.items[0].at',
      problem: 'is a Date instance, which does not survive a JSON round-trip (return plain objects; use an ISO string or epoch ms for dates)',
    });
    expect(problemOf({ n: 1n })?.path).toBe('output.n');
  });

  it('a promise inside the value says it is a missing await; a Map and a Set say how to make plain JSON of them', () => {
    const pending = Promise.resolve({ id: 'B1' });
    expect(problemOf({ booking: pending })).toEqual({
      path: 'output.booking',
      problem: 'is a Promise instance, which does not survive a JSON round-trip (a missing await? await it and return what it resolves to)',
    });
    class Deferred {
      then(resolve: (value: number) => void): void {
        resolve(1);
      }
    }
    expect(problemOf([new Deferred()])?.problem).toBe('is a Deferred instance, which does not survive a JSON round-trip (a missing await? await it and return what it resolves to)');
    expect(problemOf({ m: new Map([['a', 1]]) })?.problem).toBe(
      'is a Map instance, which does not survive a JSON round-trip (return plain objects; Object.fromEntries(map) makes one of a Map with string keys)',
    );
    expect(problemOf(new Set([1]))?.problem).toBe('is a Set instance, which does not survive a JSON round-trip (return plain objects; [...set] makes an array of a Set)');
    class Money {
      constructor(readonly cents: number) {}
    }
    expect(problemOf({ price: new Money(5) })?.problem).toBe('is a Money instance, which does not survive a JSON round-trip (return plain objects)');
  });

  it('a getter that throws: a problem at its path, not an exception', () => {
    const value = { response: withThrowingGetter({ status: 500 }, 'body', new Error('body already consumed')) };
    expect(problemOf(value)).toEqual({ path: 'output.response.body', problem: 'could not be read: reading it threw Error: body already consumed' });
  });

  it('a revoked Proxy, as the value, in an object and in an array', () => {
    expect(problemOf(revokedProxy())).toEqual({
      path: 'output',
      problem: "could not be read: looking at it threw TypeError: Cannot perform 'IsArray' on a proxy that has been revoked",
    });
    expect(problemOf({ a: { b: revokedProxy() } })?.path).toBe('output.a.b');
    expect(problemOf([1, revokedProxy()])?.path).toBe('output[1]');
  });

  it('a Proxy whose traps throw a revoked Proxy, and an array whose index getter throws', () => {
    expect(problemOf({ p: throwingProxy(revokedProxy()) })).toEqual({ path: 'output.p', problem: 'could not be read: looking at it threw a Proxy object' });
    const array = [1, 2];
    Object.defineProperty(array, 1, {
      get() {
        throw new Error('no item');
      },
    });
    expect(problemOf({ array })).toEqual({ path: 'output.array[1]', problem: 'could not be read: reading it threw Error: no item' });
  });

  it('a cycle, near the root and deeper than the path it scans (32 levels), is refused at its path; an object shared without a cycle is copied', () => {
    const near: Record<string, unknown> = { a: 1 };
    near.self = near;
    expect(problemOf({ near })).toEqual({ path: 'output.near.self', problem: 'is a circular reference' });
    const root: Record<string, unknown> = {};
    let deepest = root;
    for (let level = 0; level < 40; level++) deepest = (deepest.next = {});
    deepest.back = root;
    expect(problemOf(root)).toEqual({ path: `output${'.next'.repeat(40)}.back`, problem: 'is a circular reference' });
    delete deepest.back;
    const shared = { x: [1] };
    deepest.left = shared;
    deepest.right = [shared, shared];
    const copy = copyJson({ root, shared }, 'output');
    expect(copy.ok).toBe(true);
    expect(JSON.parse(JSON.stringify((copy as { ok: true; value: unknown }).value))).toEqual(JSON.parse(JSON.stringify({ root, shared })));
    // The copier is reused: a copy after a failed one starts clean.
    expect(copyJson({ a: [near.a] }, 'output')).toEqual({ ok: true, value: { a: [1] } });
  });

  it('a value nested deeper than 1,000 levels, rather than a stack overflow', () => {
    let deep: unknown = 1;
    for (let level = 0; level < 100_000; level++) deep = [deep];
    const problem = problemOf(deep);
    expect(problem?.problem).toBe('is nested more than 1000 levels deep, more than JSON can reliably hold');
    expect(problem?.path).toBe(`output${'[0]'.repeat(1_000)}`);
  });

  it('never throws on hostile values; whatever it accepts is JSON that round-trips', () => {
    fc.assert(
      fc.property(hostileValue, (make) => {
        let value: unknown;
        try {
          value = make();
        } catch {
          return;
        }
        const result = copyJson(value, 'output');
        if (result.ok) {
          expect(result.value === undefined || isPlainJson(result.value)).toBe(true);
          if (result.value !== undefined) expect(JSON.parse(JSON.stringify(result.value))).toEqual(result.value);
        } else {
          expect(result.problem.path.startsWith('output')).toBe(true);
          expect(result.problem.problem.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('copyJson: a key named __proto__', () => {
  it('stays an own field of the copy (as JSON.parse made it), and the copy keeps a plain prototype', () => {
    const parsed = JSON.parse('{"__proto__": {"admin": true}, "a": 1}') as object;
    const copy = copyJson(parsed, 'output');
    expect(copy.ok).toBe(true);
    const value = (copy as { ok: true; value: object }).value;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__', 'a']);
    expect(JSON.stringify(value)).toBe('{"__proto__":{"admin":true},"a":1}');
    expect(isPlainJson(value)).toBe(true);
  });
});
