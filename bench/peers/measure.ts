/**
 * Standalone measurement of the peers, one at a time (the figures in ./README.md come from it).
 *
 *   npx tsx bench/peers/measure.ts [peer...] [--quick] [--json]
 *
 * - hand-written, node-sagas: µs per saga, sequential (concurrency 1), failing and succeeding
 *   variants; median of 7 rounds of 20,000 sagas after one warm-up round.
 * - dbos, restate: sagas/s at concurrency 1 and 16, succeeding and failing variants; median of
 *   3 rounds (150 sagas at concurrency 1, 500 at 16) after a warm-up batch; plus setup/teardown time.
 * - `--quick`: fewer, smaller rounds (a smoke test, not figures). `--json`: results as JSON on stdout.
 * Peers that cannot run here are listed with the reason.
 */
import { loadavg } from 'node:os';
import { checkPeer, isPeerName, loadPeer, PEER_NAMES, type PeerName, type SagaPeer } from './index.js';

interface Row {
  peer: PeerName;
  variant: 'success' | 'fail';
  concurrency: number;
  count: number;
  rounds: number;
  /** In-memory peers: µs per saga. */
  usPerSaga?: { median: number; min: number; max: number };
  /** Durable peers: sagas per second. */
  perSecond?: { median: number; min: number; max: number };
}

interface PeerReport {
  peer: PeerName;
  ok: boolean;
  reason?: string;
  setupMs?: number;
  teardownMs?: number;
  /** 1-minute load average before and after (2 shared cores: anything above ~1 means contention). */
  load?: { before: number; after: number };
  rows: Row[];
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const json = args.includes('--json');
const names = args.filter((a) => !a.startsWith('--'));
for (const name of names) {
  if (!isPeerName(name)) {
    console.error(`unknown peer ${name}; peers: ${PEER_NAMES.join(', ')}`);
    process.exit(2);
  }
}
const selected: PeerName[] = names.length > 0 ? (names as PeerName[]) : [...PEER_NAMES];

const log = (line: string): void => {
  if (!json) console.log(line);
  else console.error(line);
};

function stats(values: number[]): { median: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { median, min: sorted[0] ?? 0, max: sorted[sorted.length - 1] ?? 0 };
}

/** Milliseconds `fn` took. */
async function timed(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function measureInMemory(peer: SagaPeer): Promise<Row[]> {
  const count = quick ? 2_000 : 20_000;
  const rounds = quick ? 3 : 7;
  const rows: Row[] = [];
  for (const fail of [true, false]) {
    await peer.runBatch({ count, concurrency: 1, fail }); // warm-up
    const us: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const ms = await timed(() => peer.runBatch({ count, concurrency: 1, fail }));
      us.push((ms * 1000) / count);
    }
    const row: Row = { peer: peer.name, variant: fail ? 'fail' : 'success', concurrency: 1, count, rounds, usPerSaga: stats(us) };
    log(`  ${row.variant.padEnd(7)} c=1   ${fmt(row.usPerSaga?.median)} µs/saga (min ${fmt(row.usPerSaga?.min)}, max ${fmt(row.usPerSaga?.max)})`);
    rows.push(row);
  }
  return rows;
}

async function measureDurable(peer: SagaPeer): Promise<Row[]> {
  const rounds = quick ? 1 : 3;
  const rows: Row[] = [];
  for (const concurrency of [1, 16]) {
    for (const fail of [false, true]) {
      const count = concurrency === 1 ? (quick ? 30 : 150) : quick ? 100 : 500;
      await peer.runBatch({ count: concurrency === 1 ? 20 : 64, concurrency, fail }); // warm-up
      const rates: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const ms = await timed(() => peer.runBatch({ count, concurrency, fail }));
        rates.push((count * 1000) / ms);
      }
      const row: Row = { peer: peer.name, variant: fail ? 'fail' : 'success', concurrency, count, rounds, perSecond: stats(rates) };
      log(
        `  ${row.variant.padEnd(7)} c=${String(concurrency).padEnd(3)} ${fmt(row.perSecond?.median)} sagas/s ` +
          `(min ${fmt(row.perSecond?.min)}, max ${fmt(row.perSecond?.max)})`,
      );
      rows.push(row);
    }
  }
  return rows;
}

function fmt(n: number | undefined): string {
  if (n === undefined) return '-';
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

const reports: PeerReport[] = [];
let failed = false;
for (const name of selected) {
  const availability = await checkPeer(name);
  if (!availability.ok) {
    log(`${name}: cannot run: ${availability.reason}`);
    reports.push({ peer: name, ok: false, reason: availability.reason, rows: [] });
    continue;
  }
  const loadBefore = loadavg()[0] ?? 0;
  log(`${name}: (load average ${loadBefore.toFixed(2)})`);
  const peer = await loadPeer(name);
  const report: PeerReport = { peer: name, ok: true, rows: [] };
  try {
    report.setupMs = await timed(() => peer.setup());
    log(`  setup (with self-check) ${report.setupMs.toFixed(0)} ms`);
    report.rows = peer.durable ? await measureDurable(peer) : await measureInMemory(peer);
  } catch (error) {
    failed = true;
    report.ok = false;
    report.reason = error instanceof Error ? error.message : String(error);
    log(`  FAILED: ${report.reason}`);
  } finally {
    report.teardownMs = await timed(() => peer.teardown());
    if (peer.durable) log(`  teardown ${report.teardownMs.toFixed(0)} ms`);
    report.load = { before: loadBefore, after: loadavg()[0] ?? 0 };
    log(`  load average after: ${report.load.after.toFixed(2)}`);
  }
  reports.push(report);
}

const hand = reports.find((r) => r.peer === 'hand-written')?.rows.find((r) => r.variant === 'fail')?.usPerSaga?.median;
const sagas = reports.find((r) => r.peer === 'node-sagas')?.rows.find((r) => r.variant === 'fail')?.usPerSaga?.median;
if (hand !== undefined && sagas !== undefined) log(`node-sagas / hand-written (fail, c=1): ${(sagas / hand).toFixed(2)}×`);

if (json) console.log(JSON.stringify({ node: process.version, at: new Date().toISOString(), quick, reports }, null, 2));
process.exitCode = failed ? 1 : 0;
