// Backup, verification, retention, restore and disaster-recovery drills. Everything streams
// (dump -> gzip -> encrypt -> store, and back); a backup is checked end to end before a restore
// touches the live database, and a failed restore leaves it as it was.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import * as tar from 'tar';
import { AppError } from '../domain/errors.js';
import type {
  BackupCatalog,
  BackupManifest,
  BackupRecord,
  BackupType,
  DatabaseDumper,
  RowCounts,
  ScratchDatabases,
} from '../ports/backup.js';
import type { AuditLogStore } from '../ports/audit-log-store.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { Logger } from '../ports/logger.js';
import type { ReplicaRegistry } from '../ports/replica-registry.js';
import { BackupIntegrityError, createEncryptStream, encryptionInfo } from './backup-crypto.js';
import { createBackupReader, tap } from './backup-reader.js';
import { decideRetention, DEFAULT_RETENTION, type RetentionPolicy } from './backup-retention.js';
import type { MaintenanceMode } from './maintenance.js';
import { createRestoreService, type RestoreOptions } from './restore-service.js';

export interface BackupProgress {
  phase: string;
  bytes: number;
  /** How far it is, when the tool tells (pgBackRest). */
  percent?: number;
}

export interface AppDataSources {
  /** Configuration without secrets (always included). */
  settings: Record<string, string>;
  /** Secret settings, included only with includeSecrets. */
  secrets: Record<string, string>;
  /** Configuration files (providers, prices) that exist. */
  configFiles: string[];
  agentsDir: string;
  dataDir: string;
  /** Entries of dataDir never archived (the database files, the lock, local backups). */
  dataDirExclude: string[];
}

export interface BackupServiceDeps {
  store: BlobStore;
  /** The live database; absent for commands that never touch it. */
  database: DatabaseDumper;
  scratch: ScratchDatabases;
  catalog: BackupCatalog;
  maintenance: MaintenanceMode;
  /** Who runs the service: a restore waits until each of them acknowledges maintenance. */
  replicas: ReplicaRegistry;
  audit?: AuditLogStore;
  /** A blob store on a local directory (backups given as a file path). */
  directory?: (dir: string) => BlobStore;
  appData: AppDataSources;
  encryptionKey?: Buffer | undefined;
  /** Applies pending migrations to the live database (after a restore). */
  migrate(): Promise<void>;
  /** Probes the live database; throws when unhealthy. */
  checkHealth(): Promise<void>;
  logger: Logger;
  now?: () => Date;
  retention?: RetentionPolicy;
  onProgress?: (p: BackupProgress) => void;
  /** How long a restore waits for every live replica to acknowledge maintenance. */
  ackTimeoutMs?: number;
  /** A replica heard from within this long is alive. */
  staleMs?: number;
  /** The replica of this process (the restore runs inside the service): beat it at once. */
  beatLocal?: () => Promise<void>;
  /** Called after every backup attempt (metrics in the serving process). */
  onBackupFinished?: (record: BackupRecord) => void;
}

export interface BackupListing {
  manifest: BackupManifest;
  verifiedAt: Date | null;
}

export interface VerifyResult {
  id: string;
  type: BackupType;
  sha256: string;
  sizeBytes: number;
  rowCounts?: RowCounts;
  entries?: number;
  durationMs: number;
}

export interface DrillResult {
  id: string;
  backupCreatedAt: string;
  rtoSeconds: number;
  rpoSeconds: number;
  checks: Array<{ name: string; ok: boolean; detail: string }>;
  ok: boolean;
}

export interface PruneResult {
  dryRun: boolean;
  decisions: Array<{
    id: string;
    type: BackupType;
    createdAt: string;
    keep: boolean;
    reason: string;
  }>;
}

const pad = (n: number) => String(n).padStart(2, '0');
/** The catalog row of a backup that has just started: nothing measured yet. */
export function runningRecord(
  r: Pick<BackupRecord, 'id' | 'type' | 'target' | 'key' | 'createdAt'>,
): BackupRecord {
  return {
    ...r,
    status: 'running',
    sizeBytes: null,
    sha256: null,
    manifest: null,
    error: null,
    completedAt: null,
    durationMs: null,
    verifiedAt: null,
  };
}

export function stamp(d: Date): string {
  return (
    `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}_` +
    `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`
  );
}

function keysFor(type: BackupType, s: string, encrypted: boolean) {
  const enc = encrypted ? '.enc' : '';
  return type === 'database'
    ? {
        id: `database-${s}`,
        key: `database/claude_flow_backup_${s}.sql.gz${enc}`,
        manifestKey: `database/claude_flow_backup_${s}.manifest.json`,
      }
    : {
        id: `app-data-${s}`,
        key: `app-data/backup_${s}/app-data.tar.gz${enc}`,
        manifestKey: `app-data/backup_${s}/manifest.json`,
      };
}

function diffCounts(expected: RowCounts, actual: RowCounts, only?: (table: string) => boolean) {
  const problems: string[] = [];
  for (const [table, n] of Object.entries(expected)) {
    if (only && !only(table)) continue;
    if (actual[table] !== n)
      problems.push(`${table}: expected ${n} rows, found ${actual[table] ?? 'no table'}`);
  }
  return problems;
}

export function createBackupService(deps: BackupServiceDeps) {
  const now = deps.now ?? (() => new Date());
  const progress = (phase: string, bytes: number) => deps.onProgress?.({ phase, bytes });
  const key = deps.encryptionKey;

  const reader = createBackupReader({
    store: deps.store,
    ...(deps.directory ? { directory: deps.directory } : {}),
    encryptionKey: key,
    logger: deps.logger,
    ...(deps.onProgress ? { onProgress: deps.onProgress } : {}),
  });
  const { manifests, resolve } = reader;

  async function put(
    type: BackupType,
    body: Readable,
    startedAt: Date,
  ): Promise<{ ids: ReturnType<typeof keysFor>; sha256: string; size: number }> {
    let at = startedAt;
    let ids = keysFor(type, stamp(at), Boolean(key));
    // Two backups in one second: the later one takes the next free second in its name.
    while (await deps.store.exists(ids.manifestKey)) {
      at = new Date(at.getTime() + 1000);
      ids = keysFor(type, stamp(at), Boolean(key));
    }
    const t = tap((n) => progress(`writing ${type} backup`, n));
    const stages: Transform[] = [createGzip({ level: 6 })];
    if (key) stages.push(createEncryptStream(key));
    const encoded = new PassThrough();
    const encoding = pipeline([body, ...stages, t.stream, encoded]);
    const [, stored] = await Promise.all([encoding, deps.store.put(ids.key, encoded)]);
    const { sha256, size } = t.result();
    if (stored.size !== size) {
      throw new AppError(
        'INTERNAL',
        `The target stored ${stored.size} of ${size} bytes of ${ids.key}`,
      );
    }
    return { ids, sha256, size };
  }

  async function stageAppData(
    includeSecrets: boolean,
  ): Promise<{ dir: string; entries: string[] }> {
    const a = deps.appData;
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'cfn-app-data-'));
    const entries: string[] = [];
    await fs.promises.mkdir(path.join(dir, 'config'));
    await fs.promises.writeFile(
      path.join(dir, 'config', 'settings.json'),
      JSON.stringify(a.settings, null, 2),
    );
    entries.push('config/settings.json');
    if (includeSecrets) {
      await fs.promises.writeFile(
        path.join(dir, 'config', 'secrets.json'),
        JSON.stringify(a.secrets, null, 2),
        {
          mode: 0o600,
        },
      );
      entries.push('config/secrets.json');
    }
    for (const f of a.configFiles) {
      const name = `config/${path.basename(f)}`;
      await fs.promises.symlink(f, path.join(dir, name));
      entries.push(name);
    }
    if (fs.existsSync(a.agentsDir)) {
      await fs.promises.symlink(a.agentsDir, path.join(dir, 'agents'));
      entries.push('agents');
    }
    if (fs.existsSync(a.dataDir)) {
      await fs.promises.mkdir(path.join(dir, 'data'));
      for (const name of await fs.promises.readdir(a.dataDir)) {
        if (a.dataDirExclude.includes(name) || name.startsWith('pglite')) continue;
        await fs.promises.symlink(path.join(a.dataDir, name), path.join(dir, 'data', name));
        entries.push(`data/${name}`);
      }
    }
    return { dir, entries };
  }

  async function create(options: {
    type: BackupType;
    includeSecrets?: boolean;
  }): Promise<BackupManifest> {
    const started = now();
    const startMs = Date.now();
    const pendingId = keysFor(options.type, stamp(started), Boolean(key));
    const base = runningRecord({
      id: pendingId.id,
      type: options.type,
      target: deps.store.location,
      key: pendingId.key,
      createdAt: started,
    });
    let staged: string | undefined;
    try {
      let manifestPart: Partial<BackupManifest>;
      let stored: Awaited<ReturnType<typeof put>>;
      if (options.type === 'database') {
        const schemaVersion = await deps.database.schemaVersion();
        const dump = await deps.database.dump();
        const putting = put('database', dump.stream, started);
        try {
          [stored] = await Promise.all([putting, dump.done]);
        } catch (err) {
          // Stop the dump when the upload failed, and wait for it to let go of the database.
          dump.stream.destroy();
          await dump.done.catch(() => {});
          // The dump failed after its output was stored: remove the file no manifest describes.
          const partial = await putting.catch(() => undefined);
          if (partial) await deps.store.delete(partial.ids.key).catch(() => {});
          throw err;
        }
        const { rowCounts } = await dump.done;
        manifestPart = { database: { kind: deps.database.kind, schemaVersion, rowCounts } };
      } else {
        const s = await stageAppData(Boolean(options.includeSecrets));
        staged = s.dir;
        const pack = tar.create(
          { cwd: s.dir, follow: true, portable: true },
          s.entries.length ? s.entries : [],
        );
        stored = await put('app-data', Readable.from(pack as AsyncIterable<Buffer>), started);
        manifestPart = {
          appData: { entries: s.entries, includesSecrets: Boolean(options.includeSecrets) },
        };
      }
      const completedAt = now();
      const manifest: BackupManifest = {
        formatVersion: 1,
        id: stored.ids.id,
        type: options.type,
        key: stored.ids.key,
        sha256: stored.sha256,
        sizeBytes: stored.size,
        createdAt: started.toISOString(),
        completedAt: completedAt.toISOString(),
        durationMs: Date.now() - startMs,
        encryption: key ? encryptionInfo(key) : null,
        ...manifestPart,
      };
      await deps.store.put(
        stored.ids.manifestKey,
        Readable.from([Buffer.from(JSON.stringify(manifest, null, 2) + '\n')]),
      );
      const record: BackupRecord = {
        ...base,
        id: manifest.id,
        key: manifest.key,
        status: 'completed',
        sizeBytes: manifest.sizeBytes,
        sha256: manifest.sha256,
        manifest,
        completedAt,
        durationMs: manifest.durationMs,
      };
      await deps.catalog.upsert(record).catch((err: unknown) => {
        deps.logger.warn({ err, id: manifest.id }, 'backup made but not recorded in the catalog');
      });
      deps.onBackupFinished?.(record);
      deps.logger.info(
        {
          id: manifest.id,
          type: manifest.type,
          sizeBytes: manifest.sizeBytes,
          durationMs: manifest.durationMs,
        },
        'backup completed',
      );
      return manifest;
    } catch (err) {
      const record: BackupRecord = {
        ...base,
        status: 'failed',
        error: (err as Error).message,
        completedAt: now(),
        durationMs: Date.now() - startMs,
      };
      await deps.catalog.upsert(record).catch(() => {});
      deps.onBackupFinished?.(record);
      deps.logger.error({ err, type: options.type }, 'backup failed');
      throw err instanceof AppError
        ? err
        : new AppError('INTERNAL', `The ${options.type} backup failed: ${(err as Error).message}`, {
            cause: err,
          });
    } finally {
      if (staged) await fs.promises.rm(staged, { recursive: true, force: true });
    }
  }

  async function list(type?: BackupType): Promise<BackupListing[]> {
    const verified = new Map(
      (await deps.catalog.list().catch(() => [])).map((r) => [r.id, r.verifiedAt] as const),
    );
    return (await manifests())
      .filter((m) => !type || m.type === type)
      .map((manifest) => ({ manifest, verifiedAt: verified.get(manifest.id) ?? null }));
  }

  async function verify(ref: string, type?: BackupType): Promise<VerifyResult> {
    const startMs = Date.now();
    const m = await resolve(ref, type);
    const src = reader.inTarget(m);
    reader.requireKeyFor(m);
    await reader.checkChecksum(src);
    let result: VerifyResult;
    if (m.type === 'database') {
      if (!m.database)
        throw new BackupIntegrityError(`Manifest of ${m.id} has no database section`);
      const scratch = await deps.scratch.open(m.database.kind);
      try {
        progress('test restore into a scratch database', 0);
        await scratch.restore(await reader.open(src), { sourceKind: m.database.kind });
        const rowCounts = await scratch.rowCounts();
        const problems = diffCounts(m.database.rowCounts, rowCounts);
        if (problems.length) {
          throw new BackupIntegrityError(
            `Test restore of ${m.id} differs from its manifest: ${problems.join('; ')}`,
          );
        }
        result = {
          id: m.id,
          type: m.type,
          sha256: m.sha256,
          sizeBytes: m.sizeBytes,
          rowCounts,
          durationMs: 0,
        };
      } finally {
        await scratch.close();
      }
    } else {
      const names = new Set<string>();
      await pipeline(
        await reader.open(src),
        tar.list({
          onReadEntry: (e) => names.add(e.path.replace(/\/$/, '')),
        }) as unknown as Writable,
      );
      const missing = (m.appData?.entries ?? []).filter(
        (e) => ![...names].some((n) => n === e || n.startsWith(`${e}/`)),
      );
      if (missing.length)
        throw new BackupIntegrityError(`Backup ${m.id} lacks ${missing.join(', ')}`);
      result = {
        id: m.id,
        type: m.type,
        sha256: m.sha256,
        sizeBytes: m.sizeBytes,
        entries: names.size,
        durationMs: 0,
      };
    }
    await deps.catalog.markVerified(m.id, now()).catch(() => {});
    return { ...result, durationMs: Date.now() - startMs };
  }

  async function prune(options: { dryRun?: boolean }): Promise<PruneResult> {
    const all = await manifests();
    const decisions = decideRetention(
      all.map((m) => ({ id: m.id, type: m.type, createdAt: new Date(m.createdAt), good: true })),
      now(),
      deps.retention ?? DEFAULT_RETENTION,
    );
    const byId = new Map(all.map((m) => [m.id, m]));
    const out: PruneResult['decisions'] = [];
    for (const d of decisions) {
      const m = byId.get(d.id)!;
      out.push({ id: d.id, type: m.type, createdAt: m.createdAt, keep: d.keep, reason: d.reason });
      if (!d.keep && !options.dryRun) {
        await deps.store.delete(m.key);
        const ids = keysFor(m.type, m.id.replace(/^(database|app-data)-/, ''), false);
        await deps.store.delete(ids.manifestKey);
        await deps.catalog.remove(m.id).catch(() => {});
        deps.logger.info({ id: m.id, reason: d.reason }, 'backup pruned');
      }
    }
    return { dryRun: Boolean(options.dryRun), decisions: out };
  }

  /** The catalog learns every backup of the target again (after a restore replaced it). */
  async function resyncCatalog(): Promise<void> {
    const known = new Map((await deps.catalog.list()).map((r) => [r.id, r]));
    for (const m of await manifests()) {
      if (known.get(m.id)?.status === 'completed') continue;
      await deps.catalog.upsert({
        id: m.id,
        type: m.type,
        status: 'completed',
        target: deps.store.location,
        key: m.key,
        sizeBytes: m.sizeBytes,
        sha256: m.sha256,
        manifest: m,
        error: null,
        createdAt: new Date(m.createdAt),
        completedAt: new Date(m.completedAt),
        durationMs: m.durationMs,
        verifiedAt: known.get(m.id)?.verifiedAt ?? null,
      });
    }
  }

  const restores = createRestoreService({
    reader,
    database: deps.database,
    maintenance: deps.maintenance,
    replicas: deps.replicas,
    ...(deps.audit ? { audit: deps.audit } : {}),
    migrate: deps.migrate,
    resyncCatalog,
    checkHealth: deps.checkHealth,
    ...(deps.beatLocal ? { beatLocal: deps.beatLocal } : {}),
    ackTimeoutMs: deps.ackTimeoutMs ?? 60_000,
    staleMs: deps.staleMs ?? 15_000,
    logger: deps.logger,
    ...(deps.onProgress ? { onProgress: deps.onProgress } : {}),
  });

  /** Extracts an app-data backup into `into` (new or empty), after checking it end to end. */
  async function restoreAppData(
    ref: string,
    into: string,
  ): Promise<{ id: string; into: string; entries: number }> {
    const m = await resolve(ref, 'app-data');
    if (m.type !== 'app-data') {
      throw new AppError(
        'VALIDATION_FAILED',
        `${m.id} is a database backup; restore it without --into.`,
      );
    }
    const src = reader.inTarget(m);
    reader.requireKeyFor(m);
    await reader.checkChecksum(src);
    await reader.checkDecodes(src);
    await fs.promises.mkdir(into, { recursive: true });
    if ((await fs.promises.readdir(into)).length > 0) {
      throw new AppError(
        'VALIDATION_FAILED',
        `${into} is not empty: give --into a new or empty directory.`,
      );
    }
    let entries = 0;
    await pipeline(
      await reader.open(src),
      tar.extract({ cwd: into, onReadEntry: () => void entries++ }) as unknown as Writable,
    );
    return { id: m.id, into, entries };
  }

  async function drill(): Promise<DrillResult> {
    const m = await resolve('latest', 'database');
    if (!m.database) throw new BackupIntegrityError(`Manifest of ${m.id} has no database section`);
    const checks: DrillResult['checks'] = [];
    const startMs = Date.now();
    const scratch = await deps.scratch.open(m.database.kind);
    try {
      const src = reader.inTarget(m);
      reader.requireKeyFor(m);
      await reader.checkChecksum(src);
      checks.push({ name: 'checksum', ok: true, detail: `sha256 ${m.sha256.slice(0, 12)}…` });
      await scratch.restore(await reader.open(src), { sourceKind: m.database.kind });
      const rtoSeconds = (Date.now() - startMs) / 1000;
      checks.push({
        name: 'restore',
        ok: true,
        detail: `into a scratch ${m.database.kind} database`,
      });
      const counts = await scratch.rowCounts();
      const problems = diffCounts(m.database.rowCounts, counts);
      const rows = Object.values(counts).reduce((a, b) => a + b, 0);
      checks.push({
        name: 'row counts',
        ok: problems.length === 0,
        detail: problems.length
          ? problems.join('; ')
          : `${Object.keys(counts).length} tables, ${rows} rows as in the manifest`,
      });
      const version = await scratch.schemaVersion();
      checks.push({
        name: 'schema version',
        ok: version === m.database.schemaVersion,
        detail: `${version ?? 'none'}`,
      });
      const rpoSeconds = (now().getTime() - new Date(m.createdAt).getTime()) / 1000;
      return {
        id: m.id,
        backupCreatedAt: m.createdAt,
        rtoSeconds,
        rpoSeconds,
        checks,
        ok: checks.every((c) => c.ok),
      };
    } finally {
      await scratch.close();
    }
  }

  return {
    create,
    list,
    verify,
    prune,
    /** The confirmation of a restore: what it would discard, checked end to end; no change. */
    restorePlan: (ref: string) => restores.plan(ref),
    restore: (ref: string, options?: RestoreOptions) => restores.restore(ref, options),
    restoreAppData,
    drill,
    resolve,
    manifests,
  };
}

export type BackupService = ReturnType<typeof createBackupService>;
