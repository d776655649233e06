// FATAL log lines for what stops the service: a start-up failure (bad configuration, database
// unreachable, port in use, data directory locked, a failed migration...) and, once it runs, an
// uncaught exception or unhandled rejection. Each is written synchronously to the log pipeline
// (stdout JSON, and LOG_DIR/app.log when that directory is usable) before the process exits; the
// readable line on stderr stays the CLI's job (cli.ts).
import type { Config } from '../config/load-config.js';
import { createLogger, flushLogsSync, type AppLogger } from '../observability/logger.js';

export interface FatalContext {
  log: Config['log'];
  version: string;
}

/** Fields that say what failed without quoting values (a ConfigError names only the variable). */
function describe(err: unknown): Record<string, unknown> {
  const e = err as { code?: unknown; variable?: unknown } | null;
  return {
    err,
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(typeof e?.variable === 'string' ? { variable: e.variable } : {}),
  };
}

/** A logger that writes before returning; without LOG_DIR when that directory cannot be used. */
function fatalLogger(context: FatalContext): { logger: AppLogger; logDirError?: string } {
  const base = { level: context.log.level, version: context.version, sync: true };
  if (context.log.dir) {
    try {
      return { logger: createLogger({ ...base, dir: context.log.dir }) };
    } catch (err) {
      return {
        logger: createLogger(base),
        logDirError: err instanceof Error ? err.message : String(err),
      };
    }
  }
  return { logger: createLogger(base) };
}

export function writeFatal(
  context: FatalContext,
  err: unknown,
  fields: Record<string, unknown>,
  msg: string,
): void {
  const { logger, logDirError } = fatalLogger(context);
  logger.fatal({ ...describe(err), ...fields, ...(logDirError ? { logDirError } : {}) }, msg);
}

/**
 * From here on, an uncaught exception or unhandled rejection ends the process: a FATAL line, then
 * exit 1 at once. Its state is unknown, and everything it did is durable or resumed by the next
 * start (unfinished swarms are re-enqueued), so a supervisor's restart is the safe way on.
 */
export function exitOnCrash(logger: AppLogger, context: FatalContext): void {
  const crash = (kind: 'uncaughtException' | 'unhandledRejection') => (err: unknown) => {
    flushLogsSync(logger);
    writeFatal(
      context,
      err,
      { kind },
      kind === 'uncaughtException'
        ? 'uncaught exception: exiting'
        : 'unhandled promise rejection: exiting',
    );
    process.exit(1);
  };
  process.on('uncaughtException', crash('uncaughtException'));
  process.on('unhandledRejection', crash('unhandledRejection'));
}
