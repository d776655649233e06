// Per-table row counts of the service's schemas, on anything that answers SQL with rows: the
// manifest of a backup records them, and a restore or a verification compares against them.
import type { RowCounts } from '../../ports/backup.js';
import { RUNTIME_TABLES } from './restore-guards.js';

/** Anything that answers a SQL text with rows (pg.Client, PGlite, the PGlite worker). */
export interface SqlRunner {
  rows<T>(text: string): Promise<T[]>;
}

const TABLES_SQL = `select table_schema as s, table_name as t from information_schema.tables
  where table_schema in ('public', 'drizzle') and table_type = 'BASE TABLE' order by 1, 2`;

export const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

export async function listTables(db: SqlRunner): Promise<Array<{ s: string; t: string }>> {
  return db.rows<{ s: string; t: string }>(TABLES_SQL);
}

export async function countRows(db: SqlRunner): Promise<RowCounts> {
  const counts: RowCounts = {};
  for (const { s, t } of await listTables(db)) {
    // Runtime state is not in dumps: counting it would make every backup differ from its dump.
    if ((RUNTIME_TABLES as readonly string[]).includes(`${s}.${t}`)) continue;
    const [r] = await db.rows<{ n: string | number }>(
      `select count(*) as n from ${ident(s)}.${ident(t)}`,
    );
    counts[`${s}.${t}`] = Number(r?.n ?? 0);
  }
  return counts;
}
