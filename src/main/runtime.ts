// Builds the shared runtime from a Config: logger, database (migrated), stores, key service,
// optional Redis, metrics and health. Roles (API, CLI) start from here.
import type { Config } from '../config/load-config.js';
import { openDatabase, type Database } from '../adapters/db/database.js';
import type { PgliteOpening } from '../adapters/db/pglite-open.js';
import { migrateDatabase, type MigrationResult } from '../adapters/db/migrate.js';
import { createPgApiKeyStore } from '../adapters/db/api-key-store.js';
import { createPgAuditLogStore } from '../adapters/db/audit-log-store.js';
import { createPgAuditedWrites } from '../adapters/db/audited-writes.js';
import type { RedisConnection } from '../adapters/redis/redis-client.js';
import { createLogger, type AppLogger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { createHealthService, type HealthService } from '../observability/health.js';
import { withAuditMetrics, withAuditedWriteMetrics } from '../observability/audit-metrics.js';
import { registerDependencyMetrics } from '../observability/dependency-metrics.js';
import { createApiKeyService, type ApiKeyService } from '../ops/api-keys.js';
import type { AuditLogStore } from '../ports/audit-log-store.js';
import type { AuditedWrites } from '../ports/audited-writes.js';
import type { DestinationStream } from 'pino';
import { readBuildInfo, type BuildInfo } from './build-info.js';
import { createEngineRuntime, type EngineRuntime } from './engine-runtime.js';
import { openSandbox, sandboxForApiReplica } from './sandbox-runtime.js';
import {
  createPgBackupCatalog,
  createPgSettingsStore,
} from '../adapters/db/backup-catalog-store.js';
import { createMaintenanceMode, type MaintenanceMode } from '../ops/maintenance.js';
import { createRequestGate, type RequestGate } from '../ops/request-gate.js';
import { createPgReplicaRegistry } from '../adapters/db/replica-registry-store.js';
import type { ReplicaRegistry } from '../ports/replica-registry.js';
import { registerBackupMetrics } from '../observability/backup-metrics.js';
import { registerTlsMetrics } from '../observability/tls-metrics.js';
import { CertificateUnreadableError, readCertificate } from '../ops/certificate-check.js';
import type { BackupCatalog } from '../ports/backup.js';
import { PHYSICAL_BACKUP_KINDS } from '../ports/physical-backup.js';

export interface Runtime {
  config: Config;
  build: BuildInfo;
  logger: AppLogger;
  database: Database;
  migration: MigrationResult;
  redis: RedisConnection | undefined;
  metrics: Metrics;
  health: HealthService;
  apiKeys: ApiKeyService;
  audit: AuditLogStore;
  /** Privileged changes with their audit entries, in one transaction. */
  auditedWrites: AuditedWrites;
  maintenance: MaintenanceMode;
  /** This process's door for mutating requests: closed once it acknowledged maintenance. */
  gate: RequestGate;
  replicas: ReplicaRegistry;
  backupCatalog: BackupCatalog;
  /** Present for roles that run swarms (not for one-shot CLI commands). */
  engine: EngineRuntime | undefined;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Replaces stdout for log lines (tests). */
  logDestination?: DestinationStream;
  /** Skip opening Redis (one-shot CLI commands that do not need it). */
  withoutRedis?: boolean;
  /** Build the swarm engine (API and worker roles). */
  withEngine?: boolean;
  /** Which part of the service this process runs (default both). */
  role?: Role;
  /** The embedded database, already being opened (cfn start begins it before loading the rest). */
  pgliteOpening?: PgliteOpening;
}

/**
 * `all` (cfn start): API and workers. `api` (cfn serve): the API only; workers elsewhere take the
 * jobs. `worker` (cfn worker): runs jobs, serving only health and metrics over HTTP.
 */
export type Role = 'all' | 'api' | 'worker';

export function createAppLogger(config: Config, build: BuildInfo, destination?: DestinationStream) {
  return createLogger({
    level: config.log.level,
    version: build.version,
    dir: config.log.dir,
    ...(destination ? { destination } : {}),
  });
}

export async function createRuntime(
  config: Config,
  options: RuntimeOptions = {},
): Promise<Runtime> {
  const build = readBuildInfo(config.buildCommit);
  const logger = createAppLogger(config, build, options.logDestination);
  const database = await openDatabase({
    url: config.database.url,
    readUrl: config.database.readUrl,
    poolMax: config.database.poolMax,
    connectTimeoutMs: config.database.connectTimeoutMs,
    pgliteSettings: config.database.pglite,
    dataDir: config.dataDir,
    logger,
    pgliteOpening: options.pgliteOpening,
  });
  let redis: RedisConnection | undefined;
  try {
    const migration = await migrateDatabase(database);
    logger.info({ database: database.kind, ...migration }, 'database migrated');
    // Loaded only when used: ioredis and BullMQ are some 17 MiB an embedded service never needs.
    redis =
      config.redis.url && !options.withoutRedis
        ? (await import('../adapters/redis/redis-client.js')).connectRedis({
            url: config.redis.url,
            logger,
            maxBackoffMs: config.redis.reconnectMaxMs,
            commandTimeoutMs: config.redis.commandTimeoutMs,
          })
        : undefined;
    const metrics = createMetrics({
      version: build.version,
      commit: build.commit,
      dataDir: config.dataDir,
    });
    const probes = [...database.probes, ...(redis ? [redis.probe] : [])];
    const maintenance = createMaintenanceMode({
      settings: createPgSettingsStore(database.db),
      cacheMs: config.backup.maintenanceCacheMs,
    });
    const gate = createRequestGate();
    const replicas = createPgReplicaRegistry(database.db);
    const backupCatalog = createPgBackupCatalog(database.db);
    registerBackupMetrics(metrics.registry, () => backupCatalog.list(), [
      'database',
      'app-data',
      ...(config.backup.pgbackrest
        ? PHYSICAL_BACKUP_KINDS.map((k) => `pgbackrest-${k}` as const)
        : []),
    ]);
    registerTlsMetrics(metrics.registry, {
      watch: config.tls.watch,
      // Within Prometheus's default 10 s scrape timeout, all servers being read at once.
      read: (target) => readCertificate(target, { timeoutMs: 5000 }),
      onError: (name, err) =>
        logger.warn(
          {
            certificate: name,
            reason: err instanceof CertificateUnreadableError ? err.reason : 'unknown',
            error: err instanceof Error ? err.message : String(err),
          },
          'watched certificate could not be read',
        ),
    });
    const runsJobs = (options.role ?? 'all') !== 'api';
    // Before the health service, which reports it; `CFN_SANDBOX=bwrap` stops start-up here.
    const sandbox = options.withEngine
      ? runsJobs
        ? await openSandbox(config, logger)
        : sandboxForApiReplica()
      : undefined;
    const health = createHealthService({
      version: build.version,
      probes,
      timeoutMs: config.healthCheckTimeoutMs,
      sandbox: sandbox?.status,
      async notReadyReason() {
        const m = await maintenance.current();
        return m.enabled ? `maintenance${m.reason ? `: ${m.reason}` : ''}` : undefined;
      },
    });
    registerDependencyMetrics(
      metrics.registry,
      health,
      probes.map((p) => p.name),
    );
    const audit = withAuditMetrics(
      createPgAuditLogStore(database.db, database.readDb),
      metrics.auditEventsTotal,
    );
    const auditedWrites = withAuditedWriteMetrics(
      createPgAuditedWrites(database.db),
      metrics.auditEventsTotal,
    );
    const engine = sandbox
      ? await createEngineRuntime(config, {
          database,
          logger,
          metrics,
          maintenance,
          runsJobs,
          sandbox: sandbox.sandbox,
        })
      : undefined;
    const apiKeys = createApiKeyService({
      keys: createPgApiKeyStore(database.db),
      writes: auditedWrites,
      onTouchError: (err) => logger.warn({ err }, 'could not record key use'),
      canTouch: () => !gate.closed,
      cacheMs: config.http.authCacheMs,
    });
    return {
      config,
      build,
      logger,
      database,
      migration,
      redis,
      metrics,
      health,
      apiKeys,
      audit,
      auditedWrites,
      maintenance,
      gate,
      replicas,
      backupCatalog,
      engine,
      async close() {
        // Jobs first: running agent tasks finish or are left open for recovery, then connections go.
        await engine?.stop(config.shutdownTimeoutMs);
        await redis?.close();
        await database.close();
      },
    };
  } catch (err) {
    await redis?.close();
    await database.close();
    throw err;
  }
}
