import Database from 'better-sqlite3';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListRunsQuery, RunStatus, SagaStore } from 'sagaflow';
import { SqliteStore } from 'sagaflow/sqlite';
import { readRunsPage, type RunsCursor, type RunsFilter } from '../../src/inspector/runs-query.js';
import { tempDatabase, type TempDatabase } from '../stores/sqlite-temp.js';

const RUNS = 100_000;
const PAGE = 50;
const STATUSES: readonly RunStatus[] = ['completed', 'completed', 'completed', 'compensated', 'cancelled', 'paused', 'running', 'compensation_failed'];

interface Seeded {
  readonly runId: string;
  readonly saga: string;
  readonly status: RunStatus;
}

/**
 * The runs list on 100,000 runs in SQLite: each page is read along an index in run-id order,
 * never sorted, and reads at most a page (plus one) per query. Checked on the store's own SQL
 * (captured as it is prepared) through SQLite's query plan, and on the rows the store hands back.
 */
describe('the runs list pages through 100,000 runs along indexes (SQLite)', () => {
  let db: TempDatabase;
  let store: SqliteStore;
  let planner: Database.Database;
  const seeded: Seeded[] = [];
  const statements = new Set<string>();
  const originalPrepare = Database.prototype.prepare;

  beforeAll(async () => {
    db = tempDatabase();
    store = new SqliteStore({ path: db.path, durability: 'normal' });
    await store.listRuns({ limit: 1 }); // creates the tables
    const writer = new Database(db.path);
    const insert = writer.prepare('INSERT INTO sagaflow_runs (run_id, saga, status, events, created_at, updated_at, submitted) VALUES (?, ?, ?, 3, ?, ?, 0)');
    writer.transaction(() => {
      for (let index = 0; index < RUNS; index++) {
        const run: Seeded = { runId: uuidv7(), saga: index % 5 === 0 ? 'refund' : 'order', status: STATUSES[index % STATUSES.length] ?? 'completed' };
        seeded.push(run);
        insert.run(run.runId, run.saga, run.status, 1_000 + index, 1_000 + index);
      }
    })();
    writer.close();
    planner = new Database(db.path, { readonly: true });
    // Every listing statement the store prepares from here on, as SQLite receives it.
    Database.prototype.prepare = function (this: Database.Database, source: string) {
      if (source.includes('FROM sagaflow_runs') && source.includes('ORDER BY run_id')) statements.add(source);
      return originalPrepare.call(this, source);
    } as typeof originalPrepare;
  }, 60_000);

  afterAll(async () => {
    Database.prototype.prepare = originalPrepare;
    planner?.close();
    await store?.close();
    await db?.remove();
  });

  /** The store, counting the summaries each listing hands back. */
  function counting(): { store: SagaStore; calls: Array<{ query: ListRunsQuery; rows: number }> } {
    const calls: Array<{ query: ListRunsQuery; rows: number }> = [];
    const wrapped = Object.create(store) as SagaStore;
    Object.defineProperty(wrapped, 'listRuns', {
      value: async (query: ListRunsQuery) => {
        const rows = await store.listRuns(query);
        calls.push({ query, rows: rows.length });
        return rows;
      },
    });
    return { store: wrapped, calls };
  }

  /** SQLite's plan for a statement, one line per step. */
  function planOf(sql: string): string[] {
    const parameters = (sql.match(/\?/g) ?? []).map(() => 'x');
    return planner
      .prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .all(...parameters)
      .map((row) => (row as { detail: string }).detail);
  }

  const expected = (filter: RunsFilter): string[] =>
    seeded
      .filter(
        (run) =>
          (filter.saga === undefined || run.saga === filter.saga) &&
          (filter.status === undefined || run.status === filter.status) &&
          (filter.runIdPrefix === undefined || run.runId.startsWith(filter.runIdPrefix)),
      )
      .map((run) => run.runId)
      .reverse();

  async function checkPages(filter: RunsFilter): Promise<void> {
    const all = expected(filter);
    const { store: probe, calls } = counting();
    // Three pages back from the newest, then one forward again, then the very last page.
    let cursor: RunsCursor;
    const pages: string[][] = [];
    for (let index = 0; index < 3; index++) {
      const page = await readRunsPage(probe, filter, cursor, PAGE);
      pages.push(page.runs.map((run) => run.runId));
      if (page.older === undefined) break;
      cursor = { before: page.older };
    }
    pages.forEach((ids, index) => expect(ids).toEqual(all.slice(index * PAGE, (index + 1) * PAGE)));
    if (pages.length === 3) {
      const back = await readRunsPage(probe, filter, { after: pages[2]?.[0] ?? '' }, PAGE);
      expect(back.runs.map((run) => run.runId)).toEqual(pages[1]);
      const deep = await readRunsPage(probe, filter, { before: all[all.length - 8] ?? '' }, PAGE);
      expect(deep.runs.map((run) => run.runId)).toEqual(all.slice(-7));
      expect(deep.older).toBeUndefined();
    }
    // However many runs there are, a page asks for one page and one run more, per status at most.
    for (const call of calls) expect(call.query.limit).toBe(PAGE + 1);
    const perPage = Math.max(...calls.map((call) => call.rows));
    expect(perPage).toBeLessThanOrEqual(PAGE + 1);
    expect(calls.length).toBeLessThanOrEqual((pages.length + 2) * (filter.saga !== undefined && filter.status === undefined ? 8 : 1));
  }

  it('newest first, unfiltered, by status, by saga, by both, by run-id prefix: the right runs, each query an index range in run-id order (no sort, no scan)', async () => {
    const counts = await store.countRuns();
    expect(Object.values(counts).reduce((sum, count) => sum + count, 0)).toBe(RUNS);
    await checkPages({});
    await checkPages({ status: 'compensated' });
    await checkPages({ saga: 'refund' });
    await checkPages({ saga: 'refund', status: 'paused' });
    const probe = seeded[54_321]?.runId ?? '';
    await checkPages({ runIdPrefix: probe.slice(0, 24) });
    await checkPages({ runIdPrefix: probe });
    await checkPages({ saga: 'order', runIdPrefix: probe.slice(0, 20) });
    await checkPages({ status: seeded[54_321]?.status ?? 'completed', runIdPrefix: probe.slice(0, 20) });

    Database.prototype.prepare = originalPrepare;
    expect(statements.size).toBeGreaterThanOrEqual(8);
    for (const sql of statements) {
      const plan = planOf(sql);
      expect(plan.join(' | '), sql).not.toMatch(/TEMP B-TREE/);
      for (const step of plan) {
        // A SCAN of the table itself walks the primary key in order (a WITHOUT ROWID table), which
        // the LIMIT stops after a page: only the unfiltered first page does that.
        const bounded = /^SEARCH sagaflow_runs USING ((COVERING )?INDEX \w+|PRIMARY KEY) \(/.test(step) || (step === 'SCAN sagaflow_runs' && !sql.includes('WHERE'));
        expect(bounded, `${sql}\n  → ${step}`).toBe(true);
        // A prefix search is a range closed at both ends, not everything after the prefix.
        if (sql.includes('substr(')) expect(step, sql).toMatch(/run_id>\? AND run_id<\?/);
      }
    }
  });
});
