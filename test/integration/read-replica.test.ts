// DATABASE_READ_URL: list queries read from the replica, writes and read-your-own-write paths use
// the primary. The "replica" is the test database behind a proxy the test cuts: with it cut, the
// swarm list fails while submitting a swarm and reading it back by id still work.
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

it('lists from the replica and reads its own writes from the primary', async () => {
  h.llm.setResponder((req) => (agentOf(req) === 'impl-a' ? implementer(0.9) : validator(0.95)));
  const list = () => h.server.fetch('/api/swarms?limit=5', { key: h.server.adminKey });
  expect((await list()).status).toBe(200);
  await proxy.cut();
  try {
    const s = await h.submit({
      objective: 'primary only',
      agents: ['impl-a'],
      validators: ['val-a'],
    });
    expect(s.status).toBe(202);
    const byId = await h.server.fetch(`/api/swarms/${s.id}`, { key: h.server.adminKey });
    expect(byId.status).toBe(200);
    const listed = await list();
    expect(listed.status).toBe(503);
    expect(((await listed.json()) as { error: { code: string } }).error.code).toBe(
      'SERVICE_UNAVAILABLE',
    );
    const health = (await (await h.server.fetch('/health')).json()) as { failing: string[] };
    expect(health.failing).toEqual(['database_read']);
  } finally {
    await proxy.restore();
  }
  const back = await list();
  expect(back.status).toBe(200);
  expect(((await back.json()) as { items: unknown[] }).items.length).toBeGreaterThan(0);
});
