// Per-caller rate limit on the API: keyed by the verified API key, else by client address (so
// sending a different invalid key each time buys no extra budget). Runs after authentication.
// Over the limit: 429 in the JSON error shape with Retry-After.
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit, type Store } from 'express-rate-limit';
import { AppError } from '../../domain/errors.js';
import { principalIn } from './auth.js';

export interface RateLimitOptions {
  perMinute: number;
  /** A shared store (Redis) for many replicas; default in-memory. */
  store?: Store;
  /** Called once per refused request with the kind of caller it was keyed on. */
  onLimited?: (caller: 'key' | 'ip') => void;
}

/**
 * A shared store that cannot be reached (Redis away) must not fail requests: the request is let
 * through, and the failure goes to our log (once per outage) instead of the console.
 */
export function resilientStore(store: Store, onError: (err: unknown) => void): Store {
  let failing = false;
  const guard = async <T>(fn: () => Promise<T> | T, fallback: T): Promise<T> => {
    try {
      const out = await fn();
      failing = false;
      return out;
    } catch (err) {
      if (!failing) onError(err);
      failing = true;
      return fallback;
    }
  };
  return {
    ...(store.prefix !== undefined ? { prefix: store.prefix } : {}),
    localKeys: false,
    init: (o) => guard(() => store.init?.(o), undefined),
    increment: (key) => guard(() => store.increment(key), { totalHits: 0, resetTime: undefined }),
    decrement: (key) => guard(() => store.decrement(key), undefined),
    resetKey: (key) => guard(() => store.resetKey(key), undefined),
  };
}

export function apiRateLimit(options: RateLimitOptions): RequestHandler {
  if (options.perMinute === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: 60_000,
    limit: options.perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    ...(options.store ? { store: options.store } : {}),
    keyGenerator(req, res) {
      const keyId = principalIn(res)?.key.id;
      return keyId ? `key:${keyId}` : 'ip:' + ipKeyGenerator(req.ip ?? 'unknown');
    },
    handler(_req, res, next, opts) {
      const resetTime = (res.req as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const retryAfterSeconds = resetTime
        ? Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000))
        : Math.ceil(opts.windowMs / 1000);
      options.onLimited?.(principalIn(res) ? 'key' : 'ip');
      next(
        new AppError('RATE_LIMITED', `Too many requests; retry in ${retryAfterSeconds} s`, {
          details: { retryAfterSeconds },
        }),
      );
    },
  });
}
