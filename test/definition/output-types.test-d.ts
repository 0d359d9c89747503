import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, type DeepReadonly, type JsonOutput } from 'sagaflow';
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
