/**
 * Deeply freezes a JSON value read back from a store, so a resumed run's outputs and input are as
 * immutable as those of a run started here (the runtime freezes the copies it makes of them).
 * Already-frozen values are left alone: values the runtime made itself cost one check.
 */
export function freezeJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  for (const child of Object.values(value as Record<string, unknown>)) freezeJson(child);
  return value;
}
