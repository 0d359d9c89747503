import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Subscription } from 'rxjs';
import { describeThrown } from '../errors/safe-read.js';
import { JournalFold, RunNotFoundError, type Orchestrator, type RunState, type SagaEvent } from '../index.js';
import type { RunUpdate } from './client/view-model.js';
import { layoutOf } from './dag-layout.js';
import { startEventStream } from './http.js';
import { runViewOf, type ActionContext } from './run-view.js';

/** Updates closer together than this are sent as one message: a burst of events is one redraw. */
const COALESCE_MS = 40;
/** A comment line this often keeps idle connections (and proxies) open. */
const KEEP_ALIVE_MS = 15_000;

/** What a run's stream needs. */
export interface RunStreamContext {
  readonly orchestrator: Orchestrator;
  readonly actions: ActionContext;
  /** The open streams, for `close()` to end them. */
  readonly open: Set<ServerResponse>;
}

/**
 * Streams a run to its page as server-sent events: each message is the run's view (from the fold
 * of its journal) and the events not sent before, fed by `orchestrator.watch(runId)`.
 *
 * @remarks
 * The first message carries everything (the layout, the input, the outputs); later ones carry the
 * layout only when the shape changes and the outputs only when a stage completed. Message ids are
 * the last `seq` sent: a browser that reconnects sends `Last-Event-ID` and gets only what follows
 * (`after=SEQ` in the query does the same for a page that opens a new stream). When the run
 * settles or pauses the stream sends `end` and closes; an unknown run gets `problem`.
 */
export function streamRun(req: IncomingMessage, res: ServerResponse, runId: string, after: number, context: RunStreamContext): void {
  const lastEventId = Number(req.headers['last-event-id']);
  const sentUpTo = Math.max(after, Number.isInteger(lastEventId) ? lastEventId : -1);
  startEventStream(res);
  context.open.add(res);

  const fold = new JournalFold();
  const journal: SagaEvent[] = [];
  let state: RunState | undefined;
  let sentSeq = sentUpTo;
  let first = true;
  let layoutFor: string | undefined;
  let outputsFor = -1;
  let timer: NodeJS.Timeout | undefined;
  let lastFlush = 0;
  let ended = false;

  const write = (text: string): void => {
    if (!ended) res.write(text);
  };
  // Runs from a timer: anything it throws would reach the process, so it ends this stream instead.
  const flush = (): void => {
    timer = undefined;
    try {
      send();
    } catch (error) {
      write(`event: problem\ndata: ${JSON.stringify({ message: `This run's view could not be sent: ${describeThrown(error)}` })}\n\n`);
      stop();
      subscription?.unsubscribe();
      res.end();
    }
  };
  const send = (): void => {
    if (state === undefined || ended) return;
    lastFlush = Date.now();
    const view = runViewOf(state, journal, context.actions, lastFlush);
    const fresh = journal.filter((event) => event.seq > sentSeq);
    const update: { -readonly [K in keyof RunUpdate]: RunUpdate[K] } = { view, events: fresh };
    if (layoutFor !== state.shapeHash) {
      layoutFor = state.shapeHash;
      update.layout = layoutOf(state.shapeHash, state.shape ?? state.stageNames.map((name) => ({ name, after: [], compensates: false, compensateOnFailure: false })));
    }
    if (first) update.input = state.input;
    if (first || outputsFor !== state.completionOrder.length) {
      outputsFor = state.completionOrder.length;
      const outputs: Record<string, unknown> = {};
      for (const name of state.completionOrder) outputs[name] = state.stages.get(name)?.output;
      update.outputs = outputs;
    }
    first = false;
    sentSeq = state.lastSeq;
    write(`id: ${state.lastSeq}\ndata: ${JSON.stringify(update)}\n\n`);
  };
  const schedule = (): void => {
    if (timer !== undefined) return;
    timer = setTimeout(flush, Math.max(0, lastFlush + COALESCE_MS - Date.now()));
  };
  const finish = (kind: 'end' | 'problem', data: unknown): void => {
    if (timer !== undefined) clearTimeout(timer);
    flush();
    write(`event: ${kind}\ndata: ${JSON.stringify(data)}\n\n`);
    stop();
    res.end();
  };

  let keepAlive: NodeJS.Timeout | undefined;
  let subscription: Subscription | undefined = undefined;
  subscription = context.orchestrator.watch(runId).subscribe({
    next: (event) => {
      if (ended || event.seq <= (state?.lastSeq ?? -1)) return;
      try {
        state = fold.push(event);
      } catch (error) {
        // A journal the fold refuses (a hand-edited store): say so rather than throw into RxJS.
        finish('problem', { message: `The run's journal cannot be read: ${error instanceof Error ? error.message : String(error)}` });
        return;
      }
      journal.push(event);
      schedule();
    },
    complete: () => finish('end', {}),
    error: (error: unknown) => {
      const message = error instanceof RunNotFoundError ? `There is no run ${runId} in this store.` : `The run cannot be followed: ${error instanceof Error ? error.message : String(error)}`;
      finish('problem', { message });
    },
  });
  if (ended) {
    // A journal replayed at once ended the stream inside subscribe().
    subscription.unsubscribe();
  } else {
    keepAlive = setInterval(() => write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    keepAlive.unref();
  }

  /** Stops writing; the subscription is the caller's to end (it may not exist yet). */
  function stop(): void {
    if (ended) return;
    ended = true;
    if (keepAlive !== undefined) clearInterval(keepAlive);
    if (timer !== undefined) clearTimeout(timer);
    context.open.delete(res);
  }
  res.on('close', () => {
    stop();
    subscription?.unsubscribe();
  });
}
