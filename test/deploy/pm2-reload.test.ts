// The shipped ecosystem.config.cjs under the real PM2 (the devDependency's CLI, with a PM2_HOME of
// this run): it starts `cfn serve` in cluster mode and `cfn worker` on the real PostgreSQL (a
// database of this run) and Redis (a key prefix of this run), and `pm2 reload claude-flow-novice`
// replaces every API instance without a failed request, for clients that open a connection per
// request and for clients that keep theirs alive (as the shipped nginx does with its upstreams).
// A swarm whose model call is held across the reload completes afterwards.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv } from '../support/cli.js';
import { eventually } from '../support/eventually.js';
import { startFakeLlm, type FakeLlm } from '../support/fake-llm.js';
import { freePort } from '../support/free-port.js';
import {
  connectTestRedis,
  createTestDatabase,
  type TestDatabase,
  type TestRedis,
} from '../support/services.js';
import { agentOf, implementer, validator, writeAgents } from '../support/swarm-harness.js';
import { ROOT } from './repo.js';

const API_APP = 'claude-flow-novice';
const WORKER_APP = 'claude-flow-novice-worker';
const KEY = 'cfn_pm2_reload_test_admin_key_0123456789';
const PM2_BIN = path.join(ROOT, 'node_modules/pm2/bin/pm2');
/** Clients of each kind in the request loop. */
const CLIENTS = 3;
/** Requests of each kind that must run wholly within the reload for the test to mean anything. */
const MIN_DURING_RELOAD = 100;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-pm2-'));
const pm2Home = path.join(dir, 'pm2');
const logDir = path.join(dir, 'logs');
let llm: FakeLlm | undefined;
let db: TestDatabase | undefined;
let redis: TestRedis | undefined;
let env: NodeJS.ProcessEnv = {};
let apiPort: number;
let workerPort: number;
/** Lets the fake LLM answer the implementer call held across the reload. */
let release = () => {};

interface Pm2Process {
  name: string;
  pid: number;
  pm2_env: { status: string; exec_mode: string };
}

async function pm2(args: string[], timeoutMs = 60_000): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [PM2_BIN, ...args], {
    cwd: ROOT,
    // Never PM2's default home (~/.pm2), even before beforeAll has set the rest.
    env: { ...env, PM2_HOME: pm2Home },
    timeout: timeoutMs,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

const list = async () => JSON.parse(await pm2(['jlist'])) as Pm2Process[];
const pidsOf = (ps: Pm2Process[], name: string) =>
  ps
    .filter((p) => p.name === name)
    .map((p) => p.pid)
    .sort();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A free loopback port whose next one is free too (the workers take PORT, PORT + 1). */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freePort();
    const nextFree = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port + 1, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (nextFree && port + 1 < 65536) return port;
  }
  throw new Error('no two consecutive free ports');
}

interface Outcome {
  keepAlive: boolean;
  start: number;
  end: number;
  status?: number;
  error?: string;
  /** Sent on a connection kept alive from an earlier request. */
  reused?: boolean;
  /** Answered with `Connection: close`. */
  closing?: boolean;
}

/** One GET; any answer but 200, and any connection error, is a failure. */
function get(port: number, pathname: string, agent: http.Agent | false): Promise<Outcome> {
  const keepAlive = agent !== false;
  const start = performance.now();
  return new Promise((resolve) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port,
        path: pathname,
        agent,
        timeout: 15_000,
        headers: { authorization: `Bearer ${KEY}`, ...(keepAlive ? {} : { connection: 'close' }) },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            keepAlive,
            start,
            end: performance.now(),
            status: res.statusCode,
            reused: req.reusedSocket,
            closing: res.headers.connection === 'close',
          }),
        );
        res.on('error', (err) =>
          resolve({ keepAlive, start, end: performance.now(), error: String(err) }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ keepAlive, start, end: performance.now(), error: err.code ?? err.message }),
    );
  });
}

/**
 * Clients that each send their next GET as soon as the last one is answered, until stop(): half
 * on a new connection each time, half on one kept-alive connection each.
 */
function requestLoop(port: number, pathname: string) {
  const outcomes: Outcome[] = [];
  let stopped = false;
  const agents: http.Agent[] = [];
  const client = async (agent: http.Agent | false) => {
    while (!stopped) outcomes.push(await get(port, pathname, agent));
  };
  const clients = Array.from({ length: CLIENTS }, () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    return [client(false), client(agent)];
  }).flat();
  return {
    outcomes,
    async stop() {
      stopped = true;
      await Promise.all(clients);
      for (const a of agents) a.destroy();
    },
  };
}

/** The API's log file (LOG_DIR/app.log), one JSON object per line. */
function appLog(): Array<Record<string, unknown>> {
  const file = path.join(logDir, 'app.log');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function answers(port: number, pathname: string): Promise<boolean> {
  const o = await get(port, pathname, false);
  return o.status === 200;
}

beforeAll(async () => {
  llm = await startFakeLlm();
  db = await createTestDatabase();
  redis = await connectTestRedis();
  writeAgents(path.join(dir, 'agents'));
  apiPort = await freePort();
  do {
    workerPort = await freePortPair();
  } while (workerPort === apiPort || workerPort + 1 === apiPort);
  env = childEnv({
    PM2_HOME: pm2Home,
    // Read by ecosystem.config.cjs.
    PORT: String(apiPort),
    CFN_WORKER_PORT: String(workerPort),
    LOG_DIR: logDir,
    // Handed on to the apps by `pm2 start` (README "Configuration").
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix.replace(/:$/, ''),
    CFN_DATA_DIR: path.join(dir, 'data'),
    CFN_AGENTS_DIR: path.join(dir, 'agents'),
    CFN_WORKSPACE_ROOTS: path.join(dir, 'workspaces'),
    CFN_BOOTSTRAP_ADMIN_KEY: KEY,
    CFN_QUEUE_LOCK_MS: '2000',
    RATE_LIMIT_PER_MINUTE: '0',
    ANTHROPIC_API_KEY: 'test-key',
    ANTHROPIC_BASE_URL: llm.url,
  });
  await pm2(['start', 'ecosystem.config.cjs']);
  await eventually(
    'PM2 shows 2 API instances and 2 workers online',
    async () => {
      const ps = await list();
      return (
        ps.length === 4 &&
        ps.every((p) => p.pm2_env.status === 'online') &&
        pidsOf(ps, API_APP).length === 2
      );
    },
    60_000,
  );
  await eventually(
    'the API and both workers answer',
    async () =>
      (await answers(apiPort, '/health/ready')) &&
      (await answers(workerPort, '/health/live')) &&
      (await answers(workerPort + 1, '/health/live')),
    60_000,
  );
}, 120_000);

afterAll(async () => {
  // Whatever happened: stop this run's PM2 daemon and its apps, then drop the database.
  release();
  const pidFile = path.join(pm2Home, 'pm2.pid');
  if (fs.existsSync(pidFile)) {
    let pids: number[] = [];
    try {
      pids = (await list()).map((p) => p.pid);
      await pm2(['kill'], 60_000);
    } catch {
      const daemon = Number(fs.readFileSync(pidFile, 'utf8'));
      for (const pid of [daemon, ...pids]) if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
    }
  }
  await llm?.close();
  await redis?.cleanup();
  await db?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('PM2 with ecosystem.config.cjs', () => {
  it('runs the API in cluster mode and the workers, on PostgreSQL and Redis', async () => {
    const ps = await list();
    expect(ps.filter((p) => p.name === API_APP).map((p) => p.pm2_env.exec_mode)).toEqual([
      'cluster_mode',
      'cluster_mode',
    ]);
    expect(ps.filter((p) => p.name === WORKER_APP).map((p) => p.pm2_env.exec_mode)).toEqual([
      'fork_mode',
      'fork_mode',
    ]);
    const swarms = await get(apiPort, '/api/swarms', false);
    expect(swarms.status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${apiPort}/health/ready`);
    expect(await ready.json()).toMatchObject({
      ready: true,
      checks: { database: { status: 'ok' }, redis: { status: 'ok' } },
    });
  });

  it('reloads the API one instance at a time without a failed request', async () => {
    // A swarm whose implementer call is held until the reload is over.
    const held = new Promise<void>((r) => (release = r));
    llm!.setResponder(async (req) => {
      if (agentOf(req).startsWith('impl')) {
        await held;
        return implementer(0.9);
      }
      return validator(0.95);
    });
    const submitted = await fetch(`http://127.0.0.1:${apiPort}/api/swarms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        objective: 'outlive a reload',
        agents: ['impl-a'],
        validators: ['val-a'],
        mode: 'mvp',
      }),
    });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    await llm!.waitUntil((rs) => rs.some((r) => agentOf(r) === 'impl-a'), 30_000);

    const before = await list();
    const apiBefore = pidsOf(before, API_APP);
    const workersBefore = pidsOf(before, WORKER_APP);
    const shutdownsBefore = appLog().filter((l) => l.msg === 'shutdown complete').length;

    const loop = requestLoop(apiPort, '/api/swarms?limit=1');
    // Every client is under way before the reload starts.
    await eventually(
      'the request loop runs',
      () =>
        loop.outcomes.filter((o) => o.keepAlive).length >= 3 * CLIENTS &&
        loop.outcomes.filter((o) => !o.keepAlive).length >= 3 * CLIENTS,
      20_000,
    );
    const reloadStart = performance.now();
    await pm2(['reload', API_APP]);
    const reloadEnd = performance.now();
    await new Promise((r) => setTimeout(r, 500));
    await loop.stop();

    const failures = loop.outcomes.filter((o) => o.status !== 200);
    const inReload = loop.outcomes.filter((o) => o.start >= reloadStart && o.end <= reloadEnd);
    const during = (keepAlive: boolean) => inReload.filter((o) => o.keepAlive === keepAlive).length;
    const reused = inReload.filter((o) => o.keepAlive && o.reused).length;
    const after = await list();
    const apiAfter = pidsOf(after, API_APP);
    const report = {
      reloadMs: Math.round(reloadEnd - reloadStart),
      requests: loop.outcomes.length,
      duringReload: {
        newConnection: during(false),
        keepAlive: during(true),
        keepAliveReused: reused,
        toldToReconnect: loop.outcomes.filter((o) => o.keepAlive && o.closing).length,
      },
      failures: failures.length,
      apiPids: { before: apiBefore, after: apiAfter },
    };
    console.log(`pm2 reload: ${JSON.stringify(report)}`);

    expect(failures.slice(0, 10), JSON.stringify(report)).toEqual([]);
    expect(during(false)).toBeGreaterThanOrEqual(MIN_DURING_RELOAD);
    expect(during(true)).toBeGreaterThanOrEqual(MIN_DURING_RELOAD);
    // The kept-alive clients did keep their connections: most requests went on an open one.
    expect(reused).toBeGreaterThan(during(true) * 0.9);
    // The reload happened: two new API processes, online, the old ones gone; workers untouched.
    expect(apiAfter).toHaveLength(2);
    for (const pid of apiAfter) expect(apiBefore).not.toContain(pid);
    for (const pid of apiBefore) expect(alive(pid), `old API pid ${pid}`).toBe(false);
    expect(after.every((p) => p.pm2_env.status === 'online')).toBe(true);
    expect(pidsOf(after, WORKER_APP)).toEqual(workersBefore);
    // Each old instance stopped gracefully (SIGINT from PM2, no SIGKILL, no request cut short).
    const log = appLog();
    expect(log.filter((l) => l.msg === 'shutdown complete').length - shutdownsBefore).toBe(2);
    expect(log.filter((l) => l.msg === 'in-flight requests did not finish in time')).toEqual([]);

    // The swarm submitted before the reload completes, read through the new instances.
    release();
    let status = '';
    await eventually(
      'the swarm completes after the reload',
      async () => {
        const res = await fetch(`http://127.0.0.1:${apiPort}/api/swarms/${id}`, {
          headers: { authorization: `Bearer ${KEY}` },
        });
        status = ((await res.json()) as { status: string }).status;
        return status !== 'queued' && status !== 'running';
      },
      30_000,
    );
    expect(status).toBe('completed');
  }, 90_000);
});
