// Bearer API-key authentication and role checks. Every failure is counted in
// auth_failures_total{reason} and logged with the client address.
import type { RequestHandler } from 'express';
import { AppError } from '../../domain/errors.js';
import { roleSatisfies, type Role } from '../../domain/roles.js';
import type { Logger } from '../../ports/logger.js';
import type { Metrics } from '../../observability/metrics.js';
import type { ApiKeyService } from '../../ops/api-keys.js';
import type { ApiKeyRecord } from '../../ports/api-key-store.js';

export type AuthFailureReason =
  'missing_credentials' | 'invalid_key' | 'revoked_key' | 'insufficient_role';

export interface Principal {
  key: ApiKeyRecord;
}

export interface AuthDeps {
  apiKeys: ApiKeyService;
  metrics: Metrics;
  logger: Logger;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

export function createAuth(deps: AuthDeps) {
  function fail(
    reason: AuthFailureReason,
    ip: string | undefined,
    extra: Record<string, unknown> = {},
  ): never {
    deps.metrics.authFailuresTotal.inc({ reason });
    deps.logger.warn({ reason, ip, ...extra }, 'authentication failed');
    if (reason === 'insufficient_role') {
      throw new AppError('FORBIDDEN', 'This API key does not have the role this action needs', {
        details: extra,
      });
    }
    throw new AppError(
      'UNAUTHORIZED',
      reason === 'missing_credentials'
        ? 'Send an API key as "Authorization: Bearer <key>"'
        : 'The API key is not valid (unknown or revoked)',
    );
  }

  /** Authenticates the caller and requires at least `role`. */
  function requireRole(role: Role): RequestHandler {
    return async function requireRoleMiddleware(req, res, next) {
      const header = req.get('authorization');
      const token = header?.match(BEARER)?.[1];
      if (!token) fail('missing_credentials', req.ip);
      const result = await deps.apiKeys.authenticate(token);
      if (!result.ok) fail(result.reason, req.ip);
      if (!roleSatisfies(result.key.role, role)) {
        fail('insufficient_role', req.ip, {
          keyId: result.key.id,
          has: result.key.role,
          needs: role,
        });
      }
      res.locals.principal = { key: result.key } satisfies Principal;
      next();
    };
  }

  return { requireRole };
}

export function principalOf(locals: Record<string, unknown>): Principal {
  const p = locals.principal as Principal | undefined;
  if (!p) throw new AppError('UNAUTHORIZED', 'Not authenticated');
  return p;
}
