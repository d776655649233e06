// The replica registry on PostgreSQL or PGlite. Heartbeats carry the database's own clock, and a
// heartbeat gives up quickly when a restore holds the table (it is tried again at the next beat).
import { eq, sql } from 'drizzle-orm';
import type {
  ReplicaHealth,
  ReplicaRecord,
  ReplicaRegistry,
} from '../../ports/replica-registry.js';
import { queryRows, type Db } from './database.js';
import { serviceReplicas } from './schema.js';

interface Row {
  id: string;
  role: string;
  host: string;
  pid: number;
  version: string;
  started_at: string | Date;
  heartbeat_at: string | Date;
  ack_since: string | null;
  ack_at: string | Date | null;
  health: ReplicaHealth | string | null;
  age_ms: string | number;
}

const date = (v: string | Date) => (v instanceof Date ? v : new Date(v));

export function createPgReplicaRegistry(
  db: Db,
  options: { lockTimeoutMs?: number } = {},
): ReplicaRegistry {
  const lockTimeoutMs = Math.max(1, Math.floor(options.lockTimeoutMs ?? 1000));
  return {
    async heartbeat(b) {
      const row = {
        id: b.id,
        role: b.role,
        host: b.host,
        pid: b.pid,
        version: b.version,
        startedAt: b.startedAt,
        ackSince: b.ackSince,
        health: b.health as Record<string, unknown> | null,
      };
      await db.transaction(async (tx) => {
        await tx.execute(sql.raw(`set local lock_timeout = ${lockTimeoutMs}`));
        await tx
          .insert(serviceReplicas)
          .values({ ...row, heartbeatAt: sql`now()`, ackAt: b.ackSince ? sql`now()` : null })
          .onConflictDoUpdate({
            target: serviceReplicas.id,
            set: {
              ...row,
              heartbeatAt: sql`now()`,
              // The time of the acknowledgement is kept while it is the same one.
              ackAt: b.ackSince
                ? sql`case when ${serviceReplicas.ackSince} is not distinct from ${b.ackSince}::text
                        then coalesce(${serviceReplicas.ackAt}, now()) else now() end`
                : null,
            },
          });
      });
    },
    async list() {
      const rows = await queryRows<Row>(
        db,
        sql`select id, role, host, pid, version, started_at, heartbeat_at, ack_since, ack_at, health,
                   (extract(epoch from (now() - heartbeat_at)) * 1000)::bigint as age_ms
              from service_replicas order by started_at, id`,
      );
      return rows.map((r): ReplicaRecord => ({
        id: r.id,
        role: r.role,
        host: r.host,
        pid: Number(r.pid),
        version: r.version,
        startedAt: date(r.started_at),
        heartbeatAt: date(r.heartbeat_at),
        ackSince: r.ack_since,
        ackAt: r.ack_at === null ? null : date(r.ack_at),
        health: typeof r.health === 'string' ? (JSON.parse(r.health) as ReplicaHealth) : r.health,
        ageMs: Math.max(0, Number(r.age_ms)),
      }));
    },
    async remove(id) {
      await db.delete(serviceReplicas).where(eq(serviceReplicas.id, id));
    },
    async prune(maxAgeMs) {
      const gone = await db
        .delete(serviceReplicas)
        .where(
          sql`${serviceReplicas.heartbeatAt} < now() - ${Math.floor(maxAgeMs)}::float8 * interval '1 millisecond'`,
        )
        .returning({ id: serviceReplicas.id });
      return gone.length;
    },
  };
}
