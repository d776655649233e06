// Observes every answered request: RED metrics labelled by route template (never the raw path,
// so label cardinality stays bounded) and one access log line.
import type { RequestHandler } from 'express';
import type { Logger } from '../../ports/logger.js';
import type { Metrics } from '../../observability/metrics.js';

export function routeTemplate(req: { route?: { path?: unknown }; baseUrl?: string }): string {
  const path = req.route?.path;
  return typeof path === 'string' ? `${req.baseUrl ?? ''}${path}` : 'unmatched';
}

export function httpMetrics(metrics: Metrics, logger: Logger): RequestHandler {
  return function httpMetricsMiddleware(req, res, next) {
    const started = process.hrtime.bigint();
    logger.trace({ method: req.method, url: req.originalUrl.split('?')[0] }, 'request started');
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const labels = {
        method: req.method,
        route: routeTemplate(req),
        status_code: String(res.statusCode),
      };
      metrics.httpRequestDuration.observe(labels, seconds);
      metrics.httpRequestsTotal.inc(labels);
      const line = {
        method: req.method,
        route: labels.route,
        url: req.originalUrl.split('?')[0],
        status: res.statusCode,
        durationMs: Math.round(seconds * 100_000) / 100,
        ip: req.ip,
        requestId: res.locals.requestId as string | undefined,
      };
      if (res.statusCode >= 500) logger.warn(line, 'request failed');
      else if (labels.route.startsWith('/health') || labels.route === '/metrics')
        logger.debug(line, 'request completed');
      else logger.info(line, 'request completed');
    });
    next();
  };
}
