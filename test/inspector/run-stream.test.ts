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
import { createOrchestrator, defineSaga, MemoryStore, StoreUnavailableError, type SagaEvent, type SagaStore } from 'sagaflow';
import type { RunUpdate, StoreState } from '../../src/inspector/client/view-model.js';
import type { ActionContext } from '../../src/inspector/run-view.js';
import { streamRun } from '../../src/inspector/run-stream.js';
import { gates, outage, pausing, slow } from './sagas.js';

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
        store,
        pollIntervalMs: 20,
        actions: { readOnly: false, workers: false, drives: () => { throw unprintable; } },
        open: new Set(),
      });
      await expect.poll(() => res.ended, { timeout: 5_000 }).toBe(true);
      // A throw out of the flush timer would reach the process in the macrotask that ended the stream.
      expect(res.written).toContain('event: problem');
      expect(res.written).toContain("This run's view could not be sent");
      expect(unhandled).toEqual([]);
      await driver.close();
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});

/** The messages a stream wrote so far: updates, `store` states, and how it ended. */
function messagesOf(res: FakeResponse): { updates: RunUpdate[]; store: StoreState[]; ending: string | undefined } {
  const updates: RunUpdate[] = [];
  const store: StoreState[] = [];
  let ending: string | undefined;
  for (const block of res.written.split('\n\n')) {
    const event = /^event: (\w+)$/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (data === undefined) continue;
    if (event === undefined) updates.push(JSON.parse(data) as RunUpdate);
    else if (event === 'store') store.push(JSON.parse(data) as StoreState);
    else ending = `${event} ${data}`;
  }
  return { updates, store, ending };
}

/** A store that counts the inspector's reads, and fails them (unavailable) while `down` is set. */
function watchedStore(store: MemoryStore): { store: SagaStore; reads: { looks: number; loads: number }; outage: { down: boolean } } {
  const reads = { looks: 0, loads: 0 };
  const state = { down: false };
  const counted = (name: 'looks' | 'loads', read: (...args: never[]) => Promise<unknown>) => (...args: never[]) => {
    reads[name] += 1;
    if (state.down) return Promise.reject(new StoreUnavailableError(store.description, 'the database is restarting'));
    return read.apply(store, args);
  };
  const wrapped = new Proxy(store, {
    get(target, property) {
      if (property === 'listRuns') return counted('looks', target.listRuns);
      if (property === 'load') return counted('loads', target.load);
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: wrapped, reads, outage: state };
}

/** Room for a loaded machine: each poll still ends as soon as its condition holds. */
const POLL = { timeout: 5_000 };

const drives: ActionContext = { readOnly: false, workers: false, drives: () => true };

function open(store: SagaStore, runId: string): FakeResponse {
  const res = new FakeResponse();
  streamRun({ headers: {} } as IncomingMessage, res as unknown as ServerResponse, runId, -1, { store, pollIntervalMs: 10, actions: drives, open: new Set() });
  return res;
}

function started(events: readonly SagaEvent[], stage: string): boolean {
  return events.some((event) => event.type === 'stage.started' && event.stage === stage);
}

describe('a run page\'s stream follows the journal from where it is', () => {
  it('reads the journal only when it grew, and sends each event once, only the stages that changed and only new outputs', async () => {
    const memory = new MemoryStore();
    const { store, reads } = watchedStore(memory);
    const driver = createOrchestrator({ store: memory, sagas: [slow] });
    const run = driver.start(slow, { gate: 'incremental' });
    await expect.poll(async () => started((await memory.load(run.runId)) ?? [], 'wait'), POLL).toBe(true);
    const res = open(store, run.runId);
    await expect.poll(() => messagesOf(res).updates.length, POLL).toBe(1);
    const [first] = messagesOf(res).updates;
    expect(first?.stages.map((stage) => stage.name)).toEqual(['prepare', 'wait', 'finish']);
    expect(first?.outputs).toEqual({ prepare: 'ready' });
    // Nothing is appended: the stream looks at the run's summary, and never reads the journal again.
    const idle = { ...reads };
    await expect.poll(() => reads.looks, POLL).toBeGreaterThan(idle.looks + 5);
    expect(reads.loads).toBe(idle.loads);
    expect(messagesOf(res).updates).toHaveLength(1);

    gates.get('incremental')?.resolve('opened');
    await run.outcome;
    await expect.poll(() => messagesOf(res).ending, POLL).toBe('end {}');
    const { updates } = messagesOf(res);
    const journal = (await memory.load(run.runId)) ?? [];
    expect(updates.flatMap((update) => update.events.map((event) => (event as SagaEvent).seq))).toEqual(journal.map((event) => event.seq));
    const later = updates.slice(1);
    expect(later.flatMap((update) => update.stages.map((stage) => stage.name))).not.toContain('prepare');
    expect(later.map((update) => update.outputs ?? {}).reduce((all, outputs) => ({ ...all, ...outputs }), {})).toEqual({ wait: 'opened', finish: 'done' });
    expect(later.every((update) => update.layout === undefined && update.input === undefined)).toBe(true);
    // One journal read per growth at most: far fewer than the looks.
    expect(reads.loads - idle.loads).toBeLessThanOrEqual(journal.length - (first?.view.lastSeq ?? 0));
    await driver.close();
  });

  it('keeps following a paused run, and shows a redrive made by another orchestrator', async () => {
    const memory = new MemoryStore();
    const { store, reads } = watchedStore(memory);
    const first = createOrchestrator({ store: memory, sagas: [pausing] });
    outage.charge = true;
    try {
      const paused = await first.start(pausing, { order: 'elsewhere' }).outcome;
      expect(paused.status).toBe('paused');
      const res = open(store, paused.runId);
      await expect.poll(() => messagesOf(res).updates.at(-1)?.view.status, POLL).toBe('paused');
      expect(messagesOf(res).updates.at(-1)?.view.followed).toBe(true);
      const looks = reads.looks;
      await expect.poll(() => reads.looks, POLL).toBeGreaterThan(looks + 3);
      expect(messagesOf(res).ending).toBeUndefined();
      expect(res.ended).toBe(false);

      // Another process (its own orchestrator) redrives it, once the bank is back.
      outage.charge = false;
      const other = createOrchestrator({ store: memory, sagas: [pausing] });
      expect((await other.redrive(paused.runId).outcome).status).toBe('completed');
      await expect.poll(() => messagesOf(res).ending, POLL).toBe('end {}');
      const { updates } = messagesOf(res);
      expect(updates.at(-1)?.view.status).toBe('completed');
      expect(updates.flatMap((update) => update.events.map((event) => (event as SagaEvent).type))).toContain('run.resumed');
      expect(updates.at(-1)?.view.followed).toBe(false);
      await other.close();
    } finally {
      outage.charge = true;
      await first.close();
    }
  });

  it('says when the store does not answer, and catches up when it does', async () => {
    const memory = new MemoryStore();
    const { store, outage: database } = watchedStore(memory);
    const driver = createOrchestrator({ store: memory, sagas: [slow] });
    const run = driver.start(slow, { gate: 'outage' });
    await expect.poll(async () => started((await memory.load(run.runId)) ?? [], 'wait'), POLL).toBe(true);
    const res = open(store, run.runId);
    await expect.poll(() => messagesOf(res).updates.length, POLL).toBe(1);

    database.down = true;
    await expect.poll(() => messagesOf(res).store, POLL).toEqual([
      { available: false, message: `The saga store ${memory.description} is unavailable: the database is restarting.`, retryMs: 10 },
    ]);
    // The run goes on meanwhile; the page cannot see it yet.
    gates.get('outage')?.resolve('opened');
    await run.outcome;
    expect(messagesOf(res).updates).toHaveLength(1);
    expect(res.ended).toBe(false);

    database.down = false;
    await expect.poll(() => messagesOf(res).ending, POLL).toBe('end {}');
    const { updates, store: states } = messagesOf(res);
    expect(states.at(-1)).toEqual({ available: true });
    expect(updates.at(-1)?.view.status).toBe('completed');
    const journal = (await memory.load(run.runId)) ?? [];
    expect(updates.flatMap((update) => update.events.map((event) => (event as SagaEvent).seq))).toEqual(journal.map((event) => event.seq));
    await driver.close();
  });
});
