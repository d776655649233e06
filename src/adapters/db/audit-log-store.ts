// AuditLogStore on PostgreSQL (server or PGlite) through Drizzle.
import { and, count, desc, eq, lt } from 'drizzle-orm';
import type { AuditLogStore, AuditRecord } from '../../ports/audit-log-store.js';
import type { Db } from './database.js';
import { auditLog } from './schema.js';

type Row = typeof auditLog.$inferSelect;

function toRecord(row: Row): AuditRecord {
  return {
    id: row.id,
    at: row.at,
    action: row.action,
    actorKeyId: row.actorKeyId,
    actorName: row.actorName,
    target: row.target,
    details: row.details,
    requestId: row.requestId,
    ip: row.ip,
  };
}

export function createPgAuditLogStore(db: Db, readDb: Db = db): AuditLogStore {
  return {
    async append(entry) {
      const [row] = await db
        .insert(auditLog)
        .values({ ...entry, details: { ...entry.details } })
        .returning();
      return toRecord(row!);
    },
    async list({ limit, before, action }) {
      const rows = await readDb
        .select()
        .from(auditLog)
        .where(
          and(
            before === undefined ? undefined : lt(auditLog.id, before),
            action === undefined ? undefined : eq(auditLog.action, action),
          ),
        )
        .orderBy(desc(auditLog.id))
        .limit(limit);
      return rows.map(toRecord);
    },
    async countBefore(cutoff) {
      const [row] = await db.select({ n: count() }).from(auditLog).where(lt(auditLog.at, cutoff));
      return Number(row?.n ?? 0);
    },
    async deleteBefore(cutoff) {
      const rows = await db
        .delete(auditLog)
        .where(lt(auditLog.at, cutoff))
        .returning({ id: auditLog.id });
      return rows.length;
    },
  };
}
