import { DagView, describe, TONE_LABEL } from './dag.js';
import { byId, clock, disclosure, duration, h, json } from './dom.js';
import { drawTimeline } from './gantt.js';
import type { ActionName, ActionResult, ErrorView, RunUpdate, RunView, StageTone, StageView, StoreState } from './view-model.js';

// The run page: everything it shows comes from the run's event stream (one message per batch of
// journal events, with the server's view of the fold), written into the page as text.

const main = byId<HTMLElement>('main');
const runId = main.dataset['runId'] ?? '';
const csrf = document.querySelector<HTMLMetaElement>('meta[name="sagaflow-csrf"]')?.content ?? '';

let view: RunView | undefined;
let dag: DagView | undefined;
let lastSeq = -1;
let selected: string | undefined;
let outputs: Readonly<Record<string, unknown>> = {};
/** Every stage's view, in the run's stage order: messages carry only the stages that changed. */
const stageViews = new Map<string, StageView>();
let source: EventSource | undefined;
let pending: RunUpdate | undefined;

drawLegend();
connect();
for (const button of document.querySelectorAll<HTMLButtonElement>('.actions button[data-action]')) {
  button.addEventListener('click', () => confirmAction(button.dataset['action'] as ActionName));
}

/** Opens the run's event stream (again after an action, from the last event seen). */
function connect(): void {
  source?.close();
  const stream = new EventSource(`api/stream?id=${encodeURIComponent(runId)}&after=${lastSeq}`);
  source = stream;
  stream.onmessage = (message: MessageEvent<string>) => {
    // Draw once per frame however many messages arrive in it.
    const update = JSON.parse(message.data) as RunUpdate;
    pending = pending === undefined ? update : merge(pending, update);
    requestAnimationFrame(() => {
      if (pending === undefined) return;
      const next = pending;
      pending = undefined;
      apply(next);
    });
  };
  stream.addEventListener('end', () => {
    stream.close();
    if (source === stream) source = undefined;
    setLive();
  });
  stream.addEventListener('store', (message: MessageEvent<string>) => {
    const state = JSON.parse(message.data) as StoreState;
    const banner = byId('store-state');
    banner.textContent = state.available ? '' : `The store is unavailable, retrying every ${duration(state.retryMs)}: ${state.message}`;
    banner.hidden = state.available;
    setLive();
  });
  stream.addEventListener('problem', (message: MessageEvent<string>) => {
    stream.close();
    if (source === stream) source = undefined;
    const problem = byId('problem');
    problem.textContent = (JSON.parse(message.data) as { message: string }).message;
    problem.hidden = false;
    byId('status').textContent = 'unknown';
    setLive();
  });
  stream.onerror = () => setLive();
}

/** Two messages as one: each carries only what changed, so the later one's stages and outputs add to the earlier one's. */
function merge(earlier: RunUpdate, later: RunUpdate): RunUpdate {
  const stages = new Map([...earlier.stages, ...later.stages].map((stage) => [stage.name, stage]));
  const outputs = earlier.outputs === undefined && later.outputs === undefined ? {} : { outputs: { ...earlier.outputs, ...later.outputs } };
  return {
    ...earlier,
    ...later,
    stages: [...stages.values()],
    events: [...earlier.events, ...later.events],
    ...(later.layout === undefined && earlier.layout !== undefined ? { layout: earlier.layout } : {}),
    ...outputs,
    ...(earlier.input === undefined ? {} : { input: earlier.input }),
  };
}

/** The timeline, outputs and journal of an update whose stages are drawn and painted already. */
let deferred: (() => void) | undefined;

/**
 * Draws an update. A big one (a long run's first message) is drawn in two frames: the run's
 * picture (status, actions, failure, the DAG and its rollback) first, so that it is on screen at
 * once, then the timeline, outputs and journal.
 */
function apply(update: RunUpdate): void {
  deferred?.();
  // Read before anything changes, so that measuring does not lay the whole page out mid-update.
  const timelineWidth = byId('timeline').clientWidth;
  for (const stage of update.stages) stageViews.set(stage.name, stage);
  const run: RunView = { ...update.view, stages: [...stageViews.values()] };
  view = run;
  if (update.layout !== undefined) dag = new DagView(byId('dag'), update.layout, selectStage);
  dag?.update(run);
  drawSummary(run);
  drawOutcome(run);
  drawActions(run);
  setLive();
  const rest = (): void => {
    deferred = undefined;
    if (update.input !== undefined) byId('input').textContent = json(update.input);
    if (update.outputs !== undefined) {
      outputs = { ...outputs, ...update.outputs };
      drawOutputs();
    }
    appendJournal(update.events, run.startedAt);
    drawTimeline(byId('timeline'), run.timeline, timelineWidth);
    if (selected !== undefined) drawStage(selected);
  };
  if (update.events.length < 200) {
    rest();
    return;
  }
  deferred = rest;
  // After the next paint: a task queued from an animation frame runs once that frame is drawn.
  requestAnimationFrame(() => setTimeout(() => deferred === rest && rest(), 0));
}

function setLive(): void {
  const live = byId('live');
  if (view !== undefined && source !== undefined) {
    const following = view.live ? 'live' : 'following: a redrive or rollback shows here';
    live.replaceChildren(h('span', { class: 'live-dot', 'aria-hidden': 'true' }), source.readyState === EventSource.OPEN ? following : 'reconnecting…');
  } else {
    live.textContent = view === undefined ? '' : 'not live';
  }
}

function drawSummary(run: RunView): void {
  const status = byId('status');
  status.textContent = run.status.replace('_', ' ');
  status.className = `badge ${run.status}`;
  byId('saga').textContent = `${run.saga} v${run.version}${run.submitted ? ' · submitted to workers' : ''}`;
  byId('times').textContent = `started ${clock(run.startedAt)} · last event ${duration(run.updatedAt - run.startedAt)} later · ${run.lastSeq + 1} events`;
  document.title = `${run.status} · ${run.saga} · run ${run.runId} · sagaflow inspector`;
}

/** The failure, the cancellation, or the failed compensations, when there are any. */
function drawOutcome(run: RunView): void {
  const panel = byId('outcome');
  const parts: Node[] = [];
  if (run.failure !== undefined) {
    parts.push(h('h2', {}, `Failed at stage ${run.failure.stage}`), errorBlock(run.failure.error));
  }
  if (run.cancellation !== undefined) {
    parts.push(h('h2', {}, 'Cancelled'), h('p', {}, `${run.cancellation.reason}${run.cancellation.by === 'external' ? '' : ` (by stage ${run.cancellation.by})`}`));
  }
  const failedCompensations = run.stages.filter((stage) => stage.compensation?.status === 'failed');
  for (const stage of failedCompensations) {
    parts.push(h('h2', {}, `Compensation of ${stage.name} failed`), stage.compensation?.error === undefined ? h('p') : errorBlock(stage.compensation.error));
  }
  if (run.rollbackOrder.length > 0) {
    parts.push(h('p', {}, `Rollback order: ${run.rollbackOrder.map((name, index) => `${index + 1}. ${name}`).join('  ')}`));
  }
  panel.hidden = parts.length === 0;
  panel.className = `outcome${run.failure === undefined && run.cancellation !== undefined ? ' cancelled' : ''}`;
  panel.replaceChildren(...parts);
}

function errorBlock(error: ErrorView): HTMLElement {
  const block = h('div', {}, h('p', {}, h('strong', {}, error.name), `${error.code === undefined ? '' : ` [${error.code}]`}: ${error.message}`));
  if (error.data !== undefined) block.append(h('pre', { class: 'json' }, json(error.data)));
  if (error.stack !== undefined) block.append(h('details', {}, h('summary', {}, 'stack'), h('pre', {}, error.stack)));
  return block;
}

function drawOutputs(): void {
  const names = Object.keys(outputs);
  const container = byId('outputs');
  if (names.length === 0) {
    container.replaceChildren(h('p', { class: 'note' }, 'No stage has completed.'));
    return;
  }
  container.replaceChildren(
    ...names.map((name) => disclosure([h('code', {}, name)], () => h('pre', { class: 'json' }, json(outputs[name])), { open: names.length <= 12, attributes: { 'data-stage': name } })),
  );
}

function appendJournal(events: readonly unknown[], start: number): void {
  const list = byId('journal');
  const items: HTMLElement[] = [];
  for (const raw of events) {
    const event = raw as { seq: number; at: number; type: string; stage?: string; attempt?: number };
    if (event.seq <= lastSeq) continue;
    lastSeq = event.seq;
    // The event's JSON is written when it is first opened: a long journal draws at once.
    const entry = disclosure(
      [
        h('span', { class: 'seq' }, `#${event.seq}`),
        h('span', { class: 'at' }, `+${duration(event.at - start)}`),
        h('code', {}, event.type),
        event.stage === undefined ? '' : h('span', {}, `${event.stage}${event.attempt === undefined ? '' : ` (attempt ${event.attempt})`}`),
      ],
      () => h('pre', { class: 'json' }, json(raw)),
    );
    items.push(h('li', { class: lastSeq > 0 && list.childElementCount > 0 ? 'fresh' : '' }, entry));
  }
  list.append(...items);
  byId('journal-count').textContent = `(${list.childElementCount} events)`;
}

function selectStage(name: string): void {
  selected = name;
  drawStage(name);
}

function drawStage(name: string): void {
  const stage = view?.stages.find((candidate) => candidate.name === name);
  if (stage === undefined) return;
  const panel = byId('stage');
  panel.hidden = false;
  byId('stage-title').textContent = `Stage ${stage.name}`;
  const rows: Array<[string, Node | string]> = [
    ['status', `${describe(stage)}${stage.failing ? ' — the run’s failure' : ''}`],
    ['after', stage.after.length === 0 ? '(a root)' : stage.after.join(', ')],
    ['attempts', String(stage.attempts)],
  ];
  if (stage.startedAt !== undefined) rows.push(['started', clock(stage.startedAt)]);
  if (stage.endedAt !== undefined) rows.push(['ended', clock(stage.endedAt)]);
  if (stage.durationMs !== undefined) rows.push(['last attempt took', duration(stage.durationMs)]);
  if (stage.retryAt !== undefined && stage.tone === 'retrying') rows.push(['next attempt', clock(stage.retryAt)]);
  if (stage.waiting !== undefined) {
    const what = stage.waiting.kind === 'signal' ? `signal '${stage.waiting.signal ?? '?'}'` : 'time';
    rows.push(['waits for', stage.waiting.dueAt === undefined ? `${what} (no time limit)` : `${what}, until ${clock(stage.waiting.dueAt)}`]);
  }
  if (stage.cancelReason !== undefined) rows.push(['cancelled', stage.cancelReason]);
  if (stage.error !== undefined) rows.push(['error', errorBlock(stage.error)]);
  // Own keys only: `'toString' in outputs` is true for a stage of that name that never completed.
  if (Object.hasOwn(outputs, name)) rows.push(['output', h('pre', { class: 'json' }, json(outputs[name]))]);
  rows.push(['compensation', compensationText(stage)]);
  if (stage.compensation?.error !== undefined) rows.push(['compensation error', errorBlock(stage.compensation.error)]);
  byId('stage-fields').replaceChildren(...rows.flatMap(([label, value]) => [h('dt', {}, label), h('dd', {}, value)]));
}

function compensationText(stage: StageView): string {
  if (!stage.compensates) return 'none (the stage has no compensate)';
  const step = stage.rollbackStep === undefined ? '' : `rollback step ${stage.rollbackStep}: `;
  if (stage.compensation === undefined) return stage.rollbackStep === undefined ? 'not needed' : `${step}waiting`;
  return `${step}${stage.compensation.status} after ${stage.compensation.attempts} attempt${stage.compensation.attempts === 1 ? '' : 's'}`;
}

function drawActions(run: RunView): void {
  const notes: string[] = [];
  for (const button of document.querySelectorAll<HTMLButtonElement>('.actions button[data-action]')) {
    const action = run.actions[button.dataset['action'] as ActionName];
    button.disabled = !action.enabled;
    button.title = action.reason ?? '';
  }
  if (run.actions.cancel.reason === 'the inspector is read-only') notes.push('Read-only: no actions.');
  const note = byId('action-note');
  if (!note.classList.contains('sticky')) note.textContent = notes.join(' ');
}

const ACTION_TEXT: Readonly<Record<ActionName, { title: string; text: string; button: string }>> = {
  redrive: {
    title: 'Redrive this run?',
    text: 'It goes on from where it stopped: stages that did not complete run again (same idempotency keys, a fresh retry budget), or only the failed compensations are retried.',
    button: 'Redrive',
  },
  compensate: { title: 'Roll this run back?', text: 'Every completed stage is compensated, in reverse completion order.', button: 'Roll back' },
  cancel: {
    title: 'Cancel this run?',
    text: 'The run stops: stages in flight are settled, then completed stages are compensated (unless the saga keeps them on cancel).',
    button: 'Cancel run',
  },
};

function confirmAction(action: ActionName): void {
  const dialog = byId<HTMLDialogElement>('confirm');
  const words = ACTION_TEXT[action];
  byId('confirm-title').textContent = words.title;
  byId('confirm-text').textContent = `${words.text} Run ${runId}.`;
  byId('confirm-reason').hidden = action !== 'cancel';
  byId('confirm-go').textContent = words.button;
  dialog.returnValue = '';
  dialog.addEventListener(
    'close',
    () => {
      if (dialog.returnValue === 'confirm') void perform(action, byId<HTMLInputElement>('reason').value);
    },
    { once: true },
  );
  dialog.showModal();
  byId('confirm-back').focus();
}

async function perform(action: ActionName, reason: string): Promise<void> {
  const note = byId('action-note');
  note.className = 'note sticky';
  note.textContent = `${ACTION_TEXT[action].button}…`;
  let result: ActionResult;
  try {
    const response = await fetch('api/action', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-sagaflow-csrf': csrf },
      body: JSON.stringify({ action, runId, ...(action === 'cancel' ? { reason } : {}) }),
    });
    result = (await response.json()) as ActionResult;
  } catch (error) {
    result = { ok: false, message: `The inspector did not answer: ${error instanceof Error ? error.message : String(error)}` };
  }
  note.className = `note sticky${result.ok ? '' : ' error'}`;
  note.textContent = result.message;
  // A paused or settled run's stream has ended: follow the run again now that it moves.
  if (result.ok && source === undefined) connect();
}

function drawLegend(): void {
  const tones = Object.keys(TONE_LABEL) as StageTone[];
  byId('legend').replaceChildren(
    ...tones.map((tone) => h('li', {}, h('span', { class: `swatch ${tone}`, 'aria-hidden': 'true' }), TONE_LABEL[tone])),
    h('li', {}, h('span', { class: 'swatch rollback', 'aria-hidden': 'true' }), 'rollback step (1 = undone first)'),
  );
}
