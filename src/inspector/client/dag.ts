import { s } from './dom.js';
import type { LayoutView, RunView, StageTone, StageView } from './view-model.js';

/** Words for each colour, for labels and the legend. */
export const TONE_LABEL: Readonly<Record<StageTone, string>> = {
  not_started: 'not started',
  running: 'running',
  retrying: 'waiting to retry',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
  compensating: 'compensating',
  compensated: 'compensated',
  compensation_failed: 'compensation failed',
};

interface DrawnNode {
  readonly group: SVGGElement;
  readonly status: SVGTextElement;
  readonly title: SVGTitleElement;
  readonly box: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
}

/**
 * The run's DAG as SVG: one box per stage (coloured by its status, the failing stage marked),
 * arrows for dependencies, and the rollback drawn over it: a numbered badge per stage to undo and a
 * dashed path through them in the order they are undone.
 *
 * @remarks
 * The boxes are drawn once per layout; each update only changes classes and texts, so a selected
 * or focused stage stays so.
 */
export class DagView {
  private readonly nodes = new Map<string, DrawnNode>();
  /** The rollback's path and its numbered badges, over the boxes. */
  private readonly rollbackPath = s('g', { class: 'rollback' });
  private readonly rollbackSteps = s('g', { class: 'rollback' });
  private selected: string | undefined;

  constructor(
    private readonly container: HTMLElement,
    layout: LayoutView,
    private readonly onSelect: (stage: string) => void,
  ) {
    // Room on the right for the rollback path's bow round the last column.
    const width = layout.width + 56;
    const svg = s('svg', { width, height: layout.height, viewBox: `0 0 ${width} ${layout.height}`, role: 'group', 'aria-label': 'Stages and their dependencies' });
    svg.append(
      s(
        'defs',
        {},
        s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' })),
        s('marker', { id: 'rollback-arrow', viewBox: '0 0 10 10', refX: 8, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto' }, s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'rollback-arrow' })),
      ),
    );
    const edges = s('g', { 'aria-hidden': 'true' });
    for (const edge of layout.edges) {
      const d = edge.points.map((point, index) => `${index === 0 ? 'M' : 'L'}${point.x},${point.y}`).join(' ');
      edges.append(s('path', { d, class: 'edge', 'marker-end': 'url(#arrow)' }));
    }
    svg.append(edges);
    const boxes = s('g');
    for (const node of layout.nodes) {
      const title = s('title');
      const status = s('text', { x: node.x + 10, y: node.y + 34, class: 'status' });
      const group = s(
        'g',
        { class: 'node not_started', tabindex: 0, role: 'button', 'data-stage': node.name },
        title,
        s('rect', { class: 'box', x: node.x, y: node.y, width: node.width, height: node.height, rx: 7 }),
        s('text', { x: node.x + 10, y: node.y + 18, class: 'name mono' }, node.name),
        status,
      );
      group.addEventListener('click', () => this.select(node.name));
      group.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          this.select(node.name);
        }
      });
      boxes.append(group);
      this.nodes.set(node.name, { group, status, title, box: node });
    }
    svg.append(boxes, this.rollbackPath, this.rollbackSteps);
    container.replaceChildren(svg);
  }

  /** Colours and labels the stages, and draws the rollback, from a new view. */
  update(view: RunView): void {
    for (const stage of view.stages) {
      const drawn = this.nodes.get(stage.name);
      if (drawn === undefined) continue;
      const label = describe(stage);
      drawn.group.setAttribute('class', `node ${stage.tone}${stage.failing ? ' failing' : ''}${this.selected === stage.name ? ' selected' : ''}`);
      drawn.group.setAttribute('aria-label', `stage ${stage.name}: ${label}${stage.rollbackStep === undefined ? '' : `; rollback step ${stage.rollbackStep}`}`);
      drawn.group.setAttribute('aria-pressed', this.selected === stage.name ? 'true' : 'false');
      drawn.status.textContent = `${stage.failing ? '✖ ' : ''}${label}`;
      drawn.title.textContent = `${stage.name}: ${label}`;
    }
    this.drawRollback(view);
  }

  private select(stage: string): void {
    this.selected = stage;
    for (const [name, drawn] of this.nodes) {
      drawn.group.classList.toggle('selected', name === stage);
      drawn.group.setAttribute('aria-pressed', name === stage ? 'true' : 'false');
    }
    this.onSelect(stage);
  }

  private drawRollback(view: RunView): void {
    const steps = view.stages
      .filter((stage) => stage.rollbackStep !== undefined)
      .sort((a, b) => (a.rollbackStep ?? 0) - (b.rollbackStep ?? 0));
    const paths: SVGElement[] = [];
    const badges: SVGElement[] = [];
    // The path runs from badge to badge (the boxes' top-right corners), bowed out to the right
    // of both boxes, so that it stays visible whichever way the stages are stacked.
    const corner = (name: string): { x: number; y: number } | undefined => {
      const box = this.nodes.get(name)?.box;
      return box === undefined ? undefined : { x: box.x + box.width - 2, y: box.y + 2 };
    };
    for (let index = 1; index < steps.length; index++) {
      const from = corner(steps[index - 1]?.name ?? '');
      const to = corner(steps[index]?.name ?? '');
      if (from === undefined || to === undefined) continue;
      const cx = Math.max(from.x, to.x) + 24 + Math.abs(to.y - from.y) * 0.25;
      const cy = (from.y + to.y) / 2;
      paths.push(s('path', { d: `M${from.x + 10},${from.y} Q${cx},${cy} ${to.x + 10},${to.y}`, class: 'rollback-path', 'marker-end': 'url(#rollback-arrow)', 'aria-hidden': 'true' }));
    }
    for (const stage of steps) {
      const box = this.nodes.get(stage.name)?.box;
      if (box === undefined) continue;
      const done = stage.compensation?.status === 'completed';
      const cx = box.x + box.width - 2;
      const cy = box.y + 2;
      badges.push(
        s(
          'g',
          { class: `step${done ? '' : ' pending'}`, 'aria-hidden': 'true', 'data-step': stage.rollbackStep ?? 0, 'data-stage': stage.name },
          s('circle', { cx, cy, r: 10 }),
          s('text', { x: cx, y: cy + 4, 'text-anchor': 'middle' }, String(stage.rollbackStep ?? '')),
        ),
      );
    }
    this.rollbackPath.replaceChildren(...paths);
    this.rollbackSteps.replaceChildren(...badges);
  }
}

/** A stage's status in words, with its attempts. */
export function describe(stage: StageView): string {
  const attempts = stage.attempts > 1 ? ` · ${stage.attempts} attempts` : '';
  const unknown = stage.outcomeUnknown ? ' · outcome unknown' : '';
  return `${TONE_LABEL[stage.tone]}${attempts}${unknown}`;
}
