// Restores a database backup while the service runs, stopping the world first: the backup is
// checked end to end (and read for what it holds), maintenance goes on and every live replica
// must acknowledge it (it refuses writes, its engine halted) before anything is replaced; the
// dump is loaded in one transaction; then the replicas resume from the restored log and the
// report says what the current database lost and how the service really is afterwards.
import { AppError } from '../domain/errors.js';
import type { AuditLogStore } from '../ports/audit-log-store.js';
import type { DatabaseDumper, DatabaseKind, RowCounts, SwarmInventory } from '../ports/backup.js';
import type { Logger } from '../ports/logger.js';
import type { ReplicaRegistry } from '../ports/replica-registry.js';
import { BackupIntegrityError } from './backup-crypto.js';
import type { BackupReader, BackupSource } from './backup-reader.js';
import { createInventoryCollector, type DumpInventory } from './dump-inventory.js';
import { maintenanceRowSql, type MaintenanceMode, type MaintenanceState } from './maintenance.js';
import {
  awaitAcknowledgements,
  awaitResumed,
  serviceStatus,
  type ServiceStatus,
} from './replica-roll-call.js';

export interface RestoreServiceDeps {
  reader: BackupReader;
  database: DatabaseDumper;
  maintenance: MaintenanceMode;
  replicas: ReplicaRegistry;
  audit?: AuditLogStore;
  /** Applies pending migrations to the live database (a backup of an older release). */
  migrate(): Promise<void>;
  /** The catalog learns the target's backups again (the restore replaced it). */
  resyncCatalog(): Promise<void>;
  /** Probes the live database from this process; throws when unhealthy. */
  checkHealth(): Promise<void>;
  /** The replica of this process, when the restore runs inside the service: beat it at once. */
  beatLocal?: () => Promise<void>;
  ackTimeoutMs: number;
  staleMs: number;
  pollMs?: number;
  logger: Logger;
  onProgress?: (p: { phase: string; bytes: number }) => void;
}

export interface RestoreOptions {
  /** Leave maintenance on after the restore (inspect first; `cfn maintenance off` resumes). */
  keepMaintenance?: boolean;
  /** Who asked, for the audit log. */
  actor?: { keyId: string | null; name: string; requestId?: string | null; ip?: string | null };
}

/** What replacing the current database with the backup would change, swarm by swarm. */
export interface RestoreImpact {
  /** Swarms of the current database that the backup does not hold: they are discarded. */
  discardedSwarms: string[];
  /** Their events, plus the events swarms of both wrote after the backup: all discarded. */
  discardedEvents: number;
  /** Swarms of both that moved on since the backup: they go back to their state in it. */
  rolledBackSwarms: string[];
  /** Swarms of the backup the current database does not hold (they come back). */
  returningSwarms: number;
}

export interface RestorePlan {
  id: string;
  location: string;
  origin: 'target' | 'file';
  createdAt: string;
  encrypted: boolean;
  /** `verified` against the manifest, or not verifiable (a file without its manifest). */
  checksum: 'verified' | 'unverifiable';
  kind: DatabaseKind;
  /** Rows per table in the backup, read from the dump itself. */
  backupRows: RowCounts;
  swarmsInBackup: number;
  impact: RestoreImpact;
}

export interface RestoreReport extends RestorePlan {
  rowCounts: RowCounts;
  schemaVersionBefore: string | null;
  schemaVersionAfter: string | null;
  /** The maintenance the replicas acknowledged (its `since`). */
  maintenanceSince: string;
  acknowledged: Array<{ id: string; role: string; host: string; pid: number }>;
  /** When every live replica had acknowledged (nothing was written after this). */
  acknowledgedAt: string;
  maintenance: 'on' | 'off';
  service: ServiceStatus;
  durationMs: number;
}

const PROTECTED = (t: string) =>
  t.startsWith('public.') && t !== 'public.settings' && t !== 'public.service_replicas';

export function restoreImpact(live: SwarmInventory, backup: DumpInventory): RestoreImpact {
  const discardedSwarms: string[] = [];
  const rolledBackSwarms: string[] = [];
  let discardedEvents = 0;
  for (const id of new Set([...live.swarms, ...live.events.keys()])) {
    const liveEvents = live.events.get(id) ?? 0;
    if (!backup.swarms.has(id)) {
      if (live.swarms.has(id)) discardedSwarms.push(id);
      discardedEvents += liveEvents;
      continue;
    }
    const extra = liveEvents - (backup.events.get(id) ?? 0);
    if (extra > 0) {
      rolledBackSwarms.push(id);
      discardedEvents += extra;
    }
  }
  let returningSwarms = 0;
  for (const id of backup.swarms) if (!live.swarms.has(id)) returningSwarms++;
  return {
    discardedSwarms: discardedSwarms.sort(),
    discardedEvents,
    rolledBackSwarms: rolledBackSwarms.sort(),
    returningSwarms,
  };
}

function diffCounts(expected: RowCounts, actual: RowCounts) {
  const problems: string[] = [];
  for (const [table, n] of Object.entries(expected)) {
    if (!PROTECTED(table)) continue;
    if (actual[table] !== n)
      problems.push(`${table}: expected ${n} rows, found ${actual[table] ?? 'no table'}`);
  }
  return problems;
}

export function createRestoreService(deps: RestoreServiceDeps) {
  const progress = (phase: string, bytes = 0) => deps.onProgress?.({ phase, bytes });
  const roll = {
    registry: deps.replicas,
    staleMs: deps.staleMs,
    timeoutMs: deps.ackTimeoutMs,
    ...(deps.pollMs ? { pollMs: deps.pollMs } : {}),
    ...(deps.beatLocal ? { beatLocal: deps.beatLocal } : {}),
  };

  /** Checks the backup end to end and reads what it holds; nothing is changed. */
  async function inspect(ref: string): Promise<{ source: BackupSource; inventory: DumpInventory }> {
    const source = await deps.reader.source(ref, 'database');
    const m = source.manifest;
    if (m.type !== 'database') {
      throw new AppError(
        'VALIDATION_FAILED',
        `${m.id} is an app-data backup; restore takes a database backup.`,
      );
    }
    deps.reader.requireKeyFor(m);
    if (source.verifiable) await deps.reader.checkChecksum(source);
    const collector = createInventoryCollector();
    await deps.reader.checkDecodes(source, collector.sink);
    const inventory = collector.result();
    if (m.database) {
      // The manifest and the dump must agree: a dump that lost rows on the way is damaged.
      const problems = diffCounts(m.database.rowCounts, inventory.rowCounts);
      if (problems.length) {
        throw new BackupIntegrityError(
          `Backup ${m.id} does not hold what its manifest says: ${problems.join('; ')}`,
        );
      }
    }
    return { source, inventory };
  }

  /** Without a manifest the dump tells: COPY blocks come from pg_dump of PostgreSQL. */
  const kindOf = (source: BackupSource, inventory: DumpInventory): DatabaseKind =>
    source.manifest.database?.kind ?? (inventory.format === 'copy' ? 'postgres' : 'pglite');

  function checkInto(kind: DatabaseKind): void {
    if (kind === 'postgres' && deps.database.kind === 'pglite') {
      throw new AppError(
        'VALIDATION_FAILED',
        'A PostgreSQL backup cannot be restored into the embedded database (its COPY data needs ' +
          'psql). Set DATABASE_URL to restore it into PostgreSQL.',
      );
    }
  }

  function planOf(
    source: BackupSource,
    inventory: DumpInventory,
    live: SwarmInventory,
  ): RestorePlan {
    const m = source.manifest;
    return {
      id: m.id,
      location: source.location,
      origin: source.origin,
      createdAt: m.createdAt,
      encrypted: Boolean(m.encryption),
      checksum: source.verifiable ? 'verified' : 'unverifiable',
      kind: kindOf(source, inventory),
      backupRows: inventory.rowCounts,
      swarmsInBackup: inventory.swarms.size,
      impact: restoreImpact(live, inventory),
    };
  }

  /** What a restore of `ref` would do now (the confirmation shows it); nothing is changed. */
  async function plan(ref: string): Promise<RestorePlan> {
    const { source, inventory } = await inspect(ref);
    checkInto(kindOf(source, inventory));
    return planOf(source, inventory, await deps.database.swarmInventory());
  }

  async function restore(ref: string, options: RestoreOptions = {}): Promise<RestoreReport> {
    const startMs = Date.now();
    const { source, inventory } = await inspect(ref);
    const m = source.manifest;
    const kind = kindOf(source, inventory);
    checkInto(kind);
    const schemaVersionBefore = await deps.database.schemaVersion();

    // Stop the world: maintenance on (or the one already on), acknowledged by every replica.
    const prior = await deps.maintenance.status();
    const state: MaintenanceState = prior.enabled
      ? prior
      : await deps.maintenance.enable(`restoring ${m.id}`);
    const since = state.since ?? '';
    deps.logger.warn({ id: m.id, since }, 'maintenance on: waiting for every replica to stop');
    let acknowledged;
    try {
      progress('waiting for every replica to acknowledge maintenance');
      acknowledged = await awaitAcknowledgements(since, {
        ...roll,
        onWaiting: (w) => progress(`waiting for ${w.length} replica(s) to acknowledge maintenance`),
      });
    } catch (err) {
      if (!prior.enabled) await deps.maintenance.disable().catch(() => {});
      throw new AppError(
        'SERVICE_UNAVAILABLE',
        `Restore of ${m.id} did not start and nothing was changed` +
          `${prior.enabled ? '' : ' (maintenance is off again)'}: ${(err as Error).message}`,
        { cause: err, ...(err instanceof AppError && err.details ? { details: err.details } : {}) },
      );
    }
    const acknowledgedAt = new Date().toISOString();
    // Nothing writes now: what the current database loses is exactly this.
    const planned = planOf(source, inventory, await deps.database.swarmInventory());
    if (planned.impact.discardedSwarms.length || planned.impact.discardedEvents) {
      deps.logger.warn(
        {
          id: m.id,
          discardedSwarms: planned.impact.discardedSwarms,
          discardedEvents: planned.impact.discardedEvents,
          rolledBackSwarms: planned.impact.rolledBackSwarms,
        },
        'restore discards what the current database holds beyond the backup',
      );
    }

    let restored = false;
    try {
      progress(`restoring ${m.id}`);
      await deps.database.restore(await deps.reader.open(source), {
        sourceKind: kind,
        afterSql: maintenanceRowSql(state),
      });
      restored = true;
      const counts = await deps.database.rowCounts();
      const problems = diffCounts(inventory.rowCounts, counts);
      if (problems.length) {
        throw new BackupIntegrityError(
          `The restored database differs from ${m.id}: ${problems.join('; ')}`,
        );
      }
      progress('migrating');
      await deps.migrate();
      await deps.resyncCatalog();
      await deps.checkHealth();
      await deps.audit
        ?.append({
          action: 'backup.restored',
          actorKeyId: options.actor?.keyId ?? null,
          actorName: options.actor?.name ?? 'cli',
          target: m.id,
          details: {
            location: source.location,
            checksum: planned.checksum,
            discardedSwarms: planned.impact.discardedSwarms,
            discardedEvents: planned.impact.discardedEvents,
            rolledBackSwarms: planned.impact.rolledBackSwarms,
            acknowledgedBy: acknowledged.map((r) => r.id),
          },
          requestId: options.actor?.requestId ?? null,
          ip: options.actor?.ip ?? null,
        })
        .catch((err: unknown) =>
          deps.logger.warn({ err, id: m.id }, 'restore done but not recorded in the audit log'),
        );
      let service: ServiceStatus;
      if (options.keepMaintenance) {
        service = await serviceStatus(since, roll, true);
        deps.logger.warn({ id: m.id }, 'restore complete: maintenance stays on as asked');
      } else {
        await deps.maintenance.disable();
        progress('waiting for the replicas to resume');
        service = await awaitResumed(since, roll);
        deps.logger.warn(
          { id: m.id, service: service.status },
          'restore complete: maintenance off',
        );
      }
      return {
        ...planned,
        rowCounts: counts,
        schemaVersionBefore,
        schemaVersionAfter: await deps.database.schemaVersion(),
        maintenanceSince: since,
        acknowledged: acknowledged.map((r) => ({
          id: r.id,
          role: r.role,
          host: r.host,
          pid: r.pid,
        })),
        acknowledgedAt,
        maintenance: options.keepMaintenance ? 'on' : 'off',
        service,
        durationMs: Date.now() - startMs,
      };
    } catch (err) {
      if (!restored) {
        // The restore ran in one transaction that rolled back: the live data is as it was.
        if (!prior.enabled) await deps.maintenance.disable().catch(() => {});
        throw new AppError(
          'INTERNAL',
          `Restore of ${m.id} failed and nothing was changed${prior.enabled ? '' : ' (maintenance is off again)'}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      throw new AppError(
        'INTERNAL',
        `Restore of ${m.id} was applied but a check after it failed; maintenance stays on. ` +
          `Fix the cause, then run \`cfn maintenance off\`: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  return { plan, restore };
}

export type RestoreService = ReturnType<typeof createRestoreService>;
