// The logging surface adapters and engines may use; pino's Logger satisfies it.

export interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}

export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
  /** Whether lines of `level` are written (pino's); a logger without it writes every level. */
  isLevelEnabled?(level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'): boolean;
}
