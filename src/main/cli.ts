// The `cfn` commands: loads configuration once, wires the runtime into the CLI commands, and
// turns failures into one clear line and an exit code. Run by bin.ts.
import pino from 'pino';
import type { PgliteOpening } from '../adapters/db/pglite-open.js';
import { ConfigError, loadConfig, processEnv, type Config } from '../config/load-config.js';
import { createProgram } from '../cli/program.js';
import { CliError } from '../cli/api-client.js';
import { AppError } from '../domain/errors.js';
import { redactQueryParams, redactUrlCredentials } from '../observability/redact.js';
import { pruneLogs } from '../ops/log-retention.js';
import { readBuildInfo } from './build-info.js';
import {
  createBackupTools,
  createPgBackRestTools,
  maintenanceSwitch,
  requirePgBackRest,
} from './backup-runtime.js';
import { createAppLogger, createRuntime, type Role } from './runtime.js';
import { startServer, type RunningServer } from './server.js';
import { readServiceFile } from './service-file.js';

/** What bin.ts did before loading the commands: for `cfn start`, config and the database. */
export interface EarlyStart {
  config?: Config;
  pgliteOpening?: PgliteOpening;
}

let cachedConfig: Config | undefined;
const config = () => (cachedConfig ??= loadConfig(processEnv()));
let early: EarlyStart = {};

async function start(role: Role): Promise<void> {
  const { pgliteOpening } = early;
  early = {};
  let running: RunningServer;
  try {
    running = await startServer(config(), { role, pgliteOpening });
  } catch (err) {
    // Failed before the runtime took the database (a role check): close it and free the lock.
    await pgliteOpening?.client.then((c) => c.close()).catch(() => {});
    pgliteOpening?.release();
    throw err;
  }
  const { logger } = running.runtime;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    running.shutdown(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled promise rejection'));
}

/** One-shot commands keep stdout for their output (tables, --json): their logs go to stderr. */
const oneShot = () => ({
  withoutRedis: true,
  logDestination: pino.destination({ dest: 2, sync: true }),
});

const program = createProgram({
  version: readBuildInfo().version,
  start,
  async migrate() {
    const runtime = await createRuntime(config(), oneShot());
    await runtime.close();
    return { ...runtime.migration, database: runtime.database.kind };
  },
  async backups({ target, onProgress }) {
    const runtime = await createRuntime(config(), oneShot());
    try {
      const service = createBackupTools(runtime, {
        target,
        env: processEnv(),
        ...(onProgress ? { onProgress } : {}),
      });
      return { service, maintenance: maintenanceSwitch(runtime), close: () => runtime.close() };
    } catch (err) {
      await runtime.close();
      throw err;
    }
  },
  async pgbackrest({ withCatalog, onProgress }) {
    const c = config();
    if (!withCatalog) {
      // A restore: the database is down, so no runtime; only a logger.
      const logger = createAppLogger(c, readBuildInfo(c.buildCommit), oneShot().logDestination);
      return {
        service: createPgBackRestTools(c, { logger, onProgress }),
        close: async () => {},
      };
    }
    requirePgBackRest(c); // a missing PGBACKREST_STANZA fails before connecting to anything
    const runtime = await createRuntime(c, oneShot());
    return {
      service: createPgBackRestTools(c, {
        catalog: runtime.backupCatalog,
        logger: runtime.logger,
        onProgress,
      }),
      close: () => runtime.close(),
    };
  },
  localService: () => readServiceFile(config().dataDir),
  async directKeys() {
    const runtime = await createRuntime(config(), oneShot());
    return { service: runtime.apiKeys, close: () => runtime.close() };
  },
  async pruneLogs(options) {
    const runtime = await createRuntime(config(), oneShot());
    try {
      return await pruneLogs(
        { audit: runtime.audit },
        { ...options, logDir: options.logDir ?? runtime.config.log.dir },
      );
    } finally {
      await runtime.close();
    }
  },
});

export async function runCli(prepared: EarlyStart = {}): Promise<void> {
  early = prepared;
  cachedConfig ??= prepared.config;
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CliError) {
      if (err.message) process.stderr.write(`cfn: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else if (err instanceof ConfigError || err instanceof AppError) {
      process.stderr.write(`cfn: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      // Unknown errors may quote SQL parameters or connection strings: scrub before printing.
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`cfn: ${redactQueryParams(redactUrlCredentials(message))}\n`);
      process.exitCode = 1;
    }
  }
}
