// The service-side metrics the monitoring kit relies on, from real state: dependency_up follows
// the real database probe (and /metrics keeps answering while the database is away), and the
// security counters move exactly where 429s and audit writes happen.
import { afterAll, describe, expect, it } from 'vitest';
import { createProxiedTestDatabase } from '../support/tcp-proxy.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function sample(s: TestServer, series: string): Promise<number | undefined> {
  const res = await s.fetch('/metrics');
  expect(res.status).toBe(200);
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function eventually(fn: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not met in time');
}

describe('dependency_up', () => {
  it('is 1 while PostgreSQL answers, 0 while it is cut (with /metrics still 200), 1 again after', async () => {
    const { url, proxy, close } = await createProxiedTestDatabase();
    cleanups.push(close);
    const s = await startTestServer({
      DATABASE_URL: url,
      HEALTH_CHECK_TIMEOUT_MS: '500',
      DATABASE_CONNECT_TIMEOUT_MS: '500',
    });
    cleanups.push(() => s.stop());

    expect(await sample(s, 'dependency_up{dependency="database"}')).toBe(1);
    expect(await sample(s, 'active_agents_count')).toBe(0);
    await proxy.cut();
    expect(await sample(s, 'dependency_up{dependency="database"}')).toBe(0);
    // The database-backed gauge says "unknown", not a made-up number.
    expect(await sample(s, 'active_agents_count')).toBeNaN();
    await proxy.restore();
    await eventually(async () => (await sample(s, 'dependency_up{dependency="database"}')) === 1);
  });

  it('reports each configured dependency (PGlite: the database only)', async () => {
    const s = await startTestServer();
    cleanups.push(() => s.stop());
    const text = await (await s.fetch('/metrics')).text();
    expect(text.match(/^dependency_up\{.*$/gm)).toEqual(['dependency_up{dependency="database"} 1']);
  });
});

describe('security counters', () => {
  it('counts each 429 of the rate limiter by caller kind', async () => {
    const s = await startTestServer({ RATE_LIMIT_PER_MINUTE: '3' });
    cleanups.push(() => s.stop());
    expect(await sample(s, 'rate_limited_requests_total{caller="key"}')).toBe(0);
    const keyed = [];
    for (let i = 0; i < 5; i++)
      keyed.push((await s.fetch('/api/whoami', { key: s.adminKey })).status);
    expect(keyed).toEqual([200, 200, 200, 429, 429]);
    const anonymous = [];
    for (let i = 0; i < 4; i++) anonymous.push((await s.fetch('/api/whoami')).status);
    expect(anonymous).toEqual([401, 401, 401, 429]);
    expect(await sample(s, 'rate_limited_requests_total{caller="key"}')).toBe(2);
    expect(await sample(s, 'rate_limited_requests_total{caller="ip"}')).toBe(1);
    expect(await sample(s, 'auth_failures_total{reason="missing_credentials"}')).toBe(3);
  });

  it('counts audit-log writes by action, matching the rows written', async () => {
    const s = await startTestServer();
    cleanups.push(() => s.stop());
    expect(await sample(s, 'audit_events_total{action="key.bootstrap"}')).toBe(1);
    expect(await sample(s, 'audit_events_total{action="key.create"}')).toBe(0);
    for (const name of ['one', 'two']) {
      const res = await s.fetch('/api/keys', {
        method: 'POST',
        key: s.adminKey,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, role: 'viewer' }),
      });
      expect(res.status).toBe(201);
    }
    // A refused creation (invalid body) writes no audit row and counts nothing.
    const bad = await s.fetch('/api/keys', {
      method: 'POST',
      key: s.adminKey,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: '', role: 'nobody' }),
    });
    expect(bad.status).toBe(400);
    expect(await sample(s, 'audit_events_total{action="key.create"}')).toBe(2);
    const audit = (await (
      await s.fetch('/api/audit?action=key.create', { key: s.adminKey })
    ).json()) as { items: Array<{ action: string }> };
    expect(audit.items.map((e) => e.action)).toEqual(['key.create', 'key.create']);
  });
});
