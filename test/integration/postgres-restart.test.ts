// PostgreSQL restarted under a running service (a cluster of the test's own): readiness turns
// 503 while it is down, /health names the cause, and the service recovers without a restart of its
// own.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../support/throwaway-postgres.js';

let pg: ThrowawayPostgres;
let server: TestServer;
beforeAll(async () => {
  pg = await startThrowawayPostgres();
  server = await startTestServer({ DATABASE_URL: pg.url, HEALTH_CHECK_TIMEOUT_MS: '1000' });
}, 60_000);
afterAll(async () => {
  await server?.stop();
  pg?.destroy();
});

async function until(what: string, ok: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('reports not ready while PostgreSQL is down and recovers without a restart', async () => {
  expect((await server.fetch('/health/ready')).status).toBe(200);
  pg.stop();
  try {
    await until('readiness 503', async () => (await server.fetch('/health/ready')).status === 503);
    const body = (await (await server.fetch('/health')).json()) as {
      failing: string[];
      checks: Record<string, { error?: string }>;
    };
    expect(body.failing).toContain('database');
    // The cause the DatabaseDown runbook reads, not the query that failed.
    expect(body.checks.database?.error).toMatch(
      /^(connection refused \(127\.0\.0\.1:\d+\)|server shutting down: .*|timed out after \d+ ms)$/,
    );
    expect((await server.fetch('/health/live')).status).toBe(200);
  } finally {
    pg.start();
  }
  await until(
    'readiness 200 again',
    async () => (await server.fetch('/health/ready')).status === 200,
  );
  // Real work again: a key created and listed through the API hits the restarted database.
  const created = await server.fetch('/api/keys', {
    method: 'POST',
    key: server.adminKey,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'after-restart', role: 'viewer' }),
  });
  expect(created.status).toBe(201);
}, 60_000);
