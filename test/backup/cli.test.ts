// The backup commands as a user runs them (the built `cfn`), on the embedded database: JSON and
// table output, confirmation for restore, clear errors, no progress output when not a terminal.
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerBackupCommands } from '../../src/cli/backup-commands.js';
import { maintenanceSwitch } from '../../src/main/backup-runtime.js';
import { runCli } from '../support/cli.js';
import { backupTools, openRuntime, tempDir } from './harness.js';
import { seedRealisticData } from './fixtures.js';

describe('cfn backup, restore, dr drill', () => {
  it('creates, lists, verifies, restores and drills from the command line', async () => {
    const dataDir = tempDir('cfn-cli-');
    const env = { CFN_DATA_DIR: dataDir, LOG_LEVEL: 'error', BACKUP_SCHEDULES: 'off' };
    expect((await runCli(['keys', 'create', '--name', 'ops', '--direct'], { env })).code).toBe(0);

    const created = await runCli(['backup', 'create', '--json'], { env });
    expect(created.code).toBe(0);
    // Not a terminal: no progress line, nothing but the result.
    expect(created.stderr).toBe('');
    const manifest = JSON.parse(created.stdout) as { id: string; key: string; sha256: string };
    expect(fs.existsSync(path.join(dataDir, 'backups', manifest.key))).toBe(true);

    const app = await runCli(['backup', 'create', '--type', 'app-data'], { env });
    expect(app.stdout).toMatch(/^Created app-data backup app-data-\d{8}_\d{6}: app-data\/backup_/);

    const list = await runCli(['backup', 'list'], { env });
    expect(list.stdout).toMatch(/^ID +TYPE +CREATED +SIZE +ENCRYPTED +VERIFIED/);
    expect(list.stdout).toContain(manifest.id);

    const verify = await runCli(['backup', 'verify', 'latest'], { env });
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(new RegExp(`^Backup ${manifest.id} is good: sha256 matches`));

    const refused = await runCli(['restore', 'latest'], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/nothing was changed\./);
    expect(refused.stderr).toMatch(/To confirm, run: cfn restore latest --yes\n$/);

    const restored = await runCli(['restore', manifest.id, '--yes', '--json'], { env });
    expect(restored.code).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({ id: manifest.id });

    const drill = await runCli(['dr', 'drill', '--json'], { env });
    expect(drill.code).toBe(0);
    const report = JSON.parse(drill.stdout) as {
      ok: boolean;
      rtoSeconds: number;
      rpoSeconds: number;
    };
    expect(report.ok).toBe(true);
    expect(report.rtoSeconds).toBeGreaterThan(0);

    const prune = await runCli(['backup', 'prune', '--dry-run'], { env });
    expect(prune.stdout).toMatch(/0 backup\(s\) would be deleted; run without --dry-run/);
  }, 180_000);

  it('names the variable of a bad encryption key and says what it expects', async () => {
    const r = await runCli(['backup', 'list'], {
      env: { CFN_DATA_DIR: tempDir('cfn-cli-'), BACKUP_ENCRYPTION_KEY: 'too-short' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'cfn: Invalid environment variable BACKUP_ENCRYPTION_KEY: expected 32 bytes as 64 hex digits or base64 (openssl rand -base64 32)\n',
    );
  });

  it('says how to create the first backup, and how to find ids', async () => {
    const env = { CFN_DATA_DIR: tempDir('cfn-cli-'), LOG_LEVEL: 'error' };
    expect((await runCli(['backup', 'list'], { env })).stdout).toBe(
      'No backups yet. Create one with `cfn backup create`.\n',
    );
    const r = await runCli(['backup', 'verify', 'latest'], { env });
    expect(r.stderr).toMatch(/No database backup in .*: create one with `cfn backup create`/);
  });

  it('redraws a progress line on stderr when it is a terminal', async () => {
    const { runtime, env } = await openRuntime('pglite');
    await seedRealisticData(runtime, 5);
    let err = '';
    let out = '';
    const program = new Command('cfn').exitOverride();
    registerBackupCommands(program, {
      out: (t) => (out += t),
      err: (t) => (err += t),
      errIsTTY: true,
      async backups({ onProgress }) {
        return {
          service: backupTools(runtime, env, onProgress ? { onProgress } : {}),
          maintenance: maintenanceSwitch(runtime),
          close: async () => {},
        };
      },
    });
    await program.parseAsync(['node', 'cfn', 'backup', 'create']);
    expect(out).toMatch(/^Created database backup/);
    const clearLine = '\r\u001b[2K';
    expect(err).toContain(`${clearLine}writing database backup: `);
    expect(err.endsWith(clearLine)).toBe(true);
  });
});
