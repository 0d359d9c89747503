import { CliUsageError, ExitCode } from '../exit-codes.js';
import { orList } from '../format.js';
import { GRAPH_FORMATS, toDot, toMermaid, type GraphFormat } from '../graph-format.js';
import type { CliIo } from '../io.js';
import { loadSagaModule } from '../load-sagas.js';

/** Options of `sagaflow graph`. */
export interface GraphCommandOptions {
  /** The export to draw, when the module exports several sagas. */
  readonly export?: string;
  /** `mermaid` (default) or `dot`. */
  readonly format: string;
}

/**
 * `sagaflow graph <module>`: prints a saga's DAG as a Mermaid flowchart or Graphviz DOT.
 *
 * @throws {@link CliUsageError} for a bad format, a module without sagas, or an unknown or
 * missing `--export`.
 */
export async function graphCommand(modulePath: string, options: GraphCommandOptions, io: CliIo): Promise<ExitCode> {
  const format = GRAPH_FORMATS.find((candidate) => candidate === options.format);
  if (format === undefined) throw new CliUsageError(`Unknown graph format '${options.format}': use ${orList(GRAPH_FORMATS)}.`);
  const module = await loadSagaModule(modulePath);
  const listing = module.sagas.map((entry) => (entry.exportName === entry.saga.name ? entry.exportName : `${entry.exportName}: saga ${entry.saga.name}`));
  let chosen = module.sagas[0];
  if (options.export !== undefined) {
    chosen = module.sagas.find((entry) => entry.exportName === options.export);
    if (chosen === undefined) throw new CliUsageError(`The module ${modulePath} has no saga export '${options.export}': it exports ${orList(listing)}.`);
  } else if (module.sagas.length > 1) {
    throw new CliUsageError(`The module ${modulePath} exports ${module.sagas.length} sagas (${listing.join(', ')}): pick one with --export NAME.`);
  }
  if (chosen === undefined) throw new CliUsageError(`The module ${modulePath} exports no saga.`);
  io.stdout.write(render(format, chosen.saga));
  return ExitCode.Completed;
}

function render(format: GraphFormat, saga: Parameters<typeof toMermaid>[0]): string {
  switch (format) {
    case 'mermaid':
      return toMermaid(saga);
    case 'dot':
      return toDot(saga);
  }
}
