// The access blocklist across replicas, through the built `cfn`: two `cfn start` processes on one
// PostgreSQL database and one Redis prefix see the same automatic block; `cfn security blocklist
// add|list|remove` manage manual entries through the API, audited; `cfn security blocklist nginx`
// makes a deny list that a real nginx (deploy/nginx/nginx.conf) loads on reload and enforces with
// 403; the metrics say how many addresses are blocked; a bad value refuses start-up.
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, type RunningCli } from '../support/cli.js';
import { eventually } from '../support/eventually.js';
import { startNginx, type RunningNginx } from '../support/nginx.js';
import {
  connectTestRedis,
  createTestDatabase,
  type TestDatabase,
  type TestRedis,
} from '../support/services.js';

const KEY = 'cfn_access_blocklist_e2e_admin_key_0123456789';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-blocklist-'));
let db: TestDatabase;
let redis: TestRedis;
const procs: RunningCli[] = [];
const urls: string[] = [];
let nginx: RunningNginx | undefined;

function env(name: string): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    CFN_DATA_DIR: path.join(dir, name),
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix.slice(0, -1),
    CFN_BOOTSTRAP_ADMIN_KEY: KEY,
    CFN_SANDBOX: 'off',
    RATE_LIMIT_PER_MINUTE: '0',
    CFN_AUTH_BLOCK_THRESHOLD: '5',
    CFN_AUTH_BLOCK_WINDOW_S: '60',
    CFN_AUTH_BLOCK_DURATION_S: '600',
    // 127.0.0.1 (this test, the CLI) stays allowed; 127.0.0.2 can be blocked.
    CFN_AUTH_BLOCK_ALLOW: '127.0.0.1,::1',
  };
}

const call = (i: number, pathname: string, init: { key?: string; from?: string } = {}) =>
  fetch(`${urls[i]}${pathname}`, {
    headers: {
      ...(init.key ? { authorization: `Bearer ${init.key}` } : {}),
      ...(init.from ? { 'x-forwarded-for': init.from } : {}),
    },
    signal: AbortSignal.timeout(10_000),
  });

const cfn = (i: number, ...args: string[]) =>
  runCli(['security', 'blocklist', ...args, '--url', urls[i]!], { env: { CFN_API_KEY: KEY } });

async function metric(i: number, name: string): Promise<number> {
  const text = await (await call(i, '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return Number(line?.split(' ').pop());
}

/** GET through nginx's TLS listener from a given local address. */
function viaNginx(localAddress: string, pathname: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = https.get(
      `${nginx!.url}${pathname}`,
      { localAddress, rejectUnauthorized: false, headers: { authorization: `Bearer ${KEY}` } },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}

beforeAll(async () => {
  db = await createTestDatabase();
  redis = await connectTestRedis();
  for (const name of ['a', 'b']) {
    const proc = spawnCli(['start'], { cwd: dir, env: env(name) });
    procs.push(proc);
    urls.push(String((await proc.waitForLog((l) => l.msg === 'listening', 60_000)).url));
  }
}, 120_000);

afterAll(async () => {
  await nginx?.stop();
  for (const p of procs) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGTERM');
      await p.exited;
    }
  }
  await redis?.cleanup();
  await db?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('access blocklist across two replicas', () => {
  it('a burst of failed logins on one replica blocks the address on both', async () => {
    for (let i = 0; i < 5; i++)
      expect(
        (await call(0, '/api/whoami', { key: `cfn_guess_${i}`, from: '203.0.113.9' })).status,
      ).toBe(401);
    const blocked = await call(1, '/api/whoami', { key: KEY, from: '203.0.113.9' });
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await blocked.json()) as { error: { code: string } }).error.code).toBe(
      'CLIENT_BLOCKED',
    );
    expect((await call(1, '/api/whoami', { key: KEY, from: '203.0.113.10' })).status).toBe(200);
    expect(await metric(0, 'auth_blocks_total{reason="automatic"}')).toBe(1);
    expect(await metric(1, 'auth_blocks_total{reason="automatic"}')).toBe(0);
    expect(await metric(0, 'auth_blocked_clients')).toBe(1);
    expect(await metric(1, 'auth_blocked_clients')).toBe(1);
  });

  it('adds, lists and removes manual entries with the CLI, audited, seen by both replicas', async () => {
    const add = await cfn(
      0,
      'add',
      '127.0.0.2',
      '--reason',
      'e2e: probing\nnext line',
      '--for',
      '2h',
    );
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/^Blocked 127\.0\.0\.2 until \d{4}-/);
    // The other replica reads manual entries every few seconds.
    await eventually(
      'manual block on replica b',
      async () => (await call(1, '/api/whoami', { key: KEY, from: '127.0.0.2' })).status === 429,
      15_000,
    );

    const list = await cfn(1, 'list', '--json');
    expect(list.code).toBe(0);
    const items = JSON.parse(list.stdout) as Array<Record<string, unknown>>;
    expect(items.map((b) => [b.address, b.source])).toEqual([
      ['127.0.0.2', 'manual'],
      ['203.0.113.9', 'automatic'],
    ]);
    const manual = items[0]!;
    expect(manual).toMatchObject({
      reason: 'e2e: probing\nnext line',
      createdBy: 'bootstrap-admin',
    });
    const hours = (Date.parse(String(manual.expiresAt)) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(1.9);
    expect(hours).toBeLessThanOrEqual(2);
    const table = await cfn(0, 'list');
    expect(table.stdout).toMatch(/^ADDRESS\s+SOURCE\s+EXPIRES\s+BY\s+REASON/);
    expect(table.stdout).toContain('(failed authentications)');
    expect(await metric(0, 'auth_blocked_clients')).toBe(2);
    expect(await metric(0, 'auth_blocks_total{reason="manual"}')).toBe(1);

    const audit = (await (
      await call(1, '/api/audit?action=blocklist.add', { key: KEY })
    ).json()) as { items: Array<Record<string, unknown>> };
    expect(audit.items).toEqual([
      expect.objectContaining({
        action: 'blocklist.add',
        actorName: 'bootstrap-admin',
        target: '127.0.0.2',
        details: { reason: 'e2e: probing\nnext line', expiresAt: manual.expiresAt },
        ip: '127.0.0.1',
      }),
    ]);

    // An invalid address, a bad duration: refused, nothing written.
    const bad = await cfn(0, 'add', 'not-an-ip', '--reason', 'x');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/VALIDATION_FAILED/);
    const badFor = await cfn(0, 'add', '192.0.2.1', '--reason', 'x', '--for', 'soon');
    expect(badFor.code).not.toBe(0);
    expect(badFor.stderr).toMatch(/duration/);
  }, 60_000);

  it('prints an nginx deny list that a real nginx loads on reload and enforces with 403', async () => {
    nginx = await startNginx(urls.map((u) => new URL(u).host));
    // Before: both local addresses get through nginx to the service.
    expect((await viaNginx('127.0.0.1', '/api/whoami')).status).toBe(200);
    // The service itself refuses 127.0.0.2 (its address, as nginx forwards it).
    expect((await viaNginx('127.0.0.2', '/api/whoami')).status).toBe(429);

    const out = await cfn(0, 'nginx');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^# Access blocklist of claude-flow-novice/);
    expect(out.stdout).toContain('deny 127.0.0.2;\n');
    expect(out.stdout).toContain('deny 203.0.113.9;\n');
    // The reason's newline cannot end the comment and inject a directive.
    expect(out.stdout).toContain('# manual, until');
    expect(out.stdout).not.toMatch(/^next line/m);
    expect(out.stdout.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([
      'deny 127.0.0.2;',
      'deny 203.0.113.9;',
    ]);
    expect((await cfn(0, 'list', '--nginx')).stdout.split('\n').slice(4)).toEqual(
      out.stdout.split('\n').slice(4),
    );
    fs.writeFileSync(path.join(nginx.blocklistDir, 'cfn.conf'), out.stdout);
    await nginx.reload();
    await eventually(
      'nginx denies 127.0.0.2',
      async () => (await viaNginx('127.0.0.2', '/api/whoami')).status === 403,
      10_000,
    );
    const denied = await viaNginx('127.0.0.2', '/health/live');
    expect(denied.status).toBe(403);
    expect(denied.body).toContain('403 Forbidden'); // nginx's own page: it never reached the service
    expect((await viaNginx('127.0.0.1', '/api/whoami')).status).toBe(200);
  }, 60_000);

  it('removes entries with the CLI: the address is admitted on both replicas', async () => {
    const removed = await cfn(1, 'remove', '127.0.0.2', '--json');
    expect(removed.code).toBe(0);
    expect(JSON.parse(removed.stdout)).toEqual({
      address: '127.0.0.2',
      manual: true,
      automatic: false,
    });
    const lifted = await cfn(0, 'remove', '203.0.113.9');
    expect(lifted.stdout).toBe('Unblocked 203.0.113.9 (automatic block removed).\n');
    expect((await call(0, '/api/whoami', { key: KEY, from: '203.0.113.9' })).status).toBe(200);
    await eventually(
      'manual block lifted on replica a',
      async () => (await call(0, '/api/whoami', { key: KEY, from: '127.0.0.2' })).status === 200,
      15_000,
    );
    const again = await cfn(0, 'remove', '127.0.0.2');
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/NOT_FOUND/);
    expect(JSON.parse((await cfn(0, 'list', '--json')).stdout)).toEqual([]);
    expect(await metric(1, 'auth_blocked_clients')).toBe(0);

    const audit = (await (
      await call(0, '/api/audit?action=blocklist.remove', { key: KEY })
    ).json()) as { items: Array<Record<string, unknown>> };
    expect(audit.items.map((e) => [e.target, e.details])).toEqual([
      ['203.0.113.9', { manual: false, automatic: true }],
      ['127.0.0.2', { manual: true, automatic: false }],
    ]);
  }, 60_000);
});

describe('configuration', () => {
  it.each([
    ['CFN_AUTH_BLOCK_THRESHOLD', 'many'],
    ['CFN_AUTH_BLOCK_WINDOW_S', '0'],
    ['CFN_AUTH_BLOCK_DURATION_S', '-5'],
    ['CFN_AUTH_BLOCK_ALLOW', '10.0.0.0/99'],
  ])('refuses to start with a bad %s, naming it', async (variable, value) => {
    const r = await runCli(['start'], {
      cwd: dir,
      env: { CFN_DATA_DIR: path.join(dir, `bad-${variable}`), PORT: '0', [variable]: value },
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`Invalid environment variable ${variable}`);
  });
});
