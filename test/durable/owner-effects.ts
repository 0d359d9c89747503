/**
 * The owners' effects table on PostgreSQL (each stage's and compensation's side effect, one row
 * each): owner-process.ts writes it, ownership.test.ts makes it before the owners start and reads it.
 */
export function effectsTableSql(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS "${schema}".effects (id bigserial PRIMARY KEY, run_id text, stage text, kind text, process text)`;
}
