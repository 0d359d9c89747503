import type { ZodType } from 'zod';
import type { Saga, SagaStage } from './saga.js';

/** The wait stages of one signal name in a saga, and the one payload schema they share. */
export interface SignalWaits {
  /** The payload schema (`build()` makes every wait for a name share one). */
  readonly schema: ZodType;
  /** The stages that wait for the signal, in declaration order. */
  readonly stages: readonly SagaStage[];
}

/** Per saga: its signal names, each with its waits, and the list `UnknownSignalError` shows. */
export interface SignalIndex {
  readonly bySignal: ReadonlyMap<string, SignalWaits>;
  readonly known: ReadonlyArray<{ readonly signal: string; readonly stage: string }>;
}

// Keyed by the frozen saga object: computed on the first signal of a saga, then read.
const indexes = new WeakMap<Saga, SignalIndex>();

/** The signal waits of a saga, by signal name, computed once per saga object. */
export function signalWaitsOf(saga: Saga): SignalIndex {
  let index = indexes.get(saga);
  if (index === undefined) {
    index = buildIndex(saga.stages);
    indexes.set(saga, index);
  }
  return index;
}

function buildIndex(stages: readonly SagaStage[]): SignalIndex {
  const bySignal = new Map<string, { schema: ZodType; stages: SagaStage[] }>();
  const known: Array<{ readonly signal: string; readonly stage: string }> = [];
  for (const stage of stages) {
    if (stage.wait?.kind !== 'signal') continue;
    known.push(Object.freeze({ signal: stage.wait.signal, stage: stage.name }));
    const entry = bySignal.get(stage.wait.signal);
    if (entry === undefined) bySignal.set(stage.wait.signal, { schema: stage.wait.schema, stages: [stage] });
    else entry.stages.push(stage);
  }
  return Object.freeze({ bySignal, known: Object.freeze(known) });
}
