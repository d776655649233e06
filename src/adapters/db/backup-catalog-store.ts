// The `backups` catalog and the `settings` key-value table on PostgreSQL or PGlite (Drizzle).
import { desc, eq, sql } from 'drizzle-orm';
import type {
  BackupCatalog,
  BackupManifest,
  BackupRecord,
  SettingsStore,
} from '../../ports/backup.js';
import type { Db } from './database.js';
import { backups, settings } from './schema.js';

export function createPgBackupCatalog(db: Db): BackupCatalog {
  return {
    async upsert(r) {
      const row = {
        id: r.id,
        type: r.type,
        status: r.status,
        target: r.target,
        key: r.key,
        sizeBytes: r.sizeBytes,
        sha256: r.sha256,
        manifest: r.manifest,
        error: r.error,
        createdAt: r.createdAt,
        completedAt: r.completedAt,
        durationMs: r.durationMs,
        verifiedAt: r.verifiedAt,
      };
      await db.insert(backups).values(row).onConflictDoUpdate({ target: backups.id, set: row });
    },
    async list() {
      const rows = await db.select().from(backups).orderBy(desc(backups.createdAt));
      return rows.map((r): BackupRecord => ({
        id: r.id,
        type: r.type as BackupRecord['type'],
        status: r.status as BackupRecord['status'],
        target: r.target,
        key: r.key,
        sizeBytes: r.sizeBytes,
        sha256: r.sha256,
        manifest: (r.manifest as BackupManifest | null) ?? null,
        error: r.error,
        createdAt: r.createdAt,
        completedAt: r.completedAt,
        durationMs: r.durationMs,
        verifiedAt: r.verifiedAt,
      }));
    },
    async markVerified(id, at) {
      await db.update(backups).set({ verifiedAt: at }).where(eq(backups.id, id));
    },
    async remove(id) {
      await db.delete(backups).where(eq(backups.id, id));
    },
  };
}

export function createPgSettingsStore(db: Db): SettingsStore {
  return {
    async get(key) {
      const [row] = await db.select().from(settings).where(eq(settings.key, key));
      return row?.value;
    },
    async getUnlessLocked(key, lockTimeoutMs) {
      try {
        return await db.transaction(async (tx) => {
          await tx.execute(
            sql.raw(`set local lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`),
          );
          const [row] = await tx.select().from(settings).where(eq(settings.key, key));
          return { locked: false, value: row?.value };
        });
      } catch (err) {
        const e = err as { code?: string; cause?: { code?: string } };
        // 55P03 lock_not_available: someone holds the table exclusively (restore, migration).
        if ((e.code ?? e.cause?.code) === '55P03') return { locked: true, value: undefined };
        throw err;
      }
    },
    async set(key, value) {
      await db
        .insert(settings)
        .values({ key, value, updatedAt: new Date() })
        .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: new Date() } });
    },
    async delete(key) {
      await db.delete(settings).where(eq(settings.key, key));
    },
  };
}
