// The failed-authentication counts and automatic blocks in Redis, shared by every replica: a
// count per address (`<prefix>:ab:f:<address>`, expiring with its window) and one sorted set of
// blocked addresses scored by the end of their block (`<prefix>:ab:blocked`). Each failure is
// one script, so replicas counting the same address at once never lose a failure or both start
// the block. It uses the service's Redis client, which fails commands at once while
// disconnected and after a timeout while stalled (the caller falls back to its own count).
import type { Redis } from 'ioredis';
import type { AutomaticBlock, FailureCounter } from '../../ports/access-blocks.js';

// KEYS: count, blocked set. ARGV: address, windowMs, threshold, durationMs, nowMs.
// Returns the block's end (ms) when this failure started it, else 0.
const RECORD = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n < tonumber(ARGV[3]) then return 0 end
redis.call('DEL', KEYS[1])
local now = tonumber(ARGV[5])
local ends = now + tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local current = redis.call('ZSCORE', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[2], ends, ARGV[1])
if current and tonumber(current) > now then return 0 end
return ends
`;

export interface RedisFailureCounterOptions {
  /** REDIS_PREFIX. */
  prefix: string;
}

export function createRedisFailureCounter(
  client: Redis,
  options: RedisFailureCounterOptions,
): FailureCounter {
  const countKey = (address: string) => `${options.prefix}:ab:f:${address}`;
  const blockedKey = `${options.prefix}:ab:blocked`;
  return {
    async recordFailure(address, limits, now) {
      const ends = Number(
        await client.eval(
          RECORD,
          2,
          countKey(address),
          blockedKey,
          address,
          String(limits.windowMs),
          String(limits.threshold),
          String(limits.durationMs),
          String(now.getTime()),
        ),
      );
      return ends > 0 ? { address, until: new Date(ends) } : undefined;
    },
    async blockedUntil(address, now) {
      const score = await client.zscore(blockedKey, address);
      const ends = score === null ? 0 : Number(score);
      return ends > now.getTime() ? new Date(ends) : undefined;
    },
    async list(now) {
      await client.zremrangebyscore(blockedKey, '-inf', now.getTime());
      const flat = await client.zrange(blockedKey, 0, -1, 'WITHSCORES');
      const out: AutomaticBlock[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2)
        out.push({ address: flat[i]!, until: new Date(Number(flat[i + 1])) });
      return out;
    },
    async unblock(address) {
      const [[, removed] = [null, 0]] =
        (await client.multi().zrem(blockedKey, address).del(countKey(address)).exec()) ?? [];
      return Number(removed) > 0;
    },
  };
}
