/**
 * What a run in flight holds: the heap objects that N runs of the 5-stage chain add while each is
 * held inside its first stage (a gate), by constructor, from two heap snapshots of one process.
 *
 * Run alone: `npm run build && node --expose-gc --import tsx bench/held-heap.ts [--runs=4000] [--retainers]`
 *
 * Method: N runs are started, run through the gate and settled once (warm-up: code, caches and
 * the maps' room), then a full GC and a snapshot; then N runs are started again and held in their
 * first stage, a full GC and a second snapshot. The objects of the second snapshot whose ids the
 * first does not have are what the held runs hold (plus a few hundred of V8's own, noise that is
 * spread over N: use 4,000 runs or more for figures to ±5 bytes). Rows with fewer than N / 4 objects
 * are left out. `--retainers` also groups the new objects by their first two retainers (slower).
 * The benchmark's own `async execute` (its generator, promise and `await`) is counted: about 390
 * bytes of what a run holds is the user's call, not sagaflow's.
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeHeapSnapshot } from 'node:v8';
import { z } from 'zod';
import { createOrchestrator, MemoryStore, type AnySaga, type Orchestrator, type SagaOutcome } from '../dist/index.js';
import { looseSaga } from './lib/loose-builder.js';
import { numberArgument } from './lib/sqlite-bench.js';

/** The parts of V8's heap snapshot format read here. */
interface HeapSnapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: readonly string[];
      readonly node_types: readonly [readonly string[], ...unknown[]];
      readonly edge_fields: readonly string[];
      readonly edge_types: readonly [readonly string[], ...unknown[]];
    };
  };
  readonly nodes: readonly number[];
  readonly edges: readonly number[];
  readonly strings: readonly string[];
}

/** Objects and bytes per held run, by group. */
export interface HeldRow {
  readonly group: string;
  readonly objectsPerRun: number;
  readonly bytesPerRun: number;
}

/** What {@link measureHeldRuns} found. */
export interface HeldHeap {
  readonly runs: number;
  readonly objectsPerRun: number;
  readonly bytesPerRun: number;
  /** By node type and constructor (`object:RunHandle`), largest first. */
  readonly byConstructor: readonly HeldRow[];
  /** By constructor and first two retainers, when asked for. */
  readonly byRetainer?: readonly HeldRow[];
}

const noInput = z.object({});
const stage = { execute: async () => 1, compensate: async () => undefined };

/** The gate the first stage of every run waits at (as in bench/scaling.ts: no async call of its own). */
interface Gate {
  entered: number;
  expected: number;
  allIn: () => void;
  opened: Promise<void>;
  open: () => void;
}

function newGate(): Gate {
  return { entered: 0, expected: 0, allIn: () => undefined, opened: Promise.resolve(), open: () => undefined };
}

/** Closes the gate for `count` runs; resolves once all of them wait at it. */
function closeGate(gate: Gate, count: number): Promise<void> {
  gate.entered = 0;
  gate.expected = count;
  gate.opened = new Promise<void>((resolve) => (gate.open = resolve));
  return new Promise<void>((resolve) => (gate.allIn = resolve));
}

/** The 5-stage chain of bench/scaling.ts's heap figure: its first stage waits at the gate. */
function heldSaga(gate: Gate): AnySaga {
  const atGate = async (): Promise<number> => {
    if (++gate.entered === gate.expected) gate.allIn();
    await gate.opened;
    return 1;
  };
  let builder = looseSaga({ name: 'held', input: noInput }).stage('s0', { ...stage, execute: atGate });
  for (let index = 1; index < 5; index++) builder = builder.stage(`s${index}`, { ...stage, after: [`s${index - 1}`] });
  return builder.build();
}

async function hold(orchestrator: Orchestrator, saga: AnySaga, gate: Gate, runs: number): Promise<Array<Promise<SagaOutcome>>> {
  const allIn = closeGate(gate, runs);
  const outcomes = Array.from({ length: runs }, () => orchestrator.start(saga, {}).outcome);
  await allIn;
  return outcomes;
}

function fullGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('Run with node --expose-gc.');
  gc();
  gc();
}

function readSnapshot(file: string): HeapSnapshot {
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot;
  unlinkSync(file);
  return snapshot;
}

/** Reads nodes and edges of a snapshot by field name. */
class SnapshotReader {
  readonly nodeCount: number;
  private readonly nodeFields: number;
  private readonly edgeFields: number;
  private readonly field: Record<'type' | 'name' | 'id' | 'selfSize' | 'edgeCount' | 'edgeType' | 'edgeName' | 'edgeTo', number>;

  constructor(readonly snapshot: HeapSnapshot) {
    const meta = snapshot.snapshot.meta;
    this.nodeFields = meta.node_fields.length;
    this.edgeFields = meta.edge_fields.length;
    this.nodeCount = snapshot.nodes.length / this.nodeFields;
    this.field = {
      type: meta.node_fields.indexOf('type'),
      name: meta.node_fields.indexOf('name'),
      id: meta.node_fields.indexOf('id'),
      selfSize: meta.node_fields.indexOf('self_size'),
      edgeCount: meta.node_fields.indexOf('edge_count'),
      edgeType: meta.edge_fields.indexOf('type'),
      edgeName: meta.edge_fields.indexOf('name_or_index'),
      edgeTo: meta.edge_fields.indexOf('to_node'),
    };
  }

  private node(index: number, field: number): number {
    return this.snapshot.nodes[index * this.nodeFields + field] ?? 0;
  }

  id(index: number): number {
    return this.node(index, this.field.id);
  }

  size(index: number): number {
    return this.node(index, this.field.selfSize);
  }

  /** `type:constructor`, the group of a node. */
  group(index: number): string {
    const meta = this.snapshot.snapshot.meta;
    return `${meta.node_types[0][this.node(index, this.field.type)] ?? '?'}:${(this.snapshot.strings[this.node(index, this.field.name)] ?? '').slice(0, 48)}`;
  }

  /** Calls `visit` with each strong edge: from, to, and its name. */
  edges(visit: (from: number, to: number, name: string) => void): void {
    const { edges, strings, snapshot } = this.snapshot;
    const types = snapshot.meta.edge_types[0];
    let edge = 0;
    for (let from = 0; from < this.nodeCount; from++) {
      const count = this.node(from, this.field.edgeCount);
      for (let k = 0; k < count; k++, edge += this.edgeFields) {
        const type = types[edges[edge + this.field.edgeType] ?? 0];
        if (type === 'weak') continue;
        const raw = edges[edge + this.field.edgeName] ?? 0;
        const name = type === 'element' || type === 'hidden' ? `[${type}]` : (strings[raw] ?? String(raw));
        visit(from, (edges[edge + this.field.edgeTo] ?? 0) / this.nodeFields, name);
      }
    }
  }
}

function rows(groups: Map<string, { count: number; size: number }>, runs: number): HeldRow[] {
  return [...groups.entries()]
    .filter(([, group]) => group.count >= runs / 4)
    .sort((a, b) => b[1].size - a[1].size)
    .map(([group, { count, size }]) => ({ group, objectsPerRun: count / runs, bytesPerRun: size / runs }));
}

function add(groups: Map<string, { count: number; size: number }>, key: string, size: number): void {
  const group = groups.get(key) ?? { count: 0, size: 0 };
  group.count++;
  group.size += size;
  groups.set(key, group);
}

/** Measures what `runs` runs held in their first stage hold; see the module comment. */
export async function measureHeldRuns(runs: number, retainers = false): Promise<HeldHeap> {
  const gate = newGate();
  const saga = heldSaga(gate);
  const orchestrator = createOrchestrator({ store: new MemoryStore({ maxSettledRuns: 0 }) });
  const warmUp = await hold(orchestrator, saga, gate, runs);
  gate.open();
  await Promise.all(warmUp);
  const before = join(tmpdir(), `held-heap-${process.pid}-before.heapsnapshot`);
  const during = join(tmpdir(), `held-heap-${process.pid}-during.heapsnapshot`);
  fullGc();
  writeHeapSnapshot(before);
  const held = await hold(orchestrator, saga, gate, runs);
  fullGc();
  writeHeapSnapshot(during);
  gate.open();
  await Promise.all(held);
  await orchestrator.close();
  // Read only now: a parsed snapshot in the heap would be counted in the second one.
  const first = new SnapshotReader(readSnapshot(before));
  const known = new Set<number>();
  for (let index = 0; index < first.nodeCount; index++) known.add(first.id(index));
  const second = new SnapshotReader(readSnapshot(during));
  const isNew = (index: number): boolean => !known.has(second.id(index));
  const byConstructor = new Map<string, { count: number; size: number }>();
  let objects = 0;
  let bytes = 0;
  for (let index = 0; index < second.nodeCount; index++) {
    if (!isNew(index)) continue;
    objects++;
    bytes += second.size(index);
    add(byConstructor, second.group(index), second.size(index));
  }
  const result = { runs, objectsPerRun: objects / runs, bytesPerRun: bytes / runs, byConstructor: rows(byConstructor, runs) };
  if (!retainers) return result;
  const retainedBy = new Map<number, string[]>();
  second.edges((from, to, name) => {
    if (!isNew(to)) return;
    const group = second.group(from);
    if (group.startsWith('synthetic')) return;
    const list = retainedBy.get(to) ?? [];
    if (list.length < 2) list.push(`${group}.${name}`);
    retainedBy.set(to, list);
  });
  const byRetainer = new Map<string, { count: number; size: number }>();
  for (let index = 0; index < second.nodeCount; index++) {
    if (isNew(index)) add(byRetainer, `${second.group(index)} <- ${(retainedBy.get(index) ?? ['?']).join(' | ')}`, second.size(index));
  }
  return { ...result, byRetainer: rows(byRetainer, runs) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const runs = numberArgument('runs', 4_000);
  const heap = await measureHeldRuns(runs, process.argv.includes('--retainers'));
  console.log(`${heap.runs} runs held in their first stage: ${heap.objectsPerRun.toFixed(1)} objects, ${heap.bytesPerRun.toFixed(0)} bytes per run`);
  const print = (row: HeldRow): void => console.log(`${row.bytesPerRun.toFixed(1).padStart(8)} B ${row.objectsPerRun.toFixed(2).padStart(6)}  ${row.group}`);
  heap.byConstructor.forEach(print);
  if (heap.byRetainer !== undefined) {
    console.log('by first retainers:');
    heap.byRetainer.forEach(print);
  }
}
