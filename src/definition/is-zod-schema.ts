import type { ZodType } from 'zod';

/**
 * Whether a value given as a schema is one (an object with a `safeParse` method), read without
 * letting a throwing getter or a revoked Proxy escape: such a value is not a schema, and `build()`
 * says so of its field (`must be a zod schema`) instead of throwing what the read threw.
 *
 * @internal
 */
export function isZodSchema(value: unknown): value is ZodType {
  try {
    return typeof value === 'object' && value !== null && typeof (value as { safeParse?: unknown }).safeParse === 'function';
  } catch {
    return false;
  }
}
