import { z } from 'zod';
import { StoreCorruptionError } from '../errors/store-errors.js';
import type { SignalRequest } from './saga-store.js';

const signalRequestsSchema = z.array(
  z.object({
    runId: z.string().min(1),
    signal: z.string().min(1),
    signalId: z.string().min(1),
    payload: z.unknown().optional(),
  }),
);

/**
 * The signal requests a store keeps on a run, as JSON text, checked as they are read back.
 * Internal to the stores.
 *
 * @throws `StoreCorruptionError` when the text is not a list of signal requests.
 */
export function parseSignalRequests(runId: string, text: string): SignalRequest[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new StoreCorruptionError(runId, undefined, 'its pending signal requests are not JSON', { cause: error });
  }
  const parsed = signalRequestsSchema.safeParse(value);
  if (!parsed.success) throw new StoreCorruptionError(runId, undefined, `its pending signal requests are not valid: ${parsed.error.message}`, { cause: parsed.error });
  return parsed.data.map((request) => (request.payload === undefined ? { runId: request.runId, signal: request.signal, signalId: request.signalId } : request));
}
