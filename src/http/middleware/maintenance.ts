// During maintenance (a restore), requests that would change data are answered 503 MAINTENANCE
// so nothing is written into a database being replaced; reads and health checks still work.
import type { RequestHandler } from 'express';
import type { MaintenanceMode } from '../../ops/maintenance.js';
import { sendError } from '../error-handler.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export function maintenanceGuard(
  maintenance: MaintenanceMode,
  retryAfterSeconds = 30,
): RequestHandler {
  return async function maintenanceGuardMiddleware(req, res, next) {
    if (SAFE.has(req.method)) return next();
    try {
      const state = await maintenance.current();
      if (!state.enabled) return next();
      res.setHeader('Retry-After', String(retryAfterSeconds));
      sendError(
        res,
        503,
        'MAINTENANCE',
        `The service is in maintenance${state.reason ? ` (${state.reason})` : ''}; retry later.`,
      );
    } catch (err) {
      next(err);
    }
  };
}
