// The embedded database as the other adapters see it, wherever PGlite runs (on its worker thread,
// or in this thread for scratch databases): the calls drizzle-orm/pglite makes, and a consistent
// snapshot for backups.
import type { PGlite } from '@electric-sql/pglite';
import type { RowCounts } from '../../ports/backup.js';
import { countRows } from './row-counts.js';
import { RUNTIME_DUMP_ARGS } from './restore-guards.js';

export interface PgliteResults<T = Record<string, unknown>> {
  rows: T[];
  affectedRows?: number;
  fields: Array<{ name: string; dataTypeID: number }>;
}

/** A column parser; across the worker boundary only identity parsers (keep the text) exist. */
export type PgliteParser = (value: string) => unknown;

export interface PgliteQueryOptions {
  rowMode?: 'array' | 'object';
  parsers?: Record<number, PgliteParser>;
}

/** The statements both the database and a transaction on it answer. */
export interface PgliteQueries {
  query<T>(
    text: string,
    params?: unknown[],
    options?: PgliteQueryOptions,
  ): Promise<PgliteResults<T>>;
  exec(text: string): Promise<PgliteResults[]>;
}

export interface PgliteTransaction extends PgliteQueries {
  rollback(): Promise<void>;
  readonly closed: boolean;
}

/** What the embedded database's dump holds: its plain SQL and the row counts of that state. */
export interface PgliteSnapshot {
  sql: string;
  rowCounts: RowCounts;
}

export interface PgliteHandle extends PgliteQueries {
  /** Statements outside the transaction wait until it ends (PGlite has one session). */
  transaction<T>(fn: (tx: PgliteTransaction) => Promise<T>): Promise<T>;
  snapshot(): Promise<PgliteSnapshot>;
  close(): Promise<void>;
}

/**
 * Dumps a clone of `pg` (a consistent copy, in memory): pg_dump on PGlite's one session would hold
 * a read-only transaction that the service's own queries would run inside. The row counts are the
 * clone's, so exactly what the dump holds. PGlite's pg_dump writes its output inside WASM memory,
 * so the dump is in memory once (the embedded database is the small one).
 */
export async function takeSnapshot(pg: PGlite): Promise<PgliteSnapshot> {
  // Loaded on the first backup only: pg_dump is a WASM module of its own.
  const { pgDump } = await import('@electric-sql/pglite-tools/pg_dump');
  const copy = (await pg.clone()) as PGlite;
  try {
    const file = await pgDump({
      pg: copy,
      args: ['--no-owner', '--no-privileges', '--clean', '--if-exists', ...RUNTIME_DUMP_ARGS],
    });
    const sql = await file.text();
    await copy.exec('ROLLBACK; RESET ALL;');
    const rowCounts = await countRows({
      rows: async <T>(q: string) => (await copy.query<T>(q)).rows,
    });
    return { sql, rowCounts };
  } finally {
    await copy.close();
  }
}

/** A PGlite of this thread behind the same interface (scratch databases). */
export function localPgliteHandle(pg: PGlite): PgliteHandle {
  return {
    query: (text, params, options) => pg.query(text, params, options),
    exec: (text) => pg.exec(text),
    transaction: (fn) => pg.transaction(fn),
    snapshot: () => takeSnapshot(pg),
    close: () => pg.close(),
  };
}
