import dagreModule from '@dagrejs/dagre';
import type { RecordedStageShape } from '../index.js';
import type { LayoutView } from './client/view-model.js';

/** A stage box's height, and how wide one character of its name makes it (SVG user units). */
const NODE_HEIGHT = 44;
const CHAR_WIDTH = 7.4;
/** Wide enough for the status line under the name ("✖ failed · 3 attempts"). */
const MIN_WIDTH = 168;
const PADDING = 16;

/** The part of dagre used here. Its own declarations import their siblings without extensions, which NodeNext resolution cannot follow, so they read as `any`. */
interface Dagre {
  readonly graphlib: { readonly Graph: new (options: { multigraph: boolean }) => LayoutGraph };
  layout(graph: LayoutGraph): void;
}
interface Point {
  readonly x: number;
  readonly y: number;
}
interface LayoutGraph {
  setGraph(label: { rankdir: 'LR' | 'TB'; nodesep: number; ranksep: number; marginx: number; marginy: number }): void;
  setDefaultEdgeLabel(label: () => object): void;
  setNode(name: string, label: { width: number; height: number }): void;
  setEdge(from: string, to: string): void;
  graph(): { width?: number; height?: number };
  node(name: string): { x: number; y: number; width: number; height: number };
  edges(): { v: string; w: string }[];
  edge(from: string, to: string): { points?: Point[] };
}
const dagre = dagreModule as unknown as Dagre;

const cache = new Map<string, LayoutView>();
const CACHE_LIMIT = 64;

/**
 * The DAG of a run's shape laid out left to right by dagre: a box per stage, a polyline per
 * dependency.
 *
 * @remarks
 * A layout depends on the shape alone, so it is made once per shape hash and shared by every run
 * of that shape (a few dozen kept): a saga's picture is the same from run to run.
 *
 * @param shapeHash - the shape's hash, the cache key.
 * @param shape - the stages and their dependencies, as journaled on `run.started`.
 */
export function layoutOf(shapeHash: string, shape: readonly RecordedStageShape[]): LayoutView {
  const cached = cache.get(shapeHash);
  if (cached !== undefined && cached.nodes.length === shape.length) return cached;
  const layout = computeLayout(shape);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(shapeHash, layout);
  return layout;
}

function computeLayout(shape: readonly RecordedStageShape[]): LayoutView {
  const graph = new dagre.graphlib.Graph({ multigraph: false });
  graph.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 56, marginx: PADDING, marginy: PADDING });
  graph.setDefaultEdgeLabel(() => ({}));
  // dagre is given ids of its own (`s0`, `s1`…), never the names: its graph keeps nodes in plain
  // objects and tests them with `in`, so a stage named 'constructor' or 'toString' was taken for a
  // node already there, and its edges were written onto the global Object function.
  const ids = new Map(shape.map((stage, index) => [stage.name, `s${index}`]));
  const names = new Map(shape.map((stage, index) => [`s${index}`, stage.name]));
  for (const stage of shape) {
    graph.setNode(ids.get(stage.name) ?? '', { width: Math.max(MIN_WIDTH, Math.ceil(stage.name.length * CHAR_WIDTH) + 2 * PADDING), height: NODE_HEIGHT });
  }
  for (const stage of shape) {
    for (const parent of stage.after) {
      const from = ids.get(parent);
      if (from !== undefined) graph.setEdge(from, ids.get(stage.name) ?? '');
    }
  }
  dagre.layout(graph);
  const label = graph.graph();
  const round = (value: number | undefined): number => Math.round((value ?? 0) * 10) / 10;
  return {
    width: Math.ceil(label.width ?? 0),
    height: Math.ceil(label.height ?? 0),
    nodes: shape.map((stage) => {
      const node = graph.node(ids.get(stage.name) ?? '');
      // dagre gives the centre; the page draws from the top-left corner.
      return { name: stage.name, x: round(node.x - node.width / 2), y: round(node.y - node.height / 2), width: node.width, height: node.height };
    }),
    edges: graph.edges().map((edge) => ({
      from: names.get(edge.v) ?? edge.v,
      to: names.get(edge.w) ?? edge.w,
      points: (graph.edge(edge.v, edge.w).points ?? []).map((point) => ({ x: round(point.x), y: round(point.y) })),
    })),
  };
}
