// docker-compose.yml run for real with podman-compose: the app image built from the Dockerfile,
// and for the official images that cannot be pulled here the stand-ins of
// test/containers/compose.stand-ins.yml (PostgreSQL 15, Redis 7, nginx and an S3 store from Debian
// packages and s3rver, each with its official image's environment contract). The stack comes up
// with the guide's service names, a swarm runs through nginx (TLS) against the loopback fake LLM,
// the guide's `docker-compose exec postgres pg_isready` and slow-query check answer, nginx
// restarts, and `down -v` leaves nothing behind.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { startFakeLlm, type FakeLlm } from '../support/fake-llm.js';
import { freePort } from '../support/free-port.js';
import { buildImages, podman, podmanEnv, ROOT, run } from '../support/podman.js';
import { makeSelfSignedCert } from '../support/self-signed-cert.js';

const project = `cfn-compose-${process.pid}-${Date.now().toString(36)}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-compose-'));
const secret = () => randomBytes(12).toString('hex');
const KEY = `cfn_compose_${secret()}`;
let llm: FakeLlm;
let env: NodeJS.ProcessEnv;
let httpsPort: number;
let httpPort: number;
let up = false;
// nginx's certificate is self-signed: trusted as it is, for this stack only.
const tls = new Agent({ connect: { rejectUnauthorized: false } });

/** `docker-compose <args>` as podman-compose runs it, on the real file plus the stand-ins. */
const compose = (args: string[], timeoutMs = 300_000) =>
  run(
    'podman-compose',
    [
      '-p',
      project,
      '-f',
      path.join(ROOT, 'docker-compose.yml'),
      '-f',
      path.join(ROOT, 'test/containers/compose.stand-ins.yml'),
      ...args,
    ],
    { env, timeoutMs },
  );

const viaNginx = (route: string, init: { method?: string; body?: string } = {}) =>
  undiciFetch(`https://127.0.0.1:${httpsPort}${route}`, {
    ...init,
    dispatcher: tls,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
  });

beforeAll(async () => {
  await buildImages('app');
  await buildImages('stand-ins');
  // The containers reach this host as host.containers.internal (the network's gateway).
  llm = await startFakeLlm({ host: '0.0.0.0' });
  const llmPort = new URL(llm.url).port;
  [httpPort, httpsPort] = [await freePort(), await freePort()];
  const tlsDir = path.join(dir, 'tls');
  fs.mkdirSync(tlsDir);
  makeSelfSignedCert(tlsDir, { cn: 'localhost', key: 'tls.key', cert: 'tls.crt' });
  fs.chmodSync(tlsDir, 0o755);
  for (const f of fs.readdirSync(tlsDir)) fs.chmodSync(path.join(tlsDir, f), 0o644);
  // What .env would hold (.env.example documents each of them).
  env = {
    ...podmanEnv(),
    POSTGRES_PASSWORD: secret(),
    REDIS_PASSWORD: secret(),
    CFN_BOOTSTRAP_ADMIN_KEY: KEY,
    MINIO_ROOT_USER: `minio${secret().slice(0, 6)}`,
    MINIO_ROOT_PASSWORD: secret(),
    GRAFANA_ADMIN_PASSWORD: secret(),
    ANTHROPIC_API_KEY: 'test-key',
    ANTHROPIC_BASE_URL: `http://host.containers.internal:${llmPort}`,
    CFN_IMAGE_TAG: 'ci',
    HTTP_PORT: String(httpPort),
    HTTPS_PORT: String(httpsPort),
    NGINX_TLS_DIR: tlsDir,
  };
}, 30 * 60_000);

afterAll(async () => {
  if (up) await compose(['down', '-v']).catch(() => undefined);
  await llm?.close();
  await tls.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('docker-compose.yml under podman-compose', () => {
  it('brings up claude-flow-novice behind nginx, on postgres, redis and minio', async () => {
    // podman-compose knows no profiles: the services of the default stack are named.
    const started = await compose(['up', '-d', 'claude-flow-novice', 'nginx']);
    up = true;
    expect(started.code, started.stderr.slice(-3000)).toBe(0);
    let last = '';
    await eventually(
      'the service answering /health 200 through nginx',
      async () => {
        const res = await viaNginx('/health').catch((err: Error) => err);
        last = res instanceof Error ? String(res.cause ?? res.message) : String(res.status);
        return !(res instanceof Error) && res.status === 200;
      },
      180_000,
    ).catch(async (err: Error) => {
      const logs = await compose(['logs', '--tail', '20', 'claude-flow-novice', 'nginx']);
      throw new Error(`${err.message} (last: ${last})\n${logs.stdout}${logs.stderr}`);
    });
    const health = (await (await viaNginx('/health')).json()) as {
      checks: Record<string, { status: string }>;
    };
    expect(health.checks).toMatchObject({ database: { status: 'ok' }, redis: { status: 'ok' } });
    // Plain HTTP is sent to HTTPS.
    const plain = await fetch(`http://127.0.0.1:${httpPort}/health`, { redirect: 'manual' });
    expect(plain.status).toBe(301);
    const names = (
      await podman([
        'ps',
        '--filter',
        `label=io.podman.compose.project=${project}`,
        '--format',
        '{{.Names}}',
      ])
    ).split('\n');
    for (const service of ['claude-flow-novice', 'nginx', 'postgres', 'redis', 'minio'])
      expect(names).toContain(`${project}_${service}_1`);
  }, 600_000);

  it('runs a swarm submitted through nginx against the fake LLM', async () => {
    // The built-in coder and reviewer: one answer carries both output contracts.
    llm.setResponder(() => ({
      text: '{"confidence": 0.95, "summary": "done", "score": 0.95, "approve": true, "feedback": "fine"}',
    }));
    const before = llm.requests.length;
    const res = await viaNginx('/api/swarms', {
      method: 'POST',
      body: JSON.stringify({
        objective: 'greet the operator',
        agents: ['coder'],
        validators: ['reviewer'],
      }),
    });
    expect(res.status, await res.clone().text()).toBe(202);
    const { id } = (await res.json()) as { id: string };
    let status = '';
    await eventually(
      `swarm ${id} completed`,
      async () => {
        status = ((await (await viaNginx(`/api/swarms/${id}`)).json()) as { status: string })
          .status;
        return status === 'completed';
      },
      120_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message} (status ${status})`);
    });
    expect(llm.requests.length - before).toBeGreaterThanOrEqual(2);
    // The event stream's own location passes through unbuffered.
    const events = await viaNginx(`/api/swarms/${id}/events`);
    expect(events.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(await events.text()).toContain('swarm.completed');
  }, 180_000);

  it("answers the guide's database checks by service name", async () => {
    const ready = await compose(['exec', 'postgres', 'pg_isready'], 60_000);
    expect(ready.code, ready.stderr).toBe(0);
    expect(ready.stdout).toMatch(/accepting connections/);
    // pg_stat_statements is preloaded and created in claudeflow (mean_exec_time since PG 13).
    const slow = await compose(
      [
        'exec',
        '-T',
        'postgres',
        'psql',
        '-U',
        'claudeflow',
        '-d',
        'claudeflow',
        '-c',
        'SELECT query, mean_exec_time, calls FROM pg_stat_statements ORDER BY mean_exec_time DESC LIMIT 10;',
      ],
      60_000,
    );
    expect(slow.code, slow.stderr).toBe(0);
    expect(slow.stdout).toMatch(/\(10 rows\)/);
    const logs = await compose(['logs', 'claude-flow-novice'], 60_000);
    expect(logs.stdout + logs.stderr).toContain('"msg":"listening"');
  }, 120_000);

  it('serves again after `docker-compose restart nginx`, and tears down completely', async () => {
    const restarted = await compose(['restart', 'nginx'], 120_000);
    expect(restarted.code, restarted.stderr).toBe(0);
    await eventually(
      'nginx answering again',
      async () => (await viaNginx('/health').catch(() => undefined))?.status === 200,
      60_000,
    );
    const down = await compose(['down', '-v'], 300_000);
    expect(down.code, down.stderr).toBe(0);
    up = false;
    const label = `label=io.podman.compose.project=${project}`;
    expect(await podman(['ps', '-a', '--filter', label, '--format', '{{.Names}}'])).toBe('');
    expect(await podman(['volume', 'ls', '--filter', label, '--format', '{{.Name}}'])).toBe('');
  }, 420_000);
});
