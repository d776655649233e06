// Where cacheable GET responses are kept: an in-memory LRU (embedded) or Redis (shared by the
// replicas). Keys are the guide's `cache:<originalUrl>`; the Redis adapter stores them under the
// deployment's REDIS_PREFIX. Every method may fail (Redis down): the caller then serves without it.

export interface ResponseCache {
  readonly kind: 'memory' | 'redis';
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Deletes every key that starts with `prefix`. */
  deletePrefix(prefix: string): Promise<number>;
}
