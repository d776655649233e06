// The API role: runtime + HTTP server + bootstrap admin key + graceful shutdown.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/load-config.js';
import { createApp } from '../http/app.js';
import { processEnv } from '../config/load-config.js';
import { createBackupTools, startBackupSchedules, type BackupSchedules } from './backup-runtime.js';
import { confineWorkspace } from './confine-workspace.js';
import { createRuntime, type Runtime, type RuntimeOptions } from './runtime.js';

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

export async function startServer(
  config: Config,
  options: StartServerOptions = {},
): Promise<RunningServer> {
  const runtime = await createRuntime(config, { ...options, withEngine: true });
  const { logger } = runtime;
  try {
    const boot = await runtime.apiKeys.bootstrapAdmin(config.auth.bootstrapAdminKey);
    if (boot?.generated) {
      (options.announce ?? ((t) => process.stdout.write(t)))(banner(boot.key));
      logger.info(
        { keyId: boot.record.id, prefix: boot.record.prefix },
        'bootstrap admin key created',
      );
    } else if (!boot && (await runtime.apiKeys.countActive()) === 0) {
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

    const openStreams = new Set<() => void>();
    const app = createApp({
      version: runtime.build.version,
      logger,
      metrics: runtime.metrics,
      health: runtime.health,
      apiKeys: runtime.apiKeys,
      audit: runtime.audit,
      maintenance: runtime.maintenance,
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
              openStreams,
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
    const server = http.createServer(app);
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
      { port: address.port, host: config.http.host, url, database: runtime.database.kind },
      'listening',
    );

    const schedules: BackupSchedules | undefined = config.backup.schedulesEnabled
      ? startBackupSchedules(runtime, createBackupTools(runtime, { env: processEnv() }))
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
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Event streams never finish on their own; clients reconnect elsewhere with Last-Event-ID.
        for (const end of openStreams) end();
        // Keep-alive connections that finish their request are closed as soon as they are idle.
        const idleSweep = setInterval(() => server.closeIdleConnections(), 50);
        server.closeIdleConnections();
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
        await runtime.close();
        logger.info('shutdown complete');
      })());

    return { runtime, server, url, shutdown };
  } catch (err) {
    await runtime.close();
    throw err;
  }
}
