// Wires backup and restore: the target (directory or S3) from configuration or --target, the
// dumper of the configured database, scratch databases, the catalog; and, in the serving
// process, the backup schedules run by the leader only.
import fs from 'node:fs';
import path from 'node:path';
import { Cron } from 'croner';
import type { Config } from '../config/load-config.js';
import { createFsBlobStore } from '../adapters/blob/fs-blob-store.js';
import { createS3BlobStore } from '../adapters/blob/s3-blob-store.js';
import {
  createPgliteDumper,
  createPostgresDumper,
  createScratchDatabases,
} from '../adapters/db/backup-dumper.js';
import { createLeaderLock } from '../adapters/db/leader-lock.js';
import { createPgBackRestCli } from '../adapters/pgbackrest/pgbackrest-cli.js';
import { LOCK_KEYS, migrateDatabase } from '../adapters/db/migrate.js';
import { AppError } from '../domain/errors.js';
import {
  createBackupService,
  type BackupProgress,
  type BackupService,
} from '../ops/backup-service.js';
import {
  createPhysicalBackupService,
  type PhysicalBackupService,
} from '../ops/physical-backup-service.js';
import type { BlobStore } from '../ports/blob-store.js';
import type { MaintenanceSwitchDeps } from '../ops/maintenance-switch.js';
import type { BackupCatalog, DatabaseDumper } from '../ports/backup.js';
import type { Logger } from '../ports/logger.js';
import type { Runtime } from './runtime.js';
import { SERVICE_FILE } from './service-file.js';
import { DEFAULT_APP_LOG_DAYS, DEFAULT_AUDIT_LOG_DAYS, pruneLogs } from '../ops/log-retention.js';

/** Settings kept out of app-data backups unless --include-secrets. */
const SECRET_VARIABLES = new Set([
  'DATABASE_URL',
  'DATABASE_READ_URL',
  'REDIS_URL',
  'METRICS_TOKEN',
  'CFN_BOOTSTRAP_ADMIN_KEY',
  'ANTHROPIC_API_KEY',
  'OPENAI_API_KEY',
  'CFN_WEBHOOK_SECRET',
  'BACKUP_ENCRYPTION_KEY',
  'BACKUP_S3_ACCESS_KEY_ID',
  'BACKUP_S3_SECRET_ACCESS_KEY',
]);

export function openBlobStore(config: Config, target?: string): BlobStore {
  const t = target ?? config.backup.target;
  if (t.startsWith('s3://')) {
    return createS3BlobStore({
      uri: t,
      endpoint: config.backup.s3.endpoint,
      region: config.backup.s3.region,
      forcePathStyle: config.backup.s3.forcePathStyle,
      credentials: config.backup.s3.credentials,
    });
  }
  return createFsBlobStore(path.resolve(t));
}

export function liveDumper(runtime: Runtime): DatabaseDumper {
  const d = runtime.database;
  if (d.pglite) return createPgliteDumper(d.pglite);
  if (d.url) return createPostgresDumper(d.url);
  throw new AppError('INTERNAL', 'The database exposes neither a PGlite client nor a URL');
}

export interface BackupToolsOptions {
  target?: string | undefined;
  onProgress?: (p: BackupProgress) => void;
  /** The environment whose settings an app-data backup records. */
  env: Readonly<Record<string, string | undefined>>;
  /** The replica of this process (the service runs the restore): beat it at once. */
  beatLocal?: () => Promise<void>;
}

export function createBackupTools(runtime: Runtime, options: BackupToolsOptions): BackupService {
  const { config } = runtime;
  const settings: Record<string, string> = {};
  const secrets: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.env)) {
    if (
      v === undefined ||
      !(
        /^(CFN_|BACKUP_|DATABASE_|REDIS_|ANTHROPIC_|OPENAI_)/.test(k) ||
        [
          'PORT',
          'HOST',
          'LOG_LEVEL',
          'LOG_DIR',
          'NODE_ENV',
          'METRICS_TOKEN',
          'RATE_LIMIT_PER_MINUTE',
          'TRUST_PROXY',
          'BODY_LIMIT',
          // pgBackRest's own secrets (PGBACKREST_REPO1_*) are never recorded.
          'PGBACKREST_STANZA',
          'PGBACKREST_CONFIG',
        ].includes(k)
      )
    )
      continue;
    (SECRET_VARIABLES.has(k) ? secrets : settings)[k] = v;
  }
  const store = openBlobStore(config, options.target);
  const localTarget = store.location.startsWith('s3://') ? undefined : store.location;
  return createBackupService({
    store,
    database: liveDumper(runtime),
    scratch: createScratchDatabases({ postgresUrl: runtime.database.url }),
    catalog: runtime.backupCatalog,
    maintenance: runtime.maintenance,
    replicas: runtime.replicas,
    audit: runtime.audit,
    directory: (dir) => createFsBlobStore(dir),
    appData: {
      settings,
      secrets,
      configFiles: [config.engine.providersFile, config.engine.pricesFile].filter(
        (f): f is string => Boolean(f && fs.existsSync(f)),
      ),
      agentsDir: config.engine.agentsDir,
      dataDir: config.dataDir,
      dataDirExclude: [
        'pglite',
        'pglite.lock',
        SERVICE_FILE,
        'backups',
        'home',
        ...(localTarget && path.dirname(localTarget) === config.dataDir
          ? [path.basename(localTarget)]
          : []),
      ],
    },
    encryptionKey: config.backup.encryptionKey,
    ackTimeoutMs: config.backup.ackTimeoutMs,
    staleMs: config.replicas.staleMs,
    ...(options.beatLocal ? { beatLocal: options.beatLocal } : {}),
    async migrate() {
      await migrateDatabase(runtime.database);
    },
    async checkHealth() {
      const report = await runtime.health.report();
      if (report.status !== 'ok') {
        throw new AppError(
          'SERVICE_UNAVAILABLE',
          `health checks failing: ${report.failing?.join(', ')}`,
        );
      }
    },
    logger: runtime.logger,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
}

/** Maintenance on/off that waits for the replicas (their acknowledgement, their resuming). */
export function maintenanceSwitch(
  runtime: Runtime,
  beatLocal?: () => Promise<void>,
): MaintenanceSwitchDeps {
  return {
    maintenance: runtime.maintenance,
    replicas: runtime.replicas,
    staleMs: runtime.config.replicas.staleMs,
    ackTimeoutMs: runtime.config.backup.ackTimeoutMs,
    beatLocal,
  };
}

/** The pgBackRest settings, or a clear error naming the variable to set. */
export function requirePgBackRest(config: Config): NonNullable<Config['backup']['pgbackrest']> {
  const p = config.backup.pgbackrest;
  if (!p) {
    throw new AppError(
      'VALIDATION_FAILED',
      'pgBackRest is not configured: set PGBACKREST_STANZA to the stanza of this database ' +
        '(and PGBACKREST_CONFIG when pgbackrest.conf is not /etc/pgbackrest/pgbackrest.conf); ' +
        'see docs/operations/backup-and-recovery.md.',
    );
  }
  return p;
}

export function createPgBackRestTools(
  config: Config,
  options: {
    catalog?: BackupCatalog | undefined;
    logger: Logger;
    onProgress?: ((p: BackupProgress) => void) | undefined;
  },
): PhysicalBackupService {
  const p = requirePgBackRest(config);
  return createPhysicalBackupService({
    engine: createPgBackRestCli({
      command: p.command,
      stanza: p.stanza,
      configFile: p.configFile,
      logger: options.logger,
    }),
    catalog: options.catalog,
    logger: options.logger,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
}

export interface BackupSchedules {
  stop(): Promise<void>;
}

/** Cron jobs of the serving process; each run first checks that this process is the leader. */
export function startBackupSchedules(runtime: Runtime, service: BackupService): BackupSchedules {
  const { config, logger } = runtime;
  const lock = createLeaderLock(runtime.database, LOCK_KEYS.backupLeader);
  let running: Promise<unknown> = Promise.resolve();
  const job = (name: string, expr: string, fn: () => Promise<unknown>) =>
    new Cron(
      expr, // No croner `name`: names are process-global, and tests start several servers.
      { timezone: 'UTC', protect: true, unref: true },
      async () => {
        if (!(await lock.tryAcquire())) {
          logger.debug({ job: name }, 'not the backup leader: skipping');
          return;
        }
        running = fn().catch((err: unknown) =>
          logger.error({ err, job: name }, 'scheduled backup job failed'),
        );
        await running;
      },
    );
  const s = config.backup.schedules;
  const jobs = [
    job('backup.database', s.database, () => service.create({ type: 'database' })),
    job('backup.app-data', s.appData, () => service.create({ type: 'app-data' })),
    job('backup.prune', s.prune, () => service.prune({})),
    job('backup.verify', s.verify, () => service.verify('latest', 'database')),
    // Log retention rides on the retention schedule: application logs 30 days, audit rows 90.
    job('logs.prune', s.prune, async () => {
      const r = await pruneLogs(
        { audit: runtime.audit, writes: runtime.auditedWrites },
        {
          logDir: config.log.dir,
          appDays: DEFAULT_APP_LOG_DAYS,
          auditDays: DEFAULT_AUDIT_LOG_DAYS,
          dryRun: false,
        },
      );
      logger.info({ files: r.files.length, auditRows: r.auditRows }, 'logs pruned');
    }),
  ];
  logger.info(
    { target: config.backup.target, next: jobs[0]?.nextRun()?.toISOString() },
    'backup schedules started',
  );
  return {
    async stop() {
      for (const j of jobs) j.stop();
      await running;
      await lock.release();
    },
  };
}
