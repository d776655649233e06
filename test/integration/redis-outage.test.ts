// Redis outages in the distributed profile, on a redis-server of the test's own (stopped and
// started again; Redis keeps nothing on disk, so its jobs are lost) or behind a proxy that stalls
// (a partition: connections stay open, nothing answers). The service degrades instead of dying:
// it starts and listens with Redis down in each role, keeps answering (reads, submissions saved
// and answered 202, readiness ready and naming Redis as degraded), never hangs on a stalled Redis,
// and runs what was submitted once Redis is back, without a restart.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlm, type FakeLlm } from '../support/fake-llm.js';
import {
  agentOf,
  implementer,
  parseSse,
  startSwarmHarness,
  validator,
  writeAgents,
  type SwarmHarness,
} from '../support/swarm-harness.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';
import { eventually } from '../support/eventually.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { startThrowawayRedis, type ThrowawayRedis } from '../support/throwaway-redis.js';

const KEY = 'cfn_redis_outage_test_admin_key_0123456789';
const swarm = { objective: 'through an outage', agents: ['impl-a'], validators: ['val-a'] };
const scripted = (llm: FakeLlm) =>
  llm.setResponder((req) => (agentOf(req) === 'impl-a' ? implementer(0.9) : validator(0.95)));

/** A fetch that must answer: a hang (the failure this file guards against) fails the test. */
const bounded = (s: TestServer, pathname: string, init: RequestInit & { key?: string } = {}) =>
  s.fetch(pathname, { signal: AbortSignal.timeout(15_000), ...init });

async function json(res: Response | Promise<Response>) {
  return (await (await res).json()) as Record<string, unknown>;
}

/** The swarm's events until it completed (the stream ends then). */
async function follow(s: TestServer, id: string) {
  const res = await s.fetch(`/api/swarms/${id}/events`, {
    key: KEY,
    signal: AbortSignal.timeout(60_000),
  });
  expect(res.status).toBe(200);
  return parseSse(await res.text());
}

async function submit(s: TestServer) {
  const res = await bounded(s, '/api/swarms', {
    method: 'POST',
    key: KEY,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(swarm),
  });
  expect(res.status).toBe(202);
  return String((await json(res)).id);
}

describe('Redis stopped while the service runs', () => {
  let redis: ThrowawayRedis;
  let db: TestDatabase;
  let h: SwarmHarness;
  beforeAll(async () => {
    redis = await startThrowawayRedis();
    db = await createTestDatabase();
    h = await startSwarmHarness({
      REDIS_URL: redis.url,
      DATABASE_URL: db.url,
      CFN_RECOVERY_INTERVAL_MS: '1000',
      CFN_BOOTSTRAP_ADMIN_KEY: KEY,
    });
  }, 60_000);
  afterAll(async () => {
    await h?.stop();
    await redis?.stop();
    await db?.drop();
  });

  it('accepts a swarm while Redis is down, stays ready, and runs it once Redis is back', async () => {
    scripted(h.llm);
    await redis.stop();
    let id: string;
    try {
      id = await submit(h.server);
      expect(await json(bounded(h.server, `/api/swarms/${id}`, { key: KEY }))).toMatchObject({
        status: 'queued',
      });
      expect(h.llm.requests).toHaveLength(0);
      const ready = await bounded(h.server, '/health/ready');
      expect(ready.status).toBe(200);
      expect(await json(ready)).toMatchObject({ ready: true, degraded: ['redis'] });
    } finally {
      await redis.start(); // empty: the job the submit could not queue does not exist anywhere
    }
    const events = await follow(h.server, id);
    expect(events.at(-1)).toMatchObject({
      event: 'swarm.completed',
      data: { status: 'completed' },
    });
  }, 60_000);
});

describe('Redis down when the service starts', () => {
  let redis: ThrowawayRedis;
  let db: TestDatabase;
  let llm: FakeLlm;
  let dir: string;
  const servers: Partial<Record<'all' | 'api' | 'worker', TestServer>> = {};
  beforeAll(async () => {
    redis = await startThrowawayRedis();
    await redis.stop();
    db = await createTestDatabase();
    llm = await startFakeLlm();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-redis-down-'));
    writeAgents(path.join(dir, 'agents'));
  }, 60_000);
  afterAll(async () => {
    for (const s of Object.values(servers)) await s.stop();
    await llm?.close();
    await redis?.stop();
    await db?.drop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts and listens in every role (cfn start, serve, worker), degraded, and serves reads', async () => {
    const env = {
      REDIS_URL: redis.url,
      DATABASE_URL: db.url,
      CFN_BOOTSTRAP_ADMIN_KEY: KEY,
      CFN_RECOVERY_INTERVAL_MS: '1000',
      CFN_AGENTS_DIR: path.join(dir, 'agents'),
      CFN_WORKSPACE_ROOTS: path.join(dir, 'workspaces'),
      ANTHROPIC_API_KEY: 'test-key',
      ANTHROPIC_BASE_URL: llm.url,
      RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT_MS: '2000',
    };
    // In sequence: the first one migrates the shared database.
    for (const role of ['all', 'api', 'worker'] as const)
      servers[role] = await startTestServer(env, { role });
    for (const s of Object.values(servers)) {
      const health = await bounded(s, '/health');
      expect(health.status).toBe(503);
      expect(await json(health)).toMatchObject({ status: 'degraded', failing: ['redis'] });
      const ready = await bounded(s, '/health/ready');
      expect(ready.status).toBe(200);
      expect(await json(ready)).toMatchObject({ status: 'degraded', degraded: ['redis'] });
      expect((await bounded(s, '/health/live')).status).toBe(200);
    }
    for (const s of [servers.all!, servers.api!]) {
      expect((await bounded(s, '/api/agents', { key: KEY })).status).toBe(200);
      expect((await bounded(s, '/api/swarms', { key: KEY })).status).toBe(200);
      expect((await bounded(s, '/api/whoami', { key: KEY })).status).toBe(200);
    }
  }, 90_000);

  it('saves a swarm submitted meanwhile and runs it to the end once Redis is up', async () => {
    scripted(llm);
    const api = servers.api!;
    const id = await submit(api);
    expect(await json(bounded(api, `/api/swarms/${id}`, { key: KEY }))).toMatchObject({
      status: 'queued',
    });
    expect(llm.requests).toHaveLength(0);
    await redis.start();
    const events = await follow(api, id);
    expect(events.at(-1)).toMatchObject({
      event: 'swarm.completed',
      data: { status: 'completed' },
    });
    for (const s of Object.values(servers))
      await eventually('healthy again', async () => (await bounded(s, '/health')).status === 200);
  }, 90_000);
});

describe('Redis stalled (a partition)', () => {
  let redis: ThrowawayRedis;
  let proxy: TcpProxy;
  let db: TestDatabase;
  let h: SwarmHarness;
  beforeAll(async () => {
    redis = await startThrowawayRedis();
    proxy = await startTcpProxy('127.0.0.1', redis.port);
    db = await createTestDatabase();
    h = await startSwarmHarness({
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      DATABASE_URL: db.url,
      CFN_RECOVERY_INTERVAL_MS: '1000',
      CFN_BOOTSTRAP_ADMIN_KEY: KEY,
      REDIS_COMMAND_TIMEOUT_MS: '300',
      HEALTH_CHECK_TIMEOUT_MS: '1000',
      RATE_LIMIT_PER_MINUTE: '600',
    });
  }, 60_000);
  afterAll(async () => {
    await h?.stop();
    await proxy?.close();
    await redis?.stop();
    await db?.drop();
  });

  it('never hangs a request: reads, submissions, cancels and health answer; work resumes after', async () => {
    scripted(h.llm);
    const s = h.server;
    await eventually('healthy', async () => (await bounded(s, '/health')).status === 200);
    expect((await bounded(s, '/api/agents', { key: KEY })).headers.get('x-cache')).toBe('MISS');
    proxy.stall();
    let id: string;
    let cancelled: string;
    try {
      // Cache and rate limit on the stalled Redis: served without them.
      const agents = await bounded(s, '/api/agents', { key: KEY });
      expect(agents.status).toBe(200);
      expect(agents.headers.get('x-cache')).toBeNull();
      id = await submit(s);
      expect(await json(bounded(s, `/api/swarms/${id}`, { key: KEY }))).toMatchObject({
        status: 'queued',
      });
      cancelled = await submit(s);
      const cancel = await bounded(s, `/api/swarms/${cancelled}/cancel`, {
        method: 'POST',
        key: KEY,
      });
      expect(cancel.status).toBeLessThan(300);
      const health = await bounded(s, '/health');
      expect(health.status).toBe(503);
      expect(await json(health)).toMatchObject({ failing: ['redis'], degraded: ['redis'] });
      expect((await bounded(s, '/health/ready')).status).toBe(200);
      expect((await bounded(s, '/metrics')).status).toBe(200);
      expect(h.llm.requests).toHaveLength(0);
    } finally {
      proxy.unstall();
    }
    const events = await follow(s, id);
    expect(events.at(-1)).toMatchObject({
      event: 'swarm.completed',
      data: { status: 'completed' },
    });
    const other = await follow(s, cancelled);
    expect(other.at(-1)).toMatchObject({
      event: 'swarm.completed',
      data: { status: 'cancelled' },
    });
    await eventually('healthy again', async () => (await bounded(s, '/health')).status === 200);
  }, 90_000);
});
