// pino JSON lines to stdout and, when a log directory is configured, to LOG_DIR/app.log. Every line
// carries time, level, service and version; the lines of a request and of a swarm carry a requestId
// their callers pass (see the request-id middleware).
import fs from 'node:fs';
import path from 'node:path';
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import { CENSOR, REDACT_PATHS, scrubObject, scrubString } from './redact.js';

export type AppLogger = PinoLogger;

export interface LoggerOptions {
  level: string;
  service?: string;
  version: string;
  /** Directory for app.log; omitted: stdout only. */
  dir?: string | undefined;
  /** Replaces stdout (tests capture lines with it). */
  destination?: DestinationStream;
  /** Write each line before returning (a process about to exit); default asynchronous. */
  sync?: boolean;
}

export function createLogger(options: LoggerOptions): AppLogger {
  const streams: pino.StreamEntry[] = [
    {
      level: 'trace',
      stream: options.destination ?? pino.destination({ dest: 1, sync: options.sync ?? false }),
    },
  ];
  if (options.dir) {
    fs.mkdirSync(options.dir, { recursive: true });
    streams.push({
      level: 'trace',
      stream: pino.destination({
        dest: path.join(options.dir, 'app.log'),
        mkdir: true,
        sync: options.sync ?? false,
      }),
    });
  }
  return pino(
    {
      level: options.level,
      base: { service: options.service ?? 'claude-flow-novice', version: options.version },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      formatters: {
        level: (label) => ({ level: label }),
        log: (obj) => scrubObject(obj) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          // Scrub the message string too.
          const patched = args.map((a) => (typeof a === 'string' ? scrubString(a) : a));
          method.apply(this, patched as Parameters<typeof method>);
        },
      },
    },
    pino.multistream(streams),
  );
}

/** Writes out what the logger still buffers, before a process.exit() that would drop it. */
export function flushLogsSync(logger: AppLogger): void {
  const stream = (logger as unknown as Record<symbol, { flushSync?: () => void } | undefined>)[
    pino.symbols.streamSym
  ];
  try {
    stream?.flushSync?.();
  } catch {
    // A destination still opening (or a full pipe) cannot be flushed synchronously; skip it.
  }
}
