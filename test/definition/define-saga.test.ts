import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineSaga, defineStage, SagaDefinitionError, type ExecuteContext } from 'sagaflow';

const input = z.object({ id: z.string() });
const noop = async (): Promise<void> => undefined;

function definitionError(build: () => unknown): SagaDefinitionError {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(SagaDefinitionError);
    return error as SagaDefinitionError;
  }
  throw new Error('expected build() to throw a SagaDefinitionError');
}

describe('defineSaga().build()', () => {
  it('chains stages by default, makes `after: []` a root, and fills in policy defaults', () => {
    const saga = defineSaga({ name: 'chain', input })
      .stage('a', { execute: noop })
      .stage('b', { execute: noop })
      .stage('c', { after: [], execute: noop })
      .stage('d', { after: ['b', 'c'], execute: noop })
      .build();
    expect(saga.stages.map((stage) => [stage.name, stage.after])).toEqual([
      ['a', []],
      ['b', ['a']],
      ['c', []],
      ['d', ['b', 'c']],
    ]);
    expect(saga.stage('a')?.dependents).toEqual(['b']);
    expect(saga.version).toBe('1');
    expect(saga.policies).toEqual({ concurrency: Infinity, onFailure: 'compensate', onCancel: 'compensate', compensation: 'sequential' });
    expect(saga.stage('a')?.retry).toMatchObject({ maxAttempts: 1, initialDelayMs: 100, backoffFactor: 2, maxDelayMs: 30_000, jitter: true });
    expect(saga.stage('a')?.compensation.retry.maxAttempts).toBe(5);
    expect(Object.isFrozen(saga)).toBe(true);
  });

  it('accepts a reusable stage from defineStage in several sagas', () => {
    const notify = defineStage({ execute: async ({ input: given }: ExecuteContext<{ id: string }, {}>) => ({ sent: given.id }) });
    const one = defineSaga({ name: 'one', input }).stage('notify', notify).build();
    const two = defineSaga({ name: 'two', input: z.object({ id: z.string(), extra: z.number() }) }).stage('notify', notify).build();
    expect(one.stage('notify')?.execute).toBe(two.stage('notify')?.execute);
  });

  it('lists every problem at once: duplicate, unknown after, self dependency, bad policies, unknown fields', () => {
    const error = definitionError(() =>
      defineSaga({ name: 'broken', input, concurrency: 0 })
        .stage('a', { execute: noop, retry: { maxAttempts: 0, initialDelayMs: -1, backoffFactor: 0.5, maxDelayMs: -5 } })
        // @ts-expect-error stage 'a' is already declared (a compile error too; the runtime check is for untyped code)
        .stage('a', { execute: noop })
        .stage('b', { after: ['nope' as 'a'], execute: noop, timeoutMs: 0 })
        .stage('c', { after: ['c' as 'a'], execute: noop, compensation: { timeoutMs: -1 } })
        .stage('d', { execute: noop, retries: 3 } as never)
        .build(),
    );
    const lines = error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    expect(lines).toEqual(
      expect.arrayContaining([
        'concurrency: must be an integer >= 1 or Infinity',
        'stages.a.retry.maxAttempts: must be an integer >= 1',
        'stages.a.retry.initialDelayMs: must be a finite number >= 0',
        'stages.a.retry.backoffFactor: must be a finite number >= 1',
        'stages.a.retry.maxDelayMs: must be a finite number >= 0',
        "stages.a: duplicate stage name 'a'",
        "stages.b.after: unknown stage 'nope'",
        'stages.b.timeoutMs: must be a finite number of milliseconds > 0',
        "stages.c.after: stage 'c' cannot depend on itself",
        'stages.c.compensation.timeoutMs: must be a finite number of milliseconds > 0',
        "stages.d: unknown field 'retries'",
      ]),
    );
    expect(error.saga).toBe('broken');
    expect(error.code).toBe('SAGA_DEFINITION_INVALID');
    expect(error.message).toMatch(/^Saga 'broken' has \d+ definition problems: /);
  });

  it('lists a schema whose reads throw (a revoked Proxy, a throwing getter) as not a schema, rather than throwing what the read threw', () => {
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    const throwing = new Proxy(
      {},
      {
        get() {
          throw new Error('the session is closed');
        },
      },
    );
    const error = definitionError(() =>
      defineSaga({ name: 'hostile-schemas', input })
        .stage('charge', { execute: () => 1, output: revoked as never })
        .waitForSignal('approve', { signal: 'approved', schema: throwing as never, timeoutMs: 1, onTimeout: { output: 1 } })
        .build(),
    );
    expect(error.issues).toEqual([
      { path: 'stages.charge.output', message: 'must be a zod schema' },
      { path: 'stages.approve.schema', message: 'must be a zod schema' },
    ]);
  });

  it('lists a policy object or field whose read throws (a revoked Proxy, a throwing getter) as an issue naming its field, rather than throwing what the read threw', () => {
    const revoked = (): never => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy as never;
    };
    const throwingGetter = (field: string): PropertyDescriptor => ({
      enumerable: true,
      get() {
        throw new Error(`${field} is gone`);
      },
    });
    const revokedProxy = "could not be read: TypeError: Cannot perform 'IsArray' on a proxy that has been revoked";
    const error = definitionError(() =>
      defineSaga(Object.defineProperties({ name: 'hostile-policies', input }, { onFailure: throwingGetter('onFailure') }) as never)
        .stage('reserve', { execute: () => 1, retry: revoked() })
        .stage('charge', Object.defineProperties({ execute: () => 2 }, { timeoutMs: throwingGetter('timeoutMs') }))
        .stage('refund', { execute: () => 3, compensate: noop, compensation: { retry: Object.defineProperties({}, { maxAttempts: throwingGetter('maxAttempts') }) } })
        .stage('notify', { execute: () => 4, after: revoked() })
        .stage('audit', revoked())
        .waitForSignal('approve', revoked())
        .build(),
    );
    expect(error.issues).toEqual([
      { path: 'onFailure', message: 'could not be read: Error: onFailure is gone' },
      { path: 'stages.reserve.retry', message: revokedProxy },
      { path: 'stages.charge.timeoutMs', message: 'could not be read: Error: timeoutMs is gone' },
      { path: 'stages.refund.compensation.retry.maxAttempts', message: 'could not be read: Error: maxAttempts is gone' },
      { path: 'stages.notify.after', message: revokedProxy },
      { path: 'stages.audit', message: revokedProxy },
      { path: 'stages.approve', message: revokedProxy },
    ]);
    expect(error.message).toContain("Saga 'hostile-policies' has 7 definition problems");
    // The whole options object unreadable: the saga is unnamed, the issue says what could not be read.
    expect(definitionError(() => defineSaga(revoked()).stage('a', { execute: noop }).build()).issues).toEqual([
      { path: '', message: `the saga's options ${revokedProxy}` },
    ]);
  });

  it('reads each policy field once: a getter cannot pass the checks with one value and build the saga with another', () => {
    let reads = 0;
    const saga = defineSaga({ name: 'two-faced', input })
      .stage('charge', {
        execute: () => 1,
        get timeoutMs() {
          reads++;
          return reads === 1 ? 5_000 : -1;
        },
      })
      .build();
    expect(saga.stages[0]?.timeoutMs).toBe(5_000);
    expect(reads).toBe(1);
  });

  it('lists null given as a wait definition, its onTimeout or the saga options as a problem of that field, not a TypeError', () => {
    expect(definitionError(() => defineSaga(null as never).stage('a', { execute: noop }).build()).issues).toEqual([{ path: '', message: 'must be an object' }]);
    const error = definitionError(() =>
      defineSaga({ name: 'null-waits', input })
        .stage('a', { execute: noop })
        .waitForSignal('approve', null as never)
        .waitForSignal('confirm', { signal: 'confirmed', schema: z.object({}), timeoutMs: 1, onTimeout: null as never })
        .build(),
    );
    expect(error.issues).toEqual([
      { path: 'stages.approve', message: 'must be an object with a signal name and a schema' },
      { path: 'stages.confirm.onTimeout', message: 'must be an object { output }' },
    ]);
  });

  it('reports a duplicate stage name once, without a false self-dependency for the chained duplicate', () => {
    const error = definitionError(() =>
      defineSaga({ name: 'dup', input })
        .stage('a', { execute: noop })
        // @ts-expect-error stage 'a' is already declared
        .stage('a', { execute: noop })
        .stage('b', { execute: noop })
        .build(),
    );
    expect(error.issues).toEqual([{ path: 'stages.a', message: "duplicate stage name 'a'" }]);
    expect(error.message).toBe("Saga 'dup' has 1 definition problem: stages.a: duplicate stage name 'a'.");
  });

  it('still reports a real self-dependency', () => {
    const error = definitionError(() => defineSaga({ name: 'self', input }).stage('a', { after: ['a' as never], execute: noop }).build());
    expect(error.issues).toEqual([{ path: 'stages.a.after', message: "stage 'a' cannot depend on itself" }]);
  });

  it('refuses saga names, versions and stage names holding NUL or ill-formed Unicode', () => {
    const error = definitionError(() =>
      defineSaga({ name: 'pay\u0000ment', version: 'v\uD800', input })
        .stage('ok', { execute: noop })
        .stage('de\u0000bit', { execute: noop })
        .stage('cred\uDC00it', { after: ['ok'], execute: noop })
        .build(),
    );
    expect(error.issues).toEqual([
      { path: 'name', message: 'must not contain NUL (\\u0000)' },
      { path: 'version', message: 'must be well-formed Unicode (it holds a lone surrogate)' },
      { path: 'stages."de\\u0000bit"', message: 'the stage name must not contain NUL (\\u0000)' },
      { path: 'stages."cred\\udc00it"', message: 'the stage name must be well-formed Unicode (it holds a lone surrogate)' },
    ]);
    expect(error.saga).toBe('"pay\\u0000ment"');
    expect(error.message).not.toContain('\u0000');
    expect(error.message.isWellFormed()).toBe(true);
    expect(error).toBeInstanceOf(SagaDefinitionError);
  });

  it('refuses a stage name longer than 200 characters', () => {
    const long = 'x'.repeat(201);
    const error = definitionError(() => defineSaga({ name: 'long', input }).stage(long, { execute: noop }).build());
    expect(error.issues).toEqual([{ path: `stages."${'x'.repeat(80)}…"`, message: 'the stage name must be at most 200 characters (got 201)' }]);
  });

  it('refuses control characters in saga, version, stage and signal names (printed in messages, logs and the CLI: a newline or an escape would forge lines), each issue naming its field', () => {
    const error = definitionError(() =>
      defineSaga({ name: 'order\nINFO ok', version: 'v\u001b[8m', input })
        .waitForSignal('approval', { signal: 'approved\u0085', schema: z.object({}) })
        .stage('charge\r', { execute: noop })
        .build(),
    );
    expect(error.issues).toEqual([
      { path: 'name', message: 'must not contain control characters (it holds "\\n" at index 5)' },
      { path: 'version', message: 'must not contain control characters (it holds "\\u001b" at index 1)' },
      { path: 'stages."charge\\r"', message: 'the stage name must not contain control characters (it holds "\\r" at index 6)' },
      { path: 'stages.approval.signal', message: 'must not contain control characters (it holds "\\u0085" at index 8)' },
    ]);
    // The saga is named in the message escaped, not raw.
    expect(error.message).not.toMatch(/[\n\u001b]/);
    expect(() => defineSaga({ name: 'ünïcödé — fine', input }).stage('ステージ', { execute: noop }).build()).not.toThrow();
  });

  it("refuses the stage name '__proto__', whose output would vanish from outcome.outputs; other Object.prototype names are fine", () => {
    const error = definitionError(() =>
      defineSaga({ name: 'proto', input })
        .stage('__proto__', { execute: () => ({ v: 1 }) })
        .stage('next', { execute: noop })
        .build(),
    );
    expect(error.issues).toEqual([
      { path: 'stages.__proto__', message: expect.stringContaining("the stage name '__proto__' is reserved") as unknown },
    ]);
    expect(() => defineSaga({ name: 'fine', input }).stage('constructor', { execute: noop }).stage('toString', { execute: noop }).build()).not.toThrow();
  });

  it('reports a dependency cycle with its path, once', () => {
    const error = definitionError(() =>
      defineSaga({ name: 'loop', input })
        .stage('a', { after: ['c' as never], execute: noop })
        .stage('b', { execute: noop })
        .stage('c', { execute: noop })
        .stage('d', { after: [], execute: noop })
        .build(),
    );
    const cycles = error.issues.filter((issue) => issue.message.startsWith('dependency cycle'));
    expect(cycles).toHaveLength(1);
    expect(cycles[0]?.message).toBe('dependency cycle: a -> b -> c -> a');
  });

  it('rejects a non-function execute, a non-zod input, bad enums and an empty saga', () => {
    const error = definitionError(() =>
      defineSaga({ name: '', input: {} as never, onFailure: 'retry' as never, compensation: 'random' as never }).build(),
    );
    expect(error.issues.map((issue) => issue.path)).toEqual(expect.arrayContaining(['name', 'input', 'onFailure', 'compensation', 'stages']));
    const noExecute = definitionError(() => defineSaga({ name: 'x', input }).stage('a', { execute: 'run' as never }).build());
    expect(noExecute.issues).toContainEqual({ path: 'stages.a.execute', message: 'must be a function' });
  });

  it('detects a cycle in a deep chain without overflowing the stack', () => {
    let builder = defineSaga({ name: 'deep', input }) as unknown as { stage(name: string, definition: object): typeof builder; build(): unknown };
    for (let index = 0; index < 20_000; index++) builder = builder.stage(`s${index}`, { execute: noop });
    builder = builder.stage('head', { after: ['s19999'], execute: noop });
    expect(() => builder.build()).not.toThrow();
    const cyclic = builder.stage('s-late', { after: ['s-late2'], execute: noop }).stage('s-late2', { execute: noop });
    expect(definitionError(() => cyclic.build()).issues[0]?.message).toBe('dependency cycle: s-late -> s-late2 -> s-late');
  });

  it('hashes the shape: stable for the same graph, different when stages, edges or compensations change', () => {
    const make = (withCompensate: boolean, extraEdge: boolean) =>
      defineSaga({ name: 'shape', input, version: '7' })
        .stage('a', { execute: noop, ...(withCompensate ? { compensate: noop } : {}) })
        .stage('b', { after: extraEdge ? ['a'] : [], execute: noop, retry: { maxAttempts: 3 } })
        .build();
    expect(make(true, true).shapeHash).toBe(make(true, true).shapeHash);
    expect(make(true, true).shapeHash).not.toBe(make(false, true).shapeHash);
    expect(make(true, true).shapeHash).not.toBe(make(true, false).shapeHash);
    expect(make(true, true).shapeHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps builders immutable, so a partial saga can be extended two ways', () => {
    const base = defineSaga({ name: 'base', input }).stage('a', { execute: noop });
    const left = base.stage('b', { execute: noop }).build();
    const right = base.stage('c', { execute: noop }).build();
    expect(left.stages.map((stage) => stage.name)).toEqual(['a', 'b']);
    expect(right.stages.map((stage) => stage.name)).toEqual(['a', 'c']);
  });
});
