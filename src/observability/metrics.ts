// The service's dedicated prom-client registry: default process metrics, HTTP RED metrics, the
// long-lived responses (event streams) kept apart from them, system usage, build info and the security counters (auth failures, rate-limited requests, audit events).
// Names follow the operations guide; labels stay bounded.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createCpuUsageMeter, diskUsagePercent, memoryUsagePercent } from './system-usage.js';

export interface MetricsOptions {
  version: string;
  commit: string;
  /** The data volume whose usage disk_usage_percent reports. */
  dataDir: string;
}

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
  readonly httpRequestsTotal: Counter<'method' | 'route' | 'status_code'>;
  /** How long event streams stayed open; never in httpRequestDuration (it would skew p95). */
  readonly httpStreamDuration: Histogram<'route'>;
  /** Adds a source of the event streams open now, read at scrape time (http_streams_active). */
  countOpenStreams(source: () => number): void;
  readonly authFailuresTotal: Counter<'reason'>;
  readonly rateLimitedRequestsTotal: Counter<'caller'>;
  /** Blocks made on client addresses, by how (automatic: failed authentications; manual). */
  readonly authBlocksTotal: Counter<'reason'>;
  /** Sets where auth_blocked_clients is read from at scrape time. */
  countBlockedClients(source: () => Promise<number>): void;
  readonly auditEventsTotal: Counter<'action'>;
  readonly cacheHitsTotal: Counter<'route'>;
  readonly cacheMissesTotal: Counter<'route'>;
  readonly cacheErrorsTotal: Counter<'operation'>;
}

/** The audit actions the service writes; each series starts at 0. */
export const AUDIT_ACTIONS = [
  'key.create',
  'key.revoke',
  'key.bootstrap',
  'audit.prune',
  'blocklist.add',
  'blocklist.remove',
] as const;

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [registry],
  });
  const httpRequestsTotal = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [registry],
  });
  const httpStreamDuration = new Histogram({
    name: 'http_stream_duration_seconds',
    help: 'How long long-lived responses (server-sent event streams) stayed open, by route template',
    labelNames: ['route'] as const,
    buckets: [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 14_400],
    registers: [registry],
  });
  const openStreamSources: Array<() => number> = [];
  new Gauge({
    name: 'http_streams_active',
    help: 'Long-lived responses (server-sent event streams) open now',
    registers: [registry],
    collect() {
      this.set(openStreamSources.reduce((sum, source) => sum + source(), 0));
    },
  });
  const authFailuresTotal = new Counter({
    name: 'auth_failures_total',
    help: 'Rejected authentication or authorization attempts, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  // Start every reason at zero so rate() and alerts see the series before the first failure.
  for (const reason of ['missing_credentials', 'invalid_key', 'revoked_key', 'insufficient_role']) {
    authFailuresTotal.inc({ reason }, 0);
  }

  const rateLimitedRequestsTotal = new Counter({
    name: 'rate_limited_requests_total',
    help: 'API requests refused with 429 by the rate limiter, by caller kind (key or ip)',
    labelNames: ['caller'] as const,
    registers: [registry],
  });
  for (const caller of ['key', 'ip']) rateLimitedRequestsTotal.inc({ caller }, 0);

  const authBlocksTotal = new Counter({
    name: 'auth_blocks_total',
    help: 'Client addresses blocked on the API, by reason (automatic: failed authentications; manual)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of ['automatic', 'manual']) authBlocksTotal.inc({ reason }, 0);
  let blockedClients: (() => Promise<number>) | undefined;
  new Gauge({
    name: 'auth_blocked_clients',
    help: 'Client addresses blocked on the API now (automatic and manual blocks, each address once)',
    registers: [registry],
    async collect() {
      this.set(blockedClients ? await blockedClients().catch(() => 0) : 0);
    },
  });

  const cacheHitsTotal = new Counter({
    name: 'cache_hits_total',
    help: 'GET responses served from the response cache, by route template',
    labelNames: ['route'] as const,
    registers: [registry],
  });
  const cacheMissesTotal = new Counter({
    name: 'cache_misses_total',
    help: 'Cacheable GET responses not in the response cache, by route template',
    labelNames: ['route'] as const,
    registers: [registry],
  });
  const cacheErrorsTotal = new Counter({
    name: 'cache_errors_total',
    help: 'Response cache operations that failed (Redis away); the request is served without it',
    labelNames: ['operation'] as const,
    registers: [registry],
  });
  for (const operation of ['get', 'set', 'invalidate']) cacheErrorsTotal.inc({ operation }, 0);
  const auditEventsTotal = new Counter({
    name: 'audit_events_total',
    help: 'Entries written to the audit log, by action',
    labelNames: ['action'] as const,
    registers: [registry],
  });
  for (const action of AUDIT_ACTIONS) auditEventsTotal.inc({ action }, 0);

  new Gauge({
    name: 'app_build_info',
    help: 'Build of the running service (value is always 1)',
    labelNames: ['version', 'commit'] as const,
    registers: [registry],
  }).set({ version: options.version, commit: options.commit }, 1);

  new Gauge({
    name: 'memory_usage_percent',
    help: 'Memory in use, percent of the container limit or of the host',
    registers: [registry],
    collect() {
      this.set(memoryUsagePercent());
    },
  });
  const cpu = createCpuUsageMeter();
  new Gauge({
    name: 'cpu_usage_percent',
    help: 'CPU busy percent across all cores since the previous scrape',
    registers: [registry],
    collect() {
      this.set(cpu());
    },
  });
  new Gauge({
    name: 'disk_usage_percent',
    help: 'Used percent of the filesystem holding the data directory',
    registers: [registry],
    async collect() {
      this.set(await diskUsagePercent(options.dataDir));
    },
  });

  return {
    registry,
    httpRequestDuration,
    httpRequestsTotal,
    httpStreamDuration,
    countOpenStreams: (source) => void openStreamSources.push(source),
    authFailuresTotal,
    rateLimitedRequestsTotal,
    authBlocksTotal,
    countBlockedClients: (source) => void (blockedClients = source),
    auditEventsTotal,
    cacheHitsTotal,
    cacheMissesTotal,
    cacheErrorsTotal,
  };
}
