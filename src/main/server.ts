// The API role: runtime + HTTP server + bootstrap admin key + graceful shutdown.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import type { Config } from '../config/load-config.js';
import { ConfigError } from '../config/load-config.js';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { createMemoryCache } from '../adapters/cache/memory-cache.js';
import { createRedisCache } from '../adapters/cache/redis-cache.js';
import { createApp } from '../http/app.js';
import { installServerEdge } from '../http/server-edge.js';
import { gracefulClose } from '../http/graceful-close.js';
import { resilientStore } from '../http/middleware/rate-limit.js';
import { resilientFailureCounter } from '../http/middleware/access-block.js';
import { createRedisFailureCounter } from '../adapters/redis/failure-counter.js';
import { createPgManualBlockStore } from '../adapters/db/access-block-store.js';
import {
  createAccessBlocklist,
  createMemoryFailureCounter,
  type AccessBlocklist,
} from '../ops/access-blocklist.js';
import { processEnv } from '../config/load-config.js';
import {
  createBackupTools,
  maintenanceSwitch,
  startBackupSchedules,
  type BackupSchedules,
} from './backup-runtime.js';
import type { BackupProgress } from '../ops/backup-service.js';
import { createReplicaAgent, type ReplicaAgent } from '../ops/replica-agent.js';
import { confineWorkspace, realpathOfNearest } from './confine-workspace.js';
import { removeServiceFile, writeServiceFile } from './service-file.js';
import { createRuntime, type Role, type Runtime, type RuntimeOptions } from './runtime.js';

export interface RunningServer {
  runtime: Runtime;
  server: http.Server;
  url: string;
  /** Graceful stop: readiness false, no new connections, in-flight requests finish (bounded). */
  shutdown(reason: string): Promise<void>;
}

export interface StartServerOptions extends RuntimeOptions {
  /** Where the one-time admin key banner goes (stdout; never the log file). */
  announce?: (text: string) => void;
}

function banner(key: string): string {
  const line = '='.repeat(72);
  return [
    line,
    ' An admin API key was created for this new installation. It is shown ONCE:',
    '',
    `   ${key}`,
    '',
    ' Store it now. Send it as "Authorization: Bearer <key>"; create narrower keys',
    ' with `cfn keys create --role operator|viewer`.',
    line,
    '',
  ].join('\n');
}

/** A replica that is only a part of the service needs the parts the others share. */
function checkRole(config: Config, role: Role): void {
  if (role === 'all') return;
  const command = role === 'api' ? 'cfn serve' : 'cfn worker';
  if (!config.redis.url)
    throw new ConfigError(
      'REDIS_URL',
      `is required by ${command}: API and worker replicas share jobs through Redis (or run everything in one process with cfn start)`,
    );
  if (!config.database.url)
    throw new ConfigError(
      'DATABASE_URL',
      `is required by ${command}: replicas share one PostgreSQL database (the embedded one belongs to a single process)`,
    );
}

export async function startServer(
  config: Config,
  options: StartServerOptions = {},
): Promise<RunningServer> {
  const role = options.role ?? 'all';
  checkRole(config, role);
  const runtime = await createRuntime(config, { ...options, role, withEngine: true });
  const { logger } = runtime;
  let replica: ReplicaAgent | undefined;
  let blocklist: AccessBlocklist | undefined;
  try {
    const boot =
      role === 'worker'
        ? undefined
        : await runtime.apiKeys.bootstrapAdmin(config.auth.bootstrapAdminKey);
    if (boot?.generated) {
      (options.announce ?? ((t) => process.stdout.write(t)))(banner(boot.key));
      logger.info(
        { keyId: boot.record.id, prefix: boot.record.prefix },
        'bootstrap admin key created',
      );
    } else if (role !== 'worker' && !boot && (await runtime.apiKeys.countActive()) === 0) {
      logger.warn(
        'no active API key: every protected route will answer 401. Create one on this host with ' +
          '`cfn keys create --role admin --name recovery --direct`',
      );
    } else if (boot) {
      logger.info(
        { keyId: boot.record.id },
        'bootstrap admin key registered from CFN_BOOTSTRAP_ADMIN_KEY',
      );
    }

    // This process in the replica registry: it acknowledges maintenance once it writes nothing.
    const engine = runtime.engine;
    replica = createReplicaAgent({
      identity: {
        id: `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
        role,
        host: os.hostname(),
        pid: process.pid,
        version: runtime.build.version,
        startedAt: new Date(),
      },
      registry: runtime.replicas,
      maintenance: runtime.maintenance,
      gate: runtime.gate,
      engine: engine?.engine,
      engineHalted: engine?.startedHalted ?? false,
      async health() {
        const r = await runtime.health.report();
        return { status: r.status, ...(r.failing ? { failing: r.failing } : {}) };
      },
      logger,
      intervalMs: config.replicas.heartbeatMs,
    });
    const agent = replica;
    await agent.start();
    const beatLocal = () => agent.checkNow();
    const backups = (onProgress?: (p: BackupProgress) => void) =>
      createBackupTools(runtime, {
        env: processEnv(),
        beatLocal,
        ...(onProgress ? { onProgress } : {}),
      });

    const openStreams = new Set<() => void>();
    const redisClient = runtime.redis?.client;
    if (role !== 'worker') {
      // Failed authentications counted per client address: in Redis for every replica (this
      // process's own count while it is away), in memory without Redis.
      const local = createMemoryFailureCounter();
      const blocks = config.auth.block;
      blocklist = createAccessBlocklist({
        limits: {
          threshold: blocks.threshold,
          windowMs: blocks.windowMs,
          durationMs: blocks.durationMs,
        },
        allow: blocks.allow,
        counter: redisClient
          ? resilientFailureCounter(
              createRedisFailureCounter(redisClient, { prefix: config.redis.prefix }),
              local,
              {
                onDown: (err) =>
                  logger.warn(
                    { err },
                    'access blocklist store unavailable; counting failed authentications per process until it answers',
                  ),
                onUp: () =>
                  logger.info('access blocklist store available again; counting in Redis'),
              },
            )
          : local,
        manual: createPgManualBlockStore(runtime.database.db),
        writes: runtime.auditedWrites,
        logger,
        onBlock: (reason) => runtime.metrics.authBlocksTotal.inc({ reason }),
      });
      await blocklist.start();
      const counted = blocklist;
      runtime.metrics.countBlockedClients(() => counted.countBlocked());
    }
    const app = createApp({
      // Shared by the replicas with Redis; this process's own otherwise.
      cache: redisClient
        ? createRedisCache(redisClient, { prefix: config.redis.prefix })
        : createMemoryCache(),
      ...(redisClient
        ? {
            rateLimitStore: resilientStore(
              new RedisStore({
                sendCommand: (command: string, ...args: string[]) =>
                  redisClient.call(command, ...args) as Promise<RedisReply>,
                prefix: `${config.redis.prefix}:rl:`,
              }),
              {
                onDown: (err) =>
                  logger.warn(
                    { err },
                    'rate-limit store unavailable; counting requests per process until it answers',
                  ),
                onUp: () => logger.info('rate-limit store available again; counting in Redis'),
              },
            ),
          }
        : {}),
      ...(blocklist ? { blocklist } : {}),
      version: runtime.build.version,
      logger,
      metrics: runtime.metrics,
      health: runtime.health,
      apiKeys: runtime.apiKeys,
      audit: runtime.audit,
      api: role !== 'worker',
      maintenance: runtime.maintenance,
      gate: runtime.gate,
      admin: {
        backups,
        maintenance: maintenanceSwitch(runtime, beatLocal),
        audit: runtime.audit,
        logger,
      },
      ...(runtime.engine
        ? {
            swarms: {
              engine: runtime.engine.engine,
              store: runtime.engine.store,
              bus: runtime.engine.bus,
              agents: runtime.engine.agents,
              checkProvider: (name: string | undefined) => void runtime.engine!.providers.get(name),
              workspaceRoots: config.engine.workspaceRoots,
              commandTimeoutMs: config.engine.commandTimeoutMs,
              webhooksEnabled: config.engine.webhookSecret !== undefined,
              confineWorkspace,
              sharedWorkspaces: config.engine.sharedWorkspaces.map(realpathOfNearest),
              networkAllowed: config.engine.sandbox.networkAllowed,
              openStreams,
              streams: config.http.streams,
            },
          }
        : {}),
      http: {
        bodyLimit: config.http.bodyLimit,
        trustProxy: config.http.trustProxy,
        rateLimitPerMinute: config.http.rateLimitPerMinute,
        metricsToken: config.metrics.token,
      },
    });
    // Host is checked by the app (requestShape), so a missing one gets the JSON error shape.
    const server = http.createServer({ requireHostHeader: false }, app);
    installServerEdge(server, logger);
    const connections = gracefulClose(server);
    server.keepAliveTimeout = 65_000; // longer than typical load balancer idle timeouts
    server.headersTimeout = 66_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.http.port, config.http.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
    logger.info(
      { port: address.port, host: config.http.host, url, database: runtime.database.kind, role },
      'listening',
    );
    // The CLI on this data directory finds the service that holds the embedded database here.
    const embedded = runtime.database.kind === 'pglite';
    if (embedded) writeServiceFile(config.dataDir, url);

    const schedules: BackupSchedules | undefined = config.backup.schedulesEnabled
      ? startBackupSchedules(runtime, backups())
      : undefined;

    let stopping: Promise<void> | undefined;
    const shutdown = (reason: string) =>
      (stopping ??= (async () => {
        logger.info({ reason, timeoutMs: config.shutdownTimeoutMs }, 'shutting down');
        runtime.health.setShuttingDown();
        if (config.shutdownDrainMs > 0) {
          // Keep serving while load balancers notice readiness is false and stop sending traffic.
          logger.info({ drainMs: config.shutdownDrainMs }, 'draining before closing the listener');
          await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs));
        }
        const closed = connections.close();
        // Event streams never finish on their own; clients reconnect elsewhere with Last-Event-ID.
        for (const end of openStreams) end();
        // Answers now say Connection: close; a keep-alive connection is closed once it is quiet,
        // never while the client's next request may be on its way (src/http/graceful-close.ts).
        const idleSweep = setInterval(() => connections.closeQuiet(), 50);
        connections.closeQuiet();
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          closed.then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), config.shutdownTimeoutMs);
          }),
        ]);
        clearTimeout(timer);
        clearInterval(idleSweep);
        if (timedOut) {
          logger.warn(
            { timeoutMs: config.shutdownTimeoutMs },
            'in-flight requests did not finish in time; closing them',
          );
          server.closeAllConnections();
          await closed;
        }
        await schedules?.stop();
        blocklist?.stop();
        await agent.stop();
        if (embedded) removeServiceFile(config.dataDir);
        await runtime.close();
        logger.info('shutdown complete');
      })());

    return { runtime, server, url, shutdown };
  } catch (err) {
    blocklist?.stop();
    await replica?.stop();
    await runtime.close();
    throw err;
  }
}
