// The distributed ResponseCache on Redis (SETEX / GET / SCAN + DEL), shared by the API replicas.
// Every key is stored under the deployment's REDIS_PREFIX (`<prefix>:cache:<originalUrl>`), so
// deployments sharing one Redis never serve each other's answers. It uses the service's Redis
// client, which fails commands at once while disconnected and after a timeout while stalled.
import type { Redis } from 'ioredis';
import type { ResponseCache } from '../../ports/response-cache.js';

const GLOB_SPECIAL = /[*?[\]\\]/g;

export interface RedisCacheOptions {
  /** REDIS_PREFIX: keys are `<prefix>:<key>`. */
  prefix: string;
}

export function createRedisCache(client: Redis, options: RedisCacheOptions): ResponseCache {
  const namespaced = (key: string) => `${options.prefix}:${key}`;
  return {
    kind: 'redis',
    async get(key) {
      return (await client.get(namespaced(key))) ?? undefined;
    },
    async set(key, value, ttlSeconds) {
      await client.setex(namespaced(key), ttlSeconds, value);
    },
    async deletePrefix(prefix) {
      const match = `${namespaced(prefix).replace(GLOB_SPECIAL, (c) => `\\${c}`)}*`;
      let cursor = '0';
      let n = 0;
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', match, 'COUNT', 500);
        cursor = next;
        if (keys.length) n += await client.del(...keys);
      } while (cursor !== '0');
      return n;
    },
  };
}
