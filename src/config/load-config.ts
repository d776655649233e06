// loadConfig(env) turns the raw environment into a frozen, nested, typed Config. Called only by
// the composition roots in src/main/; every other module receives the values it needs.
import path from 'node:path';
import { envSchema, type Env } from './schema.js';

export interface Config {
  readonly env: Env['NODE_ENV'];
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly bodyLimit: string;
    readonly trustProxy: string;
    readonly rateLimitPerMinute: number;
  };
  readonly log: { readonly level: Env['LOG_LEVEL']; readonly dir: string | undefined };
  readonly dataDir: string;
  readonly database: {
    readonly url: string | undefined;
    readonly readUrl: string | undefined;
    readonly poolMax: number;
    readonly connectTimeoutMs: number;
  };
  readonly redis: { readonly url: string | undefined };
  readonly metrics: { readonly token: string | undefined };
  readonly auth: { readonly bootstrapAdminKey: string | undefined };
  readonly shutdownTimeoutMs: number;
  /** How long to keep serving, not ready, before closing the listener. */
  readonly shutdownDrainMs: number;
  readonly healthCheckTimeoutMs: number;
  readonly buildCommit: string | undefined;
}

/** A bad environment value: names the variable and what it expects, never the value itself. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly variable: string,
    readonly expectation: string,
  ) {
    super(`Invalid environment variable ${variable}: ${expectation}`);
    this.name = 'ConfigError';
  }
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const v of Object.values(value)) {
    if (v && typeof v === 'object' && !Object.isFrozen(v)) deepFreeze(v as object);
  }
  return Object.freeze(value);
}

export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string = process.cwd(),
): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? 'environment');
    throw new ConfigError(variable, issue?.message ?? 'invalid value');
  }
  const e = parsed.data;
  if (e.DATABASE_READ_URL && !e.DATABASE_URL) {
    throw new ConfigError('DATABASE_READ_URL', 'requires DATABASE_URL to be set as well');
  }
  return deepFreeze({
    env: e.NODE_ENV,
    http: {
      host: e.HOST,
      port: e.PORT,
      bodyLimit: e.BODY_LIMIT.toLowerCase(),
      trustProxy: e.TRUST_PROXY,
      rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    },
    log: { level: e.LOG_LEVEL, dir: e.LOG_DIR ? path.resolve(cwd, e.LOG_DIR) : undefined },
    dataDir: path.resolve(cwd, e.CFN_DATA_DIR),
    database: {
      url: e.DATABASE_URL,
      readUrl: e.DATABASE_READ_URL,
      poolMax: e.DATABASE_POOL_MAX,
      connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
    },
    redis: { url: e.REDIS_URL },
    metrics: { token: e.METRICS_TOKEN },
    auth: { bootstrapAdminKey: e.CFN_BOOTSTRAP_ADMIN_KEY },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    healthCheckTimeoutMs: e.HEALTH_CHECK_TIMEOUT_MS,
    buildCommit: e.CFN_BUILD_COMMIT,
  });
}

/** The environment of this process: src/config is the only module that reads it. */
export function processEnv(): Readonly<Record<string, string | undefined>> {
  return process.env;
}
