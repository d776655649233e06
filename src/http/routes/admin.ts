// The runbook's operations through the API (admin only, audited), so that they work while the
// embedded service holds its database: backups (list, create), restore (a dry run that says what
// would be discarded, or the restore itself, streamed), and maintenance mode. Maintenance does not
// refuse these routes: they are how maintenance and restores are run.
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { AppError } from '../../domain/errors.js';
import type { BackupProgress, BackupService } from '../../ops/backup-service.js';
import {
  maintenanceOff,
  maintenanceOn,
  maintenanceStatus,
  type MaintenanceSwitchDeps,
} from '../../ops/maintenance-switch.js';
import type { AuditLogStore } from '../../ports/audit-log-store.js';
import type { Logger } from '../../ports/logger.js';
import { principalOf } from '../middleware/auth.js';
import { streamOperation } from '../operation-stream.js';
import type { RouteKit } from '../route-kit.js';
import { parseBody, parseQuery } from '../validate.js';

export interface AdminRoutesDeps {
  /** The backup tools, reporting progress to `onProgress`. */
  backups: (onProgress?: (p: BackupProgress) => void) => BackupService;
  maintenance: MaintenanceSwitchDeps;
  audit: AuditLogStore;
  logger: Logger;
}

export const createBackupBody = z.strictObject({
  type: z.enum(['database', 'app-data']).default('database'),
  includeSecrets: z.boolean().default(false),
});

export const restoreBody = z.strictObject({
  /** A backup id, `latest`, or the path of a dump file the service can read. */
  backup: z.string().trim().min(1).max(4096),
  /** Only check the backup and say what the restore would discard. */
  dryRun: z.boolean().default(false),
  /** Leave maintenance on after the restore. */
  keepMaintenance: z.boolean().default(false),
});

export const maintenanceBody = z.strictObject({
  reason: z.string().trim().min(1).max(500).default('maintenance'),
});

const listQuery = z.object({ type: z.enum(['database', 'app-data']).optional() });

export function adminRoutes(deps: AdminRoutesDeps, { auth, json }: RouteKit): Router {
  const router = Router();
  const admin = auth.requireRole('admin');
  /** One backup or restore at a time in this process. */
  let busy: string | undefined;

  const actorOf = (req: Request, res: Response) => {
    const { key } = principalOf(res.locals);
    return {
      keyId: key.id,
      name: key.name,
      requestId: (res.locals.requestId as string | undefined) ?? null,
      ip: req.ip ?? null,
    };
  };
  const audit = async (
    req: Request,
    res: Response,
    action: string,
    target: string | null,
    details: Record<string, unknown> = {},
  ) => {
    const a = actorOf(req, res);
    await deps.audit
      .append({
        action,
        actorKeyId: a.keyId,
        actorName: a.name,
        target,
        details,
        requestId: a.requestId,
        ip: a.ip,
      })
      .catch((err: unknown) => deps.logger.warn({ err, action }, 'audit entry not written'));
  };
  /** Claims the one slot before the answer starts (a second operation gets 409); frees it after. */
  const exclusive = async (what: string, fn: () => Promise<void>): Promise<void> => {
    if (busy) {
      throw new AppError(
        'CONFLICT',
        `A ${busy} is running in this service; try again when it is done.`,
      );
    }
    busy = what;
    try {
      await fn();
    } finally {
      busy = undefined;
    }
  };

  router.get('/api/admin/backups', admin, async (req, res) => {
    const { type } = parseQuery(req, listQuery);
    res.json({ items: await deps.backups().list(type) });
  });

  router.post('/api/admin/backups', admin, json, async (req, res) => {
    const body = parseBody(req, createBackupBody);
    await exclusive('backup', () =>
      streamOperation(res, deps.logger, async (onProgress) => {
        const manifest = await deps.backups(onProgress).create(body);
        await audit(req, res, 'backup.created', manifest.id, { type: manifest.type });
        return manifest;
      }),
    );
  });

  router.post('/api/admin/restore', admin, json, async (req, res) => {
    const body = parseBody(req, restoreBody);
    if (body.dryRun) {
      res.json(await deps.backups().restorePlan(body.backup));
      return;
    }
    await exclusive('restore', () =>
      streamOperation(res, deps.logger, (onProgress) =>
        deps.backups(onProgress).restore(body.backup, {
          keepMaintenance: body.keepMaintenance,
          actor: actorOf(req, res),
        }),
      ),
    );
  });

  router.get('/api/admin/maintenance', admin, async (_req, res) => {
    res.json(await maintenanceStatus(deps.maintenance));
  });

  router.put('/api/admin/maintenance', admin, json, async (req, res) => {
    const { reason } = parseBody(req, maintenanceBody);
    const report = await maintenanceOn(deps.maintenance, reason).finally(() =>
      audit(req, res, 'maintenance.enabled', null, { reason }),
    );
    res.json(report);
  });

  router.delete('/api/admin/maintenance', admin, async (req, res) => {
    const report = await maintenanceOff(deps.maintenance);
    await audit(req, res, 'maintenance.disabled', null);
    res.json(report);
  });

  return router;
}
