import { v7 as uuidv7 } from 'uuid';

/** The 16 bytes of the id being made: `uuid` writes them, {@link timeOrderedId} formats them. */
const bytes = new Uint8Array(16);
/** The id's text as latin1 bytes; the dashes stay where they are. */
const text = Buffer.from('00000000-0000-0000-0000-000000000000', 'latin1');
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** Where each byte's two hex digits go in {@link text}. */
const DIGIT_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34] as const;

/**
 * A new uuid v7 (time-ordered, monotonic within this process), as lowercase text: the default id
 * of a run and of a signal.
 *
 * @remarks
 * The bytes are `uuid`'s own `v7()` (its clock, counter and random source); only the formatting
 * is done here, into one reused buffer decoded once: `uuid`'s string form is built from 36
 * concatenations, about 30 short-lived objects per id on the path of every `start()`.
 */
export function timeOrderedId(): string {
  uuidv7(undefined, bytes);
  for (let index = 0; index < 16; index++) {
    const byte = bytes[index] as number;
    const at = DIGIT_AT[index] as number;
    text[at] = HEX_DIGITS[byte >> 4] as number;
    text[at + 1] = HEX_DIGITS[byte & 15] as number;
  }
  return text.toString('latin1');
}
