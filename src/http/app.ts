// createApp(deps): the HTTP surface. It never builds its own dependencies; src/main wires them.
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Logger } from '../ports/logger.js';
import type { AuditLogStore } from '../ports/audit-log-store.js';
import type { HealthService } from '../observability/health.js';
import type { Metrics } from '../observability/metrics.js';
import type { ApiKeyService } from '../ops/api-keys.js';
import { errorHandler, notFound } from './error-handler.js';
import { createAuth } from './middleware/auth.js';
import type { RouteKit } from './route-kit.js';
import { httpMetrics } from './middleware/http-metrics.js';
import { jsonBody } from './middleware/json-body.js';
import { requestShape } from './middleware/request-shape.js';
import { maintenanceGuard } from './middleware/maintenance.js';
import type { MaintenanceMode } from '../ops/maintenance.js';
import type { RequestGate } from '../ops/request-gate.js';
import { apiRateLimit } from './middleware/rate-limit.js';
import { accessBlock } from './middleware/access-block.js';
import type { AccessBlocklist } from '../ops/access-blocklist.js';
import { blocklistRoutes } from './routes/blocklist.js';
import { requestId } from './middleware/request-id.js';
import { createRouteTable, type Listable, type RouteTable } from './route-table.js';
import { createCacheMiddleware } from './middleware/response-cache.js';
import type { ResponseCache } from '../ports/response-cache.js';
import type { Store } from 'express-rate-limit';
import { buildOpenApiDocument } from './openapi.js';
import { auditRoutes } from './routes/audit.js';
import { healthRoutes } from './routes/health.js';
import { keyRoutes } from './routes/keys.js';
import { metricsRoutes } from './routes/metrics.js';
import { agentRoutes } from './routes/agents.js';
import { adminRoutes, type AdminRoutesDeps } from './routes/admin.js';
import { swarmRoutes, type SwarmRoutesDeps } from './routes/swarms.js';

export interface AppDeps {
  version: string;
  logger: Logger;
  metrics: Metrics;
  health: HealthService;
  apiKeys: ApiKeyService;
  audit: AuditLogStore;
  /** Maintenance mode: mutating /api requests get 503 while it is on. */
  maintenance?: MaintenanceMode;
  /** This replica's door for mutating requests (closed once it acknowledged maintenance). */
  gate?: RequestGate;
  /** Backups, restore and maintenance through the API (admin). */
  admin?: AdminRoutesDeps;
  /** The swarm engine's API (absent in roles without it). */
  swarms?: SwarmRoutesDeps;
  /** Serve /api (false on a worker: health and metrics only). Default true. */
  api?: boolean;
  /** Where cacheable GET answers are kept (none: no caching). */
  cache?: ResponseCache;
  /**
   * Client addresses refused on /api before their key is looked up (failed authentications,
   * operators' entries); none: nothing is blocked.
   */
  blocklist?: AccessBlocklist;
  /** A rate-limit store shared by the replicas (Redis); default per process. */
  rateLimitStore?: Store;
  http: {
    bodyLimit: string;
    trustProxy: string;
    rateLimitPerMinute: number;
    metricsToken?: string | undefined;
  };
}

/** TRUST_PROXY: true/false, a hop count, or Express's names and subnets ("loopback", "10.0.0.0/8"). */
export function trustProxyValue(raw: string): boolean | number | string {
  if (/^(true|false)$/i.test(raw)) return raw.toLowerCase() === 'true';
  if (/^\d+$/.test(raw)) return Number(raw);
  return raw;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.set('trust proxy', trustProxyValue(deps.http.trustProxy));
  app.set('etag', false);
  app.disable('x-powered-by');

  app.use(requestId());
  // Router 2's public listRoutes(); the table is read once every route below is registered.
  const routes = createRouteTable(() => app.router as unknown as Listable);
  app.use(httpMetrics(deps.metrics, deps.logger, routes));
  app.use(requestShape());
  app.use(helmet());
  // Bodies are parsed per route, after authentication: unauthenticated callers cannot make the
  // service parse a body, and parse errors keep their route template in the metrics.
  const responseCache = deps.cache
    ? createCacheMiddleware({
        cache: deps.cache,
        logger: deps.logger,
        metrics: {
          hits: deps.metrics.cacheHitsTotal,
          misses: deps.metrics.cacheMissesTotal,
          errors: deps.metrics.cacheErrorsTotal,
        },
      })
    : undefined;
  const kit: RouteKit = {
    auth: createAuth({
      apiKeys: deps.apiKeys,
      metrics: deps.metrics,
      logger: deps.logger,
      ...(deps.blocklist ? { onKeyRefused: deps.blocklist.recordFailure } : {}),
    }),
    json: jsonBody({ limit: deps.http.bodyLimit }),
    cached: (route) => responseCache?.cached(route) ?? ((_req, _res, next) => next()),
    invalidate: async (pathPrefix) => responseCache?.invalidate(pathPrefix),
  };

  app.use(healthRoutes(deps.health));
  app.use(metricsRoutes(deps.metrics, deps.http.metricsToken));
  const openapi = buildOpenApiDocument(deps.version);
  app.get('/api/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  if (deps.api === false) return finish(app, routes, deps.logger);
  // First on /api: a blocked address costs no key lookup, no database work.
  if (deps.blocklist) app.use('/api', accessBlock(deps.blocklist));
  if (deps.maintenance)
    app.use('/api', maintenanceGuard(deps.maintenance, deps.gate ? { gate: deps.gate } : {}));
  app.use(
    '/api',
    kit.auth.authenticate,
    apiRateLimit({
      perMinute: deps.http.rateLimitPerMinute,
      ...(deps.rateLimitStore ? { store: deps.rateLimitStore } : {}),
      onLimited: (caller) => deps.metrics.rateLimitedRequestsTotal.inc({ caller }),
    }),
  );
  app.use(keyRoutes(deps.apiKeys, kit));
  app.use(auditRoutes(deps.audit, kit));
  if (deps.admin) app.use(adminRoutes(deps.admin, kit));
  if (deps.blocklist) app.use(blocklistRoutes(deps.blocklist, kit));
  if (deps.swarms) {
    app.use(agentRoutes(deps.swarms.agents, kit));
    app.use(swarmRoutes(deps.swarms, kit));
  }

  return finish(app, routes, deps.logger);
}

/** The end of the chain: 405 or 404 for what no route took, then the one error handler. */
function finish(app: Express, routes: RouteTable, logger: Logger): Express {
  app.use(notFound((path) => routes.allowed(path)));
  app.use(errorHandler(logger));
  return app;
}
