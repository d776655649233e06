// Applies the versioned SQL migrations under an advisory lock, so replicas starting together never
// race; applying them again is a no-op.
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { queryRows, type Database } from './database.js';

/** Advisory lock keys used by the service; one place so they never collide. */
export const LOCK_KEYS = {
  migrations: 7_240_001,
  bootstrapAdmin: 7_240_002,
  backupLeader: 7_240_003,
} as const;

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('./migrations', import.meta.url));

export interface MigrationResult {
  applied: number;
  total: number;
}

async function appliedCount(database: Database): Promise<number> {
  const [table] = await queryRows<{ n: number }>(
    database.db,
    sql`select count(*)::int as n from information_schema.tables
        where table_schema = 'drizzle' and table_name = '__drizzle_migrations'`,
  );
  if (Number(table?.n ?? 0) === 0) return 0;
  const [applied] = await queryRows<{ n: number }>(
    database.db,
    sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
  );
  return Number(applied?.n ?? 0);
}

export async function migrateDatabase(database: Database): Promise<MigrationResult> {
  return database.withAdvisoryLock(LOCK_KEYS.migrations, async (db) => {
    const before = await appliedCount(database);
    if (database.kind === 'pglite') {
      await migratePglite(db as unknown as PgliteDatabase, { migrationsFolder: MIGRATIONS_FOLDER });
    } else {
      await migratePg(db as unknown as NodePgDatabase, { migrationsFolder: MIGRATIONS_FOLDER });
    }
    const after = await appliedCount(database);
    return { applied: after - before, total: after };
  });
}
