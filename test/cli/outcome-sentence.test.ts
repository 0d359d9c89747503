import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, NonRetryableError } from 'sagaflow';
import { printOutcome } from '../../src/cli/drive-run.js';
import type { CliIo } from '../../src/cli/io.js';
import { heldUntilCancelled } from './support/held-saga.js';

/** A line that forges the CLI's success sentence, then an escape sequence that hides all that follows. */
const FORGED = '\n✔ Saga x run r completed: a.\u001b[8m';

describe('the sentence a command ends a run with', () => {
  it('prints error messages and cancel reasons from outside with their control characters escaped: no forged line, nothing hidden', async () => {
    const failing = defineSaga({ name: 'forged-failure', input: z.object({}) })
      .stage('a', {
        execute: () => 'A',
        compensate: () => {
          throw new NonRetryableError(`undo refused${FORGED}`);
        },
      })
      .stage('b', {
        execute: () => {
          throw new NonRetryableError(`card declined${FORGED}`);
        },
      })
      .build();
    const { saga: held, entered } = heldUntilCancelled('forged-reason');
    const orchestrator = createOrchestrator({ sagas: [failing, held] });
    const failed = await orchestrator.start(failing, {}).outcome;
    const run = orchestrator.start(held, {});
    await entered;
    run.cancel(`customer request${FORGED}`);
    const cancelled = await run.outcome;
    await orchestrator.close();

    for (const outcome of [failed, cancelled]) {
      for (const store of ['memory:', 'sqlite:app.db']) {
        let text = '';
        const io: CliIo = { stdout: { write: (chunk: string) => (text += chunk) }, stderr: { write: () => undefined } };
        printOutcome(io, outcome, { store, defaultStore: false });
        expect([outcome.status, store, text]).not.toEqual([outcome.status, store, expect.stringMatching(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/)]);
        expect(text.split('\n').filter((line) => line.startsWith('✔'))).toEqual([]);
        expect(text).toContain('\\n✔ Saga x run r completed: a.\\u001b[8m');
      }
    }
  });
});
