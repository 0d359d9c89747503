import { filter, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createOrchestrator,
  defineSaga,
  MemoryStore,
  OrchestratorClosedError,
  SagaInputError,
  type SagaEvent,
} from 'sagaflow';
import { SqliteStore } from 'sagaflow/sqlite';
import { createVirtualClock } from 'sagaflow/testing';
import { tempDatabase } from '../stores/sqlite-temp.js';
import { collect, trace } from '../support/collect.js';
import { deferred } from '../support/deferred.js';

const input = z.object({ id: z.string(), cents: z.number().int().positive() });
const one = (name = 'one') => defineSaga({ name, input }).stage('a', { execute: async ({ input: given }) => given.cents * 2 }).build();

describe('input', () => {
  it('throws SagaInputError naming the saga and every bad field, before anything is stored', async () => {
    const store = new MemoryStore();
    const orchestrator = createOrchestrator({ store });
    let error: unknown;
    try {
      orchestrator.start(one(), { id: 7, cents: -1 } as never);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(SagaInputError);
    expect((error as SagaInputError).issues.map((issue) => issue.path)).toEqual(['input.id', 'input.cents']);
    expect((error as Error).message).toMatch(/^Invalid input for saga 'one': input\.id: .+; input\.cents: .+\.$/);
    await expect(orchestrator.run(one(), { id: 'x' } as never)).rejects.toBeInstanceOf(SagaInputError);
    expect(await store.listRuns()).toEqual([]);
  });

  it('rejects input that is not plain JSON after parsing, naming the path', () => {
    const saga = defineSaga({ name: 'dates', input: z.object({ when: z.date() }) }).stage('a', { execute: async () => 1 }).build();
    expect(() => createOrchestrator().start(saga, { when: new Date(0) })).toThrow(
      /^Invalid input for saga 'dates': input\.when: is a Date instance, which does not survive a JSON round-trip/,
    );
  });

  it('says that it is the input schema that must produce JSON, when it parses a valid input into a Date (z.coerce.date())', () => {
    const saga = defineSaga({ name: 'deliveries', input: z.object({ at: z.coerce.date() }) }).stage('a', { execute: async () => 1 }).build();
    expect(() => createOrchestrator().start(saga, { at: '2026-01-01' })).toThrow(
      "Invalid input for saga 'deliveries': input.at: is a Date instance, which does not survive a JSON round-trip (return plain objects; use an ISO string or epoch ms for dates); the input is journaled as the saga's input schema returns it, so the schema must return plain JSON: for a date, validate an ISO string (z.iso.datetime()) rather than z.date() or z.coerce.date(), and convert it in the stage.",
    );
  });

  it('applies the schema’s defaults and transforms, and stores the parsed input', async () => {
    const saga = defineSaga({ name: 'defaults', input: z.object({ id: z.string(), currency: z.string().default('EUR') }) })
      .stage('a', { execute: async ({ input: given }) => given.currency })
      .build();
    const orchestrator = createOrchestrator();
    const run = orchestrator.start(saga, { id: 'x' });
    const outcome = await run.outcome;
    expect(outcome.outputs).toEqual({ a: 'EUR' });
    expect(outcome.input).toEqual({ id: 'x', currency: 'EUR' });
  });
});

describe('outputs (rule 9)', () => {
  it.each([
    ['a bigint', () => ({ total: 10n }), 'output.total', 'is a bigint'],
    ['a Date', () => ({ at: new Date(0) }), 'output.at', 'is a Date instance'],
    ['NaN', () => [1, Number.NaN], 'output[1]', 'is NaN'],
    ['a function', () => ({ nested: { fn: () => 1 } }), 'output.nested.fn', 'is a function'],
    ['a cycle', () => {
      const node: Record<string, unknown> = { id: 1 };
      node.self = node;
      return node;
    }, 'output.self', 'is a circular reference'],
    ['a Map', () => new Map(), 'output', 'is a Map instance'],
  ])('fails the stage, not retried, on %s, naming the stage and the path', async (_label, make, path, problem) => {
    let calls = 0;
    const saga = defineSaga({ name: 'bad-output', input })
      .stage('s', {
        retry: { maxAttempts: 3, initialDelayMs: 0 },
        execute: async () => {
          calls++;
          return make() as unknown;
        },
      })
      .build();
    const outcome = await createOrchestrator().start(saga, { id: 'x', cents: 1 }).outcome;
    expect(calls).toBe(1);
    expect(outcome.failure?.error).toMatchObject({ name: 'StageOutputError', code: 'STAGE_OUTPUT_INVALID' });
    expect(outcome.failure?.error.message).toContain(`Stage 's' of saga 'bad-output' run ${outcome.runId} returned an invalid output: ${path} ${problem}`);
  });

  it('an output its schema cannot read (a getter that throws, a refine that throws) fails the stage with a StageOutputError naming it, not retried, as an output that is not JSON does', async () => {
    let calls = 0;
    const saga = defineSaga({ name: 'unreadable-output', input })
      .stage('s', {
        output: z.object({ id: z.string() }),
        retry: { maxAttempts: 3, initialDelayMs: 0 },
        execute: async () => {
          calls++;
          return {
            get id(): string {
              throw new Error('the session is closed');
            },
          };
        },
      })
      .build();
    const outcome = await createOrchestrator().start(saga, { id: 'x', cents: 1 }).outcome;
    expect(calls).toBe(1);
    expect(outcome.failure?.error).toMatchObject({ name: 'StageOutputError', code: 'STAGE_OUTPUT_INVALID' });
    expect(outcome.failure?.error.message).toBe(`Stage 's' of saga 'unreadable-output' run ${outcome.runId} returned an invalid output: output could not be read by its schema: Error: the session is closed.`);
  });

  it('validates with the output schema, keeps its parsed value, and copies outputs so later mutation cannot change the journal', async () => {
    const shared = { id: 'k', tags: ['a'] };
    const saga = defineSaga({ name: 'schema', input })
      .stage('typed', { output: z.object({ id: z.string(), tags: z.array(z.string()) }).transform((value) => ({ ...value, checked: true })), execute: async () => shared })
      .stage('wrong', { after: [], output: z.object({ id: z.string() }), execute: async () => ({ id: 42 }) as never })
      .build();
    const outcome = await createOrchestrator().start(saga, { id: 'x', cents: 1 }).outcome;
    shared.tags.push('mutated');
    expect(outcome.outputs.typed).toEqual({ id: 'k', tags: ['a'], checked: true });
    expect(outcome.failure?.error.message).toContain("output.id does not match the stage's output schema");
  });

  it('allows undefined (no output) and drops undefined object properties', async () => {
    const saga = defineSaga({ name: 'undef', input })
      .stage('nothing', { execute: async () => undefined })
      .stage('sparse', { execute: async () => ({ kept: 1, dropped: undefined }) })
      .build();
    const run = createOrchestrator().start(saga, { id: 'x', cents: 1 });
    const [outcome, events] = await Promise.all([run.outcome, collect(run.events$)]);
    expect(outcome.outputs).toEqual({ nothing: undefined, sparse: { kept: 1 } });
    expect('nothing' in outcome.outputs).toBe(true);
    expect(events.find((event) => event.type === 'stage.completed' && event.stage === 'nothing')).not.toHaveProperty('output');
  });
});

describe('thrown values that are not errors', () => {
  it.each([
    ['a string', 'out of stock', 'A non-Error value was thrown: "out of stock"'],
    ['undefined', undefined, 'A non-Error value was thrown: undefined'],
    ['an object', { code: 42 }, 'A non-Error value was thrown: {"code":42}'],
  ])('turns %s into a readable serialised error', async (_label, thrown, message) => {
    const saga = defineSaga({ name: 'weird', input })
      .stage('s', {
        execute: async () => {
          throw thrown;
        },
      })
      .build();
    const outcome = await createOrchestrator().start(saga, { id: 'x', cents: 1 }).outcome;
    expect(outcome.failure?.error).toMatchObject({ name: 'NonErrorThrown', message });
  });
});

describe('stage context', () => {
  it('gives stable idempotency keys: same across attempts, different per stage, per run, and for compensation', async () => {
    const keys: string[] = [];
    const saga = defineSaga({ name: 'keys', input })
      .stage('a', {
        retry: { maxAttempts: 2, initialDelayMs: 0 },
        execute: async ({ idempotencyKey, attempt }) => {
          keys.push(`a-exec-${attempt}:${idempotencyKey}`);
          if (attempt === 1) throw new Error('retry me');
        },
        compensate: async ({ idempotencyKey, executeIdempotencyKey }) => {
          keys.push(`a-comp:${idempotencyKey}`);
          keys.push(`a-comp-exec:${executeIdempotencyKey}`);
        },
      })
      .stage('b', {
        execute: async ({ idempotencyKey }) => {
          keys.push(`b-exec:${idempotencyKey}`);
          throw new Error('fail');
        },
      })
      .build();
    const orchestrator = createOrchestrator();
    const first = await orchestrator.start(saga, { id: 'x', cents: 1 }).outcome;
    const key = (prefix: string) => keys.find((entry) => entry.startsWith(prefix))?.split(':')[1];
    expect(key('a-exec-1')).toBe(key('a-exec-2'));
    expect(new Set([key('a-exec-1'), key('b-exec'), key('a-comp')]).size).toBe(3);
    expect(key('a-comp-exec')).toBe(key('a-exec-1'));
    const firstKey = key('a-exec-1');
    keys.length = 0;
    const second = await orchestrator.start(saga, { id: 'x', cents: 1 }).outcome;
    expect(second.runId).not.toBe(first.runId);
    expect(key('a-exec-1')).toMatch(/^[0-9a-f-]{36}$/);
    expect(key('a-exec-1')).not.toBe(firstKey);
  });

  it('passes runId, saga, stage and attempt, and works destructured (no `this`)', async () => {
    const seen: unknown[] = [];
    const saga = defineSaga({ name: 'ctx', input })
      .stage('a', {
        execute: ({ runId, saga: sagaName, stage, attempt, input: given }) => {
          seen.push({ runId, saga: sagaName, stage, attempt, id: given.id });
          return 1;
        },
      })
      .build();
    const outcome = await createOrchestrator().start(saga, { id: 'x', cents: 1 }, { runId: 'my-run-1' }).outcome;
    expect(outcome.runId).toBe('my-run-1');
    expect(seen).toEqual([{ runId: 'my-run-1', saga: 'ctx', stage: 'a', attempt: 1, id: 'x' }]);
  });

  it('throws a StageResultAccessError when a stage reads a stage that is not its ancestor', async () => {
    const saga = defineSaga({ name: 'peek', input })
      .stage('a', { after: [], execute: async () => 'A' })
      .stage('b', { after: [], execute: async ({ results }) => (results as Record<string, unknown>).a })
      .stage('c', { after: ['a'], execute: async ({ results }) => ({ keys: Object.keys(results), a: results.a }) })
      .build();
    const outcome = await createOrchestrator().start(saga, { id: 'x', cents: 1 }).outcome;
    expect(outcome.failure).toMatchObject({
      stage: 'b',
      error: {
        name: 'StageResultAccessError',
        message: "Stage 'b' of saga 'peek' read results.a, but 'a' is not an ancestor of 'b': add it to the stage's 'after' list.",
      },
    });
  });

  it('lets a stage read its transitive ancestors and enumerate them', async () => {
    const saga = defineSaga({ name: 'ancestors', input })
      .stage('a', { execute: async () => 'A' })
      .stage('b', { execute: async () => 'B' })
      .stage('c', { execute: async ({ results }) => ({ keys: Object.keys(results).sort(), a: results.a, spread: { ...results } }) })
      .build();
    const outcome = await createOrchestrator().start(saga, { id: 'x', cents: 1 }).outcome;
    expect(outcome.outputs.c).toEqual({ keys: ['a', 'b'], a: 'A', spread: { a: 'A', b: 'B' } });
  });
});

describe('scheduling', () => {
  it('never has more than `concurrency` stages in flight, and runs every stage', async () => {
    let inFlight = 0;
    let peak = 0;
    let builder = defineSaga({ name: 'bounded', input, concurrency: 2 }) as unknown as {
      stage(name: string, definition: object): typeof builder;
      build(): ReturnType<typeof one>;
    };
    for (let index = 0; index < 8; index++) {
      builder = builder.stage(`s${index}`, {
        after: [],
        execute: async () => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await new Promise((resolve) => setImmediate(resolve));
          inFlight--;
        },
      });
    }
    const outcome = await createOrchestrator().start(builder.build(), { id: 'x', cents: 1 }).outcome;
    expect(peak).toBe(2);
    expect(outcome.completionOrder).toHaveLength(8);
  });

  it('journals with contiguous seqs, write-ahead: subscribers see an event only after it is in the store', async () => {
    const store = new MemoryStore();
    const orchestrator = createOrchestrator({ store });
    const checks: Array<Promise<boolean>> = [];
    const run = orchestrator.start(one(), { id: 'x', cents: 2 });
    run.events$.subscribe((event) => {
      checks.push(store.load(event.runId).then((journal) => journal?.some((stored) => stored.seq === event.seq) ?? false));
    });
    const outcome = await run.outcome;
    expect(await Promise.all(checks)).toEqual(checks.map(() => true));
    const journal = (await store.load(outcome.runId)) ?? [];
    expect(journal.map((event) => event.seq)).toEqual([0, 1, 2, 3]);
    expect(trace(journal)).toEqual(['run.started', 'stage.started:a', 'stage.completed:a', 'run.completed']);
  });
});

describe('events$ and inspect', () => {
  it('replays a finished run’s journal to late subscribers, and orchestrator.events$ carries every run live', async () => {
    const orchestrator = createOrchestrator();
    const all: SagaEvent[] = [];
    const subscription = orchestrator.events$.subscribe((event) => all.push(event));
    const first = orchestrator.start(one('first'), { id: 'x', cents: 1 });
    const second = orchestrator.start(one('second'), { id: 'y', cents: 2 });
    await Promise.all([first.outcome, second.outcome]);
    subscription.unsubscribe();
    expect(await collect(first.events$)).toEqual(all.filter((event) => event.runId === first.runId));
    expect(new Set(all.map((event) => event.saga))).toEqual(new Set(['first', 'second']));
  });

  it('orchestrator.events$ is live only (no replay of runs that ended before) and completes when close() resolves, not before: a run close() waits for still reaches it', async () => {
    const orchestrator = createOrchestrator();
    const before = await orchestrator.start(one('before'), { id: 'x', cents: 1 }).outcome;
    const gate = deferred();
    const invoked = deferred();
    const saga = defineSaga({ name: 'during-close', input })
      .stage('wait', {
        execute: async () => {
          invoked.resolve();
          await gate.promise;
        },
      })
      .build();
    const seen: SagaEvent[] = [];
    let completed = false;
    orchestrator.events$.subscribe({ next: (event) => seen.push(event), complete: () => (completed = true) });
    const run = orchestrator.start(saga, { id: 'y', cents: 2 });
    await invoked.promise;
    const closed = orchestrator.close();
    expect(completed).toBe(false);
    gate.resolve();
    await closed;
    expect(completed).toBe(true);
    expect(seen.some((event) => event.runId === before.runId)).toBe(false);
    expect(trace(seen)).toEqual(['run.started', 'stage.started:wait', 'stage.completed:wait', 'run.completed']);
    expect(new Set(seen.map((event) => event.runId))).toEqual(new Set([run.runId]));
  });

  it('watch() of a run driven elsewhere, on a store without notifications, reads the store every 250 ms by default (on the orchestrator’s scheduler)', async () => {
    const database = tempDatabase();
    const driverStore = new SqliteStore({ path: database.path });
    const watcherStore = new SqliteStore({ path: database.path });
    let loads = 0;
    // Counts the watcher's reads of the journal: each poll is one.
    const counted = new Proxy(watcherStore, {
      get(target, key) {
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (key === 'load') loads++;
          return (value as (...given: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const gate = deferred();
    const saga = defineSaga({ name: 'polled', input }).stage('a', { execute: () => gate.promise }).build();
    const driver = createOrchestrator({ store: driverStore, sagas: [saga] });
    const run = driver.start(saga, { id: 'x', cents: 1 });
    await firstValueFrom(run.events$.pipe(filter((event) => event.type === 'stage.started')));
    const clock = createVirtualClock({ now: 0, autoAdvance: false });
    const watcher = createOrchestrator({ store: counted, sagas: [saga], scheduler: clock });
    const received: SagaEvent[] = [];
    const started = deferred();
    const ended = deferred();
    watcher.watch(run.runId).subscribe({
      next: (event) => {
        received.push(event);
        if (event.type === 'stage.started') started.resolve();
      },
      complete: () => ended.resolve(),
    });
    await clock.advanceBy(0);
    await started.promise; // the first read, at once
    gate.resolve();
    await run.outcome;
    const before = loads;
    await clock.advanceBy(249);
    expect(loads).toBe(before);
    await clock.advanceBy(1);
    expect(loads).toBe(before + 1);
    await ended.promise;
    expect(trace(received)).toEqual(['run.started', 'stage.started:a', 'stage.completed:a', 'run.completed']);
    await Promise.all([driver.close(), watcher.close()]);
    await Promise.all([driverStore.close(), watcherStore.close()]);
    await database.remove();
  });

  it('watch() refuses a pollIntervalMs that is not a finite number > 0 with a TypeError naming it, instead of never completing', async () => {
    const orchestrator = createOrchestrator();
    const outcome = await orchestrator.start(one(), { id: 'x', cents: 3 }).outcome;
    for (const pollIntervalMs of [-1, Number.NaN, 0, Infinity]) {
      const error = await collect(orchestrator.watch(outcome.runId, { pollIntervalMs })).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toBe(`watch() of run ${outcome.runId}: pollIntervalMs must be a finite number of milliseconds > 0, got ${String(pollIntervalMs)}.`);
    }
    await orchestrator.close();
  });

  it('inspect folds the stored journal into the same outcome the run resolved with', async () => {
    const orchestrator = createOrchestrator({ sagas: [] });
    const outcome = await orchestrator.start(one(), { id: 'x', cents: 4 }).outcome;
    expect(await orchestrator.inspect(outcome.runId)).toEqual(outcome);
    expect(outcome.outputs).toEqual({ a: 8 });
  });

  it('inspect shows a live run as running', async () => {
    const gate = deferred();
    const saga = defineSaga({ name: 'live', input }).stage('wait', { execute: () => gate.promise }).build();
    const orchestrator = createOrchestrator();
    const run = orchestrator.start(saga, { id: 'x', cents: 1 });
    await new Promise<void>((resolve) => run.events$.subscribe((event) => event.type === 'stage.started' && resolve()));
    expect((await orchestrator.inspect(run.runId)).status).toBe('running');
    gate.resolve();
    expect((await run.outcome).status).toBe('completed');
  });
});

/** A run another orchestrator drives on a shared MemoryStore, held in its one stage until `gate` opens. */
async function runDrivenElsewhere() {
  const store = new MemoryStore();
  const gate = deferred();
  const saga = defineSaga({ name: 'elsewhere', input }).stage('wait', { execute: () => gate.promise.then(() => 'done') }).build();
  const driver = createOrchestrator({ store });
  const run = driver.start(saga, { id: 'x', cents: 1 });
  await new Promise<void>((resolve) => run.events$.subscribe((event) => event.type === 'stage.started' && resolve()));
  return { store, gate, driver, run };
}

describe('close', () => {
  it.each([Number.NaN, -5])('refuses timeoutMs %s with a TypeError naming it, stopping nothing (NaN and negatives used to detach every run at once)', async (timeoutMs) => {
    const gate = deferred();
    const saga = defineSaga({ name: 'closing-badly', input }).stage('wait', { execute: () => gate.promise }).build();
    const orchestrator = createOrchestrator();
    const run = orchestrator.start(saga, { id: 'x', cents: 1 });
    await expect(orchestrator.close({ timeoutMs })).rejects.toThrow(new TypeError(`orchestrator.close(): timeoutMs must be a number of milliseconds >= 0 (Infinity, or leaving it out: wait for every run), got ${String(timeoutMs)}; nothing was stopped.`));
    // Still open: the run goes on, and a later close() waits for it.
    const second = orchestrator.start(saga, { id: 'y', cents: 1 });
    gate.resolve();
    await orchestrator.close();
    expect((await run.outcome).status).toBe('completed');
    expect((await second.outcome).status).toBe('completed');
  });

  it('waits for active runs, then refuses new ones', async () => {
    const gate = deferred();
    const saga = defineSaga({ name: 'closing', input }).stage('wait', { execute: () => gate.promise }).build();
    const orchestrator = createOrchestrator();
    const run = orchestrator.start(saga, { id: 'x', cents: 1 });
    const closed = orchestrator.close();
    gate.resolve();
    await closed;
    expect((await run.outcome).status).toBe('completed');
    expect(() => orchestrator.start(saga, { id: 'x', cents: 1 })).toThrow(OrchestratorClosedError);
  });

  it('with a timeout, leaves unfinished runs in place, resumable by another orchestrator', async () => {
    const store = new MemoryStore();
    const hang = deferred();
    let calls = 0;
    const saga = defineSaga({ name: 'left', input })
      .stage('a', {
        execute: async ({ signal }) => {
          calls++;
          if (calls === 1) {
            await Promise.race([hang.promise, new Promise((resolve) => signal.addEventListener('abort', resolve))]);
            return 'abandoned';
          }
          return 'resumed';
        },
      })
      .build();
    const orchestrator = createOrchestrator({ store, sagas: [saga] });
    const run = orchestrator.start(saga, { id: 'x', cents: 1 });
    await new Promise<void>((resolve) => run.events$.subscribe((event) => event.type === 'stage.started' && resolve()));
    await orchestrator.close({ timeoutMs: 10 });
    const error = await run.outcome.catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(OrchestratorClosedError);
    expect((error as Error).message).toContain('was left in place and can be resumed');
    expect((await store.listRuns())[0]?.status).toBe('running');
    const outcome = await createOrchestrator({ store, sagas: [saga] }).resume(run.runId).outcome;
    expect(outcome.outputs).toEqual({ a: 'resumed' });
  });

  it('ends the watches of runs driven elsewhere with OrchestratorClosedError (their poll timers with them); the run goes on', async () => {
    const { store, gate, driver, run } = await runDrivenElsewhere();

    const watcher = createOrchestrator({ store });
    const seen: string[] = [];
    const started = deferred();
    const ended = deferred<unknown>();
    const subscription = watcher.watch(run.runId, { pollIntervalMs: 5 }).subscribe({
      next: (event) => {
        seen.push(event.type);
        if (event.type === 'stage.started') started.resolve();
      },
      error: ended.resolve,
      complete: () => ended.resolve('completed'),
    });
    await started.promise;
    await watcher.close();

    const error = await ended.promise;
    expect(error).toBeInstanceOf(OrchestratorClosedError);
    expect((error as Error).message).toContain(`watch() of run ${run.runId} was still following it when close() was called`);
    expect(seen).toEqual(['run.started', 'stage.started']);
    // Unsubscribed from its source: nothing keeps reading the store (or the process alive).
    expect(subscription.closed).toBe(true);
    // A watch asked for after close() errors at once.
    await expect(firstValueFrom(watcher.watch(run.runId))).rejects.toThrow(/watch\(\) of run .+ was called after close\(\)/);

    // The run itself went on, where it is driven.
    gate.resolve();
    expect((await run.outcome).status).toBe('completed');
    await driver.close();
  });

  it('closes even when a watch\'s error handler throws at the close: the throw goes to onError, never out of close()', async () => {
    const { store, gate, driver, run } = await runDrivenElsewhere();

    const reported: unknown[] = [];
    const watcher = createOrchestrator({ store, onError: (error, context) => context.operation === 'subscriber' && reported.push(error) });
    const started = deferred();
    watcher.watch(run.runId, { pollIntervalMs: 5 }).subscribe({
      next: (event) => event.type === 'stage.started' && started.resolve(),
      error: () => {
        throw new Error('an error handler that throws');
      },
    });
    await started.promise;
    await expect(watcher.close()).resolves.toBeUndefined();
    expect(reported.map((error) => (error as Error).message)).toEqual(['an error handler that throws']);

    gate.resolve();
    expect((await run.outcome).status).toBe('completed');
    await driver.close();
  });
});

describe('outputs and input are immutable', () => {
  it('a stage cannot change an ancestor’s output or the input through ctx; the journal keeps what was returned', async () => {
    const store = new MemoryStore();
    const saga = defineSaga({ name: 'frozen', input: z.object({ id: z.string(), cents: z.number(), tags: z.array(z.string()).default([]) }) })
      .stage('a', { execute: async () => ({ nested: { y: 1 } }) })
      .stage('b', {
        execute: async ({ results, input: given }) => {
          const attempts: string[] = [];
          try {
            // @ts-expect-error read-only in its type too: this is for code that gets around the types
            (results.a.nested).y = 99;
          } catch (error) {
            attempts.push((error as Error).name);
          }
          try {
            // @ts-expect-error read-only in its type too
            (given.tags).push('x');
          } catch (error) {
            attempts.push((error as Error).name);
          }
          return attempts;
        },
      })
      .build();
    const orchestrator = createOrchestrator({ store });
    const outcome = await orchestrator.start(saga, { id: 'x', cents: 1 }).outcome;
    expect(outcome.outputs.b).toEqual(['TypeError', 'TypeError']);
    expect(outcome.outputs.a).toEqual({ nested: { y: 1 } });
    expect((await orchestrator.inspect(outcome.runId)).outputs.a).toEqual({ nested: { y: 1 } });
    expect(outcome.input).toEqual({ id: 'x', cents: 1, tags: [] });
  });
});

describe('re-entrancy (recycled decision lists, deferred effects)', () => {
  it('user code and instrumentation hooks that cancel and start other runs while a run\'s deferred effects are drained leave every run\'s journal its own and whole', async () => {
    const store = new MemoryStore();
    const gate = deferred<void>();
    const victimSaga = defineSaga({ name: 'victim', input })
      .stage('v1', { execute: () => 1 })
      .stage('v2', { execute: async ({ signal }) => new Promise<number>((resolve, reject) => {
        void gate.promise.then(() => resolve(2));
        signal.addEventListener('abort', () => reject(new Error('aborted')));
      }) })
      .stage('v3', { execute: () => 3 })
      .build();
    let failedOnce = false;
    const actorSaga = defineSaga({ name: 'actor', input })
      .stage('x1', { execute: () => 'x1' })
      .stage('x2', {
        execute: () => {
          if (!failedOnce) {
            failedOnce = true;
            throw new Error('once');
          }
          return 'x2';
        },
        retry: { maxAttempts: 2, initialDelayMs: 0, jitter: false },
      })
      .stage('x3', { execute: () => 'x3' })
      .build();
    const handles: { victim?: ReturnType<typeof orchestrator.start>; late?: ReturnType<typeof orchestrator.start> } = {};
    const hooked: string[] = [];
    const orchestrator = createOrchestrator({
      store,
      instrumentation: {
        drive: (run) =>
          run.saga !== 'actor'
            ? undefined
            : {
                attempt: (attempt) => {
                  hooked.push(`${attempt.stage}:${attempt.attempt}`);
                  // Mid-decision: the actor's commands are being carried out.
                  if (attempt.stage === 'x2' && attempt.attempt === 1) handles.victim?.cancel('from a hook');
                  if (attempt.stage === 'x2' && attempt.attempt === 2) handles.late = orchestrator.start(victimSaga, { id: 'late', cents: 1 }, { runId: 'late' });
                  return undefined;
                },
                event: (event) => {
                  if (event.type === 'stage.completed' && event.stage === 'x3') handles.late?.cancel('from an event hook');
                },
                end: () => {
                  hooked.push('end');
                },
              },
      },
    });
    handles.victim = orchestrator.start(victimSaga, { id: 'victim', cents: 1 }, { runId: 'victim' });
    // The victim waits in v2 (its v1 done) before the actor starts.
    await new Promise<void>((resolve) => {
      const subscription = handles.victim?.events$.subscribe((event) => {
        if (event.type === 'stage.started' && event.stage === 'v2') {
          resolve();
          queueMicrotask(() => subscription?.unsubscribe());
        }
      });
    });
    const actor = orchestrator.start(actorSaga, { id: 'actor', cents: 1 }, { runId: 'actor' });
    const outcome = await actor.outcome;
    expect(outcome.status).toBe('completed');
    expect(outcome.outputs).toEqual({ x1: 'x1', x2: 'x2', x3: 'x3' });
    expect((await handles.victim.outcome).status).toBe('cancelled');
    gate.resolve();
    expect((await (handles.late as NonNullable<typeof handles.late>).outcome).status).toBe('cancelled');
    expect(hooked).toEqual(['x1:1', 'x2:1', 'x2:2', 'x3:1', 'end']);
    for (const runId of ['victim', 'actor', 'late']) {
      const journal = (await store.load(runId)) ?? [];
      expect(journal.map((event) => event.seq)).toEqual(journal.map((_, index) => index));
      expect(journal.every((event) => event.runId === runId)).toBe(true);
      expect(journal.at(-1)?.type).toBe(runId === 'actor' ? 'run.completed' : 'run.cancelled');
    }
    await orchestrator.close();
  });
  it('a fan-out of synchronous stages, one failing while the effects deferred behind one write are drained: no stage after it is called, every completed one is compensated once', async () => {
    const calls: string[] = [];
    const step = (index: number) => ({
      after: [] as const,
      execute: () => {
        calls.push(`execute:s${index}`);
        if (index === 12) throw new Error('s12 is down');
        return index;
      },
      compensate: () => {
        calls.push(`compensate:s${index}`);
      },
    });
    let builder = defineSaga({ name: 'fan', input }).stage('s0', step(0));
    for (let index = 1; index < 30; index++) builder = builder.stage(`s${index}`, step(index));
    const store = new MemoryStore();
    const orchestrator = createOrchestrator({ store });
    const run = orchestrator.start(builder.build(), { id: 'fan', cents: 1 }, { runId: 'fan' });
    const outcome = await run.outcome;
    expect(outcome.status).toBe('compensated');
    expect(calls.filter((call) => call.startsWith('execute:'))).toEqual(Array.from({ length: 13 }, (_, index) => `execute:s${index}`));
    expect(calls.filter((call) => call.startsWith('compensate:')).sort()).toEqual(Array.from({ length: 12 }, (_, index) => `compensate:s${index}`).sort());
    const journal = (await store.load('fan')) ?? [];
    expect(journal.filter((event) => event.type === 'stage.started')).toHaveLength(30);
    expect(journal.filter((event) => event.type === 'stage.cancelled').map((event) => (event as { stage: string }).stage).sort()).toEqual(
      Array.from({ length: 17 }, (_, index) => `s${index + 13}`).sort(),
    );
    await orchestrator.close();
  });
});
