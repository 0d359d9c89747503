/**
 * Shared by the SQLite benchmarks: scratch database files, the raw commit rate they are
 * measured against, and tables.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

/** Where benchmark databases live (git-ignored). */
export const BENCH_WORK_DIR = fileURLToPath(new URL('../.work/', import.meta.url));

let fileCounter = 0;

/** A fresh, unused database path under {@link BENCH_WORK_DIR}. */
export function benchDatabasePath(label: string): string {
  mkdirSync(BENCH_WORK_DIR, { recursive: true });
  const path = `${BENCH_WORK_DIR}${label}-${process.pid}-${fileCounter++}.db`;
  removeDatabase(path);
  return path;
}

/** Deletes a database file with its WAL and shared-memory files. */
export function removeDatabase(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
}

/** A journal row of typical size: what one raw commit writes. */
const RAW_BODY = JSON.stringify({ type: 'stage.started', runId: 'raw', saga: 'bench', seq: 1, at: 1_700_000_000_000, stage: 'stage-1', attempt: 1 });

/**
 * The raw rate of durable commits: one single-row INSERT per transaction (WAL), as fast as
 * the disk allows, for `durationMs`. What group commit is measured against.
 */
export function rawCommitsPerSecond(synchronous: 'FULL' | 'NORMAL', durationMs: number): number {
  const path = benchDatabasePath(`raw-${synchronous}`);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.exec('CREATE TABLE events (run_id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (run_id, seq))');
  const insert = db.prepare('INSERT INTO events (run_id, seq, body) VALUES (?, ?, ?)');
  let commits = 0;
  const started = performance.now();
  while (performance.now() - started < durationMs) insert.run('raw', commits++, RAW_BODY);
  const elapsed = (performance.now() - started) / 1_000;
  db.close();
  removeDatabase(path);
  return commits / elapsed;
}

/** `--name=value` from the command line, as a number. */
export function numberArgument(name: string, fallback: number): number {
  const raw = process.argv.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1];
  return raw === undefined ? fallback : Number(raw);
}

export function formatNumber(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Prints rows as an aligned table; the first row is the header. */
export function printTable(rows: readonly string[][], print: (line: string) => void = console.log): void {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  for (const [index, row] of rows.entries()) {
    print(row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  '));
    if (index === 0) print(widths.map((width) => '-'.repeat(width)).join('  '));
  }
}
