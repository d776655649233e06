// DATABASE_READ_URL: list queries read from the replica, writes and read-your-own-write paths use
// the primary. The "replica" is the test database behind a proxy the test cuts: with it cut, the
// service stays ready (degraded, naming the replica), lists are served from the primary, and once
// the replica answers again the lists go back to it, without a restart.
import { URL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/services.js';
import {
  agentOf,
  implementer,
  startSwarmHarness,
  validator,
  type SwarmHarness,
} from '../support/swarm-harness.js';
import { eventually } from '../support/eventually.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

let db: TestDatabase;
let proxy: TcpProxy;
let h: SwarmHarness;
beforeAll(async () => {
  db = await createTestDatabase();
  const u = new URL(db.url);
  proxy = await startTcpProxy(u.hostname, Number(u.port || 5432));
  const replica = new URL(db.url);
  replica.port = String(proxy.port);
  h = await startSwarmHarness({
    DATABASE_URL: db.url,
    DATABASE_READ_URL: replica.toString(),
    HEALTH_CHECK_TIMEOUT_MS: '1000',
  });
}, 60_000);
afterAll(async () => {
  await h?.stop();
  await proxy?.close();
  await db?.drop();
});

it('lists from the replica, falls back to the primary while it is cut, and returns to it', async () => {
  h.llm.setResponder((req) => (agentOf(req) === 'impl-a' ? implementer(0.9) : validator(0.95)));
  const list = () => h.server.fetch('/api/swarms?limit=5', { key: h.server.adminKey });
  const before = proxy.forwardedBytes;
  expect((await list()).status).toBe(200);
  expect(proxy.forwardedBytes).toBeGreaterThan(before); // the list went through the replica
  await proxy.cut();
  let id: string;
  try {
    const s = await h.submit({
      objective: 'primary only',
      agents: ['impl-a'],
      validators: ['val-a'],
    });
    expect(s.status).toBe(202);
    id = s.id;
    const byId = await h.server.fetch(`/api/swarms/${s.id}`, { key: h.server.adminKey });
    expect(byId.status).toBe(200);
    const listed = await list();
    expect(listed.status).toBe(200);
    const items = ((await listed.json()) as { items: Array<{ id: string }> }).items;
    expect(items.map((i) => i.id)).toContain(s.id);
    const audit = await h.server.fetch('/api/audit?limit=5', { key: h.server.adminKey });
    expect(audit.status).toBe(200);

    const health = await h.server.fetch('/health');
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({
      status: 'degraded',
      failing: ['database_read'],
      degraded: ['database_read'],
    });
    const ready = await h.server.fetch('/health/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'degraded',
      ready: true,
      degraded: ['database_read'],
    });
    expect(h.server.logs.text()).toContain('read replica unreachable; reads go to the primary');
  } finally {
    await proxy.restore();
  }
  await eventually('reads back on the replica', () =>
    h.server.logs.text().includes('read replica answers again'),
  );
  const back = proxy.forwardedBytes;
  const again = await list();
  expect(again.status).toBe(200);
  expect(
    ((await again.json()) as { items: Array<{ id: string }> }).items.map((i) => i.id),
  ).toContain(id);
  expect(proxy.forwardedBytes).toBeGreaterThan(back);
  await eventually('healthy again', async () => (await h.server.fetch('/health')).status === 200);
  expect(await (await h.server.fetch('/health/ready')).json()).toMatchObject({
    status: 'ok',
    ready: true,
  });
});
