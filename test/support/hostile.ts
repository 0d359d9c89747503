/**
 * Values that user code can hand the engine and that are hostile to reading: throwing getters,
 * revoked Proxies, throwing traps and `toJSON`s, cycles, deep and huge values, exotic objects.
 * Each generator builds a fresh value per run (a revoked Proxy cannot be shared by examples).
 */
import fc from 'fast-check';

/** A Proxy that has been revoked: every operation on it throws a TypeError. */
export function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

/** A Proxy whose every trap throws `thrown`. */
export function throwingProxy(thrown: unknown, target: object = {}): object {
  const trap = (): never => {
    throw thrown;
  };
  return new Proxy(target, {
    get: trap,
    has: trap,
    ownKeys: trap,
    getOwnPropertyDescriptor: trap,
    getPrototypeOf: trap,
    set: trap,
    defineProperty: trap,
    deleteProperty: trap,
    isExtensible: trap,
    preventExtensions: trap,
  });
}

/** An object with an enumerable getter `key` that throws `thrown` (an HTTP client's lazy `body`). */
export function withThrowingGetter<T extends object>(target: T, key: string, thrown: unknown): T {
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get() {
      throw thrown;
    },
  });
  return target;
}

/** What a hostile read may throw: an Error, a primitive, a revoked Proxy, nothing at all. */
export const thrownValue: fc.Arbitrary<() => unknown> = fc.oneof(
  fc.string().map((message) => () => new Error(message)),
  fc.string().map((text) => () => text),
  fc.constant(() => undefined),
  fc.constant(() => revokedProxy()),
  fc.constant(() => throwingProxy(new Error('trap in the error'))),
);

/** A value built afresh each time it is needed. */
type Make = () => unknown;

const hostileLeaf: fc.Arbitrary<Make> = fc.oneof(
  fc.constant(() => revokedProxy()),
  thrownValue.map((thrown) => () => throwingProxy(thrown())),
  thrownValue.map((thrown) => () => withThrowingGetter({ ok: 1 }, 'body', thrown())),
  thrownValue.map((thrown) => () => ({ toJSON: () => { throw thrown(); } })),
  fc.constant(() => {
    const cycle: Record<string, unknown> = { name: 'cycle' };
    cycle['self'] = cycle;
    return cycle;
  }),
  fc.constant(() => Symbol('secret')),
  fc.bigInt().map((value) => () => value),
  fc.constant(() => function namedFunction() {}),
  fc.constant(() => () => undefined),
  fc.constantFrom(NaN, Infinity, -Infinity, -0).map((value) => () => value),
  fc.constant(() => new Map<unknown, unknown>([[{ key: 1 }, new Set([1n, Symbol('s')])]])),
  fc.constant(() => new Date(Number.NaN)),
  fc.constant(() => new Headers({ Authorization: 'Bearer abc', 'content-type': 'text/plain' })),
  fc.constant(() => Buffer.from('hello')),
  fc.constant(() => new Uint8Array(200_000)),
  fc.constant(() => 'x'.repeat(200_000)),
  fc.constant(() => Array.from({ length: 5_000 }, (_, index) => ({ index }))),
  fc.constant(() => {
    // A getter that makes a new object at every read: endless depth and width.
    const endless = (): object => {
      const node = {};
      for (const key of ['left', 'right', 'down']) Object.defineProperty(node, key, { enumerable: true, get: endless });
      return node;
    };
    return endless();
  }),
  fc.constant(() => {
    let deep: unknown = 'bottom';
    for (let level = 0; level < 5_000; level++) deep = { deep };
    return deep;
  }),
  fc.constant(() => Object.create(null) as object),
  fc.constant(() => new AggregateError([new Error('first'), revokedProxy()], 'several failed')),
  fc.constant(() => ({ [Symbol.toPrimitive]: () => { throw new Error('no primitive'); } })),
  fc.constant(() => Promise.resolve(1)),
  fc.constant(() => new WeakMap()),
  fc.constant(() => new (class Custom { readonly field = 1; })()),
);

/** A hostile value, possibly nested in plain objects and arrays with ordinary values. */
export const hostileValue: fc.Arbitrary<Make> = fc.letrec<{ value: Make }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.anything({ withBigInt: true, withMap: true, withSet: true, withDate: true, withTypedArray: true, withSparseArray: true, withNullPrototype: true, withBoxedValues: true, withObjectString: true }).map((value) => () => value),
    hostileLeaf,
    fc.dictionary(fc.string(), tie('value'), { maxKeys: 4 }).map((entries) => () => Object.fromEntries(Object.entries(entries).map(([key, make]) => [key, make()]))),
    fc.array(tie('value'), { maxLength: 4 }).map((items) => () => items.map((make) => make())),
  ),
})).value;

/** An Error made hostile: getters that throw on its own fields, hostile enumerable fields and cause. */
export const hostileError: fc.Arbitrary<Make> = fc
  .record({
    message: fc.string(),
    throwingOwn: fc.subarray(['name', 'message', 'stack', 'code', 'cause'] as const),
    thrown: thrownValue,
    fields: fc.dictionary(fc.string(), hostileValue, { maxKeys: 4 }),
    cause: fc.option(fc.oneof(hostileValue, fc.constant(() => new Error('plain cause')))),
    code: fc.option(fc.oneof(fc.string(), fc.integer()), { nil: undefined }),
    selfCause: fc.boolean(),
  })
  .map((plan) => () => {
    const error = new Error(plan.message) as Error & Record<string, unknown>;
    if (plan.code !== undefined) error['code'] = plan.code;
    for (const [key, make] of Object.entries(plan.fields)) {
      try {
        error[key] = make();
      } catch {
        // a key such as 'stack' may be read-only on some errors
      }
    }
    if (plan.cause !== null) error.cause = plan.cause();
    if (plan.selfCause) error.cause = error;
    for (const key of plan.throwingOwn) {
      Object.defineProperty(error, key, {
        enumerable: key === 'code',
        configurable: true,
        get() {
          throw plan.thrown();
        },
      });
    }
    return error;
  });

/** Anything a stage could throw: hostile errors and hostile values. */
export const anythingThrown: fc.Arbitrary<Make> = fc.oneof(hostileError, hostileValue);

/** Whether `value` is plain JSON: what `JSON.parse` could have returned. */
export function isPlainJson(value: unknown, depth = 0): boolean {
  if (depth > 2_000) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0);
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) if (!(index in value) || !isPlainJson(value[index], depth + 1)) return false;
    return Object.getPrototypeOf(value) === Array.prototype;
  }
  if (typeof value !== 'object') return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  if (Object.getOwnPropertySymbols(value).length > 0) return false;
  return Object.entries(value).every(([, child]) => isPlainJson(child, depth + 1));
}
