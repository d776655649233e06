// Two deployments on one Redis: two `cfn start` processes, each with a PostgreSQL database and an
// agent library of its own, sharing a redis-server of this test under two REDIS_PREFIXes. Nothing
// crosses: cached answers (agents, a private agent, a finished swarm) of one are never served by
// the other, live signals (event hints, cancellations) stay on each deployment's channel, each
// deployment's workers run only its own swarms, exhausting one's rate limit leaves the other's
// alone, and every key in Redis (SCAN) starts with one of the two prefixes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCli, type RunningCli } from '../support/cli.js';
import { startFakeLlm, type FakeLlm, type FakeRequest } from '../support/fake-llm.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';
import {
  agentOf,
  implementer,
  parseSse,
  validator,
  writeAgents,
} from '../support/swarm-harness.js';
import { startThrowawayRedis, type ThrowawayRedis } from '../support/throwaway-redis.js';

const KEY = 'cfn_shared_redis_test_admin_key_0123456789';
const PREFIXES = { a: 'tenA', b: 'tenB' } as const;
type Name = keyof typeof PREFIXES;

interface Deployment {
  name: Name;
  prefix: string;
  url: string;
  proc: RunningCli;
  llm: FakeLlm;
  db: TestDatabase;
  /** Ids of the swarms submitted to it. */
  swarms: string[];
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-shared-redis-'));
let redis: ThrowawayRedis;
let watcher: Redis;
const published: Array<{ channel: string; message: string }> = [];
const d = {} as Record<Name, Deployment>;

/** The text of the request's user messages (where the objective is). */
const prompt = (req: FakeRequest) =>
  req.messages
    .filter((m) => m.role === 'user')
    .map((m) => m.content)
    .join('\n');

async function start(name: Name): Promise<Deployment> {
  const llm = await startFakeLlm();
  llm.setResponder((req) =>
    prompt(req).includes('HANG')
      ? { hang: true }
      : agentOf(req).startsWith('impl')
        ? implementer(0.9)
        : validator(0.95),
  );
  const db = await createTestDatabase();
  const home = path.join(dir, name);
  // Each deployment has a private agent the other must never see.
  writeAgents(path.join(home, 'agents'), { [`secret-${name}`]: { role: 'implementer' } });
  const proc = spawnCli(['start'], {
    cwd: home,
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: PREFIXES[name],
      CFN_DATA_DIR: path.join(home, 'data'),
      CFN_AGENTS_DIR: path.join(home, 'agents'),
      CFN_WORKSPACE_ROOTS: path.join(home, 'workspaces'),
      CFN_BOOTSTRAP_ADMIN_KEY: KEY,
      ANTHROPIC_API_KEY: 'test-key',
      ANTHROPIC_BASE_URL: llm.url,
      RATE_LIMIT_PER_MINUTE: '40',
    },
  });
  const listening = await proc.waitForLog((l) => l.msg === 'listening', 60_000);
  return { name, prefix: PREFIXES[name], url: String(listening.url), proc, llm, db, swarms: [] };
}

function call(x: Deployment, pathname: string, init: RequestInit & { noKey?: boolean } = {}) {
  const { noKey, ...rest } = init;
  return fetch(`${x.url}${pathname}`, {
    ...rest,
    headers: {
      ...(noKey ? {} : { authorization: `Bearer ${KEY}` }),
      'content-type': 'application/json',
    },
    signal: AbortSignal.timeout(30_000),
  });
}

async function submit(x: Deployment, objective: string): Promise<string> {
  const res = await call(x, '/api/swarms', {
    method: 'POST',
    body: JSON.stringify({ objective, agents: ['impl-a'], validators: ['val-a'] }),
  });
  expect(res.status).toBe(202);
  const id = String(((await res.json()) as { id: string }).id);
  x.swarms.push(id);
  return id;
}

async function follow(x: Deployment, id: string) {
  const res = await call(x, `/api/swarms/${id}/events`);
  expect(res.status).toBe(200);
  return parseSse(await res.text());
}

async function scanAll(): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await watcher.scan(cursor, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

beforeAll(async () => {
  redis = await startThrowawayRedis();
  // Every pub/sub message on this Redis, whatever its channel.
  watcher = new Redis(redis.url);
  const sub = new Redis(redis.url);
  sub.on('pmessage', (_pattern: string, channel: string, message: string) =>
    published.push({ channel, message }),
  );
  await sub.psubscribe('*');
  afterAll(() => sub.disconnect());
  [d.a, d.b] = await Promise.all([start('a'), start('b')]);
}, 120_000);

afterAll(async () => {
  for (const x of Object.values(d)) {
    if (x.proc.child.exitCode === null && x.proc.child.signalCode === null) {
      x.proc.child.kill('SIGTERM');
      await x.proc.exited;
    }
    await x.llm.close();
    await x.db.drop();
  }
  watcher?.disconnect();
  await redis?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('two deployments sharing one Redis', () => {
  it('never serves one deployment the cached agents of the other', async () => {
    for (const p of ['/api/agents', '/api/agents/secret-a']) {
      expect((await call(d.a, p)).headers.get('x-cache')).toBe('MISS');
      expect((await call(d.a, p)).headers.get('x-cache')).toBe('HIT');
    }
    const catalogue = await call(d.b, '/api/agents');
    expect(catalogue.status).toBe(200);
    expect(catalogue.headers.get('x-cache')).toBe('MISS');
    const text = await catalogue.text();
    expect(text).toContain('secret-b');
    expect(text).not.toContain('secret-a');
    const secret = await call(d.b, '/api/agents/secret-a');
    expect(secret.status).toBe(404);
    expect(await secret.text()).not.toContain('AGENT=secret-a');
  });

  it('runs each deployment’s swarms on its own workers and never serves a finished swarm across', async () => {
    const [ia, ib] = await Promise.all([
      submit(d.a, 'objective of deployment A'),
      submit(d.b, 'objective of deployment B'),
    ]);
    const [ea, eb] = await Promise.all([follow(d.a, ia), follow(d.b, ib)]);
    for (const events of [ea, eb])
      expect(events.at(-1)).toMatchObject({
        event: 'swarm.completed',
        data: { status: 'completed' },
      });
    // Each deployment's LLM saw only its own objective.
    expect(d.a.llm.requests.some((r) => prompt(r).includes('deployment A'))).toBe(true);
    expect(d.a.llm.requests.some((r) => prompt(r).includes('deployment B'))).toBe(false);
    expect(d.b.llm.requests.some((r) => prompt(r).includes('deployment B'))).toBe(true);
    expect(d.b.llm.requests.some((r) => prompt(r).includes('deployment A'))).toBe(false);

    expect((await call(d.a, `/api/swarms/${ia}`)).headers.get('x-cache')).toBe('MISS');
    expect((await call(d.a, `/api/swarms/${ia}`)).headers.get('x-cache')).toBe('HIT');
    const across = await call(d.b, `/api/swarms/${ia}`);
    expect(across.status).toBe(404);
    expect(across.headers.get('x-cache')).not.toBe('HIT');
  });

  it('keeps a cancel on its own deployment: the other’s running call goes on', async () => {
    const [ha, hb] = await Promise.all([submit(d.a, 'HANG in A'), submit(d.b, 'HANG in B')]);
    const [callA, callB] = await Promise.all([
      d.a.llm.waitUntil((rs) => rs.find((r) => prompt(r).includes('HANG in A')), 30_000),
      d.b.llm.waitUntil((rs) => rs.find((r) => prompt(r).includes('HANG in B')), 30_000),
    ]);
    expect((await call(d.a, `/api/swarms/${ha}/cancel`, { method: 'POST' })).status).toBe(202);
    expect((await follow(d.a, ha)).at(-1)).toMatchObject({ data: { status: 'cancelled' } });
    expect(callA.clientClosed).toBe(true);
    expect(callB.clientClosed).toBe(false);
    expect(
      ((await (await call(d.b, `/api/swarms/${hb}`)).json()) as { status: string }).status,
    ).toBe('running');
    expect((await call(d.b, `/api/swarms/${hb}/cancel`, { method: 'POST' })).status).toBe(202);
    expect((await follow(d.b, hb)).at(-1)).toMatchObject({ data: { status: 'cancelled' } });
  });

  it('counts each deployment’s rate limit apart (the same client address on both)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 41; i++)
      statuses.push((await call(d.a, '/api/whoami', { noKey: true })).status);
    expect(statuses.slice(0, 40)).toEqual(Array(40).fill(401));
    expect(statuses[40]).toBe(429);
    expect((await call(d.b, '/api/whoami', { noKey: true })).status).toBe(401);
  });

  it('keeps every channel and every key under one of the two prefixes, each with its own swarms', async () => {
    const idsOf = (x: Deployment) => new Set(x.swarms);
    const channels = new Set(published.map((p) => p.channel));
    expect([...channels].sort()).toEqual(['tenA:bus', 'tenB:bus']);
    for (const x of Object.values(d)) {
      const mine = published.filter((p) => p.channel === `${x.prefix}:bus`);
      const kinds = new Set<string>();
      for (const p of mine) {
        const m = JSON.parse(p.message) as { kind: string; swarmId: string };
        kinds.add(m.kind);
        expect(idsOf(x)).toContain(m.swarmId);
      }
      expect([...kinds].sort()).toEqual(['cancel', 'events']);
    }
    // Logs of one deployment never name a swarm of the other (its workers never took them), but
    // for the lines of this test's own requests across (the 404 above).
    for (const [x, y] of [
      [d.a, d.b],
      [d.b, d.a],
    ] as const) {
      const lines = x.proc
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{') && !l.includes('"msg":"request completed"'));
      for (const id of y.swarms) expect(lines.filter((l) => l.includes(id))).toEqual([]);
    }

    const keys = await scanAll();
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((k) => !k.startsWith('tenA:') && !k.startsWith('tenB:'))).toEqual([]);
    for (const prefix of Object.values(PREFIXES)) {
      expect(keys.some((k) => k.startsWith(`${prefix}:cache:`))).toBe(true);
      expect(keys.some((k) => k.startsWith(`${prefix}:rl:`))).toBe(true);
      expect(keys.some((k) => k.startsWith(`${prefix}:cfn-swarm-run:`))).toBe(true);
    }
  });
});
