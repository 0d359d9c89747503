/**
 * The names of a run's stages in order, and each one's position: what a {@link StageTable} is
 * indexed by. A definition's `Topology` is one, shared by every run of it.
 */
export interface StageIndex {
  /** Stage names, in order. */
  readonly names: readonly string[];
  /** Position in `names` by stage name. */
  readonly indexOf: ReadonlyMap<string, number>;
}

/** The index and position of the latest {@link positionOf} answer, and of the one before it. */
let recentIndex: StageIndex | undefined;
let recentPosition = -1;
let olderIndex: StageIndex | undefined;
let olderPosition = -1;

/**
 * The position of stage `name` in `index`, or `undefined` when the index does not list it.
 *
 * @remarks
 * What every by-name read of a run's state goes through. On a 10,000-stage saga the index is a
 * 10,000-entry `Map` whose probes miss the processor's caches (about 100 ns each, against about
 * 20 ns at 1,000 stages), and a stage executed was read by name five or six times. But reads come
 * in patterns: the same stage several times in a row (an event is folded, then the decider reads
 * the stage it names), or the stages one after the other in declaration order (a chain; the
 * parallel stages of a fan-out, each phase in turn), interleaved with a second stage (a fan-in's
 * join, read as each of its parents completes). So the last two answers are kept, and for each
 * the name at its position and at the next one is compared first, which reads two adjacent
 * array slots instead of a hash table: on those sagas, about one probe per stage.
 *
 * The answers are kept in module fields (nothing per run, nothing per definition) and are a pure
 * function of the index, which never changes (a run given a stage its index does not list gets a
 * new index, see {@link StageTable.set}). The shortcuts are taken only for an index whose names
 * are unique, where a name's position is the one its `Map` gives (a hand-edited journal may list a
 * stage twice; its `Map` keeps the last).
 */
export function positionOf(index: StageIndex, name: string): number | undefined {
  const names = index.names;
  if (index === recentIndex) {
    if (names[recentPosition] === name) return recentPosition;
    if (names[recentPosition + 1] === name) return remember(index, recentPosition + 1);
  }
  if (index === olderIndex) {
    if (names[olderPosition] === name) return remember(index, olderPosition);
    if (names[olderPosition + 1] === name) return remember(index, olderPosition + 1);
  }
  const position = index.indexOf.get(name);
  if (position !== undefined && index.indexOf.size === names.length) remember(index, position);
  return position;
}

/** Keeps `position` in `index` as the latest answer of {@link positionOf}; the latest becomes the one before. */
function remember(index: StageIndex, position: number): number {
  olderIndex = recentIndex;
  olderPosition = recentPosition;
  recentIndex = index;
  recentPosition = position;
  return position;
}

/** A run's own index of `names` (a journal whose stages are not its definition's, in that order). */
export function stageIndexOf(names: readonly string[]): StageIndex {
  return { names, indexOf: new Map(names.map((name, position) => [name, position])) };
}

/**
 * A run's stage records by stage name, in stage order: the fold's `RunState.stages`. Internal.
 *
 * @remarks
 * A `ReadonlyMap` to its readers, but held as an array of records by position in a
 * {@link StageIndex} that every run of a definition shares: a run in flight holds an array of
 * one slot per stage (56 bytes for five) and this object, not a `Map`'s hash table (264 bytes
 * for five; a run keeps its state as long as it waits on user code, so every byte counts × the
 * runs in flight). Iteration follows the index's order: declaration order, then any stage the
 * run was given later ({@link StageTable.set} of a name the index does not have), as a `Map`
 * iterates in insertion order.
 *
 * @typeParam TRecord - the records it holds (the fold's working records).
 */
export class StageTable<TRecord> implements ReadonlyMap<string, TRecord> {
  // Private names, not properties: like a Map's entries, they are not seen by JSON.stringify or a spread.
  /** The stages' names and positions, shared; replaced by one of this table's own if a stage it does not list is added. */
  #index: StageIndex;
  /** By position in the index: one per name, owned by this table. */
  readonly #records: TRecord[];

  /**
   * @param index - the stages' names and positions (kept, not copied).
   * @param records - one per name, by position in `index` (kept, not copied).
   */
  constructor(index: StageIndex, records: TRecord[]) {
    this.#index = index;
    this.#records = records;
  }

  /** How many stages. */
  get size(): number {
    return this.#records.length;
  }

  /** The record of stage `name`, if the run has that stage. */
  get(name: string): TRecord | undefined {
    const position = positionOf(this.#index, name);
    return position === undefined ? undefined : this.#records[position];
  }

  /** Whether the run has stage `name`. */
  has(name: string): boolean {
    return this.#index.indexOf.has(name);
  }

  /** Sets the record of stage `name`; a stage the index does not list is added last (this table then gets an index of its own). */
  set(name: string, record: TRecord): void {
    const position = positionOf(this.#index, name);
    if (position !== undefined) {
      this.#records[position] = record;
      return;
    }
    this.#index = stageIndexOf([...this.#index.names, name]);
    this.#records.push(record);
  }

  /** Calls `callback` with each stage's record and name, in stage order. */
  forEach(callback: (record: TRecord, name: string, table: ReadonlyMap<string, TRecord>) => void, thisArg?: unknown): void {
    const names = this.#index.names;
    const records = this.#records;
    for (let position = 0; position < records.length; position++) callback.call(thisArg, records[position] as TRecord, names[position] as string, this);
  }

  /** `[name, record]` of each stage, in stage order. */
  *entries(): MapIterator<[string, TRecord]> {
    const records = this.#records;
    // The index is read at each step: a stage added meanwhile is visited, as a Map's iterator would.
    for (let position = 0; position < records.length; position++) yield [this.#index.names[position] as string, records[position] as TRecord];
  }

  /** The stage names, in order. */
  *keys(): MapIterator<string> {
    for (let position = 0; position < this.#records.length; position++) yield this.#index.names[position] as string;
  }

  /** The records, in stage order. */
  *values(): MapIterator<TRecord> {
    const records = this.#records;
    for (let position = 0; position < records.length; position++) yield records[position] as TRecord;
  }

  /** As {@link StageTable.entries}. */
  [Symbol.iterator](): MapIterator<[string, TRecord]> {
    return this.entries();
  }

  /** What `console.log` and `util.inspect` show: the stages as a `Map` shows them (private names would show nothing). */
  [Symbol.for('nodejs.util.inspect.custom')](): Map<string, TRecord> {
    return new Map(this.entries());
  }
}
