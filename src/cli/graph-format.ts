import type { AnySaga } from '../index.js';

/** The graph formats `sagaflow graph` writes. */
export const GRAPH_FORMATS = ['mermaid', 'dot'] as const;

/** One of {@link GRAPH_FORMATS}. */
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

/** The node id of a stage: its position, so that no stage name can clash with the syntax. */
const nodeId = (index: number): string => `s${index}`;

/**
 * A saga's DAG as a Mermaid flowchart: one node per stage (rounded when the stage has a
 * compensation), one edge per dependency.
 */
export function toMermaid(saga: AnySaga): string {
  const index = new Map(saga.stages.map((stage) => [stage.name, stage.index]));
  const lines = ['flowchart TD', `  %% saga ${mermaidComment(saga.name)} v${mermaidComment(saga.version)}: rounded stages have a compensation`];
  for (const stage of saga.stages) {
    const label = `"${mermaidLabel(stage.name)}"`;
    lines.push(`  ${nodeId(stage.index)}${stage.compensate === undefined ? `[${label}]` : `(${label})`}`);
  }
  for (const stage of saga.stages) {
    for (const parent of stage.after) lines.push(`  ${nodeId(index.get(parent) ?? -1)} --> ${nodeId(stage.index)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A saga's DAG in Graphviz DOT: one node per stage (rounded when it has a compensation), one edge per dependency. */
export function toDot(saga: AnySaga): string {
  const index = new Map(saga.stages.map((stage) => [stage.name, stage.index]));
  const lines = [`digraph ${dotString(saga.name)} {`, '  rankdir=TB;', '  node [shape=box];'];
  for (const stage of saga.stages) {
    lines.push(`  ${nodeId(stage.index)} [label=${dotString(stage.name)}${stage.compensate === undefined ? '' : ', style=rounded'}];`);
  }
  for (const stage of saga.stages) {
    for (const parent of stage.after) lines.push(`  ${nodeId(index.get(parent) ?? -1)} -> ${nodeId(stage.index)};`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/**
 * Text inside a quoted Mermaid label: characters the syntax gives a meaning to (`"`, `#`, `<`,
 * `>`, `&`, backticks) and control characters become `#NN;` entity codes.
 */
export function mermaidLabel(text: string): string {
  return text.replace(/["#<>&`\u0000-\u001f\u007f]/g, (character) => `#${character.codePointAt(0) ?? 0};`);
}

/** Text in a `%%` comment: on one line. */
function mermaidComment(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

/** A DOT double-quoted string. */
export function dotString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
}
