/** Where a value stops being plain JSON, and why. */
export interface JsonProblem {
  /** Path from the root, e.g. `output.items[2].at`. */
  readonly path: string;
  readonly problem: string;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const childPath = (path: string, key: string): string => (IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);

/**
 * Copies a value that must survive a JSON round-trip unchanged, or says where it would not.
 *
 * @remarks
 * Accepted: `null`, booleans, finite numbers, strings, arrays without holes, and plain objects
 * (prototype `Object.prototype` or `null`) of those. Object properties whose value is
 * `undefined` are dropped, as JSON drops them. Rejected: `undefined` in arrays, `NaN` and
 * `±Infinity`, bigints, symbols, functions, class instances (`Date`, `Map`, `Buffer`…) and
 * cycles. The copy is deeply frozen: it isolates the journal from later mutation by user code,
 * and no stage can change what another stage returned through `ctx.results`.
 */
export function copyJson(value: unknown, rootPath: string): { ok: true; value: unknown } | { ok: false; problem: JsonProblem } {
  const ancestors = new Set<object>();
  let failure: JsonProblem | undefined;

  const visit = (current: unknown, path: string): unknown => {
    switch (typeof current) {
      case 'string':
      case 'boolean':
        return current;
      case 'number':
        if (Number.isFinite(current)) return current;
        failure = { path, problem: `is ${String(current)}, which JSON cannot represent` };
        return undefined;
      case 'bigint':
        failure = { path, problem: 'is a bigint, which JSON cannot represent (convert it to a string)' };
        return undefined;
      case 'symbol':
        failure = { path, problem: 'is a symbol, which JSON cannot represent' };
        return undefined;
      case 'function':
        failure = { path, problem: 'is a function, which JSON cannot represent' };
        return undefined;
      case 'undefined':
        failure = { path, problem: 'is undefined inside an array, which JSON turns into null' };
        return undefined;
      case 'object': {
        if (current === null) return null;
        if (ancestors.has(current)) {
          failure = { path, problem: 'is a circular reference' };
          return undefined;
        }
        if (Array.isArray(current)) {
          ancestors.add(current);
          const copy: unknown[] = new Array<unknown>(current.length);
          for (let index = 0; index < current.length; index++) {
            if (!(index in current)) {
              failure = { path: `${path}[${index}]`, problem: 'is a hole in a sparse array, which JSON turns into null' };
              return undefined;
            }
            copy[index] = visit(current[index], `${path}[${index}]`);
            if (failure) return undefined;
          }
          ancestors.delete(current);
          return Object.freeze(copy);
        }
        const prototype: unknown = Object.getPrototypeOf(current);
        if (prototype !== Object.prototype && prototype !== null) {
          const kind = (current as { constructor?: { name?: string } }).constructor?.name ?? 'object';
          failure = {
            path,
            problem: `is a ${kind} instance, which does not survive a JSON round-trip (return plain objects${kind === 'Date' ? '; use an ISO string or epoch ms for dates' : ''})`,
          };
          return undefined;
        }
        ancestors.add(current);
        const copy: Record<string, unknown> = {};
        for (const key of Object.keys(current)) {
          const child = (current as Record<string, unknown>)[key];
          if (child === undefined) continue;
          copy[key] = visit(child, childPath(path, key));
          if (failure) return undefined;
        }
        if (Object.getOwnPropertySymbols(current).length > 0) {
          failure = { path, problem: 'has symbol keys, which JSON drops' };
          return undefined;
        }
        ancestors.delete(current);
        return Object.freeze(copy);
      }
      default:
        failure = { path, problem: 'is not JSON' };
        return undefined;
    }
  };

  if (value === undefined) return { ok: true, value: undefined };
  const copy = visit(value, rootPath);
  return failure === undefined ? { ok: true, value: copy } : { ok: false, problem: failure };
}

