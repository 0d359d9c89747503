/** The inspector's stylesheet (served as `assets/inspector.css`; pages allow no inline style). */
export const INSPECTOR_CSS = `
:root {
  color-scheme: light;
  --text: #1f2937; --muted: #6b7280; --line: #d1d5db; --bg: #ffffff; --panel: #f9fafb; --accent: #1d4ed8;
  --not_started-bg: #f3f4f6; --not_started-fg: #6b7280;
  --running-bg: #dbeafe; --running-fg: #1d4ed8;
  --retrying-bg: #fef3c7; --retrying-fg: #b45309;
  --completed-bg: #dcfce7; --completed-fg: #15803d;
  --failed-bg: #fee2e2; --failed-fg: #b91c1c;
  --cancelled-bg: #ffedd5; --cancelled-fg: #c2410c;
  --compensating-bg: #f3e8ff; --compensating-fg: #7e22ce;
  --compensated-bg: #ede9fe; --compensated-fg: #6d28d9;
  --compensation_failed-bg: #fecaca; --compensation_failed-fg: #7f1d1d;
  --queued-bg: #e0f2fe; --queued-fg: #0369a1;
  --paused-bg: #fef9c3; --paused-fg: #854d0e;
  --rollback: #7c3aed;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
}
* { box-sizing: border-box; }
body { margin: 0; color: var(--text); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
code, pre, .run-id, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px 8px; z-index: 10; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
header.top { padding: 12px 24px; border-bottom: 1px solid var(--line); background: var(--panel); }
header.top h1 { margin: 0; font-size: 18px; }
header.top h1 a { color: inherit; text-decoration: none; }
header.top p { margin: 2px 0; color: var(--muted); }
main { padding: 12px 24px 48px; }
h2 { font-size: 15px; margin: 20px 0 8px; }
.chips { list-style: none; display: flex; flex-wrap: wrap; gap: 6px; padding: 0; margin: 0 0 12px; }
.chip { display: inline-block; padding: 3px 10px; border-radius: 999px; border: 1px solid var(--line); text-decoration: none; color: var(--text); background: #fff; }
.chip[aria-current="true"] { border-color: var(--accent); box-shadow: inset 0 0 0 1px var(--accent); }
.filters { display: flex; flex-wrap: wrap; gap: 12px; align-items: end; margin-bottom: 12px; }
.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
input, select, button { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px; background: #fff; color: var(--text); }
button { cursor: pointer; background: #f3f4f6; }
button:disabled { cursor: not-allowed; opacity: .55; }
table.runs { border-collapse: collapse; width: 100%; }
table.runs caption { text-align: left; color: var(--muted); padding-bottom: 4px; }
table.runs th, table.runs td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #eef0f3; white-space: nowrap; }
table.runs th { font-size: 12px; color: var(--muted); font-weight: 600; }
.num { text-align: right !important; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; background: var(--not_started-bg); color: var(--not_started-fg); }
${['running', 'retrying', 'completed', 'failed', 'cancelled', 'compensating', 'compensated', 'compensation_failed', 'queued', 'paused', 'not_started']
  .map((status) => `.badge.${status}, .chip.${status} strong { background: var(--${status}-bg); color: var(--${status}-fg); }`)
  .join('\n')}
.chip strong { padding: 0 6px; border-radius: 999px; }
.pager { display: flex; gap: 16px; margin-top: 12px; }
.pager span { color: var(--muted); }
.empty { color: var(--muted); }
.summary { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 8px 0; }
.note { color: var(--muted); }
.note.error, .problem { color: var(--failed-fg); }
.problem { border: 1px solid var(--failed-fg); background: var(--failed-bg); padding: 8px 12px; border-radius: 6px; }
.outcome { border-left: 4px solid var(--failed-fg); background: var(--failed-bg); padding: 8px 12px; border-radius: 4px; }
.outcome.cancelled { border-color: var(--cancelled-fg); background: var(--cancelled-bg); }
.outcome h2 { margin: 0 0 4px; }
.outcome pre { white-space: pre-wrap; margin: 4px 0 0; }
.scroll { overflow: auto; max-height: 70vh; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
svg text { font: 12px system-ui, sans-serif; fill: var(--text); }
svg .mono { font-family: ui-monospace, monospace; }
.node rect { stroke-width: 1.5; }
${['not_started', 'running', 'retrying', 'completed', 'failed', 'cancelled', 'compensating', 'compensated', 'compensation_failed']
  .map((status) => `.node.${status} rect.box { fill: var(--${status}-bg); stroke: var(--${status}-fg); } .node.${status} text.status { fill: var(--${status}-fg); }`)
  .join('\n')}
.node.retrying rect.box, .node.compensating rect.box { stroke-dasharray: 5 3; }
.node.failing rect.box { stroke-width: 3.5; }
.node text.status { font-size: 11px; }
.node { cursor: pointer; }
.node:focus { outline: none; }
.node:focus-visible rect.box, .node.selected rect.box { stroke: #f59e0b; stroke-width: 3.5; }
.edge { fill: none; stroke: #9ca3af; stroke-width: 1.4; }
.arrow { fill: #9ca3af; }
.rollback-path { fill: none; stroke: var(--rollback); stroke-width: 2; stroke-dasharray: 6 4; opacity: .8; }
.rollback-arrow { fill: var(--rollback); }
.step circle { fill: var(--rollback); stroke: #fff; stroke-width: 1.5; }
.step.pending circle { fill: #fff; stroke: var(--rollback); stroke-dasharray: 2 2; }
.step text { fill: #fff; font-weight: 700; font-size: 11px; }
.step.pending text { fill: var(--rollback); }
.mark-failed { fill: var(--failed-fg); font-weight: 700; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 10px; padding: 0; margin: 6px 0 0; font-size: 12px; color: var(--muted); }
.legend .swatch { display: inline-block; width: 12px; height: 12px; border-radius: 3px; vertical-align: -2px; margin-right: 4px; border: 1.5px solid; }
${['not_started', 'running', 'retrying', 'completed', 'failed', 'cancelled', 'compensating', 'compensated', 'compensation_failed']
  .map((status) => `.swatch.${status} { background: var(--${status}-bg); border-color: var(--${status}-fg); }`)
  .join('\n')}
.swatch.rollback { background: var(--rollback); border-color: var(--rollback); border-radius: 50%; }
.stage-detail dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
.stage-detail dt { color: var(--muted); }
.stage-detail dd { margin: 0; }
.stage-detail pre { margin: 0; white-space: pre-wrap; }
.gantt .lane-label { font-size: 12px; }
.gantt .axis line { stroke: #e5e7eb; }
.gantt .axis text { fill: var(--muted); font-size: 11px; }
.bar.completed { fill: var(--completed-fg); }
.bar.running { fill: var(--running-fg); }
.bar.retried { fill: var(--retrying-fg); }
.bar.failed { fill: var(--failed-fg); }
.bar.cancelled { fill: var(--cancelled-fg); }
.bar.interrupted { fill: #9ca3af; }
.bar.waiting { fill: url(#hatch); stroke: var(--retrying-fg); stroke-width: .8; }
.bar.compensate.completed { fill: var(--compensated-fg); }
.bar.compensate.running { fill: var(--compensating-fg); }
.bar.compensate.failed { fill: var(--compensation_failed-fg); }
.hatch-line { stroke: var(--retrying-fg); stroke-width: 1.5; }
.mark line { stroke-width: 1.5; stroke-dasharray: 4 3; }
.mark.cancel line { stroke: var(--cancelled-fg); } .mark.cancel text { fill: var(--cancelled-fg); }
.mark.rollback line { stroke: var(--rollback); } .mark.rollback text { fill: var(--rollback); }
.mark.paused line, .mark.resumed line { stroke: var(--paused-fg); } .mark.paused text, .mark.resumed text { fill: var(--paused-fg); }
.mark.settled line { stroke: #4b5563; } .mark.settled text { fill: #4b5563; }
.mark text { font-size: 11px; }
.panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 16px; }
pre.json { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px; overflow: auto; max-height: 40vh; margin: 0; white-space: pre-wrap; word-break: break-word; }
.journal { list-style: none; padding: 0; margin: 0; border: 1px solid var(--line); border-radius: 6px; max-height: 60vh; overflow: auto; }
/* Entries out of view are neither laid out nor painted: a journal of thousands draws as fast as a short one. */
.journal > li, #outputs > .disclosure { content-visibility: auto; contain-intrinsic-size: auto 27px; border-bottom: 1px solid #eef0f3; }
.disclose { display: flex; gap: 10px; width: 100%; text-align: left; border: 0; border-radius: 0; background: none; padding: 3px 8px; cursor: pointer; }
.disclose::before { content: "▸"; color: var(--muted); }
.disclose[aria-expanded="true"]::before { content: "▾"; }
.disclose:hover { background: var(--panel); }
.journal .seq { color: var(--muted); min-width: 4ch; text-align: right; }
.journal .at { color: var(--muted); min-width: 8ch; }
.journal pre, #outputs pre { margin: 0 8px 6px; }
.journal li.fresh .disclose { animation: fresh 1.2s ease-out; }
@keyframes fresh { from { background: #fef08a; } to { background: transparent; } }
.live-dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; background: #16a34a; margin-right: 4px; animation: pulse 1.5s infinite; }
@keyframes pulse { 50% { opacity: .3; } }
dialog { border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; max-width: 480px; }
dialog::backdrop { background: rgb(0 0 0 / .3); }
dialog h2 { margin-top: 0; }
dialog .buttons { display: flex; gap: 8px; justify-content: flex-end; }
#confirm-go { background: var(--accent); color: #fff; border-color: var(--accent); }
@media (prefers-reduced-motion: reduce) { * { animation: none !important; } }
`;
