import { describe, expect, it } from 'vitest';
import { SERIALIZATION_NOTES_KEY, serializedErrorSchema, serializeError, type SerializedError } from 'sagaflow';
import { isPlainJson, revokedProxy, throwingProxy, withThrowingGetter } from '../support/hostile.js';

/** Serialises, and checks what every result must be: plain JSON that the schema accepts. */
function serialized(thrown: unknown): SerializedError {
  const result = serializeError(thrown);
  expect(isPlainJson(result)).toBe(true);
  expect(serializedErrorSchema.safeParse(result).success).toBe(true);
  expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  return result;
}

const notes = (error: SerializedError): unknown => error.data?.[SERIALIZATION_NOTES_KEY];

describe('serializeError: ordinary values', () => {
  it('keeps name, message, string code, stack and enumerable fields of an Error', () => {
    const error = Object.assign(new TypeError('boom'), { code: 'E_BOOM', status: 503, detail: { retryAfter: 2 } });
    const result = serialized(error);
    expect(result).toMatchObject({ name: 'TypeError', message: 'boom', code: 'E_BOOM', data: { status: 503, detail: { retryAfter: 2 } } });
    expect(result.stack).toContain('TypeError: boom');
    expect(notes(result)).toBeUndefined();
  });

  it('serialises a thrown string, undefined, a number and a plain object as NonErrorThrown', () => {
    expect(serialized('out of stock')).toEqual({ name: 'NonErrorThrown', message: 'A non-Error value was thrown: "out of stock"', data: { value: 'out of stock' } });
    expect(serialized(undefined)).toEqual({ name: 'NonErrorThrown', message: 'A non-Error value was thrown: undefined' });
    expect(serialized(42)).toEqual({ name: 'NonErrorThrown', message: 'A non-Error value was thrown: 42', data: { value: 42 } });
    expect(serialized({ reason: 'nope' })).toEqual({ name: 'NonErrorThrown', message: 'A non-Error value was thrown: {"reason":"nope"}', data: { value: { reason: 'nope' } } });
  });

  it('keeps the cause chain, five levels deep, and says where it stops', () => {
    let error: Error = new Error('level 0');
    for (let level = 1; level <= 8; level++) error = new Error(`level ${level}`, { cause: error });
    const result = serialized(error);
    let cause: unknown = result;
    const messages: string[] = [];
    while (typeof cause === 'object' && cause !== null) {
      messages.push((cause as SerializedError).message);
      cause = (cause as SerializedError).data?.['cause'];
    }
    expect(messages).toEqual(['level 8', 'level 7', 'level 6', 'level 5', 'level 4', 'level 3']);
    expect(cause).toBe('[sagaflow: cause chain longer than 5 levels left out]');
    expect(notes(result)).toEqual({ truncated: true });
  });

  it("keeps an AggregateError's errors", () => {
    const result = serialized(new AggregateError([new Error('::1 refused'), new Error('127.0.0.1 refused')], 'connect ECONNREFUSED'));
    expect((result.data?.['errors'] as SerializedError[]).map((error) => error.message)).toEqual(['::1 refused', '127.0.0.1 refused']);
  });
});

describe('serializeError: hostile values', () => {
  it('an Error with an enumerable getter that throws (a lazy HTTP body): that field says so, the others are kept', () => {
    const error = withThrowingGetter(Object.assign(new Error('request failed'), { status: 500 }), 'body', new Error('body already consumed'));
    const result = serialized(error);
    expect(result).toMatchObject({
      name: 'Error',
      message: 'request failed',
      data: { status: 500, body: '[sagaflow: could not be read: Error: body already consumed]' },
    });
  });

  it('a revoked Proxy thrown: UnreadableError', () => {
    expect(serialized(revokedProxy())).toEqual({
      name: 'UnreadableError',
      message: "The thrown value could not be read: TypeError: Cannot perform 'IsArray' on a proxy that has been revoked",
    });
  });

  it('a revoked Proxy as the cause, and nested in the data', () => {
    const error = Object.assign(new Error('outer', { cause: revokedProxy() }), { response: { headers: revokedProxy() } });
    const result = serialized(error);
    expect(result.data?.['cause']).toEqual({ name: 'UnreadableError', message: expect.stringContaining('could not be read') as unknown });
    expect(result.data?.['response']).toEqual({ headers: expect.stringMatching(/^\[sagaflow: could not be read: TypeError: .*revoked\]$/) as unknown });
  });

  it('a Proxy whose every trap throws, thrown or as a field', () => {
    expect(serialized(throwingProxy(new Error('trap'))).name).toBe('UnreadableError');
    const result = serialized(Object.assign(new Error('x'), { field: throwingProxy('a string') }));
    expect(result.data?.['field']).toBe('[sagaflow: could not be read: "a string"]');
  });

  it('getters on name, message, stack and code that throw (even a revoked Proxy): noted, with fallbacks', () => {
    const error = new Error('hidden');
    // 'stack' first: redefining it formats the stack, which reads 'name' and 'message'.
    for (const key of ['stack', 'message', 'code', 'name']) {
      Object.defineProperty(error, key, {
        get() {
          throw key === 'name' ? revokedProxy() : new RangeError(`no ${key}`);
        },
      });
    }
    const result = serialized(error);
    expect(result.name).toBe('Error');
    expect(result.message).toBe('(the message could not be read: RangeError: no message)');
    expect(result.stack).toBeUndefined();
    expect(result.code).toBeUndefined();
    expect(notes(result)).toEqual({
      unreadable: { name: 'a Proxy object', message: 'RangeError: no message', stack: 'RangeError: no stack', code: 'RangeError: no code' },
    });
  });

  it('a throwing cause getter and a throwing list of fields', () => {
    const error = new Error('e');
    Object.defineProperty(error, 'cause', {
      get() {
        throw new Error('no cause');
      },
    });
    const proxied = new Proxy(error, {
      ownKeys() {
        throw new Error('no keys');
      },
    });
    const result = serialized(proxied);
    expect(result.message).toBe('e');
    expect(notes(result)).toEqual({ unreadable: { cause: 'Error: no cause', fields: 'Error: no keys' } });
  });

  it('a toJSON that throws, inside the data', () => {
    const result = serialized(Object.assign(new Error('e'), { payload: { toJSON: () => { throw new Error('cannot encode'); } } }));
    expect(result.data?.['payload']).toBe('[sagaflow: toJSON() threw Error: cannot encode]');
  });

  it('cycles: in the data, and an error that is its own cause', () => {
    const config: Record<string, unknown> = { url: '/x' };
    config['self'] = config;
    const error = Object.assign(new Error('loop'), { config });
    error.cause = error;
    const result = serialized(error);
    expect(result.data).toMatchObject({ config: { url: '/x', self: '[sagaflow: circular reference]' }, cause: '[sagaflow: circular reference]' });
  });

  it('symbols, bigints, functions, NaN, Map, Set, Date, Headers, Buffer', () => {
    const error = Object.assign(new Error('exotic'), {
      symbol: Symbol('s'),
      big: 12n,
      callback: () => 1,
      list: [undefined, function named() {}, NaN, -0],
      map: new Map([['k', 1]]),
      set: new Set(['a']),
      when: new Date(0),
      headers: new Headers({ 'content-type': 'text/plain' }),
      bytes: Buffer.from('hi'),
    });
    expect(serialized(error).data).toEqual({
      symbol: 'Symbol(s)',
      big: '12n',
      list: [null, '[function named]', 'NaN', 0],
      map: [['k', 1]],
      set: ['a'],
      when: '1970-01-01T00:00:00.000Z',
      headers: { 'content-type': 'text/plain' },
      bytes: [104, 105],
    });
  });

  it('a huge error is bounded, and says what it left out', () => {
    const error = Object.assign(new Error('m'.repeat(50_000)), {
      body: 'b'.repeat(1_000_000),
      rows: Array.from({ length: 100_000 }, (_, index) => ({ index })),
      buffer: new Uint8Array(10_000_000),
    });
    const result = serialized(error);
    expect(JSON.stringify(result).length).toBeLessThan(100_000);
    expect(result.message).toMatch(/^m{10000}… \[sagaflow: 40000 more characters left out\]$/);
    expect(result.data?.['body']).toMatch(/… \[sagaflow: \d+ more characters left out\]$/);
    expect(notes(result)).toEqual({ truncated: true });
  });

  it('an object nested 100,000 levels deep, and one whose getters make new objects forever, end with a note', () => {
    let deep: unknown = 'bottom';
    for (let level = 0; level < 100_000; level++) deep = { deep };
    const endless = (): object => {
      const node = {};
      for (const key of ['a', 'b', 'c', 'd']) Object.defineProperty(node, key, { enumerable: true, get: endless });
      return node;
    };
    // Unbounded, the endless getters would never end: the test would time out.
    const result = serialized(Object.assign(new Error('deep'), { deep, endless: endless() }));
    expect(JSON.stringify(result.data?.['deep'])).toContain('[sagaflow: nested deeper than 6 levels, left out]');
    expect(notes(result)).toEqual({ truncated: true });
  });

  it('an object with a null prototype, a throwing Symbol.toPrimitive, and an Error from another realm', async () => {
    const { runInNewContext } = await import('node:vm');
    const foreign = runInNewContext('new RangeError("from a vm")') as unknown;
    expect(serialized(foreign)).toMatchObject({ name: 'RangeError', message: 'from a vm' });
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    expect(serialized(bare).data).toEqual({ value: { a: 1 } });
    const primitive = { [Symbol.toPrimitive]: () => { throw new Error('no'); }, toString: () => { throw new Error('no'); } };
    expect(serialized(primitive).name).toBe('NonErrorThrown');
    const badName = Object.assign(new Error('x'), {});
    Object.defineProperty(badName, 'name', { value: primitive });
    expect(serialized(badName).name).toBe('an object that is not an Error');
  });
});

describe('serializeError: a field named __proto__', () => {
  it('is kept as a field of data (and of nested values), never as the prototype of the copy', () => {
    const body = JSON.parse('{"__proto__": ["not", "a", "prototype"], "status": 502}') as object;
    const error = Object.assign(new Error('Request failed'), { response: body });
    Object.defineProperty(error, '__proto__', { value: { nested: true }, enumerable: true, configurable: true, writable: true });
    const result = serializeError(error);
    expect(isPlainJson(result)).toBe(true);
    expect(serializedErrorSchema.safeParse(result).success).toBe(true);
    expect(Object.keys(result.data ?? {})).toEqual(expect.arrayContaining(['__proto__', 'response']));
    expect(JSON.parse(JSON.stringify(result)).data.response).toEqual({ ['__proto__']: ['not', 'a', 'prototype'], status: 502 });
  });
});
