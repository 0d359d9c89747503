import { createHash } from 'node:crypto';

/** The parts of a stage that make up a saga's shape. */
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
