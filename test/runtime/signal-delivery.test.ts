import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineSaga, UnknownSignalError } from 'sagaflow';
import type { Saga } from '../../src/definition/saga.js';
import { prepareSignal } from '../../src/runtime/signal-delivery.js';
import { stateOf } from '../support/run-state.js';

const noop = async (): Promise<void> => undefined;

/** 200 plain stages, then two waits: a signal is checked without looking through the stages again. */
function wideSaga(): Saga {
  let builder = defineSaga({ name: 'wide', input: z.object({}) }).stage('s0', { execute: noop });
  for (let index = 1; index < 200; index++) builder = builder.stage(`s${index}`, { execute: noop });
  return builder
    .waitForSignal('first', { signal: 'go', schema: z.object({ n: z.number() }) })
    .waitForSignal('second', { signal: 'stop', schema: z.object({ why: z.string() }) })
    .build();
}

/** The saga, reporting how often its stages are read. */
function counted(saga: Saga): { readonly saga: Saga; readonly reads: () => number } {
  let reads = 0;
  const watched = Object.create(saga, {
    stages: {
      get: () => {
        reads++;
        return saga.stages;
      },
    },
  }) as Saga;
  return { saga: watched, reads: () => reads };
}

describe('prepareSignal', () => {
  it("reads a saga's stages once, to index its signals, not on every signal", () => {
    const { saga, reads } = counted(wideSaga());
    const state = stateOf(saga);
    const before = reads();
    for (let n = 0; n < 1_000; n++) {
      expect(prepareSignal(saga, state, 'go', { n }, `id-${n}`)).toEqual({ kind: 'deliver', signal: 'go', signalId: `id-${n}`, payload: { n } });
    }
    expect(() => prepareSignal(saga, state, 'nope', {}, 'x')).toThrow(UnknownSignalError);
    expect(reads() - before).toBe(1);
  });

  it('an unknown signal name from outside is quoted escaped in the message: a newline in it forges no log line', () => {
    const saga = wideSaga();
    let refused: unknown;
    try {
      prepareSignal(saga, stateOf(saga), 'go\nINFO signal accepted', {}, 'x');
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(UnknownSignalError);
    expect((refused as Error).message).toContain('has no stage waiting for signal "go\\nINFO signal accepted";');
    expect((refused as Error).message).not.toContain('\n');
    expect((refused as UnknownSignalError).signal).toBe('go\nINFO signal accepted');
  });

  it('the index lists the known signals with their stages for an unknown one, and checks each name against its own schema', () => {
    const saga = wideSaga();
    const state = stateOf(saga);
    const refused = (() => {
      try {
        prepareSignal(saga, state, 'Go', {}, 'x');
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refused).toBeInstanceOf(UnknownSignalError);
    expect((refused as UnknownSignalError).known).toEqual([
      { signal: 'go', stage: 'first' },
      { signal: 'stop', stage: 'second' },
    ]);
    expect(prepareSignal(saga, state, 'stop', { why: 'done' }, 'y')).toMatchObject({ kind: 'deliver', payload: { why: 'done' } });
    expect(() => prepareSignal(saga, state, 'stop', { n: 1 }, 'z')).toThrow(/payload\.why/);
  });
});
