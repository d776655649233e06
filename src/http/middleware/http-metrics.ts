// Observes every answered request: RED metrics labelled by route template (never the raw path,
// so label cardinality stays bounded) and one access log line. Event streams (responses sent as
// text/event-stream) stay open for minutes: they are measured apart, in http_streams_active and
// http_stream_duration_seconds, so request latency (p95, HighLatency) sees requests only.
import type { ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import type { Logger } from '../../ports/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import { redactUrl } from '../../observability/redact.js';
import type { RouteTable } from '../route-table.js';

const EVENT_STREAM = /^\s*text\/event-stream\b/i;

/**
 * Whether the response is a long-lived event stream. Headers passed to writeHead are merged into
 * getHeader's view because a header was set before (the request-id middleware always sets one).
 */
export function isEventStream(res: ServerResponse): boolean {
  const type = res.getHeader('content-type');
  return res.headersSent && typeof type === 'string' && EVENT_STREAM.test(type);
}

/**
 * The route template of a request: the route that handled it, else (answered before routing
 * reached it) the route its method and path would have reached, else `unmatched`.
 */
export function routeTemplate(req: Request, routes?: RouteTable): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof path === 'string') return `${req.baseUrl ?? ''}${path}`;
  const target = req.originalUrl.split('?')[0] ?? '';
  return routes?.resolve(req.method, target) ?? 'unmatched';
}

/** Whether `level` is written; a logger that cannot say writes every level. */
const writes = (logger: Logger, level: 'trace' | 'debug') =>
  logger.isLevelEnabled ? logger.isLevelEnabled(level) : true;

export function httpMetrics(metrics: Metrics, logger: Logger, routes?: RouteTable): RequestHandler {
  const inFlight = new Set<ServerResponse>();
  metrics.countOpenStreams(() => {
    let open = 0;
    for (const res of inFlight) if (isEventStream(res)) open += 1;
    return open;
  });

  return function httpMetricsMiddleware(req, res, next) {
    const started = process.hrtime.bigint();
    const url = redactUrl(req.originalUrl);
    if (writes(logger, 'trace')) logger.trace({ method: req.method, url }, 'request started');
    inFlight.add(res);
    let finished = false;

    const observe = () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const labels = {
        method: req.method,
        route: routeTemplate(req, routes),
        status_code: String(res.statusCode),
      };
      // Streams count as requests (the request rate and the error ratio include them); only
      // their duration is kept out of the request latency histogram.
      metrics.httpRequestsTotal.inc(labels);
      return {
        labels,
        seconds,
        // Built when a line is written: the client address (proxy-addr) costs, and /health's
        // lines are usually below the level.
        line: () => ({
          method: req.method,
          route: labels.route,
          url,
          status: res.statusCode,
          durationMs: Math.round(seconds * 100_000) / 100,
          ip: req.ip,
          requestId: res.locals.requestId as string | undefined,
        }),
      };
    };

    res.on('finish', () => {
      finished = true;
      if (isEventStream(res)) return; // recorded on close, when the stream is over
      const { labels, seconds, line } = observe();
      metrics.httpRequestDuration.observe(labels, seconds);
      if (res.statusCode >= 500) logger.warn(line(), 'request failed');
      else if (labels.route.startsWith('/health') || labels.route === '/metrics') {
        if (writes(logger, 'debug')) logger.debug(line(), 'request completed');
      } else logger.info(line(), 'request completed');
    });
    // 'close' comes last in every case: after 'finish', or alone when the client went away.
    res.on('close', () => {
      inFlight.delete(res);
      if (!isEventStream(res)) return;
      const { labels, seconds, line } = observe();
      metrics.httpStreamDuration.observe({ route: labels.route }, seconds);
      logger.info({ ...line(), endedBy: finished ? 'server' : 'client' }, 'stream ended');
    });
    next();
  };
}
