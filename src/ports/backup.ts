// What backup and restore need from the database: a consistent dump as a stream, a restore from
// one, per-table row counts and checksums, and the catalog of backups.
import type { Readable } from 'node:stream';
import type { PhysicalBackupKind } from './physical-backup.js';

export type BackupType = 'database' | 'app-data';
/** What the catalog calls a pgBackRest backup: `pgbackrest-full`, `-diff`, `-incr`. */
export type PhysicalBackupType = `pgbackrest-${PhysicalBackupKind}`;
export type DatabaseKind = 'pglite' | 'postgres';

/** Counts per table, keyed `schema.table` (e.g. `public.swarms`). */
export type RowCounts = Record<string, number>;

/** The swarms of a database and the events of each (what a restore would discard or bring back). */
export interface SwarmInventory {
  swarms: Set<string>;
  /** Rows of `events` per swarm id. */
  events: Map<string, number>;
}

export interface DumpResult {
  /** Plain SQL. */
  stream: Readable;
  /** Resolves when the dump ended successfully, with the row counts of the dumped snapshot. */
  done: Promise<{ rowCounts: RowCounts }>;
}

export interface DatabaseDumper {
  readonly kind: DatabaseKind;
  /** A consistent dump of the whole database (schema, data, migration history). */
  dump(): Promise<DumpResult>;
  /**
   * Replaces the database's content with the dump `sql`, all or nothing: on any failure the
   * database is left as it was. `sourceKind` is the kind of database the dump came from.
   * `afterSql` runs inside the same transaction, after the dump (e.g. keep maintenance on).
   * In that transaction too, the replica registry keeps its live rows and every swarm lease of
   * the old database is given up (owners and expiry times cleared).
   */
  restore(sql: Readable, options: { sourceKind: DatabaseKind; afterSql?: string }): Promise<void>;
  rowCounts(): Promise<RowCounts>;
  /** An md5 over every row of each table in a fixed order: equal content, equal checksum. */
  tableChecksums(): Promise<Record<string, string>>;
  /** The tag of the newest applied migration, or null. */
  schemaVersion(): Promise<string | null>;
  swarmInventory(): Promise<SwarmInventory>;
  close(): Promise<void>;
}

/** Opens a throwaway database (in-memory PGlite or a temporary PostgreSQL database). */
export interface ScratchDatabases {
  open(kind: DatabaseKind): Promise<DatabaseDumper>;
}

export interface EncryptionInfo {
  algorithm: 'aes-256-gcm-chunked';
  frameBytes: number;
  /** sha256 of the key, first 16 hex: tells which key a backup needs without revealing it. */
  keyId: string;
}

export interface BackupManifest {
  formatVersion: 1;
  id: string;
  type: BackupType;
  /** Object key of the backup file in the target. */
  key: string;
  sha256: string;
  sizeBytes: number;
  createdAt: string;
  completedAt: string;
  durationMs: number;
  encryption: EncryptionInfo | null;
  database?: { kind: DatabaseKind; schemaVersion: string | null; rowCounts: RowCounts };
  appData?: { entries: string[]; includesSecrets: boolean };
}

export interface BackupRecord {
  id: string;
  type: BackupType | PhysicalBackupType;
  status: 'running' | 'completed' | 'failed';
  target: string;
  key: string;
  sizeBytes: number | null;
  sha256: string | null;
  manifest: BackupManifest | null;
  error: string | null;
  createdAt: Date;
  completedAt: Date | null;
  durationMs: number | null;
  verifiedAt: Date | null;
}

export interface BackupCatalog {
  upsert(record: BackupRecord): Promise<void>;
  list(): Promise<BackupRecord[]>;
  markVerified(id: string, at: Date): Promise<void>;
  remove(id: string): Promise<void>;
}

/** The `settings` table (key -> JSON value), shared by every replica. */
export interface SettingsStore {
  get(key: string): Promise<unknown>;
  /**
   * Reads `key` but gives up after `lockTimeoutMs` when the table is locked (a restore or a
   * migration holds it): `locked` is then true and `value` undefined.
   */
  getUnlessLocked(key: string, lockTimeoutMs: number): Promise<{ locked: boolean; value: unknown }>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
}
