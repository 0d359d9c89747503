import { createHash } from 'node:crypto';
import type { RecordedStageShape } from '../journal/saga-event.js';
import type { Saga } from './saga.js';

/** The parts of a stage that make up a saga's shape (the same fields as a journaled `RecordedStageShape`). */
export interface StageShape {
  readonly name: string;
  readonly after: readonly string[];
  readonly compensates: boolean;
  readonly compensateOnFailure: boolean;
}

/**
 * sha-256 of a saga's shape: its name and, per stage, its dependencies and whether it
 * compensates. Policies and code are not part of it: changing a retry count or fixing a bug in
 * `execute` keeps runs resumable; adding, removing or rewiring stages does not.
 */
export function shapeHash(sagaName: string, stages: readonly StageShape[]): string {
  const shape = stages.map((stage) => [stage.name, [...stage.after].sort(), stage.compensates, stage.compensateOnFailure]);
  return createHash('sha256').update(JSON.stringify([sagaName, shape])).digest('hex');
}

/**
 * A saga's shape, stage by stage in declaration order: what its shape hash covers, and what a run
 * records on `run.started.shape` and `run.resumed.shape`.
 *
 * @remarks
 * Compare two shapes with {@link diffShapes}. `after` is each stage's dependencies as declared
 * (after defaults: the previous stage when `after` was omitted).
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * import { defineSaga, shapeOf } from 'sagaflow';
 * const saga = defineSaga({ name: 'pay', input: z.object({}) })
 *   .stage('reserve', { execute: async () => 'r-1', compensate: async () => undefined })
 *   .stage('charge', { execute: async () => 'c-1' })
 *   .build();
 * shapeOf(saga); // [{ name: 'reserve', after: [], compensates: true, … }, { name: 'charge', after: ['reserve'], compensates: false, … }]
 * ```
 */
export function shapeOf(saga: Pick<Saga, 'stages'>): RecordedStageShape[] {
  return saga.stages.map((stage) => ({
    name: stage.name,
    after: [...stage.after],
    compensates: stage.compensate !== undefined,
    compensateOnFailure: stage.compensateOnFailure,
  }));
}
