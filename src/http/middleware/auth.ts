// Bearer API-key authentication and role checks, in two steps: `authenticate` identifies the
// caller once per request (so the rate limiter can key on a verified identity), and
// `requireRole` on each route rejects what the caller may not do. Every rejection is counted in
// auth_failures_total{reason} and logged with the client address.
import type { Request, RequestHandler, Response } from 'express';
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
  /**
   * A key was presented and refused (unknown or revoked), from client address `ip`: the access
   * blocklist counts it. Awaited, and never throws.
   */
  onKeyRefused?: (ip: string | undefined) => Promise<void>;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The verified caller of this request, if any. */
export function principalIn(res: Response): Principal | undefined {
  return res.locals.principal as Principal | undefined;
}

export function createAuth(deps: AuthDeps) {
  function fail(
    reason: AuthFailureReason,
    req: Request,
    res: Response,
    extra: Record<string, unknown> = {},
  ): never {
    deps.metrics.authFailuresTotal.inc({ reason });
    deps.logger.warn(
      { reason, ip: req.ip, requestId: res.locals.requestId, ...extra },
      'authentication failed',
    );
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

  /** Identifies the caller from its bearer key; rejects nothing (requireRole does). */
  const authenticate: RequestHandler = async function authenticateMiddleware(req, res, next) {
    const token = req.get('authorization')?.match(BEARER)?.[1];
    if (!token) {
      res.locals.authFailure = 'missing_credentials';
    } else {
      const result = await deps.apiKeys.authenticate(token);
      if (result.ok) res.locals.principal = { key: result.key } satisfies Principal;
      else {
        res.locals.authFailure = result.reason;
        await deps.onKeyRefused?.(req.ip);
      }
    }
    next();
  };

  /** Requires an authenticated caller holding at least `role`. */
  function requireRole(role: Role): RequestHandler {
    return function requireRoleMiddleware(req, res, next) {
      const principal = principalIn(res);
      if (!principal)
        fail((res.locals.authFailure as AuthFailureReason) ?? 'missing_credentials', req, res);
      if (!roleSatisfies(principal.key.role, role)) {
        fail('insufficient_role', req, res, {
          keyId: principal.key.id,
          has: principal.key.role,
          needs: role,
        });
      }
      next();
    };
  }

  return { authenticate, requireRole };
}

export function principalOf(locals: Record<string, unknown>): Principal {
  const p = locals.principal as Principal | undefined;
  if (!p) throw new AppError('UNAUTHORIZED', 'Not authenticated');
  return p;
}
