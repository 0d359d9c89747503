import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Subscription } from 'rxjs';
import { JournalFold, RunNotFoundError, serializeError, type RunState, type SagaEvent, type SagaStore } from '../index.js';
import type { RunUpdate, StageView, StoreState } from './client/view-model.js';
import { layoutOf } from './dag-layout.js';
import { startEventStream } from './http.js';
import { followJournal$, type JournalNews } from './journal-feed.js';
import { runViewOf, type ActionContext } from './run-view.js';

/** Updates closer together than this are sent as one message: a burst of events is one redraw. */
const COALESCE_MS = 40;
/** A comment line this often keeps idle connections (and proxies) open. */
const KEEP_ALIVE_MS = 15_000;

/** What a run's stream needs. */
export interface RunStreamContext {
  readonly store: SagaStore;
  readonly actions: ActionContext;
  /** How often to look for new events (a look at the run's summary; the journal is read only when it grew). */
  readonly pollIntervalMs: number;
  /** The open streams, for `close()` to end them. */
  readonly open: Set<ServerResponse>;
}

/** What the page was sent last: each message carries only what differs from it. */
interface Sent {
  seq: number;
  shapeHash: string | undefined;
  completed: number;
  readonly stages: Map<string, string>;
}

/**
 * Streams a run to its page as server-sent events: each message is the run's view (from the fold
 * of its journal) with only what changed since the previous message, fed by
 * {@link followJournal$} from the store.
 *
 * @remarks
 * The first message carries everything (the layout, the input, every stage and output); later ones
 * carry the new events, the stages whose view changed, the outputs of stages that completed since,
 * and the layout only when the shape changes. Message ids are the last `seq` sent: a browser that
 * reconnects sends `Last-Event-ID` (or `after=SEQ` in the query, for a page that opens a new
 * stream) and gets only what changed after that event. A run that an action can still move
 * (paused, or its rollback failed) stays followed, so a redrive from any process shows; the stream
 * sends `end` once no action can move the run. While the store does not answer it sends a `store`
 * event (`StoreState`), and another when it answers again; an unknown run gets `problem`.
 */
export function streamRun(req: IncomingMessage, res: ServerResponse, runId: string, after: number, context: RunStreamContext): void {
  const lastEventId = Number(req.headers['last-event-id']);
  const sentUpTo = Math.max(after, Number.isInteger(lastEventId) ? lastEventId : -1);
  startEventStream(res);
  context.open.add(res);

  const fold = new JournalFold();
  const journal: SagaEvent[] = [];
  let state: RunState | undefined;
  // A page that reconnects has what it was sent up to `sentUpTo`: that is the first message's baseline.
  let sent: Sent | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastFlush = 0;
  let ended = false;

  const write = (text: string): void => {
    if (!ended) res.write(text);
  };
  /** Sends what changed; ends the stream once no action can move the run any more. */
  const flush = (): void => {
    timer = undefined;
    try {
      const view = send();
      if (view !== undefined && !view.followed) finish('end', {});
    } catch (error) {
      finish('problem', { message: `This run's view could not be sent: ${describeThrown(error)}` });
    }
  };
  /** Sends what changed since the last message, if anything did; returns the run's view. */
  const send = (): RunUpdate['view'] | undefined => {
    if (state === undefined || ended) return undefined;
    lastFlush = Date.now();
    const { stages, ...view } = runViewOf(state, journal, context.actions, lastFlush);
    if (sent !== undefined && sent.seq === state.lastSeq) return view;
    const first = sent === undefined;
    const previous = sent ?? { seq: sentUpTo, shapeHash: undefined, completed: 0, stages: new Map<string, string>() };
    const changed = changedStages(stages, previous.stages);
    const update: { -readonly [K in keyof RunUpdate]: RunUpdate[K] } = { view, stages: changed, events: journal.filter((event) => event.seq > previous.seq) };
    if (previous.shapeHash !== state.shapeHash) {
      update.layout = layoutOf(state.shapeHash, state.shape ?? state.stageNames.map((name) => ({ name, after: [], compensates: false, compensateOnFailure: false })));
    }
    if (first && previous.seq < 0) update.input = state.input;
    if (first || previous.completed !== state.completionOrder.length) {
      const outputs: Record<string, unknown> = {};
      for (const name of state.completionOrder.slice(previous.completed)) outputs[name] = state.stages.get(name)?.output;
      update.outputs = outputs;
    }
    sent = { seq: state.lastSeq, shapeHash: state.shapeHash, completed: state.completionOrder.length, stages: previous.stages };
    write(`id: ${state.lastSeq}\ndata: ${JSON.stringify(update)}\n\n`);
    return view;
  };
  const schedule = (): void => {
    if (timer !== undefined) return;
    timer = setTimeout(flush, Math.max(0, lastFlush + COALESCE_MS - Date.now()));
  };
  const finish = (kind: 'end' | 'problem', data: unknown): void => {
    if (ended) return;
    if (timer !== undefined) clearTimeout(timer);
    if (kind === 'end') send();
    write(`event: ${kind}\ndata: ${JSON.stringify(data)}\n\n`);
    stop();
    subscription?.unsubscribe();
    res.end();
  };
  const take = (news: JournalNews): void => {
    switch (news.kind) {
      case 'events':
        for (const event of news.events) {
          if (event.seq <= (state?.lastSeq ?? -1)) continue;
          try {
            state = fold.push(event);
          } catch (error) {
            // A journal the fold refuses (a hand-edited store): say so rather than throw into RxJS.
            finish('problem', { message: `The run's journal cannot be read: ${describeThrown(error)}` });
            return;
          }
          journal.push(event);
          if (event.seq === sentUpTo) sent = baselineOf(state, journal, context.actions);
        }
        schedule();
        return;
      case 'unavailable':
      case 'available': {
        const storeState: StoreState = news.kind === 'available' ? { available: true } : { available: false, message: news.message, retryMs: news.retryMs };
        write(`event: store\ndata: ${JSON.stringify(storeState)}\n\n`);
        return;
      }
    }
  };

  let keepAlive: NodeJS.Timeout | undefined;
  let subscription: Subscription | undefined = undefined;
  subscription = followJournal$(context.store, runId, 0, context.pollIntervalMs).subscribe({
    next: take,
    error: (error: unknown) => {
      const message = error instanceof RunNotFoundError ? `There is no run ${runId} in this store.` : `The run cannot be followed: ${describeThrown(error)}`;
      finish('problem', { message });
    },
  });
  if (ended) {
    // A problem found at once ended the stream inside subscribe().
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

/** The stages whose view differs from what was sent (recorded as sent now). */
function changedStages(stages: readonly StageView[], sentStages: Map<string, string>): StageView[] {
  return stages.filter((stage) => {
    const text = JSON.stringify(stage);
    if (sentStages.get(stage.name) === text) return false;
    sentStages.set(stage.name, text);
    return true;
  });
}

/** What a page that saw the run up to the state's last event was sent. */
function baselineOf(state: RunState, journal: readonly SagaEvent[], actions: ActionContext): Sent {
  const stages = new Map<string, string>();
  changedStages(runViewOf(state, journal, actions, state.updatedAt).stages, stages);
  return { seq: state.lastSeq, shapeHash: state.shapeHash, completed: state.completionOrder.length, stages };
}

/**
 * One line for what was thrown: its name and message, through the public `serializeError`, which
 * never throws (a thrown value whose `toString` throws, a revoked Proxy).
 */
function describeThrown(thrown: unknown): string {
  const error = serializeError(thrown);
  return `${error.name}: ${error.message}`;
}
