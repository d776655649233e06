// The built `cfn` executable as a user runs it: first start on embedded defaults, health from the
// CLI, key management, bad configuration, and graceful shutdown with a request in flight.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, type RunningCli } from '../support/cli.js';

const KEY_RE = /cfn_[A-Za-z0-9_-]{20,}/;
let cwd: string;
const running: RunningCli[] = [];

beforeAll(() => {
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-e2e-'));
});
afterAll(async () => {
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  fs.rmSync(cwd, { recursive: true, force: true });
});

async function start(env: Record<string, string> = {}) {
  const r = spawnCli(['start'], { cwd, env: { PORT: '0', HOST: '127.0.0.1', ...env } });
  running.push(r);
  const listening = await r.waitForLog((l) => l.msg === 'listening');
  return { r, url: String(listening.url) };
}

async function stop(r: RunningCli) {
  r.child.kill('SIGTERM');
  return r.exited;
}

describe('first start on embedded defaults', () => {
  let adminKey = '';

  it('creates ./data, prints the admin key once, and is healthy', async () => {
    const { r, url } = await start({ LOG_DIR: 'logs' });
    expect(fs.existsSync(path.join(cwd, 'data', 'pglite'))).toBe(true);
    adminKey = r.stdout().match(KEY_RE)?.[0] ?? '';
    expect(adminKey).not.toBe('');
    expect(r.stdout()).toMatch(/shown ONCE/);

    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);

    const viaCli = await runCli(['health', '--url', url]);
    expect(viaCli.code).toBe(0);
    expect(viaCli.stdout).toMatch(/^CHECK\s+STATUS\s+LATENCY/m);
    expect(viaCli.stdout).toMatch(/^database\s+ok\s+[\d.]+ ms/m);

    expect(await stop(r)).toEqual({ code: 0, signal: null });
    // The key went to the terminal only: the log file never holds it.
    const logFile = fs.readFileSync(path.join(cwd, 'logs', 'app.log'), 'utf8');
    expect(logFile).toMatch(/"msg":"listening"/);
    expect(logFile).not.toContain(adminKey);
  });

  it('does not print a key on the next start, and the first key still works', async () => {
    const { r, url } = await start();
    expect(r.stdout()).not.toMatch(KEY_RE);
    const who = await fetch(`${url}/api/whoami`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    expect(who.status).toBe(200);
    expect(await who.json()).toMatchObject({ role: 'admin', name: 'bootstrap-admin' });

    // Key management through the CLI, against the running service.
    const created = await runCli(
      ['keys', 'create', '--name', 'ci-bot', '--role', 'operator', '--url', url, '--json'],
      {
        env: { CFN_API_KEY: adminKey },
      },
    );
    expect(created.code, created.stderr).toBe(0);
    const key = JSON.parse(created.stdout) as { id: string; key: string; role: string };
    expect(key.role).toBe('operator');
    expect(key.key).toMatch(KEY_RE);

    const list = await runCli(['keys', 'list', '--url', url, '--key', adminKey]);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+ROLE/m);
    expect(list.stdout).toContain('ci-bot');
    expect(list.stdout).not.toContain(key.key);

    const denied = await runCli(['keys', 'list', '--url', url, '--key', key.key]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/FORBIDDEN.*request id/);

    const revoked = await runCli(['keys', 'revoke', key.id, '--url', url, '--key', adminKey]);
    expect(revoked.code).toBe(0);
    const after = await fetch(`${url}/api/whoami`, {
      headers: { authorization: `Bearer ${key.key}` },
    });
    expect(after.status).toBe(401);

    expect(await stop(r)).toEqual({ code: 0, signal: null });

    const down = await runCli(['health', '--url', url]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/Cannot reach .* Is the service running\?/);
  });

  it('manages keys directly on the database while the service is stopped', async () => {
    const created = await runCli(
      ['keys', 'create', '--name', 'recovery', '--role', 'admin', '--direct'],
      { cwd, env: { LOG_LEVEL: 'warn' } },
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(KEY_RE);
    const list = await runCli(['keys', 'list', '--direct', '--all'], {
      cwd,
      env: { LOG_LEVEL: 'warn' },
    });
    expect(list.stdout).toContain('recovery');
    expect(list.stdout).toContain('ci-bot');
  });
});

describe('bad configuration', () => {
  it.each([
    ['PORT', 'abc', /PORT: expected an integer between 0 and 65535/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL: expected one of trace, debug/],
    [
      'DATABASE_URL',
      'mysql://db/x',
      /DATABASE_URL: expected a postgres:\/\/ or postgresql:\/\/ URL/,
    ],
    ['REDIS_URL', 'localhost:6379', /REDIS_URL: expected a redis:\/\/ or rediss:\/\/ URL/],
    ['SHUTDOWN_TIMEOUT_MS', '-5', /SHUTDOWN_TIMEOUT_MS: expected an integer/],
    [
      'CFN_BOOTSTRAP_ADMIN_KEY',
      'short',
      /CFN_BOOTSTRAP_ADMIN_KEY: expected at least 24 characters/,
    ],
  ])('%s=%s stops start-up with exit 1 and one line naming it', async (name, value, message) => {
    const r = await runCli(['start'], { cwd, env: { [name]: value } });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(r.stderr).not.toContain(value === 'short' ? 'short' : '\u0000');
  });
});

describe('graceful shutdown', () => {
  it('lets an in-flight request finish, refuses new connections, and exits 0', async () => {
    const bootstrap = 'cfn_e2e_bootstrap_key_0123456789abcdef';
    const dataDir = path.join(cwd, 'shutdown-data');
    const { r, url } = await start({
      CFN_DATA_DIR: dataDir,
      CFN_BOOTSTRAP_ADMIN_KEY: bootstrap,
      SHUTDOWN_TIMEOUT_MS: '15000',
      LOG_LEVEL: 'trace',
    });
    const { port } = new URL(url);

    // Start a request and send only half its body: it is in flight when SIGTERM arrives.
    const body = JSON.stringify({ name: 'in-flight', role: 'viewer' });
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/api/keys',
          headers: {
            authorization: `Bearer ${bootstrap}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 10));
      r.waitForLog((l) => l.msg === 'shutting down').then(async () => {
        // New connections are refused while the in-flight request is still open.
        await expect(fetch(`${url}/health`)).rejects.toThrow();
        req.end(body.slice(10));
      }, reject);
    });
    // Stop the service once it has started processing the request.
    await r.waitForLog((l) => l.msg === 'request started' && l.url === '/api/keys');
    r.child.kill('SIGTERM');

    const res = await response;
    expect(res.status).toBe(201);
    expect(JSON.parse(res.body)).toMatchObject({ name: 'in-flight', role: 'viewer' });
    expect(await r.exited).toEqual({ code: 0, signal: null });
    expect(r.stdout()).toMatch(/"msg":"shutdown complete"/);
  });
});
