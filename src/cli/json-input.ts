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
  // The text as received: the shell may have eaten the quotes JSON needs (`{"a":1}` unquoted is `{a:1}`).
  let subject = `The input argument (as received: ${text.length > 80 ? `${text.slice(0, 77)}...` : text})`;
  if (text.startsWith('@')) {
    const path = text.slice(1);
    subject = `The input in the file ${path}`;
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
      `${subject} is not JSON (${error instanceof Error ? error.message : String(error)}): pass it as JSON, e.g. '{"orderId":"o-1"}' (quoted for the shell), or as @PATH of a JSON file.`,
      { cause: error },
    );
  }
}
