// Public health endpoints: /health (every dependency: 200 only when all answer), /health/live
// (the process), /health/ready (able to serve: required dependencies, not in maintenance, not
// shutting down; a degraded dependency is named but keeps it ready). No auth; cheap enough to
// probe every few seconds.
import { Router } from 'express';
import type { HealthService } from '../../observability/health.js';

export function healthRoutes(health: HealthService): Router {
  const router = Router();
  router.get('/health', async (_req, res) => {
    const report = await health.report();
    res
      .status(report.status === 'ok' ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json(report);
  });
  router.get('/health/live', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  router.get('/health/ready', async (_req, res) => {
    const r = await health.readiness();
    res
      .status(r.ready ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({
        status: r.ready ? (r.degraded ? 'degraded' : 'ok') : 'error',
        ready: r.ready,
        ...(r.reason ? { reason: r.reason } : {}),
        ...(r.degraded ? { degraded: r.degraded } : {}),
        checks: r.checks,
      });
  });
  return router;
}
