import { expect } from 'vitest';
import { foldJournal, sagaEventSchema, type AnySaga, type RunState, type SagaEvent, type SagaEventDraft } from 'sagaflow';

/**
 * The state of `saga`'s run `r` after these events: numbered from seq 1 after its `run.started`,
 * written at 1 000 ms + their index. Each event must be one the schemas accept.
 */
export function stateOf(saga: AnySaga, ...drafts: SagaEventDraft[]): RunState {
  const started: SagaEvent = {
    type: 'run.started',
    runId: 'r',
    saga: saga.name,
    seq: 0,
    at: 0,
    version: saga.version,
    shapeHash: saga.shapeHash,
    input: {},
    stages: saga.stages.map((stage) => stage.name),
    shape: saga.shape,
  };
  const journal = [started, ...drafts.map((draft, index) => ({ ...draft, runId: 'r', saga: saga.name, seq: index + 1, at: 1_000 + index }))];
  for (const event of journal) expect(sagaEventSchema.safeParse(event).success, JSON.stringify(event)).toBe(true);
  return foldJournal(journal);
}
