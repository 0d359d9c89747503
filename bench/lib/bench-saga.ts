import { z } from 'zod';
import { defineSaga, NonRetryableError } from '../../dist/index.js';

/**
 * The benchmark's saga: five trivial stages, each with a compensation; with `fail: true` the
 * fifth stage fails, so four compensations run. The same shape the peers run (PEERS.md).
 */
export const benchSaga = (() => {
  const step = (name: string) => ({
    execute: async ({ input }: { input: { fail: boolean } }) => {
      if (input.fail && name === 'e') throw new NonRetryableError('stage e fails on purpose');
      return { step: name };
    },
    compensate: async () => undefined,
  });
  return defineSaga({ name: 'bench-five-steps', input: z.object({ fail: z.boolean() }) })
    .stage('a', step('a'))
    .stage('b', step('b'))
    .stage('c', step('c'))
    .stage('d', step('d'))
    .stage('e', step('e'))
    .build();
})();
