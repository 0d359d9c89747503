import type { Saga, SagaStage } from '../definition/saga.js';
import { StageResultAccessError } from '../errors/stage-errors.js';
import type { MutableRunState } from '../journal/fold.js';

/** Property names that libraries probe on any object; reading them must not throw. */
const PROBED = new Set(['then', 'toJSON', 'constructor', 'valueOf', 'toString', 'asymmetricMatch', 'nodeType', '$$typeof']);

const ancestorCache = new WeakMap<SagaStage, ReadonlySet<string>>();

/** Every ancestor of a stage, computed on first use and cached per definition. */
export function ancestorsOf(saga: Saga, stage: SagaStage): ReadonlySet<string> {
  let ancestors = ancestorCache.get(stage);
  if (ancestors !== undefined) return ancestors;
  const found = new Set<string>();
  const stack = [...stage.after];
  while (stack.length > 0) {
    const name = stack.pop() as string;
    if (found.has(name)) continue;
    found.add(name);
    const parent = saga.stage(name);
    if (parent !== undefined) stack.push(...parent.after);
  }
  ancestors = found;
  ancestorCache.set(stage, ancestors);
  return ancestors;
}

function isAncestor(saga: Saga, stage: SagaStage, name: string): boolean {
  // Most reads are of direct dependencies: answer those without walking the graph.
  return stage.after.includes(name) || ancestorsOf(saga, stage).has(name);
}

/**
 * `ctx.results` of a stage: a read-only view of its ancestors' outputs in the live run state.
 * Reading a stage that is not an ancestor throws a `StageResultAccessError`.
 */
export function resultsView(saga: Saga, stage: SagaStage, state: MutableRunState): Readonly<Record<string, unknown>> {
  const outputOf = (name: string): unknown => state.stages.get(name)?.output;
  return new Proxy(Object.create(null) as Record<string, unknown>, {
    get(_target, key) {
      if (typeof key !== 'string') return undefined;
      if (isAncestor(saga, stage, key)) return outputOf(key);
      if (PROBED.has(key)) return undefined;
      throw new StageResultAccessError(saga.name, stage.name, key, saga.stage(key) !== undefined);
    },
    has(_target, key) {
      return typeof key === 'string' && isAncestor(saga, stage, key);
    },
    ownKeys() {
      return [...ancestorsOf(saga, stage)];
    },
    getOwnPropertyDescriptor(_target, key) {
      if (typeof key !== 'string' || !isAncestor(saga, stage, key)) return undefined;
      return { value: outputOf(key), enumerable: true, configurable: true, writable: false };
    },
    set() {
      return false;
    },
    deleteProperty() {
      return false;
    },
    defineProperty() {
      return false;
    },
  });
}
