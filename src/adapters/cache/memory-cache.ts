// The embedded ResponseCache: a bounded in-memory LRU with per-entry TTL (one process serves).
import { LRUCache } from 'lru-cache';
import type { ResponseCache } from '../../ports/response-cache.js';

export function createMemoryCache(options: { maxEntries?: number } = {}): ResponseCache {
  const lru = new LRUCache<string, string>({ max: options.maxEntries ?? 1000 });
  return {
    kind: 'memory',
    async get(key) {
      return lru.get(key);
    },
    async set(key, value, ttlSeconds) {
      lru.set(key, value, { ttl: ttlSeconds * 1000 });
    },
    async deletePrefix(prefix) {
      let n = 0;
      for (const key of [...lru.keys()]) if (key.startsWith(prefix) && lru.delete(key)) n++;
      return n;
    },
  };
}
