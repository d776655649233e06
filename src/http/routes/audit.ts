// The audit log of privileged actions, newest first (admin only).
import { Router } from 'express';
import { z } from 'zod';
import type { AuditLogStore } from '../../ports/audit-log-store.js';
import type { RouteKit } from '../route-kit.js';
import { parseQuery } from '../validate.js';

const auditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  action: z.string().max(100).optional(),
});

export function auditRoutes(audit: AuditLogStore, { auth }: RouteKit): Router {
  const router = Router();
  router.get('/api/audit', auth.requireRole('admin'), async (req, res) => {
    const q = parseQuery(req, auditQuery);
    const items = await audit.list(q);
    res.json({
      items: items.map((e) => ({ ...e, at: e.at.toISOString() })),
      nextCursor: items.length === q.limit ? items[items.length - 1]?.id : null,
    });
  });
  return router;
}
