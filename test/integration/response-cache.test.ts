// The response cache: hit, miss, TTL expiry and invalidation on both stores (in-memory LRU and the
// real Redis), served only to callers the route admits, and bypassed (counted, never an error)
// while Redis is down — on a redis-server of the test's own, stopped and started again.
import express from 'express';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCache } from '../../src/adapters/cache/memory-cache.js';
import { createRedisCache } from '../../src/adapters/cache/redis-cache.js';
import { createCacheMiddleware } from '../../src/http/middleware/response-cache.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import type { ResponseCache } from '../../src/ports/response-cache.js';
import { captureLogs } from '../support/log-capture.js';
import { connectTestRedis, type TestRedis } from '../support/services.js';
import { eventually } from '../support/eventually.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { startThrowawayRedis, type ThrowawayRedis } from '../support/throwaway-redis.js';

const logger = createLogger({
  level: 'silent',
  version: 'test',
  destination: captureLogs().stream,
});

/** A tiny app whose one cacheable route counts how often its handler really ran. */
async function appWith(cache: ResponseCache, ttlSeconds: number) {
  const metrics = createMetrics({ version: 't', commit: 't', dataDir: '/tmp' });
  const mw = createCacheMiddleware({
    cache,
    logger,
    ttlSeconds,
    metrics: {
      hits: metrics.cacheHitsTotal,
      misses: metrics.cacheMissesTotal,
      errors: metrics.cacheErrorsTotal,
    },
  });
  let runs = 0;
  const app = express();
  app.get('/api/things/:id', mw.cached('/api/things/:id'), (req, res) => {
    runs++;
    if (req.query.live) res.locals.noCache = true;
    res.json({ id: req.params.id, runs });
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    get: async (p: string) => {
      const res = await fetch(`${base}${p}`);
      return { cache: res.headers.get('x-cache'), body: (await res.json()) as { runs: number } };
    },
    runs: () => runs,
    invalidate: mw.invalidate,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let testRedis: TestRedis;
beforeAll(async () => {
  testRedis = await connectTestRedis();
});
afterAll(async () => {
  await testRedis?.cleanup();
});

for (const kind of ['memory', 'redis'] as const) {
  describe(`response cache (${kind})`, () => {
    // Under this run's key prefix (removed afterwards), as a deployment's REDIS_PREFIX.
    const make = (): ResponseCache =>
      kind === 'memory'
        ? createMemoryCache()
        : createRedisCache(testRedis.client, { prefix: testRedis.prefix.replace(/:$/, '') });
    const unique = `${kind}-${Date.now()}`;

    it('misses, then hits without running the handler, keyed by the original URL', async () => {
      const app = await appWith(make(), 300);
      try {
        expect((await app.get(`/api/things/${unique}-a`)).cache).toBe('MISS');
        const hit = await app.get(`/api/things/${unique}-a`);
        expect(hit).toEqual({ cache: 'HIT', body: { id: `${unique}-a`, runs: 1 } });
        expect((await app.get(`/api/things/${unique}-a?x=1`)).cache).toBe('MISS');
        expect(app.runs()).toBe(2);
        expect((await app.get(`/api/things/${unique}-b?live=1`)).cache).toBe('MISS');
        expect((await app.get(`/api/things/${unique}-b?live=1`)).cache).toBe('MISS');
      } finally {
        await app.close();
      }
    });

    it('expires an entry after its TTL', async () => {
      const app = await appWith(make(), 1);
      try {
        await app.get(`/api/things/${unique}-ttl`);
        expect((await app.get(`/api/things/${unique}-ttl`)).cache).toBe('HIT');
        const until = Date.now() + 5000;
        let last = 'HIT';
        while (last === 'HIT' && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 100));
          last = String((await app.get(`/api/things/${unique}-ttl`)).cache);
        }
        expect(last).toBe('MISS');
      } finally {
        await app.close();
      }
    });

    it('forgets the answers under a path when a write invalidates it', async () => {
      const app = await appWith(make(), 300);
      try {
        await app.get(`/api/things/${unique}-w`);
        await app.get(`/api/things/${unique}-w?v=2`);
        await app.get(`/api/things/${unique}-other`);
        await app.invalidate(`/api/things/${unique}-w`);
        expect((await app.get(`/api/things/${unique}-w`)).cache).toBe('MISS');
        expect((await app.get(`/api/things/${unique}-w?v=2`)).cache).toBe('MISS');
        expect((await app.get(`/api/things/${unique}-other`)).cache).toBe('HIT');
      } finally {
        await app.close();
      }
    });
  });
}

describe('response cache (redis) under two prefixes', () => {
  it('keeps each prefix to its own entries, for reads and for invalidation', async () => {
    // Both under this run's prefix, so the cleanup removes them.
    const a = createRedisCache(testRedis.client, { prefix: `${testRedis.prefix}a` });
    const b = createRedisCache(testRedis.client, { prefix: `${testRedis.prefix}b` });
    await a.set('cache:/api/agents', '"from a"', 300);
    expect(await b.get('cache:/api/agents')).toBeUndefined();
    await b.set('cache:/api/agents', '"from b"', 300);
    expect(await b.deletePrefix('cache:/api/agents')).toBe(1);
    expect(await a.get('cache:/api/agents')).toBe('"from a"');
    expect(await testRedis.client.get(`${testRedis.prefix}a:cache:/api/agents`)).toBe('"from a"');
  });
});

describe('the service with its own Redis', () => {
  let redis: ThrowawayRedis;
  let server: TestServer;
  beforeAll(async () => {
    redis = await startThrowawayRedis();
    server = await startTestServer({
      REDIS_URL: redis.url,
      CFN_BOOTSTRAP_ADMIN_KEY: 'cfn_cache_test_admin_key_0123456789',
    });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await redis?.stop();
  });

  const agents = (key?: string) => server.fetch('/api/agents', key === undefined ? {} : { key });

  it('caches the agent catalogue in Redis under <REDIS_PREFIX>:cache:<originalUrl>, but never for a caller the route refuses', async () => {
    expect((await agents()).headers.get('x-cache')).toBeNull(); // no key: 401 before the cache
    const first = await agents(server.adminKey);
    expect(first.headers.get('x-cache')).toBe('MISS');
    const second = await agents(server.adminKey);
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(await second.json()).toEqual(await first.json());
    const direct = new Redis(redis.url);
    try {
      expect(await direct.exists('cfn:cache:/api/agents')).toBe(1);
      expect(await direct.exists('cache:/api/agents')).toBe(0);
    } finally {
      direct.disconnect();
    }
    const anonymous = await agents();
    expect(anonymous.status).toBe(401);
    const wrong = await agents('cfn_not_a_key_at_all_00000000000000');
    expect(wrong.status).toBe(401);
    expect(JSON.stringify(await wrong.json())).not.toContain('systemPrompt');
  });

  it('stays up while Redis is down: /health says so, the cache is bypassed and counted, and it comes back', async () => {
    await redis.stop();
    try {
      const health = await server.fetch('/health');
      expect(health.status).toBe(503);
      expect(((await health.json()) as { failing: string[] }).failing).toContain('redis');
      expect((await server.fetch('/health/ready')).status).toBe(200); // degraded, still serving
      const res = await agents(server.adminKey);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-cache')).toBeNull();
      const metrics = await (await server.fetch('/metrics')).text();
      expect(metrics).toMatch(/^cache_errors_total\{operation="get"\} [1-9]/m);
      expect(metrics).toMatch(/^redis_up 0$/m);
    } finally {
      await redis.start();
    }
    const until = Date.now() + 15_000;
    while ((await server.fetch('/health')).status !== 200) {
      if (Date.now() > until) throw new Error('the service did not see Redis come back');
      await new Promise((r) => setTimeout(r, 100));
    }
    // After a failure the cache rests for a second before it is tried again.
    await eventually(
      'the cache used again',
      async () => (await agents(server.adminKey)).headers.get('x-cache') !== null,
    );
    expect((await agents(server.adminKey)).headers.get('x-cache')).toBe('HIT');
    expect(server.logs.text()).toContain('response cache available again');
    expect(await (await server.fetch('/metrics')).text()).toMatch(/^redis_up 1$/m);
  }, 60_000);
});

describe('rate limit shared through Redis', () => {
  let redis: ThrowawayRedis;
  const servers: TestServer[] = [];
  beforeAll(async () => {
    redis = await startThrowawayRedis();
    for (let i = 0; i < 2; i++)
      servers.push(await startTestServer({ REDIS_URL: redis.url, RATE_LIMIT_PER_MINUTE: '5' }));
  }, 60_000);
  afterAll(async () => {
    for (const s of servers) await s.stop();
    await redis?.stop();
  });

  it('counts one caller across replicas and answers 429 with Retry-After past the limit', async () => {
    // No key: the caller is its address, the same for both replicas.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await servers[i % 2]!.fetch('/api/agents')).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    const limited = await servers[1]!.fetch('/api/agents');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await limited.json()) as { error: { code: string; requestId: string } };
    expect(body.error.code).toBe('RATE_LIMITED');
    expect(body.error.requestId).toBeTruthy();
  });
});
