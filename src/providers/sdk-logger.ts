// Adapts our Logger to the logger shape the Anthropic and OpenAI SDKs accept (message first,
// details after), so their warnings land in our structured logs instead of on the console.

import type { Logger } from '../ports/logger.js';

type SdkLogFn = (message: string, ...details: unknown[]) => void;

export interface SdkLogger {
  error: SdkLogFn;
  warn: SdkLogFn;
  info: SdkLogFn;
  debug: SdkLogFn;
}

export function createSdkLogger(logger: Logger | undefined): SdkLogger {
  if (!logger) {
    const noop: SdkLogFn = () => undefined;
    return { error: noop, warn: noop, info: noop, debug: noop };
  }
  const fields = (details: unknown[]) => (details.length > 0 ? { details } : {});
  return {
    error: (message, ...details) => logger.error(fields(details), message),
    warn: (message, ...details) => logger.warn(fields(details), message),
    info: (message, ...details) => logger.info(fields(details), message),
    debug: (message, ...details) => logger.debug(fields(details), message),
  };
}
