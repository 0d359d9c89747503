import type { RecordedStageShape } from './saga-event.js';

/**
 * A definition's shape, indexed for the fold: each stage's parents, dependents and compensation
 * flags by stage index. Internal.
 *
 * @remarks
 * Made once per shape and shared, frozen, by every run of it: a built saga carries its own, and a
 * journal's recorded shape is looked up in a small cache by its hash, so folding a run allocates
 * no index of its own.
 */
export interface Topology {
  /** The shape it indexes. */
  readonly shape: readonly RecordedStageShape[];
  /** Stage names, in declaration order. */
  readonly names: readonly string[];
  /** Stage index by name. */
  readonly indexOf: ReadonlyMap<string, number>;
  /** By stage index: the stages it depends on. */
  readonly parents: readonly (readonly string[])[];
  /** By stage index: the stages that depend on it. */
  readonly dependents: readonly (readonly string[])[];
  /** By stage index: whether it has a `compensate`. */
  readonly compensates: readonly boolean[];
  /** By stage index: whether its `compensate` also runs after its own final failure. */
  readonly compensateOnFailure: readonly boolean[];
}

/** Indexes already made, by shape array: a built saga's shape is one frozen array shared by all its runs. */
const byShape = new WeakMap<readonly RecordedStageShape[], Topology>();

/** The index of a shape, made once per shape array. */
export function topologyOf(shape: readonly RecordedStageShape[]): Topology {
  let topology = byShape.get(shape);
  if (topology === undefined) {
    topology = buildTopology(shape);
    byShape.set(shape, topology);
  }
  return topology;
}

function buildTopology(shape: readonly RecordedStageShape[]): Topology {
  const names = shape.map((stage) => stage.name);
  const indexOf = new Map(names.map((name, index) => [name, index]));
  const dependents: string[][] = names.map(() => []);
  for (const stage of shape) {
    for (const parent of stage.after) dependents[indexOf.get(parent) ?? -1]?.push(stage.name);
  }
  return Object.freeze({
    shape,
    names: Object.freeze(names),
    indexOf,
    parents: Object.freeze(shape.map((stage) => Object.freeze([...stage.after]))),
    dependents: Object.freeze(dependents.map((list) => Object.freeze(list))),
    compensates: Object.freeze(shape.map((stage) => stage.compensates)),
    compensateOnFailure: Object.freeze(shape.map((stage) => stage.compensateOnFailure)),
  });
}

/** Shapes read back from journals, by shape hash: a store holds few distinct shapes. */
const recorded = new Map<string, Topology>();
const RECORDED_LIMIT = 256;

/**
 * The index of a journaled shape, shared by every run recorded with the same hash.
 *
 * @remarks
 * Keyed by shape hash: two journals with the same hash recorded the same shape (the hash covers
 * exactly these fields).
 */
export function recordedTopology(shapeHash: string, shape: readonly RecordedStageShape[]): Topology {
  let topology = recorded.get(shapeHash);
  if (topology === undefined || topology.names.length !== shape.length) {
    topology = buildTopology(shape);
    if (recorded.size >= RECORDED_LIMIT) recorded.delete(recorded.keys().next().value as string);
    recorded.set(shapeHash, topology);
  }
  return topology;
}
