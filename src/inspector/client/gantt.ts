import { duration, s } from './dom.js';
import type { TimelineBar, TimelineView } from './view-model.js';

const LABEL_WIDTH = 190;
const ROW_HEIGHT = 22;
const BAR_HEIGHT = 14;
const TOP = 34;
/** Room under the rows for the moments' labels, on two alternating lines. */
const MARK_LABELS = 30;

const OUTCOME_WORD: Readonly<Record<TimelineBar['outcome'], string>> = {
  running: 'running',
  completed: 'completed',
  retried: 'failed, retried',
  failed: 'failed',
  cancelled: 'cancelled',
  interrupted: 'interrupted',
  waiting: 'waiting to retry',
};

/**
 * Draws the timeline: a row per stage (and one per compensated stage) with a bar per attempt and
 * per wait before a retry, and the run's moments (cancel, rollback, pause, resume, end) as lines
 * across.
 */
export function drawTimeline(container: HTMLElement, timeline: TimelineView, containerWidth: number): void {
  const rows: { key: string; label: string; lane: TimelineBar['lane']; bars: TimelineBar[] }[] = [];
  const rowOf = new Map<string, (typeof rows)[number]>();
  for (const bar of timeline.bars) {
    const key = `${bar.lane}\u0000${bar.stage}`;
    let row = rowOf.get(key);
    if (row === undefined) {
      row = { key, label: bar.lane === 'execute' ? bar.stage : `${bar.stage} ↺ compensate`, lane: bar.lane, bars: [] };
      rowOf.set(key, row);
      rows.push(row);
    }
    row.bars.push(bar);
  }
  const span = Math.max(1, timeline.end - timeline.start);
  const chartWidth = Math.max(480, containerWidth - LABEL_WIDTH - 24);
  const width = LABEL_WIDTH + chartWidth + 12;
  const rowsBottom = TOP + rows.length * ROW_HEIGHT;
  const height = rowsBottom + (timeline.marks.length === 0 ? 8 : MARK_LABELS);
  const x = (at: number): number => LABEL_WIDTH + ((at - timeline.start) / span) * chartWidth;
  const svg = s('svg', {
    class: 'gantt',
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': `Timeline: ${timeline.bars.filter((bar) => bar.kind === 'attempt').length} attempts over ${duration(span)}`,
  });
  svg.append(
    s(
      'defs',
      {},
      s('pattern', { id: 'hatch', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' }, s('line', { x1: 0, y1: 0, x2: 0, y2: 6, class: 'hatch-line' })),
    ),
  );
  const axis = s('g', { class: 'axis' });
  const step = tickStep(span);
  for (let offset = 0; offset <= span; offset += step) {
    const at = x(timeline.start + offset);
    axis.append(s('line', { x1: at, y1: TOP - 6, x2: at, y2: height }), s('text', { x: at + 2, y: TOP - 10 }, `+${duration(offset)}`));
  }
  svg.append(axis);
  rows.forEach((row, index) => {
    const y = TOP + index * ROW_HEIGHT;
    svg.append(s('text', { x: 8, y: y + 15, class: `lane-label${row.lane === 'execute' ? ' mono' : ''}` }, row.label));
    for (const bar of row.bars) {
      const start = x(bar.start);
      const end = x(bar.end ?? timeline.end);
      const took = (bar.end ?? timeline.end) - bar.start;
      const what = bar.kind === 'retry-wait' ? `wait before attempt ${bar.attempt + 1}` : `${bar.lane === 'execute' ? 'attempt' : 'compensation attempt'} ${bar.attempt}`;
      svg.append(
        s(
          'rect',
          { class: `bar ${bar.lane} ${bar.outcome}`, x: start, y: y + (ROW_HEIGHT - BAR_HEIGHT) / 2, width: Math.max(2, end - start), height: BAR_HEIGHT, rx: 2 },
          s('title', {}, `${bar.stage}: ${what}, ${OUTCOME_WORD[bar.outcome]}${bar.end === undefined ? ' (so far)' : ''}, ${duration(took)}${bar.note === undefined ? '' : ` — ${bar.note}`}`),
        ),
      );
    }
  });
  timeline.marks.forEach((mark, index) => {
    const at = x(mark.at);
    svg.append(
      s(
        'g',
        { class: `mark ${mark.kind}` },
        s('line', { x1: at, y1: TOP - 4, x2: at, y2: rowsBottom + (index % 2 === 0 ? 4 : 16) }),
        s('text', { x: at > width - 160 ? at - 3 : at + 3, y: rowsBottom + (index % 2 === 0 ? 13 : 25), 'text-anchor': at > width - 160 ? 'end' : 'start' }, mark.label),
      ),
    );
  });
  container.replaceChildren(svg);
}

/** A round step between ticks: about eight over the span. */
function tickStep(span: number): number {
  const raw = span / 8;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const nice = [1, 2, 5, 10].find((factor) => factor * magnitude >= raw) ?? 10;
  return Math.max(1, nice * magnitude);
}
