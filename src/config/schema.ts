// The one schema over the environment: every variable the service reads, with its default and
// what it expects. README's environment table documents exactly these.
import { z } from 'zod';

const emptyAsUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const optionalString = z.preprocess(emptyAsUndefined, z.string().optional());

const postgresUrl = z.preprocess(
  emptyAsUndefined,
  z
    .string()
    .refine((s) => /^postgres(ql)?:\/\/.+/.test(s) && URL.canParse(s), {
      message: 'expected a postgres:// or postgresql:// URL',
    })
    .optional(),
);

const redisUrl = z.preprocess(
  emptyAsUndefined,
  z
    .string()
    .refine((s) => /^rediss?:\/\/.+/.test(s) && URL.canParse(s), {
      message: 'expected a redis:// or rediss:// URL',
    })
    .optional(),
);

const httpUrl = z.preprocess(
  emptyAsUndefined,
  z
    .string()
    .refine((s) => /^https?:\/\/.+/.test(s) && URL.canParse(s), {
      message: 'expected an http:// or https:// URL',
    })
    .optional(),
);

/** An integer in [min, max], every failure saying so. */
const intBetween = (min: number, max: number) => {
  const message = `expected an integer between ${min} and ${max}`;
  return z.coerce.number({ message }).int({ message }).min(min, { message }).max(max, { message });
};
const int = (min: number, max: number, fallback: number) =>
  z.preprocess(emptyAsUndefined, intBetween(min, max).default(fallback));
const optionalInt = (min: number, max: number) =>
  z.preprocess(emptyAsUndefined, intBetween(min, max).optional());

export const envSchema = z.object({
  PORT: int(0, 65535, 3000),
  HOST: z.preprocess(emptyAsUndefined, z.string().default('0.0.0.0')),
  NODE_ENV: z.preprocess(
    emptyAsUndefined,
    z
      .enum(['development', 'production', 'test'], {
        message: 'expected one of development, production, test',
      })
      .default('development'),
  ),
  LOG_LEVEL: z.preprocess(
    (v) => (typeof v === 'string' ? emptyAsUndefined(v.toLowerCase()) : v),
    z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
        message: 'expected one of trace, debug, info, warn, error, fatal, silent',
      })
      .default('info'),
  ),
  LOG_DIR: optionalString,
  CFN_DATA_DIR: z.preprocess(emptyAsUndefined, z.string().default('./data')),
  DATABASE_URL: postgresUrl,
  DATABASE_READ_URL: postgresUrl,
  DATABASE_POOL_MAX: int(1, 1000, 10),
  DATABASE_CONNECT_TIMEOUT_MS: int(100, 120_000, 5000),
  CFN_PGLITE_SHARED_BUFFERS_MB: int(2, 65_536, 16),
  CFN_PGLITE_WORK_MEM_MB: int(1, 4096, 4),
  CFN_PGLITE_MAINTENANCE_WORK_MEM_MB: int(1, 16_384, 16),
  REDIS_URL: redisUrl,
  REDIS_RECONNECT_MAX_MS: int(100, 60_000, 5000),
  REDIS_COMMAND_TIMEOUT_MS: int(50, 60_000, 2000),
  REDIS_PREFIX: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,40}$/, { message: 'expected 1-40 letters, digits, _ or -' })
      .default('cfn'),
  ),
  METRICS_TOKEN: z.preprocess(
    emptyAsUndefined,
    z.string().min(16, { message: 'expected at least 16 characters' }).optional(),
  ),
  CFN_BOOTSTRAP_ADMIN_KEY: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .min(24, { message: 'expected at least 24 characters' })
      .regex(/^[\x21-\x7e]+$/, { message: 'expected printable characters without spaces' })
      .optional(),
  ),
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000, 10_000),
  SHUTDOWN_DRAIN_MS: int(0, 600_000, 0),
  HEALTH_CHECK_TIMEOUT_MS: int(50, 60_000, 2000),
  BODY_LIMIT: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^\d+(b|kb|mb)$/i, { message: 'expected a size such as 100kb or 1mb' })
      .default('1mb'),
  ),
  TRUST_PROXY: z.preprocess(emptyAsUndefined, z.string().default('loopback')),
  RATE_LIMIT_PER_MINUTE: int(0, 1_000_000, 600),
  CFN_AUTH_CACHE_MS: int(0, 60_000, 1000),
  // ---- Blocking addresses that fail authentication too often (issue 16)
  CFN_AUTH_BLOCK_THRESHOLD: int(0, 1_000_000, 20),
  CFN_AUTH_BLOCK_WINDOW_S: int(1, 86_400, 300),
  CFN_AUTH_BLOCK_DURATION_S: int(1, 31_536_000, 900),
  // Unset: loopback. `none`: nothing; an empty value is kept as none too (checked in load-config).
  CFN_AUTH_BLOCK_ALLOW: z.string().optional(),
  CFN_MAX_STREAMS_PER_CALLER: int(1, 100_000, 10),
  CFN_STREAM_IDLE_TIMEOUT_MS: int(100, 86_400_000, 300_000),
  CFN_STREAM_MAX_LIFETIME_MS: int(0, 604_800_000, 3_600_000),
  CFN_BUILD_COMMIT: optionalString,
  // Certificates whose expiry /metrics reports (tls_cert_expiry_seconds); parsed in load-config.
  CFN_TLS_WATCH: optionalString,

  // ---- The engine: agents, providers, workspaces
  CFN_AGENTS_DIR: z.preprocess(emptyAsUndefined, z.string().default('./.claude/agents')),
  CFN_MAX_CONCURRENT_AGENTS: int(1, 10_000, 100),
  CFN_QUEUE_LOCK_MS: int(1000, 600_000, 30_000),
  CFN_WORKER_MAX_SWARMS: int(1, 10_000, 50),
  CFN_RECOVERY_INTERVAL_MS: int(1000, 3_600_000, 30_000),
  CFN_PROVIDERS_FILE: optionalString,
  CFN_DEFAULT_PROVIDER: optionalString,
  ANTHROPIC_API_KEY: optionalString,
  ANTHROPIC_BASE_URL: httpUrl,
  ANTHROPIC_MODEL: optionalString,
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: httpUrl,
  OPENAI_MODEL: optionalString,
  CFN_CLI_COMMAND: optionalString,
  CFN_LLM_MAX_RETRIES: int(0, 10, 2),
  CFN_LLM_MAX_CONCURRENCY: optionalInt(1, 10_000),
  CFN_LLM_REQUESTS_PER_MINUTE: optionalInt(1, 10_000_000),
  CFN_LLM_TOKENS_PER_MINUTE: optionalInt(1, 1_000_000_000),
  CFN_PRICES_FILE: optionalString,
  CFN_AGENT_TIMEOUT_MS: int(1000, 3_600_000, 600_000),
  CFN_AGENT_MAX_TOKENS: int(1, 200_000, 4096),
  CFN_MAX_TOOL_ROUNDS: int(0, 200, 25),
  CFN_COMMAND_TIMEOUT_MS: int(1000, 3_600_000, 600_000),
  CFN_WORKSPACE_ROOTS: optionalString,
  CFN_SHARED_WORKSPACES: optionalString,
  CFN_WEBHOOK_SECRET: z.preprocess(
    emptyAsUndefined,
    z.string().min(16, { message: 'expected at least 16 characters' }).optional(),
  ),
  CFN_SUCCESS_RATE_WINDOW_MINUTES: int(1, 10_080, 60),
  // An extra operator filter on run_command (first words); unset: none, the sandbox is the boundary.
  CFN_TOOL_COMMANDS: optionalString,
  // ---- The sandbox of agent commands and command validators (issue 13)
  CFN_SANDBOX: z.preprocess(
    (v) => (typeof v === 'string' ? emptyAsUndefined(v.toLowerCase()) : v),
    z.enum(['auto', 'bwrap', 'off'], { message: 'expected auto, bwrap or off' }).default('auto'),
  ),
  CFN_SANDBOX_BWRAP: z.preprocess(emptyAsUndefined, z.string().default('bwrap')),
  CFN_SANDBOX_NETWORK: z.preprocess(
    (v) => (typeof v === 'string' ? emptyAsUndefined(v.toLowerCase()) : v),
    z.enum(['allow', 'deny'], { message: 'expected allow or deny' }).default('deny'),
  ),
  CFN_SANDBOX_UID: int(1, 4_294_967_294, 65534),
  CFN_SANDBOX_GID: int(1, 4_294_967_294, 65534),
  // ---- Backups (issue 5)
  BACKUP_TARGET: optionalString,
  BACKUP_ENCRYPTION_KEY: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .refine((s) => /^[0-9a-fA-F]{64}$/.test(s) || /^[A-Za-z0-9+/]{43}=$/.test(s), {
        message: 'expected 32 bytes as 64 hex digits or base64 (openssl rand -base64 32)',
      })
      .optional(),
  ),
  BACKUP_S3_ENDPOINT: httpUrl,
  BACKUP_S3_REGION: z.preprocess(emptyAsUndefined, z.string().default('us-east-1')),
  BACKUP_S3_FORCE_PATH_STYLE: z.preprocess(
    (v) => (typeof v === 'string' ? emptyAsUndefined(v.toLowerCase()) : v),
    z.enum(['true', 'false'], { message: 'expected true or false' }).default('false'),
  ),
  BACKUP_S3_ACCESS_KEY_ID: optionalString,
  BACKUP_S3_SECRET_ACCESS_KEY: optionalString,
  BACKUP_SCHEDULES: z.preprocess(
    (v) => (typeof v === 'string' ? emptyAsUndefined(v.toLowerCase()) : v),
    z.enum(['on', 'off'], { message: 'expected on or off' }).default('on'),
  ),
  BACKUP_SCHEDULE_DATABASE: z.preprocess(emptyAsUndefined, z.string().default('0 2 * * *')),
  BACKUP_SCHEDULE_APP_DATA: z.preprocess(emptyAsUndefined, z.string().default('0 3 * * 0')),
  BACKUP_SCHEDULE_PRUNE: z.preprocess(emptyAsUndefined, z.string().default('30 3 * * *')),
  BACKUP_SCHEDULE_VERIFY: z.preprocess(emptyAsUndefined, z.string().default('0 4 * * *')),
  CFN_MAINTENANCE_CACHE_MS: int(0, 60_000, 1000),
  // The replica registry (issue 13): heartbeats, and how long a restore waits for every replica.
  CFN_REPLICA_HEARTBEAT_MS: int(100, 60_000, 2000),
  CFN_REPLICA_STALE_MS: int(500, 600_000, 15_000),
  CFN_RESTORE_ACK_TIMEOUT_MS: int(1000, 3_600_000, 60_000),
  // pgBackRest (incremental backups, point-in-time recovery): the stanza enables the engine.
  // PGBACKREST_STANZA and PGBACKREST_CONFIG are pgBackRest's own variables too, same meaning.
  PGBACKREST_STANZA: z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, {
        message:
          'expected a stanza name: up to 64 letters, digits, _, - or ., not starting with _, - or .',
      })
      .optional(),
  ),
  PGBACKREST_CONFIG: optionalString,
  CFN_PGBACKREST_COMMAND: z.preprocess(emptyAsUndefined, z.string().default('pgbackrest')),

  // The CLI provider (and commands run with CFN_SANDBOX=off) start from these, never from the
  // service's whole environment. HOME reaches only the CLI provider (an operator's agent runtime).
  PATH: z.preprocess(emptyAsUndefined, z.string().default('/usr/local/bin:/usr/bin:/bin')),
  HOME: optionalString,
});

export type Env = z.infer<typeof envSchema>;
