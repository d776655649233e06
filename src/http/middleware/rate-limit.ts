// Per-caller rate limit on the API: keyed by the verified API key, else by client address (so
// sending a different invalid key each time buys no extra budget). Runs after authentication.
// Over the limit: 429 in the JSON error shape with Retry-After.
import type { RequestHandler } from 'express';
import {
  ipKeyGenerator,
  MemoryStore,
  rateLimit,
  type Options,
  type Store,
} from 'express-rate-limit';
import { AppError } from '../../domain/errors.js';
import { principalIn } from './auth.js';
import { createOutageGuard } from './outage-guard.js';

export interface RateLimitOptions {
  perMinute: number;
  /** A shared store (Redis) for many replicas; default in-memory. */
  store?: Store;
  /** Called once per refused request with the kind of caller it was keyed on. */
  onLimited?: (caller: 'key' | 'ip') => void;
}

export interface ResilientStoreOptions {
  /** Redis stopped answering: requests are counted per process from now on. */
  onDown(err: unknown): void;
  /** Redis answers again: the shared count is back. */
  onUp(): void;
  /** How long to count per process after a failure before trying the shared store again. */
  retryMs?: number;
}

/**
 * A shared store that cannot be reached (Redis away or stalled) must neither fail nor slow
 * requests: they are counted by this process alone meanwhile (each replica then admits up to the
 * limit on its own), and the shared store is tried again now and then (see outage-guard.ts). Its
 * set-up (loading scripts into Redis) is made again until it succeeds, so a start with Redis
 * down still ends up counting in Redis.
 */
export function resilientStore(store: Store, options: ResilientStoreOptions): Store {
  const local = new MemoryStore();
  const guard = createOutageGuard({ ...options });
  let config: Options | undefined;
  let ready: Promise<void> | undefined;
  const shared = async <T>(fn: () => Promise<T> | T): Promise<T> => {
    ready ??= Promise.resolve(config && store.init?.(config)).catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    await ready;
    return fn();
  };
  return {
    ...(store.prefix !== undefined ? { prefix: store.prefix } : {}),
    localKeys: false,
    init(o) {
      config = o;
      local.init(o);
      void guard.run(
        () => shared(() => undefined),
        () => undefined,
      );
    },
    increment: (key) =>
      guard.run(
        () => shared(() => store.increment(key)),
        () => local.increment(key),
      ),
    decrement: (key) =>
      guard.run(
        () => shared(() => store.decrement(key)),
        () => local.decrement(key),
      ),
    async resetKey(key) {
      await local.resetKey(key);
      await guard.run(
        () => shared(() => store.resetKey(key)),
        () => undefined,
      );
    },
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
