/**
 * Never written to: {@link youngArray} copies it. Not frozen: `slice` of a frozen array leaves the
 * fast path (about 5 times slower).
 */
const EMPTY: readonly never[] = [];

/**
 * A new, empty array that V8 allocates in the young generation, always.
 *
 * @remarks
 * An array literal (`[]`) or `new Array()` is an allocation site: once most arrays made there
 * outlive a young collection, V8 pretenures the site and allocates its arrays straight in the old
 * generation. An array that lives for one run and is filled with the run's short-lived objects
 * (triggers, commands, attempts, events waiting to be written) must not end up there: a dead
 * array in the old generation keeps every young object it points to alive through each young
 * collection until the next full one, and those objects keep theirs. `Array.prototype.slice`
 * allocates without an allocation site, so its arrays are never pretenured. Measured on the
 * in-memory benchmark (failing 5-stage saga, MemoryStore keeping every journal): the bytes that
 * survived each young collection fell from 2.9 MB to 1.0–1.2 MB, and CPU time per saga by about a
 * fifth (bench/README.md, "Reading the results").
 *
 * Its first `push` gives an empty array room for 17 elements (V8 grows a backing store by half
 * plus 16); an array that lives as long as a run and seldom holds more than a few is made with
 * `room` for them instead (at most 16), which keeps 128 bytes less per run in flight.
 *
 * @param room - the capacity to allocate now (0 to 16; 0 allocates no backing store).
 */
export function youngArray<T>(room = 0): T[] {
  if (room === 0) return EMPTY.slice();
  // A copy of `room` slots, emptied with pop(), which keeps the capacity (V8 trims a backing
  // store on pop() only when it is over 16 slots larger than twice the length).
  const array = ROOM.slice(0, room) as T[];
  for (let left = room; left > 0; left--) array.pop();
  return array;
}

/** Never written to: {@link youngArray} copies slots from it. A literal, so that its copies are packed arrays (`new Array(16)` would make holey ones). */
// prettier-ignore
const ROOM: readonly undefined[] = [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined];
