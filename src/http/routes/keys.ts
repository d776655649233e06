// API key management (admin only) and "who am I" (any valid key).
import { Router } from 'express';
import { z } from 'zod';
import { ROLES } from '../../domain/roles.js';
import type { ApiKeyService } from '../../ops/api-keys.js';
import type { ApiKeyRecord } from '../../ports/api-key-store.js';
import { principalOf } from '../middleware/auth.js';
import type { RouteKit } from '../route-kit.js';
import { parseBody, parseQuery } from '../validate.js';

export const createKeyBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  role: z.enum(ROLES),
});

const listKeysQuery = z.object({
  includeRevoked: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => v === 'true'),
});

export function keyView(k: ApiKeyRecord) {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    prefix: k.prefix,
    createdAt: k.createdAt.toISOString(),
    createdBy: k.createdBy,
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
  };
}

export function keyRoutes(apiKeys: ApiKeyService, { auth, json }: RouteKit): Router {
  const router = Router();
  const actorOf = (locals: Record<string, unknown>) => {
    const { key } = principalOf(locals);
    return { keyId: key.id, name: key.name };
  };

  router.get('/api/whoami', auth.requireRole('viewer'), (_req, res) => {
    res.json(keyView(principalOf(res.locals).key));
  });

  router.get('/api/keys', auth.requireRole('admin'), async (req, res) => {
    const { includeRevoked } = parseQuery(req, listKeysQuery);
    res.json({ items: (await apiKeys.list({ includeRevoked })).map(keyView) });
  });

  router.post('/api/keys', auth.requireRole('admin'), json, async (req, res) => {
    const body = parseBody(req, createKeyBody);
    const created = await apiKeys.create(body, actorOf(res.locals), {
      requestId: res.locals.requestId,
      ip: req.ip ?? null,
    });
    res.status(201).json({ ...keyView(created.record), key: created.key });
  });

  router.delete('/api/keys/:id', auth.requireRole('admin'), async (req, res) => {
    const record = await apiKeys.revoke(String(req.params.id), actorOf(res.locals), {
      requestId: res.locals.requestId,
      ip: req.ip ?? null,
    });
    res.json(keyView(record));
  });

  return router;
}
