import type { Saga, SagaStage } from '../definition/saga.js';
import type { MutableRunState } from '../journal/fold.js';

/**
 * The stages a rollback must compensate, in settle order (the order they completed, or failed
 * for `compensateOnFailure` stages): completed stages with a `compensate`, stages whose
 * outcome is unknown, and `compensateOnFailure` stages that failed or rejected while the run
 * stopped.
 */
export function rollbackCandidates(saga: Saga, state: MutableRunState): SagaStage[] {
  const candidates: SagaStage[] = [];
  for (const name of state.settleOrder) {
    const stage = saga.stage(name);
    const record = state.stages.get(name);
    if (stage?.compensate === undefined || record === undefined) continue;
    const settledUnknown =
      record.outcomeUnknown ||
      (stage.compensateOnFailure && (record.status === 'failed' || (record.status === 'cancelled' && record.error !== undefined)));
    if (record.status === 'completed' || settledUnknown) candidates.push(stage);
  }
  return candidates;
}

/** Whether a candidate's compensation still has to run (never started, interrupted, or redriven). */
export function compensationPending(state: MutableRunState, name: string): boolean {
  const status = state.stages.get(name)?.compensation?.status;
  return status !== 'completed' && status !== 'failed';
}

/**
 * Decides which compensations may start. Built from the folded state when a rollback starts
 * or resumes, then told about each compensation that settles.
 */
export interface CompensationPlan {
  /** Compensations that may start now and have not been handed out yet. */
  takeReady(): SagaStage[];
  /** A compensation settled (succeeded or finally failed). */
  settled(name: string): void;
  /** Every compensation has been handed out. */
  readonly exhausted: boolean;
}

/** Creates the plan for the saga's `compensation` policy. */
export function createCompensationPlan(saga: Saga, state: MutableRunState): CompensationPlan {
  const candidates = rollbackCandidates(saga, state);
  return saga.policies.compensation === 'parallel'
    ? new ParallelPlan(saga, state, candidates)
    : new SequentialPlan(state, candidates);
}

/** Strict reverse settle order, one at a time. */
class SequentialPlan implements CompensationPlan {
  private readonly order: SagaStage[];
  private next = 0;
  private inFlight = false;

  constructor(
    private readonly state: MutableRunState,
    candidates: SagaStage[],
  ) {
    this.order = candidates.reverse();
  }

  get exhausted(): boolean {
    this.skipSettled();
    return this.next >= this.order.length;
  }

  takeReady(): SagaStage[] {
    if (this.inFlight) return [];
    this.skipSettled();
    const stage = this.order[this.next];
    if (stage === undefined) return [];
    this.next++;
    this.inFlight = true;
    return [stage];
  }

  settled(): void {
    this.inFlight = false;
  }

  private skipSettled(): void {
    while (this.next < this.order.length && !compensationPending(this.state, (this.order[this.next] as SagaStage).name)) {
      this.next++;
    }
  }
}

/**
 * Reverse dependency order: a stage's compensation starts once every stage that depends on it
 * (directly or through stages with nothing to compensate) has settled its own.
 */
class ParallelPlan implements CompensationPlan {
  private readonly waitingOn = new Map<string, number>();
  private readonly pending = new Set<string>();
  private readonly ready: SagaStage[] = [];
  private handedOut = 0;

  constructor(
    private readonly saga: Saga,
    state: MutableRunState,
    candidates: SagaStage[],
  ) {
    for (const stage of candidates) if (compensationPending(state, stage.name)) this.pending.add(stage.name);
    for (const stage of saga.stages) this.waitingOn.set(stage.name, stage.dependents.length);
    this.release(saga.stages.filter((stage) => stage.dependents.length === 0));
  }

  get exhausted(): boolean {
    return this.ready.length === 0 && this.handedOut >= this.pending.size;
  }

  takeReady(): SagaStage[] {
    const ready = this.ready.splice(0);
    this.handedOut += ready.length;
    return ready;
  }

  settled(name: string): void {
    const stage = this.saga.stage(name);
    if (stage !== undefined) this.done([stage]);
  }

  /** Stages whose dependents are all done: compensate them, or pass over them at once. */
  private release(stages: SagaStage[]): void {
    const passOver: SagaStage[] = [];
    for (const stage of stages) {
      if (this.pending.has(stage.name)) this.ready.push(stage);
      else passOver.push(stage);
    }
    if (passOver.length > 0) this.done(passOver);
  }

  /** Marks stages done and releases parents that waited only on them (iteratively: chains can be deep). */
  private done(initial: SagaStage[]): void {
    const work = [...initial];
    while (work.length > 0) {
      const stage = work.pop() as SagaStage;
      for (const parentName of stage.after) {
        const waiting = (this.waitingOn.get(parentName) ?? 0) - 1;
        this.waitingOn.set(parentName, waiting);
        if (waiting !== 0) continue;
        const parent = this.saga.stage(parentName);
        if (parent === undefined) continue;
        if (this.pending.has(parent.name)) this.ready.push(parent);
        else work.push(parent);
      }
    }
  }
}
