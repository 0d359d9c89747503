/**
 * The run stream writes from timers and RxJS callbacks: whatever building a message throws (here
 * a hook of the inspector's own that throws a value that cannot even be printed) must end that one
 * stream with a `problem` event, never reach the process.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { config } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createOrchestrator, defineSaga, MemoryStore } from 'sagaflow';
import { streamRun } from '../../src/inspector/run-stream.js';

/** Just enough of a ServerResponse to collect what the stream writes. */
class FakeResponse extends EventEmitter {
  written = '';
  ended = false;
  writeHead(): this {
    return this;
  }
  flushHeaders(): void {}
  write(text: string): boolean {
    this.written += text;
    return true;
  }
  end(): void {
    this.ended = true;
    this.emit('close');
  }
}

const previous = config.onUnhandledError;
afterEach(() => {
  config.onUnhandledError = previous;
});

describe('streamRun', () => {
  it('ends the stream with a problem when a message cannot be built, and nothing reaches the process', async () => {
    const unhandled: unknown[] = [];
    config.onUnhandledError = (error) => void unhandled.push(error);
    const onUncaught = (error: unknown): void => void unhandled.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const saga = defineSaga({ name: 'streamed', input: z.object({}) }).stage('a', { execute: () => 1 }).build();
      const store = new MemoryStore();
      const driver = createOrchestrator({ store, sagas: [saga] });
      const run = driver.start(saga, {});
      await run.outcome;
      const unprintable = { toString: () => { throw new Error('toString threw'); } };
      const res = new FakeResponse();
      streamRun({ headers: {} } as IncomingMessage, res as unknown as ServerResponse, run.runId, -1, {
        orchestrator: createOrchestrator({ store }),
        actions: { readOnly: false, workers: false, drives: () => { throw unprintable; } },
        open: new Set(),
      });
      await expect.poll(() => res.ended, { timeout: 5_000 }).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(res.written).toContain('event: problem');
      expect(res.written).toContain("This run's view could not be sent");
      expect(unhandled).toEqual([]);
      await driver.close();
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
