// The access blocklist through the API (admin only; additions and removals audited in the same
// transaction as the change): list the blocks in force, block an address by hand for a while
// with a reason, and lift a block (manual, automatic, or both).
import { Router } from 'express';
import { z } from 'zod';
import {
  MAX_MANUAL_BLOCK_MS,
  type AccessBlocklist,
  type BlockEntry,
} from '../../ops/access-blocklist.js';
import { principalOf } from '../middleware/auth.js';
import type { RouteKit } from '../route-kit.js';
import { parseBody } from '../validate.js';

export const addBlockBody = z.strictObject({
  address: z.string().trim().min(1).max(100),
  reason: z.string().trim().min(1).max(500),
  /** How long the block lasts (seconds); it expires by itself then. */
  durationSeconds: z
    .number()
    .int()
    .min(1)
    .max(MAX_MANUAL_BLOCK_MS / 1000),
});

export function blockView(e: BlockEntry) {
  return {
    address: e.address,
    source: e.source,
    reason: e.reason,
    expiresAt: e.until.toISOString(),
    createdAt: e.createdAt?.toISOString() ?? null,
    createdBy: e.createdBy,
  };
}

export function blocklistRoutes(blocklist: AccessBlocklist, { auth, json }: RouteKit): Router {
  const router = Router();
  const admin = auth.requireRole('admin');
  const actorOf = (locals: Record<string, unknown>) => {
    const { key } = principalOf(locals);
    return { keyId: key.id, name: key.name };
  };

  router.get('/api/admin/blocklist', admin, async (_req, res) => {
    res.json({ items: (await blocklist.list()).map(blockView) });
  });

  router.post('/api/admin/blocklist', admin, json, async (req, res) => {
    const body = parseBody(req, addBlockBody);
    const entry = await blocklist.add(
      { address: body.address, reason: body.reason, durationMs: body.durationSeconds * 1000 },
      actorOf(res.locals),
      { requestId: res.locals.requestId as string | undefined, ip: req.ip ?? null },
    );
    res.status(201).json(blockView(entry));
  });

  router.delete('/api/admin/blocklist/:address', admin, async (req, res) => {
    res.json(
      await blocklist.remove(String(req.params.address), actorOf(res.locals), {
        requestId: res.locals.requestId as string | undefined,
        ip: req.ip ?? null,
      }),
    );
  });

  return router;
}
