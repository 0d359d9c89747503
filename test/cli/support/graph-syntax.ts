/**
 * Strict structural checks of the graphs `sagaflow graph` writes: every line must be one of the
 * few statement forms the CLI emits, written exactly as Mermaid's flowchart grammar and DOT's
 * grammar accept them, and the parsed nodes and edges are returned for comparison with the saga.
 * (A full Mermaid parser needs a DOM; see the CLI report.)
 */

/** What a graph declares. */
export interface ParsedGraph {
  /** Node id → label, decoded, in declaration order. */
  readonly nodes: Map<string, string>;
  /** Node ids drawn with rounded corners (stages with a compensation). */
  readonly rounded: Set<string>;
  /** Edges, in order. */
  readonly edges: Array<readonly [string, string]>;
}

class GraphSyntaxError extends Error {
  constructor(format: string, lineNumber: number, line: string, problem: string) {
    super(`${format} line ${lineNumber} (${JSON.stringify(line)}): ${problem}`);
  }
}

// Inside a quoted Mermaid label: no raw quote, and #, <, >, &, ` and control characters only as #NN; entity codes.
const MERMAID_LABEL = String.raw`((?:[^"#<>&\x60\x00-\x1f\x7f]|#\d+;)*)`;
const MERMAID_NODE = new RegExp(String.raw`^(s\d+)(?:\["${MERMAID_LABEL}"\]|\("${MERMAID_LABEL}"\))$`);
const MERMAID_EDGE = /^(s\d+) --> (s\d+)$/;
const MERMAID_COMMENT = /^%%[^\n]*$/;

/**
 * Parses a Mermaid flowchart as the CLI writes it.
 *
 * @throws an error naming the first line that is not valid.
 */
export function parseMermaidFlowchart(text: string): ParsedGraph {
  if (!text.endsWith('\n')) throw new Error('mermaid: the output does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines[0] !== 'flowchart TD') throw new GraphSyntaxError('mermaid', 1, lines[0] ?? '', "the first line must be 'flowchart TD'");
  const graph: ParsedGraph = { nodes: new Map(), rounded: new Set(), edges: [] };
  lines.slice(1).forEach((raw, index) => {
    const lineNumber = index + 2;
    if (!raw.startsWith('  ') || raw.trim() !== raw.slice(2)) throw new GraphSyntaxError('mermaid', lineNumber, raw, 'statements are indented by two spaces, without trailing space');
    const line = raw.slice(2);
    if (MERMAID_COMMENT.test(line)) return;
    const node = MERMAID_NODE.exec(line);
    if (node !== null) {
      const [, id = '', square, round] = node;
      if (graph.nodes.has(id)) throw new GraphSyntaxError('mermaid', lineNumber, raw, `node ${id} is declared twice`);
      if (graph.edges.length > 0) throw new GraphSyntaxError('mermaid', lineNumber, raw, 'nodes are declared before edges');
      graph.nodes.set(id, decodeMermaid(square ?? round ?? ''));
      if (round !== undefined) graph.rounded.add(id);
      return;
    }
    const edge = MERMAID_EDGE.exec(line);
    if (edge !== null) {
      const [, from = '', to = ''] = edge;
      for (const id of [from, to]) if (!graph.nodes.has(id)) throw new GraphSyntaxError('mermaid', lineNumber, raw, `edge uses undeclared node ${id}`);
      if (graph.edges.some(([a, b]) => a === from && b === to)) throw new GraphSyntaxError('mermaid', lineNumber, raw, 'duplicate edge');
      graph.edges.push([from, to]);
      return;
    }
    throw new GraphSyntaxError('mermaid', lineNumber, raw, 'not a comment, a node declaration id["label"] / id("label"), or an edge a --> b');
  });
  return graph;
}

function decodeMermaid(label: string): string {
  return label.replace(/#(\d+);/g, (_match, code: string) => String.fromCodePoint(Number(code)));
}

const DOT_STRING = String.raw`"((?:[^"\\\n]|\\.)*)"`;
const DOT_HEADER = new RegExp(String.raw`^digraph ${DOT_STRING} \{$`);
const DOT_NODE = new RegExp(String.raw`^(s\d+) \[label=${DOT_STRING}(, style=rounded)?\];$`);
const DOT_EDGE = /^(s\d+) -> (s\d+);$/;

/**
 * Parses a DOT digraph as the CLI writes it.
 *
 * @throws an error naming the first line that is not valid.
 */
export function parseDot(text: string): ParsedGraph & { readonly name: string } {
  if (!text.endsWith('\n')) throw new Error('dot: the output does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  const header = DOT_HEADER.exec(lines[0] ?? '');
  if (header === null) throw new GraphSyntaxError('dot', 1, lines[0] ?? '', 'the first line must be digraph "name" {');
  if (lines[lines.length - 1] !== '}') throw new GraphSyntaxError('dot', lines.length, lines[lines.length - 1] ?? '', 'the last line must close the graph');
  if (lines[1] !== '  rankdir=TB;' || lines[2] !== '  node [shape=box];') throw new GraphSyntaxError('dot', 2, lines[1] ?? '', 'expected the graph attributes rankdir=TB; node [shape=box];');
  const graph = { name: decodeDot(header[1] ?? ''), nodes: new Map<string, string>(), rounded: new Set<string>(), edges: [] as Array<readonly [string, string]> };
  lines.slice(3, -1).forEach((raw, index) => {
    const lineNumber = index + 4;
    if (!raw.startsWith('  ')) throw new GraphSyntaxError('dot', lineNumber, raw, 'statements are indented by two spaces');
    const line = raw.slice(2);
    const node = DOT_NODE.exec(line);
    if (node !== null) {
      const [, id = '', label = '', rounded] = node;
      if (graph.nodes.has(id)) throw new GraphSyntaxError('dot', lineNumber, raw, `node ${id} is declared twice`);
      graph.nodes.set(id, decodeDot(label));
      if (rounded !== undefined) graph.rounded.add(id);
      return;
    }
    const edge = DOT_EDGE.exec(line);
    if (edge !== null) {
      const [, from = '', to = ''] = edge;
      for (const id of [from, to]) if (!graph.nodes.has(id)) throw new GraphSyntaxError('dot', lineNumber, raw, `edge uses undeclared node ${id}`);
      graph.edges.push([from, to]);
      return;
    }
    throw new GraphSyntaxError('dot', lineNumber, raw, 'not a node statement id [label="…"]; or an edge a -> b;');
  });
  return graph;
}

function decodeDot(text: string): string {
  return text.replace(/\\(.)/g, (_match, character: string) => (character === 'n' ? '\n' : character));
}

/** A saga's DAG as the graph should show it: labels in declaration order, edges parent → child, compensable stages. */
export function expectedGraph(saga: { readonly stages: readonly { readonly name: string; readonly after: readonly string[]; readonly compensate?: unknown }[] }): {
  labels: string[];
  edges: Array<[string, string]>;
  compensable: string[];
} {
  return {
    labels: saga.stages.map((stage) => stage.name),
    edges: saga.stages.flatMap((stage) => stage.after.map((parent): [string, string] => [parent, stage.name])),
    compensable: saga.stages.filter((stage) => stage.compensate !== undefined).map((stage) => stage.name),
  };
}

/** The parsed graph in the same terms as {@link expectedGraph}. */
export function actualGraph(graph: ParsedGraph): { labels: string[]; edges: Array<[string, string]>; compensable: string[] } {
  const label = (id: string): string => graph.nodes.get(id) ?? `?${id}`;
  return {
    labels: [...graph.nodes.values()],
    edges: graph.edges.map(([from, to]): [string, string] => [label(from), label(to)]),
    compensable: [...graph.rounded].map(label),
  };
}
