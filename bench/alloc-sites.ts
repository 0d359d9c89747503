/**
 * Where the in-memory benchmark's saga allocates (bench/memory.ts's sagaflow variant: 5 stages,
 * stage 5 fails, 4 compensations, MemoryStore, `events$` subscribed): V8's sampling heap profiler
 * at a 1-byte interval (every allocation is a sample), over `--count` warm sagas, per saga,
 * grouped by the nearest sagaflow (dist/) frame and by the allocating function.
 *
 * `npm run build && node --import tsx bench/alloc-sites.ts [--count=200] [--top=40] [--stacks]`
 *
 * Read with care: a sample is one allocation as V8 makes it, so objects Turbofan folds into one
 * allocation count once, and a function is charged for everything inlined into it (the
 * optimized frame is the outermost function). Run it with `node --no-turbo-inlining` as well to
 * see which inlined callee allocates (its counts differ: less is folded and escape-analysed).
 */
import { Session } from 'node:inspector/promises';
import { createOrchestrator, MemoryStore } from '../dist/index.js';
import { createBenchSaga } from './lib/bench-saga.js';
import { CountingEffects } from './peers/peer.js';
import { numberArgument } from './lib/sqlite-bench.js';

interface Frame { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber: number }
interface ProfileNode { readonly id: number; readonly callFrame: Frame; readonly children: ProfileNode[] }

const count = numberArgument('count', 200);
const top = numberArgument('top', 40);
process.setSourceMapsEnabled(false);
const effects = new CountingEffects();
const saga = createBenchSaga(effects);
const store = new MemoryStore();
const orchestrator = createOrchestrator({ store });
let streamed = 0;
const subscription = orchestrator.events$.subscribe(() => void streamed++);
const run = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) {
    const outcome = await orchestrator.start(saga, { fail: true }).outcome;
    if (outcome.status !== 'compensated') throw new Error(outcome.status);
  }
};
for (let i = 0; i < 5; i++) {
  await run(2000);
  await store.prune({ olderThan: Date.now() + 1 });
}
const session = new Session();
session.connect();
await session.post('HeapProfiler.startSampling', { samplingInterval: 1, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as { samplingInterval: number });
await run(count);
const { profile } = await session.post('HeapProfiler.stopSampling');
session.disconnect();
subscription.unsubscribe();
await orchestrator.close();

const samples = (profile as unknown as { samples: { size: number; nodeId: number }[] }).samples;
const parent = new Map<number, ProfileNode | undefined>();
const byId = new Map<number, ProfileNode>();
const walk = (node: ProfileNode, up: ProfileNode | undefined): void => {
  byId.set(node.id, node);
  parent.set(node.id, up);
  for (const child of node.children) walk(child, node);
};
walk(profile.head as unknown as ProfileNode, undefined);
const short = (frame: Frame): string => `${frame.functionName || '(anon)'} ${frame.url.replace(/^.*\/(dist|src|bench|node_modules)\//, '$1/')}:${frame.lineNumber + 1}`;
const ours = (frame: Frame): boolean => frame.url.includes('/dist/');
const self = new Map<string, [number, number]>();
const site = new Map<string, [number, number]>();
const stack = new Map<string, [number, number]>();
const add = (map: Map<string, [number, number]>, key: string, size: number): void => {
  const entry = map.get(key) ?? [0, 0];
  entry[0]++;
  entry[1] += size;
  map.set(key, entry);
};
let total = 0;
let bytes = 0;
for (const sample of samples) {
  total++;
  bytes += sample.size;
  const node = byId.get(sample.nodeId);
  if (node === undefined) continue;
  add(self, short(node.callFrame), sample.size);
  const path: string[] = [];
  let found: string | undefined;
  for (let at: ProfileNode | undefined = node; at !== undefined; at = parent.get(at.id)) {
    if (ours(at.callFrame)) {
      found ??= short(at.callFrame);
      if (path.length < 3) path.push(short(at.callFrame).split(' ')[0] ?? '');
    }
  }
  add(site, found ?? '(no sagaflow frame) ' + short(node.callFrame), sample.size);
  add(stack, `${short(node.callFrame)} <- ${path.join(' <- ')}`, sample.size);
}
const print = (title: string, map: Map<string, [number, number]>): void => {
  console.log(`\n${title}`);
  for (const [key, [n, size]] of [...map].sort((a, b) => b[1][0] - a[1][0]).slice(0, top)) console.log(`${(n / count).toFixed(2).padStart(7)} obj ${(size / count).toFixed(0).padStart(6)} B  ${key}`);
};
console.log(`per saga: ${(total / count).toFixed(2)} objects, ${(bytes / count / 1024).toFixed(2)} KB (${count} sagas)`);
print('by nearest sagaflow frame', site);
print('by allocating function', self);
if (process.argv.includes('--stacks')) print('by allocating function <- sagaflow frames', stack);
