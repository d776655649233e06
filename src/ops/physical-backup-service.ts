// pgBackRest backups as `cfn` shows them: a backup recorded in the catalog (so the backup metrics
// count it, typed pgbackrest-full/-diff/-incr), the repository's backups with their last
// verification, a check of the whole repository, and a point-in-time restore into a data
// directory. The repository (pgbackrest info) is the truth; the catalog adds what cfn saw.
import { AppError, NotFoundError, ValidationError } from '../domain/errors.js';
import { parseRecoveryTime } from '../domain/recovery-time.js';
import type { BackupCatalog, PhysicalBackupType } from '../ports/backup.js';
import type { Logger } from '../ports/logger.js';
import type {
  PhysicalBackup,
  PhysicalBackupKind,
  PhysicalBackups,
  PhysicalProgress,
  PhysicalRepository,
  PhysicalVerifyReport,
} from '../ports/physical-backup.js';
import { BackupIntegrityError } from './backup-crypto.js';
import { runningRecord, stamp, type BackupProgress } from './backup-service.js';

export interface PhysicalBackupServiceDeps {
  engine: PhysicalBackups;
  /** Absent for a restore, which runs while the database is down. */
  catalog?: BackupCatalog | undefined;
  logger: Logger;
  now?: () => Date;
  onProgress?: (p: BackupProgress) => void;
}

export interface PhysicalBackupView {
  /** pgBackRest's label, which `--set` and `cfn restore --engine pgbackrest <label>` take. */
  id: string;
  engine: 'pgbackrest';
  type: PhysicalBackupType;
  stanza: string;
  /** The backup this one builds on (null for a full backup). */
  prior: string | null;
  createdAt: string;
  completedAt: string;
  /** What the backup added to the repository (compressed, encrypted). */
  sizeBytes: number;
  /** The cluster's size when it was taken. */
  databaseSizeBytes: number;
  encryption: { algorithm: string } | null;
  wal: { start: string; stop: string };
}

export interface PhysicalListing {
  stanza: string;
  encryption: { algorithm: string } | null;
  /** Archived WAL of the current database: recovery reaches any time up to its end. */
  wal: { min: string; max: string } | null;
  /** The earliest time a point-in-time recovery can reach (the end of the oldest backup). */
  recoverableFrom: string | null;
  /** Newest first. */
  backups: Array<PhysicalBackupView & { verifiedAt: string | null }>;
}

export interface PhysicalVerifyResult extends Omit<PhysicalVerifyReport, 'text' | 'ok'> {
  stanza: string;
  durationMs: number;
}

export interface PhysicalRestoreResult {
  stanza: string;
  /** The backup set pgBackRest restored. */
  label: string | null;
  /** The recovery target (UTC), null: to the end of the archived WAL. */
  target: string | null;
  dataDir: string | null;
  durationMs: number;
}

const recordType = (kind: PhysicalBackupKind): PhysicalBackupType => `pgbackrest-${kind}`;

function viewOf(repo: PhysicalRepository, b: PhysicalBackup): PhysicalBackupView {
  return {
    id: b.label,
    engine: 'pgbackrest',
    type: recordType(b.kind),
    stanza: repo.name,
    prior: b.prior,
    createdAt: b.startedAt.toISOString(),
    completedAt: b.stoppedAt.toISOString(),
    sizeBytes: b.repositoryBytes,
    databaseSizeBytes: b.databaseBytes,
    encryption: repo.cipher ? { algorithm: repo.cipher } : null,
    wal: { start: b.walStart, stop: b.walStop },
  };
}

export function createPhysicalBackupService(deps: PhysicalBackupServiceDeps) {
  const { engine, logger } = deps;
  const now = deps.now ?? (() => new Date());

  /** Forwards pgBackRest's lines as a progress line: the percentage, else what it is doing. */
  const progress =
    (phase: string) =>
    (p: PhysicalProgress): void =>
      deps.onProgress?.(
        p.percent !== undefined
          ? { phase, bytes: 0, percent: p.percent }
          : { phase: `${phase}: ${p.message.slice(0, 72)}`, bytes: 0 },
      );

  async function create(
    kind: PhysicalBackupKind,
  ): Promise<PhysicalBackupView & { durationMs: number }> {
    const started = now();
    const startMs = Date.now();
    const base = runningRecord({
      id: `pgbackrest-${kind}-${stamp(started)}`,
      type: recordType(kind),
      target: `pgbackrest:${engine.name}`,
      key: '',
      createdAt: started,
    });
    try {
      // The new backup is the one the repository did not list before (an incr without a prior
      // full backup comes out as a full one).
      const before = new Set((await engine.repository()).backups.map((b) => b.label));
      const phase = `pgBackRest ${kind} backup`;
      deps.onProgress?.({ phase, bytes: 0 });
      await engine.backup(kind, progress(phase));
      const repo = await engine.repository();
      const made = repo.backups.filter((b) => !before.has(b.label)).at(-1);
      if (!made) {
        throw new AppError(
          'INTERNAL',
          `pgbackrest backup ended well but stanza ${engine.name} lists no new backup`,
        );
      }
      const view = viewOf(repo, made);
      const durationMs = Date.now() - startMs;
      await deps.catalog
        ?.upsert({
          ...base,
          id: made.label,
          key: made.label,
          type: view.type,
          status: 'completed',
          sizeBytes: made.repositoryBytes,
          createdAt: made.startedAt,
          completedAt: made.stoppedAt,
          durationMs,
        })
        .catch((err: unknown) =>
          logger.warn({ err, id: made.label }, 'backup made but not recorded in the catalog'),
        );
      if (made.kind !== kind) {
        logger.warn(
          { id: made.label, requested: kind, made: made.kind },
          'pgBackRest made a full backup: there was no prior full backup',
        );
      }
      logger.info(
        { id: made.label, type: view.type, sizeBytes: view.sizeBytes, durationMs },
        'backup completed',
      );
      return { ...view, durationMs };
    } catch (err) {
      const message = (err as Error).message;
      await deps.catalog
        ?.upsert({
          ...base,
          status: 'failed',
          error: message,
          completedAt: now(),
          durationMs: Date.now() - startMs,
        })
        .catch(() => {});
      logger.error({ err, type: base.type }, 'backup failed');
      throw err instanceof AppError
        ? err
        : new AppError('INTERNAL', `The pgBackRest ${kind} backup failed: ${message}`, {
            cause: err,
          });
    }
  }

  async function list(): Promise<PhysicalListing> {
    const repo = await engine.repository();
    const verified = new Map(
      ((await deps.catalog?.list().catch(() => [])) ?? []).map((r) => [r.id, r.verifiedAt]),
    );
    const oldest = repo.backups[0];
    return {
      stanza: repo.name,
      encryption: repo.cipher ? { algorithm: repo.cipher } : null,
      wal: repo.wal,
      recoverableFrom: oldest ? oldest.stoppedAt.toISOString() : null,
      backups: repo.backups
        .map((b) => ({
          ...viewOf(repo, b),
          verifiedAt: verified.get(b.label)?.toISOString() ?? null,
        }))
        .reverse(),
    };
  }

  /** Reads every backup and WAL file of the repository back and checks its checksum. */
  async function verify(): Promise<PhysicalVerifyResult> {
    const startMs = Date.now();
    deps.onProgress?.({ phase: 'pgBackRest verify: reading the whole repository', bytes: 0 });
    const report = await engine.verify();
    if (!report.ok) {
      throw new BackupIntegrityError(
        `The pgBackRest repository of stanza ${engine.name} is damaged:\n${report.text}`,
      );
    }
    const at = now();
    for (const b of report.backups) {
      if (b.status === 'valid') await deps.catalog?.markVerified(b.label, at).catch(() => {});
    }
    return {
      stanza: engine.name,
      archives: report.archives,
      backups: report.backups,
      durationMs: Date.now() - startMs,
    };
  }

  /**
   * Writes a data directory from the repository, to `to` (a time with its zone) or to the end of
   * the archived WAL. Refuses a time no backup precedes: recovery cannot go back past the oldest.
   */
  async function restore(options: {
    to?: string | undefined;
    label?: string | undefined;
    dataDir?: string | undefined;
  }): Promise<PhysicalRestoreResult> {
    const startMs = Date.now();
    const target = options.to === undefined ? undefined : parseRecoveryTime(options.to);
    const repo = await engine.repository();
    let candidates = repo.backups;
    if (options.label) {
      candidates = candidates.filter((b) => b.label === options.label);
      if (!candidates.length) throw new NotFoundError('pgBackRest backup', options.label);
    }
    if (!candidates.length) {
      throw new ValidationError(`Stanza ${repo.name} has no backup yet: nothing to restore.`);
    }
    if (target && !candidates.some((b) => b.stoppedAt <= target.date)) {
      throw new ValidationError(
        `No backup ${options.label ? `${options.label} ` : ''}of stanza ${repo.name} ended before ` +
          `${target.text}: recovery reaches back to ${candidates[0]!.stoppedAt.toISOString()} at the earliest.`,
      );
    }
    const r = await engine.restore(
      {
        ...(target ? { targetTime: target.text } : {}),
        ...(options.label ? { label: options.label } : {}),
        ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      },
      progress('pgBackRest restore'),
    );
    logger.info(
      { stanza: repo.name, label: r.label, target: target?.text },
      'pgBackRest restore done',
    );
    return {
      stanza: repo.name,
      label: r.label,
      target: target?.text ?? null,
      dataDir: options.dataDir ?? null,
      durationMs: Date.now() - startMs,
    };
  }

  return { create, list, verify, restore };
}

export type PhysicalBackupService = ReturnType<typeof createPhysicalBackupService>;
