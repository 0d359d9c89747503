import { createHash } from 'node:crypto';
import type { RecordedStageShape } from '../journal/saga-event.js';
import type { Saga } from './saga.js';

/** The parts of a stage that make up a saga's shape (the same fields as a journaled `RecordedStageShape`). */
export interface StageShape {
  readonly name: string;
  readonly after: readonly string[];
  readonly compensates: boolean;
  readonly compensateOnFailure: boolean;
  readonly wait?: string;
}

/**
 * sha-256 of a saga's shape: its name and, per stage, its dependencies and whether it
 * compensates. Policies and code are not part of it: changing a retry count or fixing a bug in
 * `execute` keeps runs resumable; adding, removing or rewiring stages does not.
 */
export function shapeHash(sagaName: string, stages: readonly StageShape[]): string {
  // A wait stage's kind is hashed only when present, so that the hashes of sagas without waits stay as they were.
  const shape = stages.map((stage) => {
    const fields: unknown[] = [stage.name, [...stage.after].sort(), stage.compensates, stage.compensateOnFailure];
    if (stage.wait !== undefined) fields.push(stage.wait);
    return fields;
  });
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
    ...(stage.wait === undefined ? {} : { wait: stage.wait.kind === 'signal' ? `signal:${stage.wait.signal}` : 'timer' }),
  }));
}
