// ApiKeyStore on PostgreSQL (server or PGlite) through Drizzle.
import { and, count, desc, eq, isNull, sql } from 'drizzle-orm';
import type { ApiKeyRecord, ApiKeyStore, NewApiKey } from '../../ports/api-key-store.js';
import type { Db } from './database.js';
import { LOCK_KEYS } from './migrate.js';
import { apiKeys } from './schema.js';

type Row = typeof apiKeys.$inferSelect;

function toRecord(row: Row): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    prefix: row.prefix,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    lastUsedAt: row.lastUsedAt,
    revokedAt: row.revokedAt,
  };
}

export function createPgApiKeyStore(db: Db, readDb: Db = db): ApiKeyStore {
  return {
    async insert(key: NewApiKey) {
      const [row] = await db.insert(apiKeys).values(key).returning();
      return toRecord(row!);
    },
    async findByHash(hash) {
      const [row] = await db.select().from(apiKeys).where(eq(apiKeys.hash, hash)).limit(1);
      return row ? toRecord(row) : undefined;
    },
    async findById(id) {
      const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id)).limit(1);
      return row ? toRecord(row) : undefined;
    },
    async list(options = {}) {
      const rows = await readDb
        .select()
        .from(apiKeys)
        .where(options.includeRevoked ? undefined : isNull(apiKeys.revokedAt))
        .orderBy(desc(apiKeys.createdAt), apiKeys.id);
      return rows.map(toRecord);
    },
    async revoke(id, at) {
      await db
        .update(apiKeys)
        .set({ revokedAt: at })
        .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)));
      return this.findById(id);
    },
    async touch(id, at) {
      await db.update(apiKeys).set({ lastUsedAt: at }).where(eq(apiKeys.id, id));
    },
    async countActive() {
      const [row] = await db.select({ n: count() }).from(apiKeys).where(isNull(apiKeys.revokedAt));
      return row?.n ?? 0;
    },
    async insertIfNoneActive(create) {
      return db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(${LOCK_KEYS.bootstrapAdmin})`);
        const [row] = await tx
          .select({ n: count() })
          .from(apiKeys)
          .where(isNull(apiKeys.revokedAt));
        if ((row?.n ?? 0) > 0) return undefined;
        const [inserted] = await tx.insert(apiKeys).values(create()).returning();
        return toRecord(inserted!);
      });
    },
  };
}
