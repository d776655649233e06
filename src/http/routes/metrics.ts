// Prometheus exposition; bearer-protected when METRICS_TOKEN is set.
import { timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import { AppError } from '../../domain/errors.js';
import type { Metrics } from '../../observability/metrics.js';

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function metricsRoutes(metrics: Metrics, token: string | undefined): Router {
  const router = Router();
  router.get('/metrics', async (req, res) => {
    if (token) {
      const given = req.get('authorization')?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
      if (!given || !sameSecret(given, token)) {
        metrics.authFailuresTotal.inc({ reason: given ? 'invalid_key' : 'missing_credentials' });
        throw new AppError(
          'UNAUTHORIZED',
          'Send the metrics token as "Authorization: Bearer <token>"',
        );
      }
    }
    res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}
