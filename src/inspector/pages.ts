import { RUN_STATUSES, type RunStatus, type RunSummary } from '../index.js';
import { html, type SafeHtml } from './html.js';
import type { RunsFilter, RunsPage } from './runs-query.js';

/** A whole page around its body: the inspector's stylesheet, and its script when it has one. */
function page(title: string, body: SafeHtml, head: SafeHtml = html``): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · sagaflow inspector</title>
<link rel="stylesheet" href="assets/inspector.css">
<link rel="icon" href="assets/favicon.svg" type="image/svg+xml">
${head}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
${body}
</body>
</html>
`.text;
}

/** What the runs list shows. */
export interface RunsListModel {
  /** Where the runs are kept (`store.description`: never a password). */
  readonly store: string;
  readonly filter: RunsFilter;
  readonly page: RunsPage;
  readonly counts: Readonly<Partial<Record<RunStatus, number>>>;
  /** Saga names to suggest in the saga field. */
  readonly sagas: readonly string[];
  readonly readOnly: boolean;
}

/** The runs list: counts per status, the filters, a page of runs newest first, and paging. */
export function runsListPage(model: RunsListModel): string {
  const { filter, page: runs, counts } = model;
  const total = RUN_STATUSES.reduce((sum, status) => sum + (counts[status] ?? 0), 0);
  const query = (changes: Readonly<Record<string, string | undefined>>): string => {
    const params = new URLSearchParams();
    const merged: Record<string, string | undefined> = { status: filter.status, saga: filter.saga, q: filter.runIdPrefix, ...changes };
    for (const [name, value] of Object.entries(merged)) if (value !== undefined && value !== '') params.set(name, value);
    const text = params.toString();
    return text === '' ? './' : `./?${text}`;
  };
  const chip = (status: RunStatus | undefined, label: string, count: number): SafeHtml =>
    html`<li><a class="chip ${status ?? 'all'}" href="${query({ status })}" ${filter.status === status ? html`aria-current="true"` : undefined}><span>${label}</span> <strong>${count}</strong></a></li>`;
  const body = html`<header class="top">
<h1><a href="./">sagaflow inspector</a></h1>
<p class="store">${model.store}${model.readOnly && html` · <strong>read-only</strong>`}</p>
</header>
<main id="main">
<nav aria-label="Runs by status"><ul class="chips">
${chip(undefined, filter.saga === undefined ? 'all runs' : `all runs of ${filter.saga}`, total)}
${RUN_STATUSES.filter((status) => (counts[status] ?? 0) > 0 || status === filter.status).map((status) => chip(status, status.replace('_', ' '), counts[status] ?? 0))}
</ul></nav>
<form class="filters" method="get" action="./" role="search" aria-label="Filter runs">
<label>Status <select name="status">
<option value="">any</option>
${RUN_STATUSES.map((status) => html`<option value="${status}" ${filter.status === status ? html`selected` : undefined}>${status}</option>`)}
</select></label>
<label>Saga <input name="saga" list="saga-names" value="${filter.saga ?? ''}" autocomplete="off" spellcheck="false"></label>
<datalist id="saga-names">${model.sagas.map((name) => html`<option value="${name}"></option>`)}</datalist>
<label>Run id <input name="q" value="${filter.runIdPrefix ?? ''}" placeholder="starts with…" autocomplete="off" spellcheck="false"></label>
<button type="submit">Filter</button>
<a href="./">Clear</a>
</form>
${runs.runs.length === 0 ? html`<p class="empty">No runs${describeFilter(filter)}.</p>` : runsTable(runs.runs)}
<nav class="pager" aria-label="Pages">
${runs.newer === undefined ? html`<span aria-disabled="true">← Newer</span>` : html`<a rel="prev" href="${query({ after: runs.newer })}">← Newer</a>`}
${runs.older === undefined ? html`<span aria-disabled="true">Older →</span>` : html`<a rel="next" href="${query({ before: runs.older })}">Older →</a>`}
</nav>
</main>`;
  return page('Runs', body);
}

function describeFilter(filter: RunsFilter): string {
  const parts = [
    filter.saga === undefined ? undefined : `of saga ${filter.saga}`,
    filter.status === undefined ? undefined : `with status ${filter.status}`,
    filter.runIdPrefix === undefined ? undefined : `whose id starts with ${filter.runIdPrefix}`,
  ].filter((part) => part !== undefined);
  return parts.length === 0 ? '' : ` ${parts.join(' ')}`;
}

function runsTable(runs: readonly RunSummary[]): SafeHtml {
  return html`<table class="runs">
<caption>Runs, newest first</caption>
<thead><tr><th scope="col">Run</th><th scope="col">Saga</th><th scope="col">Status</th><th scope="col" class="num">Events</th><th scope="col">Started</th><th scope="col">Last event</th></tr></thead>
<tbody>
${runs.map(
  (run) => html`<tr>
<td><a class="run-id" href="run?id=${encodeURIComponent(run.runId)}">${run.runId}</a></td>
<td>${run.saga}</td>
<td><span class="badge ${run.status}">${run.status}</span></td>
<td class="num">${run.events}</td>
<td>${time(run.createdAt)}</td>
<td>${time(run.updatedAt)}</td>
</tr>
`,
)}</tbody>
</table>`;
}

function time(at: number): SafeHtml {
  const iso = new Date(at).toISOString();
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>`;
}

/** What the run page needs from the server: everything else arrives on its event stream. */
export interface RunPageModel {
  readonly runId: string;
  /** The session's token for actions. */
  readonly csrfToken: string;
  readonly readOnly: boolean;
}

/**
 * The run page: its frame, filled in by the page's script from the run's event stream.
 *
 * @remarks
 * Only the run id comes from outside here, escaped; all the run's contents are written by the
 * script as text nodes.
 */
export function runPage(model: RunPageModel): string {
  const head = html`<meta name="sagaflow-csrf" content="${model.csrfToken}">
<script type="module" src="assets/run-page.js"></script>
<link rel="modulepreload" href="assets/dag.js">
<link rel="modulepreload" href="assets/gantt.js">
<link rel="modulepreload" href="assets/dom.js">`;
  const body = html`<header class="top">
<p><a href="./">← All runs</a></p>
<h1>Run <code id="run-id">${model.runId}</code></h1>
<p class="summary"><span id="status" class="badge">loading</span> <span id="saga"></span> <span id="times"></span> <span id="live" role="status" aria-live="polite"></span></p>
</header>
<main id="main" data-run-id="${model.runId}" data-read-only="${model.readOnly ? 'true' : 'false'}">
<section id="problem" class="problem" hidden role="alert"></section>
<section id="store-state" class="problem" hidden role="status"></section>
<section aria-labelledby="actions-title" class="actions">
<h2 id="actions-title" class="visually-hidden">Actions</h2>
<button type="button" id="action-redrive" data-action="redrive" disabled>Redrive</button>
<button type="button" id="action-compensate" data-action="compensate" disabled>Compensate</button>
<button type="button" id="action-cancel" data-action="cancel" disabled>Cancel run</button>
<span id="action-note" class="note" role="status" aria-live="polite"></span>
</section>
<section id="outcome" class="outcome" hidden></section>
<section aria-labelledby="dag-title">
<h2 id="dag-title">Stages</h2>
<div id="dag" class="scroll"></div>
<ul id="legend" class="legend"></ul>
</section>
<section id="stage" class="stage-detail" aria-labelledby="stage-title" hidden>
<h2 id="stage-title">Stage</h2>
<dl id="stage-fields"></dl>
</section>
<section aria-labelledby="timeline-title">
<h2 id="timeline-title">Timeline</h2>
<div id="timeline" class="scroll"></div>
</section>
<div class="panels">
<section aria-labelledby="input-title"><h2 id="input-title">Input</h2><pre id="input" class="json"></pre></section>
<section aria-labelledby="outputs-title"><h2 id="outputs-title">Outputs</h2><div id="outputs"></div></section>
</div>
<section aria-labelledby="journal-title">
<h2 id="journal-title">Journal <span id="journal-count"></span></h2>
<ol id="journal" class="journal"></ol>
</section>
</main>
<dialog id="confirm" aria-labelledby="confirm-title">
<form method="dialog">
<h2 id="confirm-title"></h2>
<p id="confirm-text"></p>
<p id="confirm-reason" hidden><label>Reason <input id="reason" name="reason" autocomplete="off" value="cancelled from the inspector"></label></p>
<p class="buttons"><button type="submit" value="back" id="confirm-back">Back</button> <button type="submit" value="confirm" id="confirm-go">Confirm</button></p>
</form>
</dialog>`;
  return page(`Run ${model.runId}`, body, head);
}

/** A page that says what went wrong (an unknown run, a refused request). */
export function messagePage(title: string, message: string): string {
  return page(title, html`<main id="main"><h1>${title}</h1><p>${message}</p><p><a href="./">All runs</a></p></main>`);
}
