import { describe, expect, it } from 'vitest';
import { StoreCorruptionError, type SagaEvent } from 'sagaflow';
import { journalAfterTakeover } from '../../src/runtime/takeover-journal.js';

const runId = 'r-1';
const started: SagaEvent = { type: 'run.started', runId, saga: 's', seq: 0, at: 0, version: '1', shapeHash: 'h', input: {}, stages: ['a'] };
const event = (seq: number): SagaEvent => ({ type: 'stage.started', runId, saga: 's', seq, at: seq, stage: 'a', attempt: seq });

describe('journalAfterTakeover', () => {
  it('keeps the read journal when nothing was added, appends what was, and takes a whole journal as it is', () => {
    const read = [started, event(1)];
    expect(journalAfterTakeover(runId, read, [])).toEqual({ journal: read, added: [] });
    expect(journalAfterTakeover(runId, read, [event(2), event(3)])).toEqual({ journal: [...read, event(2), event(3)], added: [event(2), event(3)] });
    const whole = [started, event(1), event(2)];
    expect(journalAfterTakeover(runId, read, whole)).toEqual({ journal: whole, added: undefined });
  });

  it('refuses events that do not continue the read journal with a StoreCorruptionError naming the run and seq', () => {
    const error = (() => {
      try {
        return journalAfterTakeover(runId, [started, event(1)], [event(3)]);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(StoreCorruptionError);
    expect(error).toMatchObject({ runId, seq: 3 });
  });
});
