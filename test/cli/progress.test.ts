import { describe, expect, it } from 'vitest';
import type { SagaEvent, SagaEventDraft } from 'sagaflow';
import { RunProgress, type TextSink } from '../../src/cli/progress.js';

class Sink implements TextSink {
  text = '';
  constructor(
    readonly isTTY: boolean,
    readonly columns = 200,
  ) {}
  write(text: string): void {
    this.text += text;
  }
}

const error = { name: 'Error', message: 'bank is down' };

/** A journal from drafts, 10 ms apart from t = 1000. */
function journal(drafts: SagaEventDraft[]): SagaEvent[] {
  return drafts.map((draft, seq) => ({ ...draft, runId: 'run-1', saga: 'transfer', seq, at: 1_000 + seq * 10 }));
}

const rollback = journal([
  { type: 'run.started', version: '1', shapeHash: 'h', input: {}, stages: ['debit', 'credit'] },
  { type: 'stage.started', stage: 'debit', attempt: 1 },
  { type: 'stage.completed', stage: 'debit', attempt: 1, output: { id: 1 }, durationMs: 10 },
  { type: 'stage.started', stage: 'credit', attempt: 1 },
  { type: 'stage.retrying', stage: 'credit', attempt: 1, error, delayMs: 100 },
  { type: 'stage.started', stage: 'credit', attempt: 2 },
  { type: 'stage.failed', stage: 'credit', attempt: 2, error },
  { type: 'run.compensating', cause: { kind: 'failed', stage: 'credit', error } },
  { type: 'compensation.started', stage: 'debit', attempt: 1 },
  { type: 'compensation.completed', stage: 'debit', attempt: 1, durationMs: 10 },
  { type: 'run.compensated' },
]);

describe('live progress', () => {
  it('prints one plain line per change when the output is not a terminal', () => {
    const sink = new Sink(false);
    const progress = new RunProgress(sink, ['debit', 'credit'], { tty: false, now: () => 5_000 });
    for (const event of rollback) progress.update(event);
    progress.finish();
    expect(sink.text.split('\n')).toEqual([
      'run run-1 started (saga transfer v1)',
      '  debit   ▸ running              attempt 1',
      '  debit   ✔ completed            attempt 1      10 ms',
      '  credit  ▸ running              attempt 1',
      '  credit  ↻ retrying             attempt 1      10 ms  Error: bank is down; next attempt in 100 ms',
      '  credit  ▸ running              attempt 2',
      // The attempt shown, timed by its own events (seq 5 → 6), not from the stage's first start.
      '  credit  ✖ failed               attempt 2      10 ms  Error: bank is down',
      'rolling back: credit failed',
      '  debit   ↺ compensating         attempt 1',
      '  debit   ↩ compensated          attempt 1      10 ms',
      '',
    ]);
    expect(sink.text).not.toContain('\u001b');
  });

  it('prints a compensation waiting for its retry as a retry, not as the undo going on', () => {
    const sink = new Sink(false);
    const progress = new RunProgress(sink, ['debit', 'credit'], { tty: false, now: () => 5_000 });
    const refundError = { name: 'Error', message: 'refund service hiccup' };
    const events = journal([
      { type: 'run.started', version: '1', shapeHash: 'h', input: {}, stages: ['debit', 'credit'] },
      { type: 'stage.started', stage: 'debit', attempt: 1 },
      { type: 'stage.completed', stage: 'debit', attempt: 1, output: { id: 1 }, durationMs: 10 },
      { type: 'stage.started', stage: 'credit', attempt: 1 },
      { type: 'stage.failed', stage: 'credit', attempt: 1, error },
      { type: 'run.compensating', cause: { kind: 'failed', stage: 'credit', error } },
      { type: 'compensation.started', stage: 'debit', attempt: 1 },
      { type: 'compensation.retrying', stage: 'debit', attempt: 1, error: refundError, delayMs: 40 },
      { type: 'compensation.started', stage: 'debit', attempt: 2 },
      { type: 'compensation.completed', stage: 'debit', attempt: 2, durationMs: 10 },
    ]);
    for (const event of events) progress.update(event);
    expect(sink.text.split('\n').slice(-5)).toEqual([
      '  debit   ↺ compensating         attempt 1',
      '  debit   ↻ compensation retry   attempt 1      10 ms  Error: refund service hiccup; next attempt in 40 ms',
      '  debit   ↺ compensating         attempt 2',
      '  debit   ↩ compensated          attempt 2      10 ms',
      '',
    ]);
  });

  it('prints error messages and cancel reasons with their control characters escaped: no forged line, no escape sequence of theirs', () => {
    const hostile = { name: 'Error', message: 'declined\r  credit  ✔ completed \u001b[32mOK' };
    const sink = new Sink(false);
    const progress = new RunProgress(sink, ['debit', 'credit'], { tty: false, now: () => 5_000 });
    const events = journal([
      { type: 'run.started', version: '1', shapeHash: 'h', input: {}, stages: ['debit', 'credit'] },
      { type: 'stage.started', stage: 'credit', attempt: 1 },
      { type: 'stage.retrying', stage: 'credit', attempt: 1, error: hostile, delayMs: 100 },
      { type: 'run.cancelling', reason: 'asked\nrun run-1 completed', by: 'external' },
    ]);
    for (const event of events) progress.update(event);
    expect(sink.text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(sink.text.split('\n')).not.toContain('run run-1 completed');
    expect(sink.text).toContain('cancelling: asked\\nrun run-1 completed');
  });

  it("prints error messages made of a long run of blanks with no newline (as long as a journaled message gets), which took quadratic time to fold onto one line — some 0.1 s per printed attempt", () => {
    const blanks = { name: 'Error', message: `${' \t'.repeat(5_000)}x` };
    const sink = new Sink(false);
    const progress = new RunProgress(sink, ['credit'], { tty: false, now: () => 5_000 });
    // 600 attempts: done at once in linear time; quadratic, about a minute, past the test's timeout.
    const attempts = 600;
    const events = journal([
      { type: 'run.started', version: '1', shapeHash: 'h', input: {}, stages: ['credit'] },
      ...Array.from({ length: attempts }, (_, index): SagaEventDraft[] => [
        { type: 'stage.started', stage: 'credit', attempt: index + 1 },
        { type: 'stage.retrying', stage: 'credit', attempt: index + 1, error: blanks, delayMs: 100 },
      ]).flat(),
    ]);
    for (const event of events) progress.update(event);
    expect(sink.text.split('\n').filter((line) => line.includes('↻ retrying'))).toHaveLength(attempts);
    expect(sink.text).toContain(`Error: ${' \\t'.repeat(5_000)}x`);
  });

  it('prints stage and saga names, signal names and ids, and the reason on a cancelled stage’s line with their control characters escaped, plain or on a terminal', () => {
    // A cancel reason reaches the stage's line too (stage.cancelled), and a signal id often comes
    // from outside (a webhook's delivery id): printed raw, they forged lines and drove the terminal.
    const forged = '\n  credit  ✔ completed \u001b[8m';
    const events = journal([
      { type: 'run.started', version: '1', shapeHash: 'h', input: {}, stages: [`debit${forged}`, 'credit'] },
      { type: 'signal.received', signal: `approved${forged}`, signalId: `delivery-1${forged}`, payload: {} },
      { type: 'stage.started', stage: `debit${forged}`, attempt: 1 },
      { type: 'run.cancelling', reason: `asked${forged}`, by: 'external' },
      { type: 'stage.cancelled', stage: `debit${forged}`, reason: `asked${forged}` },
    ]).map((event) => ({ ...event, saga: `transfer${forged}` }));
    for (const tty of [false, true]) {
      const sink = new Sink(tty);
      const progress = new RunProgress(sink, [`debit${forged}`, 'credit'], { tty, color: false, now: () => 5_000, refreshMs: 1_000_000 });
      for (const event of events) progress.update(event);
      progress.finish();
      // On a terminal, only the progress view's own escapes: erase a line (ESC[2K), back up over the block (ESC[nF).
      const text = tty ? sink.text.replace(/\u001b\[(2K|\d+F)/g, '') : sink.text;
      expect([tty, text]).not.toEqual([tty, expect.stringMatching(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/)]);
      expect(text.split('\n').map((line) => line.trim())).not.toContain('credit  ✔ completed');
    }
  });

  it('prints a waiting stage once, with what it waits for, not a "running" line per wait event', () => {
    const sink = new Sink(false);
    const progress = new RunProgress(sink, ['hold', 'approval'], { tty: false, now: () => 5_000 });
    const events = journal([
      { type: 'run.started', version: '1', shapeHash: 'h', input: {}, stages: ['hold', 'approval'] },
      { type: 'stage.started', stage: 'approval', attempt: 1 },
      { type: 'wait.started', stage: 'approval', kind: 'signal', signal: 'approved', dueAt: Date.UTC(2026, 0, 1) },
      { type: 'signal.received', signal: 'approved', signalId: 's-1', payload: { by: 'ann' }, stage: 'approval' },
      { type: 'stage.completed', stage: 'approval', attempt: 1, output: { by: 'ann' }, durationMs: 20 },
    ]);
    for (const event of events) progress.update(event);
    expect(sink.text.split('\n')).toEqual([
      'run run-1 started (saga transfer v1)',
      '  approval  ▸ running              attempt 1',
      "  approval  ▸ running              attempt 1             waiting for signal 'approved' until 2026-01-01T00:00:00.000Z",
      '  approval  ✔ completed            attempt 1      20 ms',
      '',
    ]);
  });

  it('on a terminal, redraws one line per stage in place, with running durations ticking', () => {
    let now = 1_015;
    const sink = new Sink(true);
    const progress = new RunProgress(sink, ['debit', 'credit'], { tty: true, color: false, now: () => now, refreshMs: 1_000_000 });
    const [started, debitStarted, debitCompleted] = rollback;
    progress.update(started as SagaEvent);
    expect(sink.text).toBe('\u001b[2Krun run-1  running\n\u001b[2K  debit   · pending\n\u001b[2K  credit  · pending\n');
    sink.text = '';
    progress.update(debitStarted as SagaEvent);
    // Back up over the three lines drawn, then draw them again.
    expect(sink.text.startsWith('\u001b[3F\u001b[2Krun run-1  running\n')).toBe(true);
    expect(progress.snapshot()).toEqual(['  debit   ▸ running              attempt 1       5 ms', '  credit  · pending']);
    now = 1_017;
    expect(progress.snapshot()[0]).toBe('  debit   ▸ running              attempt 1       7 ms');
    progress.update(debitCompleted as SagaEvent);
    for (const event of rollback.slice(3)) progress.update(event);
    progress.finish();
    expect(progress.snapshot()).toEqual([
      '  debit   ↩ compensated          attempt 1      10 ms',
      '  credit  ✖ failed               attempt 2      10 ms  Error: bank is down',
    ]);
    expect(sink.text.split('\n').filter((line) => line.includes('rolled back'))).not.toHaveLength(0);
  });

  it('colours statuses on a terminal, and cuts lines to its width so they never wrap', () => {
    const sink = new Sink(true, 40);
    const progress = new RunProgress(sink, ['credit'], { tty: true, color: true });
    progress.update(rollback[0] as SagaEvent);
    progress.update(rollback[5] as SagaEvent);
    progress.update({ ...(rollback[6] as SagaEvent) });
    const lastFrame = sink.text.slice(sink.text.lastIndexOf('\u001b[2F'));
    expect(lastFrame).toContain('\u001b[31m✖ failed');
    for (const line of lastFrame.split('\n')) expect(line.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '').length).toBeLessThanOrEqual(40);
  });

  it('a run picked up from its journal shows the state so far, then only what happens now', () => {
    const sink = new Sink(false);
    const progress = new RunProgress(sink, ['debit', 'credit'], { tty: false, liveFromSeq: 7 });
    for (const event of rollback.slice(0, 7)) progress.update(event);
    expect(sink.text).toBe('');
    progress.update(rollback[7] as SagaEvent);
    expect(sink.text.split('\n')).toEqual(['  so far: debit completed, credit failed', 'rolling back: credit failed', '']);
  });

  it('after a resume, a stage’s duration is its own attempt’s, as the journal says, not the time since its first start', () => {
    const sink = new Sink(false);
    const resumed: SagaEvent[] = [
      { type: 'run.started', runId: 'run-1', saga: 'transfer', seq: 0, at: 1_000, version: '1', shapeHash: 'h', input: {}, stages: ['debit'] },
      { type: 'stage.started', runId: 'run-1', saga: 'transfer', seq: 1, at: 1_000, stage: 'debit', attempt: 1 },
      // The process died here; another one resumed the run 3.67 s later.
      { type: 'run.resumed', runId: 'run-1', saga: 'transfer', seq: 2, at: 4_670, mode: 'resume' },
      { type: 'stage.started', runId: 'run-1', saga: 'transfer', seq: 3, at: 4_670, stage: 'debit', attempt: 2 },
      { type: 'stage.completed', runId: 'run-1', saga: 'transfer', seq: 4, at: 4_682, stage: 'debit', attempt: 2, durationMs: 12 },
    ];
    const progress = new RunProgress(sink, ['debit'], { tty: false, liveFromSeq: 2 });
    for (const event of resumed) progress.update(event);
    expect(sink.text.split('\n')).toContain('  debit  ✔ completed            attempt 2      12 ms');
  });
});
