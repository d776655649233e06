// The access blocklist on the request path: a blocked client address is refused on /api before
// anything else runs for it (no key lookup, no database work), with 429 CLIENT_BLOCKED and
// Retry-After; and the shared failure counter (Redis) made to fail neither open nor closed while
// Redis is away, like the rate limiter's store.
import type { RequestHandler } from 'express';
import { AppError } from '../../domain/errors.js';
import type { AccessBlocklist } from '../../ops/access-blocklist.js';
import type { FailureCounter } from '../../ports/access-blocks.js';
import { createOutageGuard } from './outage-guard.js';

export function accessBlock(blocklist: AccessBlocklist): RequestHandler {
  return async function accessBlockMiddleware(req, _res, next) {
    const block = await blocklist.check(req.ip);
    if (!block) {
      next();
      return;
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((block.until.getTime() - Date.now()) / 1000));
    next(
      new AppError(
        'CLIENT_BLOCKED',
        `Requests from this address are blocked (too many failed authentications, or by an operator); retry in ${retryAfterSeconds} s`,
        { details: { retryAfterSeconds } },
      ),
    );
  };
}

export interface ResilientCounterOptions {
  onDown(err: unknown): void;
  onUp(): void;
  retryMs?: number;
}

/**
 * `shared` (Redis) with this process's `local` counter while it is away or stalled: failures are
 * then counted and blocks made per process (never a 500, never unlimited guessing), and blocks
 * made meanwhile stay in force here after Redis answers again. Checks consult both.
 */
export function resilientFailureCounter(
  shared: FailureCounter,
  local: FailureCounter,
  options: ResilientCounterOptions,
): FailureCounter {
  const guard = createOutageGuard(options);
  return {
    recordFailure: (address, limits, now) =>
      guard.run(
        () => shared.recordFailure(address, limits, now),
        () => local.recordFailure(address, limits, now),
      ),
    async blockedUntil(address, now) {
      const here = await local.blockedUntil(address, now);
      const there = await guard.run(
        () => shared.blockedUntil(address, now),
        () => undefined,
      );
      if (!here) return there;
      if (!there) return here;
      return here > there ? here : there;
    },
    async list(now) {
      const byAddress = new Map<string, Date>();
      const all = [
        ...(await local.list(now)),
        ...(await guard.run(
          () => shared.list(now),
          () => [],
        )),
      ];
      for (const b of all) {
        const seen = byAddress.get(b.address);
        if (!seen || b.until > seen) byAddress.set(b.address, b.until);
      }
      return [...byAddress].map(([address, until]) => ({ address, until }));
    },
    async unblock(address) {
      const here = await local.unblock(address);
      const there = await guard.run(
        () => shared.unblock(address),
        () => false,
      );
      return here || there;
    },
  };
}
