// The guide's cache middleware for JSON GET routes marked cacheable: key `cache:<originalUrl>`,
// TTL 300 s by default. It runs after authentication and authorisation, so a response is only
// ever served to a caller the route admits, and it is only used on routes whose answer is the same
// for every such caller. A handler can opt out per response (`res.locals.noCache`). When the cache
// fails (Redis down or stalled) the request is served without it: logged once per outage, each
// failed operation counted, and the cache tried again at most once a second meanwhile.
import type { RequestHandler } from 'express';
import type { Counter } from 'prom-client';
import type { Logger } from '../../ports/logger.js';
import type { ResponseCache } from '../../ports/response-cache.js';
import { createOutageGuard } from './outage-guard.js';

export interface CacheMetrics {
  hits: Counter<'route'>;
  misses: Counter<'route'>;
  errors: Counter<'operation'>;
}

export interface ResponseCacheOptions {
  cache: ResponseCache;
  metrics: CacheMetrics;
  logger: Logger;
  ttlSeconds?: number;
}

export const cacheKey = (originalUrl: string) => `cache:${originalUrl}`;

/** A cache that could not be asked: serve without it (and do not store the answer either). */
const BYPASS = Symbol('bypass');

export function createCacheMiddleware({
  cache,
  metrics,
  logger,
  ttlSeconds = 300,
}: ResponseCacheOptions) {
  // While the cache fails (Redis down or stalled), requests are served without it and it is tried
  // again now and then, so a stalled Redis does not add a command timeout to every request.
  const guard = createOutageGuard({
    onDown: (err) => logger.warn({ err }, 'response cache unavailable; serving without it'),
    onUp: () => logger.info('response cache available again'),
  });
  /** Runs a cache operation under the guard; each failed one is counted. */
  const attempt = <T, F>(operation: string, op: () => Promise<T>, fallback: F) =>
    guard.run<T | F>(
      () =>
        op().catch((err: unknown) => {
          metrics.errors.inc({ operation });
          throw err;
        }),
      () => fallback,
    );

  /** Middleware for one cacheable route (`route` is its template, for the metrics). */
  function cached(route: string): RequestHandler {
    return async function responseCache(req, res, next) {
      if (req.method !== 'GET') return next();
      const key = cacheKey(req.originalUrl);
      const hit = await attempt('get', () => cache.get(key), BYPASS);
      if (hit === BYPASS) return next();
      if (hit !== undefined) {
        metrics.hits.inc({ route });
        res.set('x-cache', 'HIT').type('application/json').send(hit);
        return;
      }
      metrics.misses.inc({ route });
      res.set('x-cache', 'MISS');
      const json = res.json.bind(res);
      res.json = (body: unknown) => {
        if (res.statusCode === 200 && !res.locals.noCache) {
          void attempt('set', () => cache.set(key, JSON.stringify(body), ttlSeconds), undefined);
        }
        return json(body);
      };
      next();
    };
  }

  /** Drops the cached answers under `pathPrefix` (after a write that changes them). */
  async function invalidate(pathPrefix: string): Promise<void> {
    await attempt('invalidate', () => cache.deletePrefix(cacheKey(pathPrefix)), 0);
  }

  return { cached, invalidate };
}

export type CacheMiddleware = ReturnType<typeof createCacheMiddleware>;
