// What incremental backups and point-in-time recovery need from a physical backup tool
// (pgBackRest): file-level backups of the running cluster plus its archived WAL, the
// repository's contents, a check of the whole repository, and a restore to a point in time.

/** full copies every file; diff what changed since the last full; incr since the last backup. */
export type PhysicalBackupKind = 'full' | 'diff' | 'incr';
export const PHYSICAL_BACKUP_KINDS: readonly PhysicalBackupKind[] = ['full', 'diff', 'incr'];

export interface PhysicalBackup {
  /** The tool's name for the backup (pgBackRest's label, e.g. `20260301-020000F`). */
  label: string;
  kind: PhysicalBackupKind;
  /** The backup this one depends on (none for a full backup). */
  prior: string | null;
  startedAt: Date;
  stoppedAt: Date;
  /** Size of the cluster's files at backup time. */
  databaseBytes: number;
  /** What this backup added to the repository (compressed, encrypted). */
  repositoryBytes: number;
  /** First and last WAL segment the backup needs to be consistent. */
  walStart: string;
  walStop: string;
}

export interface PhysicalRepository {
  name: string;
  /** Encryption of the repository (e.g. `aes-256-cbc`), null when it is not encrypted. */
  cipher: string | null;
  /** Oldest first. */
  backups: PhysicalBackup[];
  /** Oldest and newest archived WAL segment of the current database, null before any. */
  wal: { min: string; max: string } | null;
}

export interface PhysicalVerifyReport {
  ok: boolean;
  archives: Array<{ id: string; checked: number; valid: number }>;
  backups: Array<{ label: string; status: string; checked: number; valid: number }>;
  /** The tool's own report, shown when something is wrong. */
  text: string;
}

/** One line of the tool's output; `percent` when it tells how far a backup or restore is. */
export interface PhysicalProgress {
  message: string;
  percent?: number;
}

export interface PhysicalRestoreOptions {
  /** Recover to this time (`YYYY-MM-DD HH:MM:SS[.ffffff]+00`); unset: to the end of the WAL. */
  targetTime?: string;
  /** Restore this backup; unset: the tool picks the newest one that ended before the target. */
  label?: string;
  /** Restore into this data directory (new or empty) instead of the configured one. */
  dataDir?: string;
}

export interface PhysicalBackups {
  readonly engine: 'pgbackrest';
  readonly name: string;
  backup(kind: PhysicalBackupKind, onProgress?: (p: PhysicalProgress) => void): Promise<void>;
  repository(): Promise<PhysicalRepository>;
  verify(): Promise<PhysicalVerifyReport>;
  /** Writes the data directory; the server then replays WAL to the target and promotes. */
  restore(
    options: PhysicalRestoreOptions,
    onProgress?: (p: PhysicalProgress) => void,
  ): Promise<{ label: string | null }>;
}
