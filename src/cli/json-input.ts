import { readFileSync } from 'node:fs';
import { CliUsageError } from './exit-codes.js';

/**
 * The input of `sagaflow start`: JSON text, `@PATH` to read it from a file, or `{}` when absent.
 *
 * @throws {@link CliUsageError} for a file that cannot be read or text that is not JSON.
 */
export function parseJsonInput(text: string | undefined): unknown {
  if (text === undefined) return {};
  let json = text;
  let from = 'the input argument';
  if (text.startsWith('@')) {
    const path = text.slice(1);
    from = `the file ${path}`;
    try {
      json = readFileSync(path, 'utf8');
    } catch (error) {
      throw new CliUsageError(`Cannot read the input file ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)}): pass @PATH of a JSON file, or the JSON itself.`, {
        cause: error,
      });
    }
  }
  try {
    return JSON.parse(json) as unknown;
  } catch (error) {
    throw new CliUsageError(
      `The input in ${from} is not JSON (${error instanceof Error ? error.message : String(error)}): pass it as JSON, e.g. '{"orderId":"o-1"}' (quoted for the shell), or as @PATH of a JSON file.`,
      { cause: error },
    );
  }
}
