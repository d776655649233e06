// The access blocklist in one service: a burst of failed authentications from one client address
// (behind a trusted proxy: X-Forwarded-For) blocks that address with 429 CLIENT_BLOCKED before its
// key is looked up, other addresses and the loopback allow-list go on, the block ends after its
// duration, and the metrics follow. With PostgreSQL and Redis behind proxies the test can cut:
// a blocked address is refused with the database away (no key lookup), and failures are still
// counted (per process) and blocks made while Redis is away, never a 5xx.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { connectTestRedis, type TestRedis } from '../support/services.js';
import {
  createProxiedTestDatabase,
  startTcpProxy,
  type ProxiedTestDatabase,
  type TcpProxy,
} from '../support/tcp-proxy.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const GUESS = 'cfn_wrong_key_guess_0000000000000000000000000';

interface ErrorBody {
  error: { code: string; message: string; requestId: string; details?: Record<string, unknown> };
}

const from = (address: string, key?: string) => ({
  headers: { 'x-forwarded-for': address },
  ...(key ? { key } : {}),
});

async function metric(s: TestServer, line: RegExp): Promise<number> {
  const text = await (await s.fetch('/metrics')).text();
  const found = text.split('\n').find((l) => line.test(l));
  return found === undefined ? NaN : Number(found.split(' ').pop());
}

async function guess(s: TestServer, address: string, times: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < times; i++)
    statuses.push((await s.fetch('/api/whoami', from(address, `${GUESS}${i}`))).status);
  return statuses;
}

describe('embedded service (PGlite, counts in memory)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({
      CFN_AUTH_BLOCK_THRESHOLD: '3',
      CFN_AUTH_BLOCK_WINDOW_S: '60',
      CFN_AUTH_BLOCK_DURATION_S: '3',
      RATE_LIMIT_PER_MINUTE: '0',
    });
  }, 60_000);
  afterAll(async () => {
    await s?.stop();
  });

  it('blocks an address after a burst of failed logins, and only that address', async () => {
    expect(await metric(s, /^auth_blocked_clients /)).toBe(0);
    expect(await guess(s, '203.0.113.7', 3)).toEqual([401, 401, 401]);
    const failures = await metric(s, /^auth_failures_total\{reason="invalid_key"\}/);

    // Blocked: even with a valid admin key, and the key is never looked at (no failure counted).
    const blocked = await s.fetch('/api/whoami', from('203.0.113.7', s.adminKey));
    expect(blocked.status).toBe(429);
    const retryAfter = Number(blocked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(3);
    const body = (await blocked.json()) as ErrorBody;
    expect(body.error.code).toBe('CLIENT_BLOCKED');
    expect(body.error.requestId).toBe(blocked.headers.get('x-request-id'));
    expect(body.error.message).toMatch(/blocked/);
    expect(body.error.details).toEqual({ retryAfterSeconds: retryAfter });
    expect(await guess(s, '203.0.113.7', 2)).toEqual([429, 429]);
    expect(await metric(s, /^auth_failures_total\{reason="invalid_key"\}/)).toBe(failures);

    // Other addresses, the health checks and /metrics are unaffected.
    expect((await s.fetch('/api/whoami', from('198.51.100.20', s.adminKey))).status).toBe(200);
    expect(await guess(s, '198.51.100.21', 2)).toEqual([401, 401]);
    expect((await s.fetch('/health/live', from('203.0.113.7'))).status).toBe(200);

    expect(await metric(s, /^auth_blocked_clients /)).toBe(1);
    expect(await metric(s, /^auth_blocks_total\{reason="automatic"\}/)).toBe(1);
    expect(await metric(s, /^auth_blocks_total\{reason="manual"\}/)).toBe(0);
    const log = s.logs
      .lines()
      .find((l) => l.msg === 'client address blocked after failed authentications');
    expect(log).toMatchObject({ level: 'warn', ip: '203.0.113.7', failures: 3 });

    const list = await s.fetch('/api/admin/blocklist', { key: s.adminKey });
    expect(list.status).toBe(200);
    expect(((await list.json()) as { items: unknown[] }).items).toEqual([
      {
        address: '203.0.113.7',
        source: 'automatic',
        reason: null,
        expiresAt: expect.any(String),
        createdAt: null,
        createdBy: null,
      },
    ]);

    // The block ends after CFN_AUTH_BLOCK_DURATION_S, and the count started over.
    await eventually(
      'block expired',
      async () => (await s.fetch('/api/whoami', from('203.0.113.7', s.adminKey))).status === 200,
      8000,
    );
    expect(await metric(s, /^auth_blocked_clients /)).toBe(0);
    expect(await guess(s, '203.0.113.7', 2)).toEqual([401, 401]);
  }, 30_000);

  it('never blocks loopback (the default allow-list), nor an IPv4-mapped spelling of it', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await s.fetch('/api/whoami', { key: `${GUESS}${i}` })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401]);
    expect(await guess(s, '::ffff:127.0.0.1', 5)).toEqual([401, 401, 401, 401, 401]);
    expect((await s.fetch('/api/whoami', { key: s.adminKey })).status).toBe(200);
  });

  it('treats two spellings of one IPv6 address as one address', async () => {
    expect(await guess(s, '2001:DB8:0:0::9', 2)).toEqual([401, 401]);
    expect(await guess(s, '2001:db8::9', 1)).toEqual([401]);
    expect((await s.fetch('/api/whoami', from('2001:db8:0::9', s.adminKey))).status).toBe(429);
  });

  it('keeps manual entries in the database, with their reason, across a restart', async () => {
    const add = await s.fetch('/api/admin/blocklist', {
      method: 'POST',
      key: s.adminKey,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ address: '192.0.2.44', reason: 'scanner', durationSeconds: 3600 }),
    });
    expect(add.status).toBe(201);
    expect((await s.fetch('/api/whoami', from('192.0.2.44', s.adminKey))).status).toBe(429);
    // Loopback cannot be blocked by hand while it is allow-listed.
    const refused = await s.fetch('/api/admin/blocklist', {
      method: 'POST',
      key: s.adminKey,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ address: '127.0.0.1', reason: 'oops', durationSeconds: 60 }),
    });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as ErrorBody).error.message).toMatch(/CFN_AUTH_BLOCK_ALLOW/);

    const dataDir = s.dataDir;
    await s.shutdown('restart');
    const again = await startTestServer(
      { CFN_BOOTSTRAP_ADMIN_KEY: 'cfn_restart_admin_key_000000000000000' },
      { dataDir },
    );
    try {
      expect((await again.fetch('/api/whoami', from('192.0.2.44'))).status).toBe(429);
      const items = (
        (await (await again.fetch('/api/admin/blocklist', { key: s.adminKey })).json()) as {
          items: Array<Record<string, unknown>>;
        }
      ).items;
      expect(items).toEqual([
        expect.objectContaining({ address: '192.0.2.44', source: 'manual', reason: 'scanner' }),
      ]);
    } finally {
      await again.stop();
    }
  }, 60_000);
});

describe('distributed (PostgreSQL and Redis behind proxies)', () => {
  let db: ProxiedTestDatabase;
  let redis: TestRedis;
  let redisProxy: TcpProxy;
  let s: TestServer;
  beforeAll(async () => {
    db = await createProxiedTestDatabase();
    redis = await connectTestRedis();
    const u = new URL(redis.url);
    redisProxy = await startTcpProxy(u.hostname, Number(u.port || 6379));
    u.port = String(redisProxy.port);
    s = await startTestServer({
      DATABASE_URL: db.url,
      DATABASE_CONNECT_TIMEOUT_MS: '500',
      REDIS_URL: u.toString(),
      // connectTestRedis's prefix ends with `:`; the service adds its own.
      REDIS_PREFIX: redis.prefix.slice(0, -1),
      REDIS_COMMAND_TIMEOUT_MS: '300',
      HEALTH_CHECK_TIMEOUT_MS: '300',
      CFN_AUTH_CACHE_MS: '0',
      CFN_AUTH_BLOCK_THRESHOLD: '3',
      CFN_AUTH_BLOCK_DURATION_S: '600',
      RATE_LIMIT_PER_MINUTE: '0',
    });
  }, 60_000);
  afterAll(async () => {
    await s?.stop();
    await redisProxy?.close();
    await redis?.cleanup();
    await db?.close();
  });

  it('counts in Redis under REDIS_PREFIX', async () => {
    expect(await guess(s, '203.0.113.30', 3)).toEqual([401, 401, 401]);
    expect((await s.fetch('/api/whoami', from('203.0.113.30'))).status).toBe(429);
    expect(await redis.client.zscore(`${redis.prefix}ab:blocked`, '203.0.113.30')).not.toBeNull();
  });

  it('refuses a blocked address before its key is looked up: with the database away, 429, not 503', async () => {
    await db.proxy.cut();
    try {
      const blocked = await s.fetch('/api/whoami', from('203.0.113.30', `${GUESS}x`));
      expect(blocked.status).toBe(429);
      expect(((await blocked.json()) as ErrorBody).error.code).toBe('CLIENT_BLOCKED');
      // Another address's key has to be looked up, and cannot be.
      expect((await s.fetch('/api/whoami', from('198.51.100.30', `${GUESS}x`))).status).toBe(503);
    } finally {
      await db.proxy.restore();
    }
    await eventually(
      'database back',
      async () => (await s.fetch('/api/whoami', { key: s.adminKey })).status === 200,
    );
  }, 30_000);

  it('still counts and blocks per process while Redis is away, and never answers 5xx', async () => {
    await redisProxy.cut();
    try {
      const statuses = await guess(s, '203.0.113.31', 4);
      expect(statuses).toEqual([401, 401, 401, 429]);
      // The block made in Redis before the outage is out of reach; the service admits rather
      // than fail (this process never saw it).
      expect((await s.fetch('/api/whoami', from('198.51.100.31', s.adminKey))).status).toBe(200);
      const list = await s.fetch('/api/admin/blocklist', { key: s.adminKey });
      expect(list.status).toBe(200);
      expect(
        s.logs.lines().some((l) => /access blocklist store unavailable/.test(String(l.msg))),
      ).toBe(true);
    } finally {
      await redisProxy.restore();
    }
    // Redis back: the shared block is seen again, and the one made meanwhile holds here.
    await eventually(
      'shared block seen again',
      async () => (await s.fetch('/api/whoami', from('203.0.113.30'))).status === 429,
    );
    expect((await s.fetch('/api/whoami', from('203.0.113.31'))).status).toBe(429);
    expect(await metric(s, /^auth_blocked_clients /)).toBe(2);
  }, 30_000);
});
