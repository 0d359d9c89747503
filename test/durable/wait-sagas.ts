import { z } from 'zod';
import { defineSaga } from 'sagaflow';

/** hold → cool-off (a minute) → release: a timer wait across processes. */
export const coolOff = defineSaga({ name: 'cool-off', input: z.object({ cents: z.number() }) })
  .stage('hold', { execute: ({ input }) => ({ held: input.cents }), compensate: () => undefined })
  .sleep('cool', { durationMs: 60_000 })
  .stage('release', { execute: ({ results }) => ({ released: results.hold.held }) })
  .build();

/** hold → approval (signal 'approved') → pay: a signal wait across processes. */
export const approval = defineSaga({ name: 'approval', input: z.object({ cents: z.number() }) })
  .stage('hold', { execute: ({ input }) => ({ held: input.cents }), compensate: () => undefined })
  .waitForSignal('approve', { signal: 'approved', schema: z.object({ by: z.string() }) })
  .stage('pay', { execute: ({ results }) => `approved by ${results.approve.by}` })
  .build();
