import { z } from 'zod';
import { StoreCorruptionError } from '../errors/store-errors.js';
import type { SignalRequest } from './saga-store.js';

const signalRequestsSchema = z.array(
  z.object({
    runId: z.string().min(1),
    signal: z.string().min(1),
    signalId: z.string().min(1),
    payload: z.unknown().optional(),
    /** The payload as JSON text, where the store's JSON type could not hold it as JSON (see {@link storableSignalRequest}). */
    payloadJson: z.string().optional(),
    requestedAt: z.number().optional(),
  }),
);

/**
 * A signal request as JSON text for a column of PostgreSQL's `jsonb`, which refuses strings
 * holding NUL (`\u0000`) or a lone surrogate: such a payload is kept as JSON text of its own
 * (`payloadJson`, whose escapes are plain characters to `jsonb`); any other request is written
 * as it always was. Internal to the stores.
 */
export function storableSignalRequest(request: SignalRequest): string {
  const text = JSON.stringify(request);
  // JSON.stringify writes NUL and lone surrogates (only those) as \u escapes.
  if (request.payload === undefined || !/\\u(?:0000|d[89a-f])/i.test(text)) return text;
  const { runId, signal, signalId, requestedAt } = request;
  return JSON.stringify({ runId, signal, signalId, payloadJson: JSON.stringify(request.payload), ...(requestedAt === undefined ? {} : { requestedAt }) });
}

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
  return parsed.data.map((request): SignalRequest => {
    const { runId: id, signal, signalId, payloadJson, requestedAt } = request;
    const sent = requestedAt === undefined ? { runId: id, signal, signalId } : { runId: id, signal, signalId, requestedAt };
    if (payloadJson !== undefined) {
      try {
        return { ...sent, payload: JSON.parse(payloadJson) as unknown };
      } catch (error) {
        throw new StoreCorruptionError(runId, undefined, `the payload of its pending signal request ${signalId} is not JSON`, { cause: error });
      }
    }
    return request.payload === undefined ? sent : { ...sent, payload: request.payload };
  });
}
