import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, type DeepReadonly, type JsonOutput, type OutputJsonProblem } from 'sagaflow';
import { createSagaTest } from 'sagaflow/testing';

// A stage's output is journaled as JSON, on every run: a property whose value is `undefined` is
// dropped (`'note' in output` is false, `Object.keys` does not list it). Its type says so: such a
// property is optional, not a key that is always there.

type Reserved = { readonly holdId: string; readonly note?: string; readonly nested: { readonly at?: number; readonly kept: null } };

const saga = defineSaga({ name: 'undefined-keys', input: z.object({}) })
  .stage('reserve', {
    execute: async () => ({
      holdId: 'h-1',
      note: undefined as string | undefined,
      nested: { at: undefined as number | undefined, kept: null },
    }),
    compensate: async ({ outcome, output }) => {
      if (outcome === 'completed') expectTypeOf(output).toEqualTypeOf<Reserved>();
    },
  })
  .stage('nothing', { execute: async () => undefined })
  .stage('read', {
    execute: async ({ results }) => {
      expectTypeOf(results.reserve).toEqualTypeOf<Reserved>();
      return { copied: results.reserve.note };
    },
  })
  .build();

describe("an output's properties whose value may be undefined are optional", () => {
  it('in ctx.results, in compensate, from run() and on the outcome', async () => {
    expectTypeOf(await createOrchestrator().run(saga, {})).toEqualTypeOf<{
      readonly reserve: Reserved;
      readonly nothing: undefined;
      readonly read: { readonly copied?: string };
    }>();
    const { outcome } = await createSagaTest().run(saga, {});
    expectTypeOf(outcome.outputs.reserve).toEqualTypeOf<Reserved | undefined>();
    // A stage that returns nothing keeps its key on the outputs: only properties inside an output are dropped.
    expectTypeOf(outcome.outputs.nothing).toEqualTypeOf<undefined>();
  });

  it('says so in JsonOutput, and leaves outputs without such properties as they are', () => {
    expectTypeOf<JsonOutput<{ a: string; b: string | undefined }>>().toEqualTypeOf<{ a: string; b?: string }>();
    expectTypeOf<JsonOutput<{ a: string; list: { c: number | undefined }[] }>>().toEqualTypeOf<{ a: string; list: { c?: number }[] }>();
    expectTypeOf<JsonOutput<{ a: string }>>().toEqualTypeOf<{ a: string }>();
    expectTypeOf<JsonOutput<string | undefined>>().toEqualTypeOf<string | undefined>();
  });

  it("takes a recursive output type (a JSON value's, as Prisma's JsonValue) without expanding it for ever", () => {
    type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
    const tree = defineSaga({ name: 'tree', input: z.object({}) })
      .stage('read', { execute: (): Json => ({ a: [1, { b: null }] }) })
      .stage('use', { execute: ({ results }) => (Array.isArray(results.read) ? results.read.length : 0) })
      .build();
    expectTypeOf<JsonOutput<Json>>().toEqualTypeOf<Json>();
    expectTypeOf<DeepReadonly<Json>>().toExtend<DeepReadonly<Json> | string>();
    const read = async () => (await createOrchestrator().run(tree, {})).read;
    void read;
  });
});
// An output that does not survive a JSON round-trip fails the stage at run time, not retried (a
// StageOutputError): in production, after the call it returns from has taken effect. The type
// checker catches the kinds a type can show, on the stage's name, with the path and the fix.

declare const api: { book(): Promise<{ ref: string }> };
type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };
declare const json: JsonValue;

describe('an output that is not plain JSON does not compile', () => {
  it('refuses a Date, a Promise (a missing await), a bigint, a Map or Set, a function, at any depth', () => {
    const builder = defineSaga({ name: 'not-json', input: z.object({}) });
    // @ts-expect-error output.validUntil is a Date
    builder.stage('quote', { execute: async () => ({ price: 1, validUntil: new Date() }) });
    // @ts-expect-error output.booking is a Promise: a missing await
    builder.stage('book', { execute: async () => ({ booking: api.book() }) });
    // @ts-expect-error output.total is a bigint
    builder.stage('sum', { execute: () => ({ total: 10n }) });
    // @ts-expect-error output.seen is a Set
    builder.stage('seen', { execute: () => ({ seen: new Set<string>() }) });
    // @ts-expect-error output.items[].format is a function
    builder.stage('items', { execute: () => ({ items: [{ id: 1, format: () => 'x' }] }) });
    // @ts-expect-error the whole output is a Date
    builder.stage('now', { execute: () => new Date() });
  });

  it('accepts plain JSON, undefined, void, and values whose type does not say (unknown, a JSON type, a record)', () => {
    defineSaga({ name: 'json', input: z.object({}) })
      .stage('a', { execute: async () => ({ at: new Date().toISOString(), n: 1, ok: true, none: null, list: [1, 2], nested: { deep: ['x'] } }) })
      .stage('b', { execute: async () => undefined })
      .stage('c', { execute: async (): Promise<void> => {} })
      .stage('d', { execute: async (): Promise<unknown> => 1 })
      .stage('e', { execute: () => json })
      .stage('f', { execute: (): Record<string, unknown> => ({}) })
      .stage('g', { execute: () => ({ maybe: Math.random() > 0.5 ? 'x' : undefined }) })
      .build();
  });

  it("refuses a signal wait whose schema returns what JSON cannot hold: every signal would be refused, and the wait could only time out", () => {
    const builder = defineSaga({ name: 'wait-not-json', input: z.object({}) });
    // @ts-expect-error payload.at is a Date (the schema coerces the string sent to one)
    builder.waitForSignal('approval', { signal: 'approved', schema: z.object({ at: z.coerce.date() }) });
    builder.waitForSignal('approval', { signal: 'approved', schema: z.object({ at: z.iso.datetime() }) });
  });

  it('names the path and the fix in the message', () => {
    type Message = OutputJsonProblem<{ quote: { validUntil: Date } }>;
    expectTypeOf<Message>().toEqualTypeOf<'output.quote.validUntil is a Date instance, which does not survive a JSON round-trip (use an ISO string or epoch ms for dates)'>();
  });
});
