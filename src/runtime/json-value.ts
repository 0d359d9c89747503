import { describeThrown, setField } from '../errors/safe-read.js';

/** Where a value stops being plain JSON, and why. */
export interface JsonProblem {
  /** Path from the root, e.g. `output.items[2].at`. */
  readonly path: string;
  readonly problem: string;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const keySegment = (key: string): string => (IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);

/**
 * Levels of nesting a value may have: `JSON.stringify` itself overflows the stack a few thousand
 * levels down, so deeper values would not survive the store.
 */
const MAX_DEPTH = 1_000;

/** What {@link JsonCopier.visit} returns when the value is not JSON; the copier says why and where. */
const NOT_JSON: unique symbol = Symbol('not JSON');

/** Ancestors looked up by walking the path up to this depth; a Set beyond it. */
const PATH_SCAN_DEPTH = 32;

/**
 * Deep copies, one at a time; reused (see {@link copyJsonValue}). Paths are only built for a
 * failure, segment by segment on the way back up, so a value that is JSON costs no strings.
 */
class JsonCopier {
  /** The objects from the root down to the one being copied, to find cycles. */
  private readonly path: object[] = [];
  /** The same objects, once the path is deeper than {@link PATH_SCAN_DEPTH}. */
  private pathSet: Set<object> | undefined;
  private depth = 0;
  problem = '';
  /** The failing value's class, when it failed as an instance of one (see {@link copyJson}'s `instance`). */
  instance: string | undefined;
  /** The failing value's path segments, innermost first; made by the first failure. */
  segments: string[] | undefined;

  /** Forgets the last copy (a failed one leaves its path behind). */
  reset(): void {
    const path = this.path;
    while (path.length > 0) path.pop();
    this.pathSet = undefined;
    this.depth = 0;
    this.problem = '';
    this.instance = undefined;
    this.segments = undefined;
  }

  private fail(problem: string): typeof NOT_JSON {
    this.problem = problem;
    return NOT_JSON;
  }

  /** Adds a segment of the failing value's path (called on the way back up). */
  private segment(segment: string): typeof NOT_JSON {
    (this.segments ??= []).push(segment);
    return NOT_JSON;
  }

  private onPath(current: object): boolean {
    const path = this.path;
    if (this.pathSet !== undefined) return this.pathSet.has(current);
    for (let index = 0; index < path.length; index++) if (path[index] === current) return true;
    return false;
  }

  private enter(current: object): void {
    this.path.push(current);
    if (this.pathSet !== undefined) this.pathSet.add(current);
    else if (this.path.length > PATH_SCAN_DEPTH) this.pathSet = new Set(this.path);
  }

  private leave(current: object): void {
    this.path.pop();
    this.pathSet?.delete(current);
  }

  visit(current: unknown): unknown {
    switch (typeof current) {
      case 'string':
      case 'boolean':
        return current;
      case 'number':
        // -0 is written as 0: the copy is what the store will give back.
        return Number.isFinite(current) ? (current === 0 ? 0 : current) : this.fail(`is ${String(current)}, which JSON cannot represent`);
      case 'bigint':
        return this.fail('is a bigint, which JSON cannot represent (convert it to a string)');
      case 'symbol':
        return this.fail('is a symbol, which JSON cannot represent');
      case 'function':
        return this.fail('is a function, which JSON cannot represent');
      case 'undefined':
        return this.fail('is undefined inside an array, which JSON turns into null');
      case 'object':
        if (current === null) return null;
        if (this.depth >= MAX_DEPTH) return this.fail(`is nested more than ${MAX_DEPTH} levels deep, more than JSON can reliably hold`);
        // A getter or a Proxy trap may throw (a revoked Proxy throws on every look): say where.
        this.depth++;
        try {
          return this.visitObject(current);
        } catch (error) {
          return this.fail(`could not be read: looking at it threw ${describeThrown(error)}`);
        } finally {
          this.depth--;
        }
      default:
        return this.fail('is not JSON');
    }
  }

  private visitObject(current: object): unknown {
    if (this.onPath(current)) return this.fail('is a circular reference');
    if (Array.isArray(current)) {
      this.enter(current);
      const copy: unknown[] = new Array<unknown>(current.length);
      for (let index = 0; index < current.length; index++) {
        let child: unknown;
        try {
          child = index in current ? this.visit(current[index]) : this.fail('is a hole in a sparse array, which JSON turns into null');
        } catch (error) {
          child = this.fail(`could not be read: reading it threw ${describeThrown(error)}`);
        }
        if (child === NOT_JSON) return this.segment(`[${index}]`);
        copy[index] = child;
      }
      this.leave(current);
      return Object.freeze(copy);
    }
    const prototype: unknown = Object.getPrototypeOf(current);
    if (prototype !== Object.prototype && prototype !== null) {
      const kind = constructorName(prototype);
      this.instance = kind;
      return this.fail(`is a ${kind} instance, which does not survive a JSON round-trip (${instanceAdvice(current, kind)})`);
    }
    this.enter(current);
    const copy: Record<string, unknown> = {};
    for (const key of Object.keys(current)) {
      let value: unknown;
      try {
        value = (current as Record<string, unknown>)[key];
      } catch (error) {
        this.fail(`could not be read: reading it threw ${describeThrown(error)}`);
        return this.segment(keySegment(key));
      }
      if (value === undefined) continue;
      const child = this.visit(value);
      if (child === NOT_JSON) return this.segment(keySegment(key));
      setField(copy, key, child);
    }
    if (Object.getOwnPropertySymbols(current).length > 0) return this.fail('has symbol keys, which JSON drops');
    this.leave(current);
    return Object.freeze(copy);
  }
}

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
 *
 * It never throws: a getter or a Proxy trap that throws (a revoked Proxy), a `toJSON` is not
 * called (a class instance is refused before), and a value nested deeper than 1,000 levels are
 * all reported as a problem at their path (`output.body: could not be read: TypeError: …`).
 * `instance` names the failing value's class when it is an instance of one (`'Date'`), for advice
 * that depends on where the value came from.
 */
export function copyJson(value: unknown, rootPath: string): { ok: true; value: unknown } | { ok: false; problem: JsonProblem; instance?: string } {
  const copy = copyJsonValue(value, rootPath);
  if (!(copy instanceof NotJson)) return { ok: true, value: copy };
  return copy.instance === undefined ? { ok: false, problem: copy.problem } : { ok: false, problem: copy.problem, instance: copy.instance };
}

/** What {@link copyJsonValue} returns for a value that is not JSON: where, and why. */
export class NotJson {
  constructor(
    readonly problem: JsonProblem,
    /** The failing value's class, when it is an instance of one. */
    readonly instance?: string,
  ) {}
}

/**
 * {@link copyJson} for the hot path: the copy itself, or a {@link NotJson} saying where the value
 * stops being JSON (never a copy: a copy is a primitive or a new plain object or array), so that a
 * value that is JSON costs no result object.
 */
export function copyJsonValue(value: unknown, rootPath: string): unknown {
  if (value === undefined || value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value === 0 ? 0 : value;
  // One copier serves every copy, taken while in use: a copy made meanwhile (by a getter of the
  // value being copied) gets its own.
  const copier = spareCopier ?? new JsonCopier();
  spareCopier = undefined;
  try {
    const copy = copier.visit(value);
    if (copy !== NOT_JSON) return copy;
    return new NotJson({ path: rootPath + (copier.segments ?? []).reverse().join(''), problem: copier.problem }, copier.instance);
  } finally {
    copier.reset();
    spareCopier = copier;
  }
}

/** The copier {@link copyJsonValue} reuses; `undefined` while a copy is being made. */
let spareCopier: JsonCopier | undefined;

/**
 * What to do instead of returning an instance of `kind`: a promise inside a value is a missing
 * `await` (the stage's own promise is awaited, one nested in what it returns is not), and the
 * usual containers have a one-call plain equivalent.
 */
function instanceAdvice(value: object, kind: string): string {
  if (isThenable(value)) return 'a missing await? await it and return what it resolves to';
  switch (kind) {
    case 'Date':
      return 'return plain objects; use an ISO string or epoch ms for dates';
    case 'Map':
      return 'return plain objects; Object.fromEntries(map) makes one of a Map with string keys';
    case 'Set':
      return 'return plain objects; [...set] makes an array of a Set';
    default:
      return 'return plain objects';
  }
}

/** Whether a value is a promise or another thenable; a `then` that cannot be read (a throwing getter, a revoked Proxy) is not one. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  try {
    return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
  } catch {
    return false;
  }
}

/** The name of the class whose prototype this is, read without letting a getter throw. */
function constructorName(prototype: unknown): string {
  try {
    const name: unknown = (prototype as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && name !== '' ? name : 'object';
  } catch {
    return 'object';
  }
}

/**
 * Whether two JSON values (as {@link copyJson} makes them, or as read back from a store) are the
 * same value: the same primitives (`0` and `-0` alike, as JSON writes them), arrays of equal
 * items in order, objects with the same keys in any order (PostgreSQL's `jsonb` reorders them)
 * holding equal values. Values nest at most 1,000 levels deep (see {@link copyJson}).
 */
export function sameJson(left: unknown, right: unknown): boolean {
  if (left === right) return true;
  if (typeof left !== 'object' || typeof right !== 'object' || left === null || right === null) return false;
  if (Array.isArray(left)) return Array.isArray(right) && left.length === right.length && left.every((item, index) => sameJson(item, right[index]));
  if (Array.isArray(right)) return false;
  const leftRecord = left as Record<string, unknown>;
  const rightRecord = right as Record<string, unknown>;
  const keys = Object.keys(leftRecord);
  return keys.length === Object.keys(rightRecord).length && keys.every((key) => Object.hasOwn(rightRecord, key) && sameJson(leftRecord[key], rightRecord[key]));
}
