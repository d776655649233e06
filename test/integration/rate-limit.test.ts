// The API rate limit: per caller, over the limit a 429 in the JSON error shape with Retry-After;
// with Redis, a limit that still holds (per process) while Redis is away and goes back to Redis.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { startThrowawayRedis, type ThrowawayRedis } from '../support/throwaway-redis.js';

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ RATE_LIMIT_PER_MINUTE: '5' });
});
afterAll(async () => {
  await s?.stop();
});

it('answers 429 with Retry-After once a caller exceeds its limit, without affecting others or /health', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++)
    statuses.push((await s.fetch('/api/whoami', { key: s.adminKey })).status);
  expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
  expect(statuses.slice(5)).toEqual([429, 429]);

  const limited = await s.fetch('/api/whoami', { key: s.adminKey });
  expect(limited.status).toBe(429);
  const retryAfter = Number(limited.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(60);
  const body = (await limited.json()) as { error: { code: string; requestId: string } };
  expect(body.error.code).toBe('RATE_LIMITED');
  expect(body.error.requestId).toBe(limited.headers.get('x-request-id'));

  // Another caller (no valid key: limited by address) still has its own budget; health is never limited.
  expect((await s.fetch('/api/whoami')).status).toBe(401);
  for (let i = 0; i < 10; i++) expect((await s.fetch('/health')).status).toBe(200);
});

it('limits callers without a valid key by address, however many different keys they try', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 8; i++) {
    statuses.push(
      (await s.fetch('/api/whoami', { key: `cfn_guess_${i}_${Math.random()}` })).status,
    );
  }
  // The previous test spent one request of this address's budget without a key.
  expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401]);
  expect(statuses.slice(4)).toEqual([429, 429, 429, 429]);
});

describe('with Redis down at start', () => {
  let redis: ThrowawayRedis;
  let r: TestServer;
  beforeAll(async () => {
    redis = await startThrowawayRedis();
    await redis.stop();
    r = await startTestServer({ REDIS_URL: redis.url, RATE_LIMIT_PER_MINUTE: '20' });
  }, 60_000);
  afterAll(async () => {
    await r?.stop();
    await redis?.stop();
  });

  it('limits per process while Redis is away (never 500, never unlimited), then counts in Redis', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await r.fetch('/api/whoami')).status);
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses[20]).toBe(429);
    expect(r.logs.text()).toContain('rate-limit store unavailable; counting requests per process');

    await redis.start();
    // The shared store is tried again a second after a failure; its scripts are loaded anew.
    await eventually('the rate limit counting in Redis again', async () => {
      await r.fetch('/api/whoami');
      return r.logs.text().includes('rate-limit store available again');
    });
    const direct = new Redis(redis.url);
    try {
      const key = 'cfn:rl:ip:127.0.0.1';
      const counted = Number(await direct.get(key));
      expect(counted).toBeGreaterThan(0);
      expect((await r.fetch('/api/whoami')).status).toBe(401); // a fresh budget in Redis
      expect(Number(await direct.get(key))).toBe(counted + 1);
    } finally {
      direct.disconnect();
    }
  }, 60_000);
});
