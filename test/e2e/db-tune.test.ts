// `cfn db tune` against a PostgreSQL of the test's own: the guide's settings for the given memory
// against the server's, applied with ALTER SYSTEM and a reload, the restart-only ones reported as
// waiting, and all in place after the restart; what it cannot do it says, with exit 2.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../support/throwaway-postgres.js';

let server: ThrowawayPostgres;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-tune-'));
const env = () => ({ DATABASE_URL: server.url, CFN_DATA_DIR: dir });

interface Setting {
  name: string;
  current: string;
  recommended: string;
  matches: boolean;
  pendingRestart: boolean;
}
const byName = (stdout: string) =>
  Object.fromEntries(
    (JSON.parse(stdout) as { settings: Setting[] }).settings.map((s) => [s.name, s]),
  );

beforeAll(async () => {
  server = await startThrowawayPostgres();
}, 60_000);
afterAll(() => {
  server?.destroy();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('cfn db tune', () => {
  it('reports what differs from the settings for the host, exit 1', async () => {
    const r = await runCli(['db', 'tune', '--memory', '2GB', '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(1);
    const s = byName(r.stdout);
    expect(s.shared_buffers).toMatchObject({
      current: '128MB',
      recommended: '512MB',
      matches: false,
    });
    expect(s.checkpoint_completion_target).toMatchObject({ matches: true });
    const table = await runCli(['db', 'tune', '--memory', '2GB'], { env: env() });
    expect(table.stdout).toMatch(/^shared_buffers\s+128MB\s+512MB\s+differs$/m);
    expect(table.stdout).toContain('cfn db tune --apply');
  });

  it('applies them: reloadable ones at once, the others waiting for the restart, then all ok', async () => {
    const applied = await runCli(['db', 'tune', '--memory', '2GB', '--apply', '--json'], {
      env: env(),
    });
    expect(applied.code, applied.stderr).toBe(0);
    const s = byName(applied.stdout);
    expect(s.effective_cache_size).toMatchObject({ current: '1536MB', matches: true });
    expect(s.maintenance_work_mem).toMatchObject({ current: '128MB', matches: true });
    expect(s.shared_buffers).toMatchObject({
      current: '128MB',
      matches: false,
      pendingRestart: true,
    });
    expect(s.wal_buffers).toMatchObject({ matches: false, pendingRestart: true });
    server.stop();
    server.start();
    const after = await runCli(['db', 'tune', '--memory', '2GB'], { env: env() });
    expect(after.code, after.stdout + after.stderr).toBe(0);
    expect(after.stdout).toMatch(/^shared_buffers\s+512MB\s+512MB\s+ok$/m);
  }, 60_000);

  it('needs a superuser to apply, and says what to do instead', async () => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    await client.query('create role cfn_tuner login');
    await client.end();
    const u = new URL(server.url);
    u.username = 'cfn_tuner';
    const r = await runCli(['db', 'tune', '--memory', '4GB', '--apply'], {
      env: { DATABASE_URL: u.toString(), CFN_DATA_DIR: dir },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ALTER SYSTEM needs a superuser.*parameter group/);
  });

  it('asks for the memory of a database on another host, and refuses a bad size', async () => {
    const remote = await runCli(['db', 'tune'], {
      env: {
        DATABASE_URL: 'postgres://claudeflow@db.example.invalid/claudeflow',
        CFN_DATA_DIR: dir,
      },
    });
    expect(remote.code).toBe(2);
    expect(remote.stderr).toMatch(/runs on db\.example\.invalid: give its memory with --memory/);
    const bad = await runCli(['db', 'tune', '--memory', 'lots'], { env: env() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--memory: expected a size such as 8GB/);
  });
});
