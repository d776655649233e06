// Public health endpoints: /health (dependencies), /health/live (process), /health/ready
// (dependencies and not shutting down). No auth; cheap enough to probe every few seconds.
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
        status: r.ready ? 'ok' : 'error',
        ready: r.ready,
        ...(r.reason ? { reason: r.reason } : {}),
        checks: r.checks,
      });
  });
  return router;
}
