// The guide's slow-query check ("Analyze slow queries") against our database: the statements of
// this database with the highest mean execution time, from pg_stat_statements, with the column
// names of PostgreSQL 13 and later (mean_exec_time; the guide's mean_time no longer exists).
// Where the extension is not loaded or not created, the report says how to get it.
import { sql } from 'drizzle-orm';
import { queryRows, type Database } from '../adapters/db/database.js';

export interface SlowQuery {
  query: string;
  calls: number;
  meanMs: number;
  totalMs: number;
  rows: number;
}

export type SlowQueriesReport =
  | { available: true; queries: SlowQuery[] }
  | { available: false; reason: 'embedded' | 'not_loaded' | 'not_created'; message: string };

/** What the embedded profile answers (PGlite is not opened for it). */
export const EMBEDDED_SLOW_QUERIES: SlowQueriesReport = {
  available: false,
  reason: 'embedded',
  message:
    'the embedded database (PGlite) has no pg_stat_statements: run the service on PostgreSQL ' +
    '(DATABASE_URL) to see its slow queries',
};

export async function slowQueries(database: Database, limit: number): Promise<SlowQueriesReport> {
  if (database.kind === 'pglite') return EMBEDDED_SLOW_QUERIES;
  const db = database.db;
  const [created] = await queryRows<{ n: string }>(
    db,
    sql`select count(*) as n from pg_extension where extname = 'pg_stat_statements'`,
  );
  if (Number(created?.n ?? 0) === 0) {
    const [preload] = await queryRows<{ libs: string }>(
      db,
      sql`select current_setting('shared_preload_libraries') as libs`,
    );
    const loaded = /(^|[\s,])pg_stat_statements($|[\s,])/.test(preload?.libs ?? '');
    return loaded
      ? {
          available: false,
          reason: 'not_created',
          message:
            'pg_stat_statements is loaded but not created in this database: run ' +
            '`CREATE EXTENSION pg_stat_statements;` in it as a superuser (or the database owner ' +
            'on managed PostgreSQL such as RDS)',
        }
      : {
          available: false,
          reason: 'not_loaded',
          message:
            'pg_stat_statements is not loaded: add it to shared_preload_libraries (postgresql.conf, ' +
            'the server command `-c shared_preload_libraries=pg_stat_statements`, or the RDS ' +
            'parameter group), restart PostgreSQL, then run `CREATE EXTENSION pg_stat_statements;`',
        };
  }
  const rows = await queryRows<{
    query: string;
    calls: string;
    mean_exec_time: number;
    total_exec_time: number;
    rows: string;
  }>(
    db,
    sql`select query, calls, mean_exec_time, total_exec_time, rows
          from pg_stat_statements
         where dbid = (select oid from pg_database where datname = current_database())
         order by mean_exec_time desc
         limit ${limit}`,
  );
  return {
    available: true,
    queries: rows.map((r) => ({
      query: r.query,
      calls: Number(r.calls),
      meanMs: Number(r.mean_exec_time),
      totalMs: Number(r.total_exec_time),
      rows: Number(r.rows),
    })),
  };
}
