// loadConfig(env) turns the raw environment into a frozen, nested, typed Config. Called only by
// the composition roots in src/main/; every other module receives the values it needs.
import net from 'node:net';
import path from 'node:path';
import { Cron } from 'croner';
import { parseWatchList, type WatchedCertificate } from '../domain/tls-target.js';
import { envSchema, type Env } from './schema.js';

export interface Config {
  readonly env: Env['NODE_ENV'];
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly bodyLimit: string;
    readonly trustProxy: string;
    readonly rateLimitPerMinute: number;
    /** How long a replica trusts an API key it found valid (0: looked up on every request). */
    readonly authCacheMs: number;
    /** Event streams: per API key and process, idle and lifetime limits (0: no lifetime limit). */
    readonly streams: {
      readonly maxPerCaller: number;
      readonly idleTimeoutMs: number;
      readonly maxLifetimeMs: number;
    };
  };
  readonly log: { readonly level: Env['LOG_LEVEL']; readonly dir: string | undefined };
  readonly dataDir: string;
  readonly database: {
    readonly url: string | undefined;
    readonly readUrl: string | undefined;
    readonly poolMax: number;
    readonly connectTimeoutMs: number;
    /** The embedded database's memory (PostgreSQL settings of PGlite). */
    readonly pglite: {
      readonly sharedBuffersMb: number;
      readonly workMemMb: number;
      readonly maintenanceWorkMemMb: number;
    };
  };
  readonly redis: {
    readonly url: string | undefined;
    readonly prefix: string;
    /** Longest wait between reconnect attempts of every Redis client. */
    readonly reconnectMaxMs: number;
    /**
     * Longest wait for a Redis reply on the connections requests wait on (producing jobs, cache,
     * rate limit, publishing, health): a stalled Redis fails them instead of hanging.
     */
    readonly commandTimeoutMs: number;
  };
  readonly metrics: { readonly token: string | undefined };
  /** Certificates (files, TLS servers) whose expiry the metrics report; file paths absolute. */
  readonly tls: { readonly watch: readonly WatchedCertificate[] };
  readonly auth: {
    readonly bootstrapAdminKey: string | undefined;
    /** Blocking client addresses after repeated failed authentications. */
    readonly block: {
      /** Failed authentications within `windowMs` that block an address (0: never automatically). */
      readonly threshold: number;
      readonly windowMs: number;
      readonly durationMs: number;
      /** Addresses and subnets (`a.b.c.d`, `a.b.c.d/n`, IPv6 likewise) never blocked. */
      readonly allow: readonly string[];
    };
  };
  readonly shutdownTimeoutMs: number;
  /** How long to keep serving, not ready, before closing the listener. */
  readonly shutdownDrainMs: number;
  readonly healthCheckTimeoutMs: number;
  readonly buildCommit: string | undefined;
  /** The replica registry: every serving process heartbeats this often. */
  readonly replicas: {
    readonly heartbeatMs: number;
    /** A replica heard from within this long is alive (a restore waits for its acknowledgement). */
    readonly staleMs: number;
  };
  readonly backup: {
    /** A directory or `s3://bucket/prefix`; default `<CFN_DATA_DIR>/backups`. */
    readonly target: string;
    readonly encryptionKey: Buffer | undefined;
    readonly s3: {
      readonly endpoint: string | undefined;
      readonly region: string;
      readonly forcePathStyle: boolean;
      readonly credentials:
        { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined;
    };
    readonly schedulesEnabled: boolean;
    readonly schedules: {
      readonly database: string;
      readonly appData: string;
      readonly prune: string;
      readonly verify: string;
    };
    readonly maintenanceCacheMs: number;
    /** How long a restore waits for every live replica to acknowledge maintenance (and to resume). */
    readonly ackTimeoutMs: number;
    /** pgBackRest for incremental backups and point-in-time recovery; unset: not configured. */
    readonly pgbackrest:
      | {
          readonly stanza: string;
          /** pgbackrest.conf; unset: pgBackRest's default (/etc/pgbackrest/pgbackrest.conf). */
          readonly configFile: string | undefined;
          /** argv that runs pgbackrest (split on spaces), e.g. `runuser -u postgres -- pgbackrest`. */
          readonly command: readonly string[];
        }
      | undefined;
  };
  readonly engine: {
    readonly agentsDir: string;
    readonly maxConcurrentAgents: number;
    /** How long a worker holds a queued job before it counts as stalled (BullMQ). */
    readonly queueLockMs: number;
    readonly workerMaxSwarms: number;
    /** With a shared queue: how often unfinished swarms are queued again (lost jobs). */
    readonly recoveryIntervalMs: number;
    readonly providersFile: string | undefined;
    readonly defaultProvider: string | undefined;
    readonly anthropic: {
      readonly apiKey: string | undefined;
      readonly baseUrl: string | undefined;
      readonly model: string | undefined;
    };
    readonly openai: {
      readonly apiKey: string | undefined;
      readonly baseUrl: string | undefined;
      readonly model: string | undefined;
    };
    /** argv of the CLI provider (split on spaces; quote-free). */
    readonly cliCommand: readonly string[] | undefined;
    readonly llmMaxRetries: number;
    /** Flow control of the providers configured from the environment (not CFN_PROVIDERS_FILE's). */
    readonly llmLimits: {
      readonly maxConcurrency: number | undefined;
      readonly requestsPerMinute: number | undefined;
      readonly tokensPerMinute: number | undefined;
    };
    readonly pricesFile: string | undefined;
    readonly agentTimeoutMs: number;
    readonly agentMaxTokens: number;
    readonly maxToolRounds: number;
    readonly commandTimeoutMs: number;
    /** Where swarm workspaces may be; relative workspace paths resolve in the first. */
    readonly workspaceRoots: readonly string[];
    /** Directories under the roots several unfinished swarms may use at once. */
    readonly sharedWorkspaces: readonly string[];
    readonly webhookSecret: string | undefined;
    readonly successRateWindowMinutes: number;
    /** The operator's extra filter on run_command (first words); undefined: no filter. */
    readonly toolCommands: readonly string[] | undefined;
    readonly sandbox: {
      /** auto: bwrap when its self-test passes, else commands refused; bwrap: required; off: unconfined. */
      readonly mode: 'auto' | 'bwrap' | 'off';
      /** The bwrap executable: a path, or a name looked up on PATH. */
      readonly bwrap: string;
      /** Whether a swarm may ask for `"network": true`. */
      readonly networkAllowed: boolean;
      /** When the service runs as root, the host uid/gid commands run as (and workspaces belong to). */
      readonly uid: number;
      readonly gid: number;
    };
    /** The environment of the CLI provider: PATH, the service's HOME, no npm notices. */
    readonly cliEnv: Readonly<Record<string, string>>;
    /** The environment commands start from with CFN_SANDBOX=off (HOME is never the operator's). */
    readonly unconfinedEnv: Readonly<Record<string, string>>;
  };
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
    // Buffers (the backup key) cannot be frozen; they are never shared outside main.
    if (v && typeof v === 'object' && !ArrayBuffer.isView(v) && !Object.isFrozen(v))
      deepFreeze(v as object);
  }
  return Object.freeze(value);
}

const LOOPBACK = ['127.0.0.0/8', '::1'];

/**
 * CFN_AUTH_BLOCK_ALLOW: comma-separated addresses and subnets (CIDR), or `loopback` (127.0.0.0/8
 * and ::1, also the default when unset), or `none` (an empty value too).
 */
function blockAllowList(raw: string | undefined): string[] {
  if (raw === undefined) return LOOPBACK;
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0 || (items.length === 1 && items[0]!.toLowerCase() === 'none')) return [];
  const out: string[] = [];
  for (const item of items) {
    if (item.toLowerCase() === 'loopback') {
      out.push(...LOOPBACK);
      continue;
    }
    const [address, bits, extra] = item.split('/');
    const family = net.isIP(address ?? '');
    const max = family === 4 ? 32 : 128;
    const validBits =
      bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) >= 0 && Number(bits) <= max);
    if (!family || !validBits || extra !== undefined)
      throw new ConfigError(
        'CFN_AUTH_BLOCK_ALLOW',
        'expected comma-separated IP addresses or subnets (10.0.0.0/8, fd00::/8), loopback or none',
      );
    out.push(item);
  }
  return out;
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
  for (const variable of [
    'BACKUP_SCHEDULE_DATABASE',
    'BACKUP_SCHEDULE_APP_DATA',
    'BACKUP_SCHEDULE_PRUNE',
    'BACKUP_SCHEDULE_VERIFY',
  ] as const) {
    try {
      new Cron(e[variable], { paused: true, timezone: 'UTC' }).stop();
    } catch {
      throw new ConfigError(variable, 'expected a cron expression such as "0 2 * * *"');
    }
  }
  if (Boolean(e.BACKUP_S3_ACCESS_KEY_ID) !== Boolean(e.BACKUP_S3_SECRET_ACCESS_KEY)) {
    throw new ConfigError(
      e.BACKUP_S3_ACCESS_KEY_ID ? 'BACKUP_S3_SECRET_ACCESS_KEY' : 'BACKUP_S3_ACCESS_KEY_ID',
      'set both BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY, or neither',
    );
  }
  if (e.PGBACKREST_STANZA && !e.DATABASE_URL) {
    throw new ConfigError(
      'PGBACKREST_STANZA',
      'requires DATABASE_URL (pgBackRest backs up a PostgreSQL server, not the embedded database)',
    );
  }
  if (e.CFN_REPLICA_STALE_MS < 2 * e.CFN_REPLICA_HEARTBEAT_MS) {
    throw new ConfigError(
      'CFN_REPLICA_STALE_MS',
      'expected at least twice CFN_REPLICA_HEARTBEAT_MS (a live replica must not look gone between two heartbeats)',
    );
  }
  const workspaceRoots = (
    e.CFN_WORKSPACE_ROOTS?.split(path.delimiter).filter(Boolean) ?? [
      path.join(e.CFN_DATA_DIR, 'workspaces'),
    ]
  ).map((r) => path.resolve(cwd, r));
  const sharedWorkspaces = (e.CFN_SHARED_WORKSPACES?.split(',') ?? [])
    .map((d) => d.trim())
    .filter(Boolean)
    .map((d) => path.resolve(workspaceRoots[0] ?? cwd, d));
  for (const dir of sharedWorkspaces) {
    if (!workspaceRoots.some((r) => dir.startsWith(r + path.sep))) {
      throw new ConfigError(
        'CFN_SHARED_WORKSPACES',
        'expected comma-separated directories inside CFN_WORKSPACE_ROOTS (not a root itself)',
      );
    }
  }
  const watch = parseWatchList(e.CFN_TLS_WATCH ?? '');
  if ('error' in watch)
    throw new ConfigError(
      'CFN_TLS_WATCH',
      `${watch.error}; the list is comma-separated files and host:port, each optionally name=target`,
    );
  const toolCommands = e.CFN_TOOL_COMMANDS?.split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  const quietNpm = { NO_UPDATE_NOTIFIER: '1', npm_config_update_notifier: 'false' };
  const rawKey = e.BACKUP_ENCRYPTION_KEY;
  return deepFreeze({
    env: e.NODE_ENV,
    http: {
      host: e.HOST,
      port: e.PORT,
      bodyLimit: e.BODY_LIMIT.toLowerCase(),
      trustProxy: e.TRUST_PROXY,
      rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
      authCacheMs: e.CFN_AUTH_CACHE_MS,
      streams: {
        maxPerCaller: e.CFN_MAX_STREAMS_PER_CALLER,
        idleTimeoutMs: e.CFN_STREAM_IDLE_TIMEOUT_MS,
        maxLifetimeMs: e.CFN_STREAM_MAX_LIFETIME_MS,
      },
    },
    log: { level: e.LOG_LEVEL, dir: e.LOG_DIR ? path.resolve(cwd, e.LOG_DIR) : undefined },
    dataDir: path.resolve(cwd, e.CFN_DATA_DIR),
    database: {
      url: e.DATABASE_URL,
      readUrl: e.DATABASE_READ_URL,
      poolMax: e.DATABASE_POOL_MAX,
      connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
      pglite: {
        sharedBuffersMb: e.CFN_PGLITE_SHARED_BUFFERS_MB,
        workMemMb: e.CFN_PGLITE_WORK_MEM_MB,
        maintenanceWorkMemMb: e.CFN_PGLITE_MAINTENANCE_WORK_MEM_MB,
      },
    },
    redis: {
      url: e.REDIS_URL,
      prefix: e.REDIS_PREFIX,
      reconnectMaxMs: e.REDIS_RECONNECT_MAX_MS,
      commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    },
    metrics: { token: e.METRICS_TOKEN },
    tls: {
      watch: watch.map((w) =>
        w.target.kind === 'file'
          ? { name: w.name, target: { kind: 'file', path: path.resolve(cwd, w.target.path) } }
          : w,
      ),
    },
    auth: {
      bootstrapAdminKey: e.CFN_BOOTSTRAP_ADMIN_KEY,
      block: {
        threshold: e.CFN_AUTH_BLOCK_THRESHOLD,
        windowMs: e.CFN_AUTH_BLOCK_WINDOW_S * 1000,
        durationMs: e.CFN_AUTH_BLOCK_DURATION_S * 1000,
        allow: blockAllowList(e.CFN_AUTH_BLOCK_ALLOW),
      },
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    healthCheckTimeoutMs: e.HEALTH_CHECK_TIMEOUT_MS,
    buildCommit: e.CFN_BUILD_COMMIT,
    replicas: { heartbeatMs: e.CFN_REPLICA_HEARTBEAT_MS, staleMs: e.CFN_REPLICA_STALE_MS },
    backup: {
      target: e.BACKUP_TARGET?.startsWith('s3://')
        ? e.BACKUP_TARGET
        : path.resolve(cwd, e.BACKUP_TARGET ?? path.join(e.CFN_DATA_DIR, 'backups')),
      encryptionKey: rawKey
        ? Buffer.from(rawKey, /^[0-9a-fA-F]{64}$/.test(rawKey) ? 'hex' : 'base64')
        : undefined,
      s3: {
        endpoint: e.BACKUP_S3_ENDPOINT,
        region: e.BACKUP_S3_REGION,
        forcePathStyle: e.BACKUP_S3_FORCE_PATH_STYLE === 'true',
        credentials:
          e.BACKUP_S3_ACCESS_KEY_ID && e.BACKUP_S3_SECRET_ACCESS_KEY
            ? {
                accessKeyId: e.BACKUP_S3_ACCESS_KEY_ID,
                secretAccessKey: e.BACKUP_S3_SECRET_ACCESS_KEY,
              }
            : undefined,
      },
      schedulesEnabled: e.BACKUP_SCHEDULES === 'on',
      schedules: {
        database: e.BACKUP_SCHEDULE_DATABASE,
        appData: e.BACKUP_SCHEDULE_APP_DATA,
        prune: e.BACKUP_SCHEDULE_PRUNE,
        verify: e.BACKUP_SCHEDULE_VERIFY,
      },
      maintenanceCacheMs: e.CFN_MAINTENANCE_CACHE_MS,
      ackTimeoutMs: e.CFN_RESTORE_ACK_TIMEOUT_MS,
      pgbackrest: e.PGBACKREST_STANZA
        ? {
            stanza: e.PGBACKREST_STANZA,
            configFile: e.PGBACKREST_CONFIG ? path.resolve(cwd, e.PGBACKREST_CONFIG) : undefined,
            command: e.CFN_PGBACKREST_COMMAND.trim().split(/\s+/),
          }
        : undefined,
    },
    engine: {
      agentsDir: path.resolve(cwd, e.CFN_AGENTS_DIR),
      maxConcurrentAgents: e.CFN_MAX_CONCURRENT_AGENTS,
      queueLockMs: e.CFN_QUEUE_LOCK_MS,
      workerMaxSwarms: e.CFN_WORKER_MAX_SWARMS,
      recoveryIntervalMs: e.CFN_RECOVERY_INTERVAL_MS,
      providersFile: e.CFN_PROVIDERS_FILE ? path.resolve(cwd, e.CFN_PROVIDERS_FILE) : undefined,
      defaultProvider: e.CFN_DEFAULT_PROVIDER,
      anthropic: {
        apiKey: e.ANTHROPIC_API_KEY,
        baseUrl: e.ANTHROPIC_BASE_URL,
        model: e.ANTHROPIC_MODEL,
      },
      openai: { apiKey: e.OPENAI_API_KEY, baseUrl: e.OPENAI_BASE_URL, model: e.OPENAI_MODEL },
      cliCommand: e.CFN_CLI_COMMAND?.trim().split(/\s+/),
      llmMaxRetries: e.CFN_LLM_MAX_RETRIES,
      llmLimits: {
        maxConcurrency: e.CFN_LLM_MAX_CONCURRENCY,
        requestsPerMinute: e.CFN_LLM_REQUESTS_PER_MINUTE,
        tokensPerMinute: e.CFN_LLM_TOKENS_PER_MINUTE,
      },
      pricesFile: e.CFN_PRICES_FILE ? path.resolve(cwd, e.CFN_PRICES_FILE) : undefined,
      agentTimeoutMs: e.CFN_AGENT_TIMEOUT_MS,
      agentMaxTokens: e.CFN_AGENT_MAX_TOKENS,
      maxToolRounds: e.CFN_MAX_TOOL_ROUNDS,
      commandTimeoutMs: e.CFN_COMMAND_TIMEOUT_MS,
      workspaceRoots,
      sharedWorkspaces,
      webhookSecret: e.CFN_WEBHOOK_SECRET,
      successRateWindowMinutes: e.CFN_SUCCESS_RATE_WINDOW_MINUTES,
      toolCommands: toolCommands?.length ? toolCommands : undefined,
      sandbox: {
        mode: e.CFN_SANDBOX,
        bwrap: e.CFN_SANDBOX_BWRAP,
        networkAllowed: e.CFN_SANDBOX_NETWORK === 'allow',
        uid: e.CFN_SANDBOX_UID,
        gid: e.CFN_SANDBOX_GID,
      },
      // The CLI provider is the operator's own agent runtime: it keeps the service's HOME, where
      // its login lives (a prior `claude` login), or a HOME of the service's when there is none.
      cliEnv: {
        PATH: e.PATH,
        HOME: e.HOME ?? path.resolve(cwd, e.CFN_DATA_DIR, 'home'),
        ...quietNpm,
      },
      // Unconfined agent commands never get the operator's HOME: tools write caches there.
      unconfinedEnv: { PATH: e.PATH, HOME: path.resolve(cwd, e.CFN_DATA_DIR, 'home'), ...quietNpm },
    },
  });
}

/** The environment of this process: src/config is the only module that reads it. */
export function processEnv(): Readonly<Record<string, string | undefined>> {
  return process.env;
}

/**
 * LOG_LEVEL and LOG_DIR alone, each read on its own, so a start-up failure caused by another
 * variable (or by one of these) can still be logged where the operator looks: an invalid
 * LOG_LEVEL falls back to its default.
 */
export function loadLogConfig(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string = process.cwd(),
): Config['log'] {
  const level = envSchema.shape.LOG_LEVEL.safeParse(env.LOG_LEVEL);
  const dir = envSchema.shape.LOG_DIR.safeParse(env.LOG_DIR);
  return Object.freeze({
    level: level.success ? level.data : 'info',
    dir: dir.success && dir.data ? path.resolve(cwd, dir.data) : undefined,
  });
}
