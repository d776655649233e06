// The guide's cache middleware for JSON GET routes marked cacheable: key `cache:<originalUrl>`,
// TTL 300 s by default. It runs after authentication and authorisation, so a response is only
// ever served to a caller the route admits, and it is only used on routes whose answer is the same
// for every such caller. A handler can opt out per response (`res.locals.noCache`). When the cache
// fails (Redis down) the request is served without it: logged once per outage and counted.
import type { RequestHandler } from 'express';
import type { Counter } from 'prom-client';
import type { Logger } from '../../ports/logger.js';
import type { ResponseCache } from '../../ports/response-cache.js';

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

export function createCacheMiddleware({
  cache,
  metrics,
  logger,
  ttlSeconds = 300,
}: ResponseCacheOptions) {
  let failing = false;
  const failed = (operation: string, err: unknown) => {
    metrics.errors.inc({ operation });
    if (!failing) logger.warn({ err, operation }, 'response cache unavailable; serving without it');
    failing = true;
  };
  const ok = () => {
    if (failing) logger.info('response cache available again');
    failing = false;
  };

  /** Middleware for one cacheable route (`route` is its template, for the metrics). */
  function cached(route: string): RequestHandler {
    return async function responseCache(req, res, next) {
      if (req.method !== 'GET') return next();
      const key = cacheKey(req.originalUrl);
      let hit: string | undefined;
      try {
        hit = await cache.get(key);
        ok();
      } catch (err) {
        failed('get', err);
        return next();
      }
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
          cache
            .set(key, JSON.stringify(body), ttlSeconds)
            .then(ok, (err: unknown) => failed('set', err));
        }
        return json(body);
      };
      next();
    };
  }

  /** Drops the cached answers under `pathPrefix` (after a write that changes them). */
  async function invalidate(pathPrefix: string): Promise<void> {
    try {
      await cache.deletePrefix(cacheKey(pathPrefix));
    } catch (err) {
      failed('invalidate', err);
    }
  }

  return { cached, invalidate };
}

export type CacheMiddleware = ReturnType<typeof createCacheMiddleware>;
