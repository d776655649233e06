// /health and readiness against real PostgreSQL and Redis reached through a proxy the test can
// cut: the failing check is named, readiness is lost to the database but not to Redis (degraded),
// and the service recovers without a restart.
import { afterAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  connectTestRedis,
  TEST_REDIS_URL,
  type TestDatabase,
} from '../support/services.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface HealthBody {
  status: string;
  failing?: string[];
  degraded?: string[];
  checks: Record<string, { status: string; latencyMs: number; error?: string }>;
}

async function health(
  s: TestServer,
  path = '/health',
): Promise<{ status: number; body: HealthBody }> {
  const res = await s.fetch(path);
  return { status: res.status, body: (await res.json()) as HealthBody };
}

/** Polls until `fn` holds, for at most `timeoutMs` (recovery involves reconnect backoff). */
async function eventually(fn: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not met in time');
}

describe('PostgreSQL', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let s: TestServer;

  it('is healthy, turns 503 naming the database when its connection is cut, then recovers', async () => {
    db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const u = new URL(db.url);
    proxy = await startTcpProxy(u.hostname, Number(u.port || 5432));
    cleanups.push(() => proxy.close());
    u.port = String(proxy.port);
    s = await startTestServer({
      DATABASE_URL: u.toString(),
      HEALTH_CHECK_TIMEOUT_MS: '1000',
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
    });
    cleanups.push(() => s.stop());

    const ok = await health(s);
    expect(ok.status).toBe(200);
    expect(ok.body.checks.database?.status).toBe('ok');

    await proxy.cut();
    const down = await health(s);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('error');
    expect(down.body.failing).toEqual(['database']);
    expect(down.body.checks.database?.status).toBe('error');
    expect(down.body.checks.database?.error).toBeTruthy();
    expect((await health(s, '/health/ready')).status).toBe(503);
    expect((await s.fetch('/health/live')).status).toBe(200);
    // An authenticated API call fails cleanly while the database is away: JSON 503 (retry),
    // no internals.
    const api = await s.fetch('/api/whoami', { key: s.adminKey });
    expect(api.status).toBe(503);
    const apiBody = (await api.json()) as { error: { code: string; message: string } };
    expect(apiBody.error.code).toBe('SERVICE_UNAVAILABLE');
    expect(apiBody.error.message).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|postgres/i);

    await proxy.restore();
    await eventually(async () => (await health(s)).status === 200);
    expect((await health(s, '/health/ready')).status).toBe(200);
    expect((await s.fetch('/api/whoami', { key: s.adminKey })).status).toBe(200);
  });
});

describe('Redis', () => {
  it('is checked when configured, reported down by name, and recovers', async () => {
    const r = await connectTestRedis();
    cleanups.push(() => r.cleanup());
    const u = new URL(TEST_REDIS_URL);
    const proxy = await startTcpProxy(u.hostname, Number(u.port || 6379));
    cleanups.push(() => proxy.close());
    u.port = String(proxy.port);
    const s = await startTestServer({ REDIS_URL: u.toString(), HEALTH_CHECK_TIMEOUT_MS: '1000' });
    cleanups.push(() => s.stop());

    await eventually(async () => (await health(s)).status === 200);
    expect((await health(s)).body.checks.redis?.status).toBe('ok');

    await proxy.cut();
    await eventually(async () => (await health(s)).status === 503);
    const down = await health(s);
    expect(down.body.failing).toEqual(['redis']);
    expect(down.body.status).toBe('degraded');
    expect(down.body.checks.database?.status).toBe('ok');
    // The service runs without Redis: still ready, naming it.
    const ready = await health(s, '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'degraded', degraded: ['redis'] });

    await proxy.restore();
    await eventually(async () => (await health(s)).status === 200);
    expect((await health(s)).body.checks.redis?.status).toBe('ok');
  });
});
