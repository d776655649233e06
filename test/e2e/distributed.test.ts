// The distributed profile as real processes: two `cfn serve` API replicas and two `cfn worker`
// replicas sharing the real PostgreSQL (a database of this run) and Redis (a key prefix of this
// run), behind a real nginx running deploy/nginx/nginx.conf, against the loopback fake LLM. Swarms
// submitted through nginx complete on the workers and requests are spread over both replicas; an
// event stream on one replica sees the workers' events; a cancel sent to the other aborts the call
// where it runs; a worker SIGKILLed mid-run loses no swarm and repeats no completed call; nginx
// speaks HTTP/2 and gzip (checked with curl) and does not expose /metrics.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Agent, fetch as tlsFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNginx, type RunningNginx } from '../support/nginx.js';
import { spawnCli, type RunningCli } from '../support/cli.js';
import { startFakeLlm, type FakeLlm } from '../support/fake-llm.js';
import {
  connectTestRedis,
  createTestDatabase,
  type TestDatabase,
  type TestRedis,
} from '../support/services.js';
import {
  agentOf,
  implementer,
  parseSse,
  readUntilEvent,
  validator,
  writeAgents,
} from '../support/swarm-harness.js';

const KEY = 'cfn_distributed_test_admin_key_0123456789';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-dist-'));
const children: RunningCli[] = [];
let llm: FakeLlm;
let db: TestDatabase;
let redis: TestRedis;
let env: Record<string, string>;
const api: string[] = [];
let nginx: RunningNginx;
let tls: Agent;
const curl = (args: string[]) =>
  promisify(execFile)('curl', ['-sS', '--cacert', `${nginx.dir}/tls.crt`, ...args], {
    encoding: 'utf8',
  });

/** A request through nginx (HTTPS with the test's own certificate authority). */
function viaNginx(
  pathname: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
) {
  return tlsFetch(`${nginx.url}${pathname}`, {
    ...init,
    headers: {
      authorization: `Bearer ${KEY}`,
      'content-type': 'application/json',
      ...init.headers,
    },
    dispatcher: tls,
  });
}

async function start(role: 'serve' | 'worker', extra: Record<string, string> = {}) {
  const child = spawnCli([role], { cwd: dir, env: { ...env, ...extra } });
  children.push(child);
  const listening = await child.waitForLog((l) => l.msg === 'listening', 60_000);
  return { proc: child, url: String(listening.url) };
}

async function submit(url: string, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${url}/api/swarms`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

/** The swarm's first event of `type`, read off its live stream (which is then closed). */
async function firstEvent(url: string, id: string, type: string) {
  const res = await fetch(`${url}/api/swarms/${id}/events`, {
    headers: { authorization: `Bearer ${KEY}` },
    signal: AbortSignal.timeout(30_000),
  });
  return readUntilEvent(res, type);
}

/** The workers (`host:pid`) recorded on the swarms' running tasks, read from the database. */
async function runningTaskWorkers(ids: string[]): Promise<Set<string>> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ worker: string }>(
      `select distinct worker from agent_tasks where status = 'running' and swarm_id = any($1::uuid[])`,
      [ids],
    );
    return new Set(rows.map((r) => r.worker));
  } finally {
    await client.end();
  }
}

async function getSwarm(url: string, id: string) {
  const res = await fetch(`${url}/api/swarms/${id}`, {
    headers: { authorization: `Bearer ${KEY}` },
  });
  return (await res.json()) as { status: string; iteration: number; decision?: string };
}

async function waitForStatus(url: string, id: string, done: (s: string) => boolean, ms = 60_000) {
  const until = Date.now() + ms;
  for (;;) {
    const s = await getSwarm(url, id);
    if (done(s.status)) return s;
    if (Date.now() > until) throw new Error(`swarm ${id} still ${s.status} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  llm = await startFakeLlm();
  db = await createTestDatabase();
  redis = await connectTestRedis();
  writeAgents(path.join(dir, 'agents'));
  env = {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix.replace(/:$/, ''),
    CFN_QUEUE_LOCK_MS: '2000',
    CFN_DATA_DIR: path.join(dir, 'data'),
    CFN_AGENTS_DIR: path.join(dir, 'agents'),
    CFN_BOOTSTRAP_ADMIN_KEY: KEY,
    CFN_MAX_CONCURRENT_AGENTS: '4',
    ANTHROPIC_API_KEY: 'test-key',
    ANTHROPIC_BASE_URL: llm.url,
  };
  const [a, b] = await Promise.all([start('serve'), start('serve')]);
  api.push(a.url, b.url);
  await Promise.all([start('worker'), start('worker')]);
  nginx = await startNginx(api.map((u) => new URL(u).host));
  tls = new Agent({ connect: { ca: fs.readFileSync(`${nginx.dir}/tls.crt`) } });
}, 120_000);

afterAll(async () => {
  for (const c of children)
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  await tls?.close();
  await nginx?.stop();
  await llm?.close();
  await redis?.cleanup();
  await db?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('distributed profile', () => {
  it('refuses to start a replica role without the shared services, naming the variable', async () => {
    const child = spawnCli(['worker'], { cwd: dir, env: { ...env, REDIS_URL: '' } });
    const exit = await child.exited;
    expect(exit.code).toBe(1);
    expect(child.stderr()).toMatch(/REDIS_URL.*cfn worker/);
  });

  it('runs 20 swarms submitted through nginx on the workers, spreading requests over both replicas', async () => {
    llm.setResponder((req) =>
      agentOf(req).startsWith('impl') ? implementer(0.9) : validator(0.95),
    );
    const ids = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const res = await viaNginx('/api/swarms', {
          method: 'POST',
          body: JSON.stringify({
            objective: `distributed swarm ${i}`,
            agents: ['impl-a', 'impl-b'],
            validators: ['val-a'],
            mode: 'mvp',
          }),
        });
        expect(res.status).toBe(202);
        return ((await res.json()) as { id: string }).id;
      }),
    );
    for (const id of ids) {
      const s = await waitForStatus(api[0]!, id, (st) => st !== 'queued' && st !== 'running');
      expect(s.status).toBe('completed');
    }
    // An event stream on the other replica replays what the workers appended.
    const res = await fetch(`${api[1]}/api/swarms/${ids[0]}/events`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    const events = parseSse(await res.text());
    expect(events.map((e) => e.event)).toContain('task.succeeded');
    expect(events.at(-1)!.event).toBe('swarm.completed');
    const workers = new Set(
      events.filter((e) => e.event === 'task.started').map((e) => String(e.data.worker)),
    );
    expect(workers.size).toBeGreaterThanOrEqual(1);
    // nginx sent the submissions to both API replicas.
    const upstreams = new Set(
      nginx
        .accessLog()
        .filter((l) => l.uri === '/api/swarms' && l.method === 'POST')
        .map((l) => l.upstream),
    );
    expect([...upstreams].sort()).toEqual(api.map((u) => new URL(u).host).sort());
  });

  it('speaks HTTP/2 and gzip, forwards the request id, and keeps /metrics private (curl)', async () => {
    const h2 = await curl([
      '--http2',
      '-o',
      '/dev/null',
      '-w',
      '%{http_version}',
      `${nginx.url}/health`,
    ]);
    expect(h2.stdout).toBe('2');
    const gz = await curl([
      '--http2',
      '-D',
      '-',
      '-o',
      '/dev/null',
      '-H',
      'accept-encoding: gzip',
      '-H',
      `authorization: Bearer ${KEY}`,
      '-H',
      'x-request-id: through-nginx-1',
      `${nginx.url}/api/agents`,
    ]);
    expect(gz.stdout).toMatch(/^content-encoding: gzip\r?$/im);
    expect(gz.stdout).toMatch(/^x-request-id: through-nginx-1\r?$/im);
    const metrics = await curl(['-o', '/dev/null', '-w', '%{http_code}', `${nginx.url}/metrics`]);
    expect(metrics.stdout).toBe('404');
    const plain = await curl([
      '-o',
      '/dev/null',
      '-w',
      '%{http_code} %{redirect_url}',
      `${nginx.httpUrl}/health`,
    ]);
    expect(plain.stdout).toMatch(/^301 https:\/\//);
  });

  it('streams a swarm through nginx without buffering, to its end', async () => {
    llm.setResponder((req) =>
      agentOf(req).startsWith('impl') ? implementer(0.9) : validator(0.95),
    );
    const id = await submit(api[0]!, {
      objective: 'stream via nginx',
      agents: ['impl-a'],
      validators: ['val-a'],
    });
    const res = await viaNginx(`/api/swarms/${id}/events`);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(res.headers.get('content-encoding')).toBeNull();
    const events = parseSse(await res.text());
    expect(events.at(-1)!.event).toBe('swarm.completed');
  });

  it('streams live events on one replica and cancels through the other while a call hangs', async () => {
    llm.setResponder((req) => (agentOf(req) === 'impl-a' ? { hang: true } : implementer(0.9)));
    const id = await submit(api[0]!, {
      objective: 'cancel me',
      agents: ['impl-a'],
      validators: ['val-a'],
    });
    const stream = await fetch(`${api[0]}/api/swarms/${id}/events`, {
      headers: { authorization: `Bearer ${KEY}` },
    });
    const text = stream.text();
    await llm.waitUntil(
      (rs) => rs.some((r) => agentOf(r) === 'impl-a' && r.body && !r.completed),
      30_000,
    );
    const cancel = await fetch(`${api[1]}/api/swarms/${id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(cancel.status).toBe(202);
    const events = parseSse(await text);
    expect(events.at(-1)).toMatchObject({
      event: 'swarm.completed',
      data: { status: 'cancelled' },
    });
    expect(events.map((e) => e.event)).toContain('task.started');
    // The worker holding the call aborted it: the fake server saw the client leave.
    await llm.waitUntil((rs) => rs.some((r) => agentOf(r) === 'impl-a' && r.clientClosed), 10_000);
  });

  it('pauses for a human decision, and resumes on a worker when it is sent to the other replica', async () => {
    llm.setResponder((req) =>
      agentOf(req).startsWith('impl') ? implementer(0.9) : validator(0.95),
    );
    const id = await submit(api[0]!, {
      objective: 'wait for a person',
      agents: ['impl-a'],
      validators: ['val-a'],
      mode: 'mvp',
      approval: 'human',
    });
    await waitForStatus(api[0]!, id, (st) => st === 'awaiting_decision');
    // The worker that ran it gave the swarm up while it waits; a decision hands it on again.
    await new Promise((r) => setTimeout(r, 300));
    const res = await fetch(`${api[1]}/api/swarms/${id}/decision`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'PROCEED', feedback: 'ship it' }),
    });
    expect(res.status).toBe(200);
    const s = await waitForStatus(
      api[0]!,
      id,
      (st) => !['queued', 'running', 'awaiting_decision'].includes(st),
      30_000,
    );
    expect(s).toMatchObject({ status: 'completed', decision: 'PROCEED' });
  });

  it('loses no swarm and repeats no completed call when a worker is SIGKILLed mid-run', async () => {
    const extra = await start('worker');
    // Answers take 150 ms; while frozen, new requests wait. The worker is killed while frozen,
    // once every answer sent so far is recorded: it dies holding calls in flight, and outside the
    // one window no system can close (an answer sent but not yet written by its receiver).
    const gate: { frozen?: Promise<void>; thaw: () => void } = { thaw: () => {} };
    llm.setResponder(async (req) => {
      if (gate.frozen) await gate.frozen;
      await new Promise((r) => setTimeout(r, 150));
      return agentOf(req).startsWith('impl') ? implementer(0.9) : validator(0.95);
    });
    const before = llm.requests.length;
    const ids = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        submit(api[i % 2]!, {
          objective: `survive a worker ${i}`,
          agents: ['impl-a', 'impl-b'],
          validators: ['val-a'],
          mode: 'mvp',
        }),
      ),
    );
    await llm.waitUntil((rs) => rs.length - before >= 6, 30_000);
    gate.frozen = new Promise<void>((r) => (gate.thaw = r));
    // Every answer already sent is in the log (as a task outcome) before the kill.
    const sentKeys = () =>
      llm.requests
        .slice(before)
        .filter((r) => r.completed)
        .map((r) => String(r.callKey));
    const recorded = async () => {
      const done = new Set<string>();
      for (const id of ids) {
        const res = await fetch(`${api[0]}/api/swarms/${id}`, {
          headers: { authorization: `Bearer ${KEY}` },
        });
        const body = (await res.json()) as {
          iterations: Array<{ tasks: Array<{ taskId: string; status: string }> }>;
        };
        for (const it of body.iterations)
          for (const t of it.tasks)
            if (t.status === 'succeeded' || t.status === 'failed') done.add(`${id}/${t.taskId}`);
      }
      return done;
    };
    const settledBy = Date.now() + 30_000;
    for (;;) {
      await new Promise((r) => setTimeout(r, 300)); // answers in their last 150 ms finish
      const done = await recorded();
      if (sentKeys().every((k) => done.has(k.replace(/\/llm\/\d+$/, '')))) break;
      if (Date.now() > settledBy)
        throw new Error('answers sent before the freeze were not recorded');
    }
    // The victim is a worker with calls in flight: the new one if it took a swarm, else the one
    // that did (a replacement keeps the suite's two workers).
    const running = await runningTaskWorkers(ids);
    const workerOf = (c: RunningCli) => `${os.hostname()}:${c.child.pid}`;
    const victim = running.has(workerOf(extra.proc))
      ? extra.proc
      : children.find((c) => c.child.exitCode === null && running.has(workerOf(c)));
    expect(victim, 'a worker holds calls in flight at the freeze').toBeDefined();
    victim!.child.kill('SIGKILL');
    await victim!.exited;
    if (victim !== extra.proc) await start('worker');
    gate.thaw();
    for (const id of ids) {
      const s = await waitForStatus(
        api[1]!,
        id,
        (st) => st !== 'queued' && st !== 'running',
        90_000,
      );
      expect(s.status).toBe('completed');
    }
    // Tasks the dead worker had started were taken over (their jobs came back as stalled).
    const killed = workerOf(victim!);
    let takenOver = 0;
    for (const id of ids) {
      const res = await fetch(`${api[0]}/api/swarms/${id}/events`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      const events = parseSse(await res.text());
      const startedThere = new Set(
        events
          .filter((e) => e.event === 'task.started' && e.data.worker === killed)
          .map((e) => String(e.data.taskId)),
      );
      takenOver += events.filter(
        (e) => e.event === 'task.succeeded' && startedThere.has(String(e.data.taskId)),
      ).length;
    }
    expect(takenOver).toBeGreaterThan(0);
    const completed = llm.requests.slice(before).filter((r) => r.completed);
    const keys = completed.map((r) => r.callKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBeGreaterThanOrEqual(ids.length * 3);
  }, 120_000);

  it('gives its swarm back on SIGTERM: the call stops, another worker finishes the swarm', async () => {
    let hang = true;
    llm.setResponder((req) =>
      hang && agentOf(req) === 'impl-a'
        ? { hang: true }
        : agentOf(req).startsWith('impl')
          ? implementer(0.9)
          : validator(0.95),
    );
    const before = llm.requests.length;
    const id = await submit(api[0]!, {
      objective: 'outlive a rolling restart',
      agents: ['impl-a'],
      validators: ['val-a'],
      mode: 'mvp',
    });
    await llm.waitUntil(
      (rs) => rs.slice(before).some((r) => agentOf(r) === 'impl-a' && r.body && !r.completed),
      30_000,
    );
    // The worker running the swarm is the one its task.started names.
    const started = await firstEvent(api[0]!, id, 'task.started');
    const runner = children.find(
      (c) => `${os.hostname()}:${c.child.pid}` === String(started?.data.worker),
    );
    expect(runner).toBeDefined();
    hang = false;
    const t0 = Date.now();
    runner!.child.kill('SIGTERM');
    // The hanging call is aborted when the shutdown timeout (10 s) is up; the process exits 0.
    expect(await runner!.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(20_000);
    await llm.waitUntil(
      (rs) => rs.slice(before).some((r) => agentOf(r) === 'impl-a' && r.clientClosed),
      10_000,
    );
    const s = await waitForStatus(api[1]!, id, (st) => st !== 'queued' && st !== 'running', 60_000);
    expect(s.status).toBe('completed');
    // Another worker took the open task over, as it was (one task.started, no task.failed for
    // the aborted call), and its call is the task's only completed one.
    const events = parseSse(
      await (
        await fetch(`${api[1]}/api/swarms/${id}/events`, {
          headers: { authorization: `Bearer ${KEY}` },
        })
      ).text(),
    );
    const workers = events
      .filter((e) => e.event === 'task.started' && e.data.taskId === started?.data.taskId)
      .map((e) => e.data.worker);
    expect(workers).toEqual([started?.data.worker]);
    expect(events.filter((e) => e.event === 'task.failed')).toEqual([]);
    const calls = llm.requests.slice(before).filter((r) => agentOf(r) === 'impl-a');
    expect(calls.filter((r) => r.completed)).toHaveLength(1);
    expect(calls.filter((r) => r.clientClosed).length).toBeGreaterThanOrEqual(1);
  }, 90_000);
});
