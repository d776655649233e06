// During maintenance (a restore), requests that would change data are answered 503 MAINTENANCE
// so nothing is written into a database being replaced; reads and health checks still work.
// With a gate, the replica also counts the mutating requests in flight (it acknowledges
// maintenance only once they are done) and refuses at once after it has acknowledged, whatever a
// cached read of the setting says.
import type { RequestHandler } from 'express';
import type { MaintenanceMode } from '../../ops/maintenance.js';
import type { RequestGate } from '../../ops/request-gate.js';
import { sendError } from '../error-handler.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Maintenance and restores themselves are run through these (admin only, audited). */
const ADMIN_PREFIX = '/admin/';

export interface MaintenanceGuardOptions {
  gate?: RequestGate;
  retryAfterSeconds?: number;
}

export function maintenanceGuard(
  maintenance: MaintenanceMode,
  options: MaintenanceGuardOptions = {},
): RequestHandler {
  const { gate, retryAfterSeconds = 30 } = options;
  return async function maintenanceGuardMiddleware(req, res, next) {
    // Mounted on /api: req.path is below it.
    if (SAFE.has(req.method) || req.path.startsWith(ADMIN_PREFIX)) return next();
    const refuse = (reason: string | undefined) => {
      res.setHeader('Retry-After', String(retryAfterSeconds));
      sendError(
        res,
        503,
        'MAINTENANCE',
        `The service is in maintenance${reason ? ` (${reason})` : ''}; retry later.`,
      );
    };
    if (gate?.closed) return refuse(undefined);
    // Counted before the setting is read: a replica acknowledging meanwhile waits for this one.
    const leave = gate?.enter();
    let passed = false;
    try {
      const state = await maintenance.current();
      if (state.enabled || gate?.closed) return refuse(state.reason);
      passed = true;
      if (leave) {
        res.once('finish', leave);
        res.once('close', leave);
      }
      next();
    } catch (err) {
      next(err);
    } finally {
      if (!passed) leave?.();
    }
  };
}
