// The embedded profile while `cfn start` runs: it holds the PGlite database, so `cfn backup
// create|list`, `cfn restore`, `cfn maintenance` and `cfn keys` run through its admin API (found
// in the data directory, an admin key required) instead of refusing; commands that must open the
// database themselves say so.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, type RunningCli } from '../support/cli.js';
import { tempDir } from './harness.js';

const KEY = 'cfn_through_service_admin_key_0123456789';
let service: RunningCli;
let url: string;
let env: Record<string, string>;
let withKey: Record<string, string>;

const cli = (args: string[], e = withKey) => runCli(args, { env: e, timeoutMs: 120_000 });
const createKey = (name: string) =>
  fetch(`${url}/api/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, role: 'viewer' }),
  });
async function keyNames(): Promise<string[]> {
  const r = await cli(['keys', 'list', '--json']);
  return (JSON.parse(r.stdout) as Array<{ name: string }>).map((k) => k.name).sort();
}

beforeAll(async () => {
  env = {
    CFN_DATA_DIR: tempDir('cfn-embedded-'),
    CFN_BOOTSTRAP_ADMIN_KEY: KEY,
    BACKUP_SCHEDULES: 'off',
    CFN_REPLICA_HEARTBEAT_MS: '200',
    CFN_REPLICA_STALE_MS: '5000',
    LOG_LEVEL: 'error',
  };
  withKey = { ...env, CFN_API_KEY: KEY };
  service = spawnCli(['start'], {
    env: { ...env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
  });
  url = String((await service.waitForLog((l) => l.msg === 'listening')).url);
}, 60_000);

afterAll(async () => {
  if (service.child.exitCode === null) {
    service.child.kill('SIGTERM');
    await service.exited;
  }
});

describe('the CLI through the running embedded service', () => {
  it('needs an admin key, and says why', async () => {
    const r = await cli(['backup', 'create'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `cfn: This command runs through the service's API at ${url} because the embedded database is in ` +
        `use by the running service (pid ${service.child.pid}), which needs an admin API key: pass --key or set CFN_API_KEY.\n`,
    );
    const keys = await cli(['keys', 'list', '--direct'], env);
    expect(keys.stderr).toMatch(
      /in use by the running service .*drop --direct and pass an admin key/,
    );
    const verify = await cli(['backup', 'verify', 'latest']);
    expect(verify.stderr).toMatch(
      new RegExp(
        `in use by process ${service.child.pid}\\. This command opens the database itself: stop that process first`,
      ),
    );
  });

  it('creates and lists backups, manages keys, switches maintenance, restores', async () => {
    const created = await cli(['backup', 'create', '--json']);
    expect(created.code).toBe(0);
    const manifest = JSON.parse(created.stdout) as { id: string; key: string };
    const file = path.join(env.CFN_DATA_DIR!, 'backups', manifest.key);
    expect(fs.existsSync(file)).toBe(true);
    const list = await cli(['backup', 'list', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ manifest: expect.objectContaining({ id: manifest.id }) }),
    ]);

    // Keys: through the API, with or without --direct.
    const made = await cli([
      'keys',
      'create',
      '--name',
      'ops',
      '--role',
      'operator',
      '--direct',
      '--json',
    ]);
    expect(made.code).toBe(0);
    const opsKey = JSON.parse(made.stdout) as { id: string };
    expect(await keyNames()).toEqual(['bootstrap-admin', 'ops']);
    expect((await cli(['keys', 'revoke', opsKey.id])).stdout).toBe(
      `Revoked key "ops" (${opsKey.id}).\n`,
    );

    // Maintenance: on is acknowledged by the service before the command returns.
    const on = await cli(['maintenance', 'on', '--reason', 'drill']);
    expect(on.stdout).toMatch(
      /^Maintenance on since \S+ \(drill\)\. Turn it off with `cfn maintenance off`\.\n1 of 1 replica\(s\) acknowledged/,
    );
    expect((await createKey('refused')).status).toBe(503);
    const status = JSON.parse((await cli(['maintenance', 'status', '--json'])).stdout) as {
      enabled: boolean;
      service: { replicas: Array<{ pid: number; resumed: boolean }> };
    };
    expect(status.enabled).toBe(true);
    expect(status.service.replicas).toEqual([
      expect.objectContaining({ pid: service.child.pid, resumed: false }),
    ]);
    const off = await cli(['maintenance', 'off']);
    expect(off.stdout).toMatch(
      /^Maintenance off\.\nThe service is healthy: 1 replica\(s\) running/,
    );
    expect((await createKey('after-backup')).status).toBe(201);

    // Restore: the confirmation, then the restore itself, by id and from the file.
    const plan = await cli(['restore', 'latest']);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(/Checksum verified against the manifest/);
    const restored = await cli(['restore', 'latest', '--yes']);
    expect(restored.code).toBe(0);
    expect(restored.stdout).toMatch(
      new RegExp(
        `^Restored ${manifest.id}: .*\\nNothing of the current database was discarded.*\\n` +
          `Every replica stopped first: \\S+:${service.child.pid}:\\S+\\.\\n` +
          'Maintenance is off; the service is healthy: 1 replica\\(s\\) running',
      ),
    );
    expect(await keyNames()).toEqual(['bootstrap-admin']);
    expect((await createKey('again')).status).toBe(201);
    const fromFile = await cli(['restore', file, '--yes', '--json']);
    expect(JSON.parse(fromFile.stdout)).toMatchObject({ origin: 'file', checksum: 'verified' });
    expect(await keyNames()).toEqual(['bootstrap-admin']);

    // The restore is in the audit log (written after it, so it stays).
    const audit = (await (
      await fetch(`${url}/api/audit?action=backup.restored`, {
        headers: { authorization: `Bearer ${KEY}` },
      })
    ).json()) as { items: Array<{ actorName: string; target: string }> };
    expect(audit.items[0]).toMatchObject({ actorName: 'bootstrap-admin' });
  }, 240_000);
});
