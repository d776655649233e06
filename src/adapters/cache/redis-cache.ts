// The distributed ResponseCache on Redis (SETEX / GET / SCAN + DEL), shared by the API replicas.
// It uses the service's Redis client, which fails commands at once while disconnected.
import type { Redis } from 'ioredis';
import type { ResponseCache } from '../../ports/response-cache.js';

const GLOB_SPECIAL = /[*?[\]\\]/g;

export function createRedisCache(client: Redis): ResponseCache {
  return {
    kind: 'redis',
    async get(key) {
      return (await client.get(key)) ?? undefined;
    },
    async set(key, value, ttlSeconds) {
      await client.setex(key, ttlSeconds, value);
    },
    async deletePrefix(prefix) {
      const match = `${prefix.replace(GLOB_SPECIAL, (c) => `\\${c}`)}*`;
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
