// The `cfn` commands: loads configuration once, wires the runtime into the CLI commands, and
// turns failures into one clear line and an exit code. Run by bin.ts.
import os from 'node:os';
import pino from 'pino';
import type { PgliteOpening } from '../adapters/db/pglite-open.js';
import {
  ConfigError,
  loadConfig,
  loadLogConfig,
  processEnv,
  type Config,
} from '../config/load-config.js';
import { createProgram } from '../cli/program.js';
import { CliError } from '../cli/api-client.js';
import { AppError } from '../domain/errors.js';
import { redactQueryParams, redactUrlCredentials } from '../observability/redact.js';
import { pruneLogs } from '../ops/log-retention.js';
import { EMBEDDED_SLOW_QUERIES, slowQueries } from '../ops/slow-queries.js';
import { applySettings, compareSettings } from '../ops/db-tuning.js';
import { dependencyCause } from '../observability/dependency-cause.js';
import { openDatabase } from '../adapters/db/database.js';
import { createLogger } from '../observability/logger.js';
import { readBuildInfo } from './build-info.js';
import { exitOnCrash, writeFatal, type FatalContext } from './fatal.js';
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

/** Where a FATAL line goes: the configured log settings, or LOG_* alone when the rest is bad. */
function fatalContext(): FatalContext {
  let log: Config['log'];
  try {
    log = config().log;
  } catch {
    log = loadLogConfig(processEnv());
  }
  return { log, version: readBuildInfo().version };
}

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
    // The log pipeline hears of it too; runCli still prints the line on stderr and sets the code.
    writeFatal(fatalContext(), err, { role }, 'start-up failed');
    throw err;
  }
  const { logger } = running.runtime;
  exitOnCrash(logger, fatalContext());
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
  async slowQueries(limit) {
    const c = config();
    if (!c.database.url) return EMBEDDED_SLOW_QUERIES;
    const database = await openDatabase({
      url: c.database.url,
      dataDir: c.dataDir,
      connectTimeoutMs: c.database.connectTimeoutMs,
      pgliteSettings: c.database.pglite,
      logger: createLogger({ level: 'silent', version: readBuildInfo().version }),
    });
    try {
      return await slowQueries(database, limit);
    } finally {
      await database.close();
    }
  },
  async tuneDatabase({ memoryBytes, apply }) {
    const c = config();
    if (!c.database.url)
      return {
        ok: false,
        exitCode: 1,
        message:
          'the embedded database (PGlite) is sized with CFN_PGLITE_SHARED_BUFFERS_MB, ' +
          'CFN_PGLITE_WORK_MEM_MB and CFN_PGLITE_MAINTENANCE_WORK_MEM_MB (README "Configuration")',
      };
    const host = new URL(c.database.url).hostname;
    const local = ['', 'localhost', '127.0.0.1', '[::1]'].includes(host);
    if (memoryBytes === undefined && !local)
      return {
        ok: false,
        exitCode: 2,
        message: `the database runs on ${host}: give its memory with --memory (e.g. --memory 8GB)`,
      };
    const memory = memoryBytes ?? os.totalmem();
    const database = await openDatabase({
      url: c.database.url,
      dataDir: c.dataDir,
      connectTimeoutMs: c.database.connectTimeoutMs,
      logger: createLogger({ level: 'silent', version: readBuildInfo().version }),
    });
    try {
      const settings = apply
        ? await applySettings(database.db, memory)
        : await compareSettings(database.db, memory);
      return { ok: true, memoryBytes: memory, settings };
    } catch (err) {
      const code =
        (err as { code?: string; cause?: { code?: string } }).cause?.code ??
        (err as { code?: string }).code;
      return {
        ok: false,
        exitCode: 2,
        message:
          code === '42501'
            ? 'ALTER SYSTEM needs a superuser: connect as one, or on managed PostgreSQL (RDS) ' +
              'set these in the parameter group (deploy/terraform/modules/database/)'
            : `could not ${apply ? 'apply' : 'read'} the settings: ${dependencyCause(err)}`,
      };
    } finally {
      await database.close();
    }
  },
  async directKeys() {
    const runtime = await createRuntime(config(), oneShot());
    return { service: runtime.apiKeys, close: () => runtime.close() };
  },
  async pruneLogs(options) {
    const runtime = await createRuntime(config(), oneShot());
    try {
      return await pruneLogs(
        { audit: runtime.audit, writes: runtime.auditedWrites },
        { ...options, logDir: options.logDir ?? runtime.config.log.dir },
      );
    } finally {
      await runtime.close();
    }
  },
});

/**
 * An unknown error as one readable line: the first line of its message (a failed query quotes its
 * whole SQL) and that of its cause. It may quote SQL parameters or connection strings: scrubbed.
 */
function oneLine(err: unknown): string {
  const first = (e: unknown) => {
    const line = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
    return line.length > 200 ? `${line.slice(0, 200)}…` : line;
  };
  const cause = err instanceof Error && err.cause !== undefined ? first(err.cause) : '';
  const text = cause && !first(err).includes(cause) ? `${first(err)} (${cause})` : first(err);
  return redactQueryParams(redactUrlCredentials(text));
}

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
      process.stderr.write(`cfn: ${oneLine(err)}\n`);
      process.exitCode = 1;
    }
  }
}
