// The guide's emergency restore from a given file: `cfn restore ./claude_flow_backup_….sql.gz`
// with its manifest next to it (checksum verified) or without (not verifiable: said, --yes
// needed), embedded and on PostgreSQL, including a dump made by the guide's own pg_dump script;
// and the guide's own line, `gunzip -c $BACKUP_FILE | psql …`, against our dumps, into an empty
// database and into the live one.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/adapters/db/database.js';
import { createLogger } from '../../src/observability/logger.js';
import { captureLogs } from '../support/log-capture.js';
import { runCli } from '../support/cli.js';
import { createTestDatabase } from '../support/services.js';
import { fingerprint, scribble, seedRealisticData } from './fixtures.js';
import { backupTools, onCleanup, openRuntime, tempDir } from './harness.js';

const sh = promisify(execFile);
const FAST = { CFN_REPLICA_STALE_MS: '5000', LOG_LEVEL: 'error', BACKUP_SCHEDULES: 'off' };

/** Copies a backup file (and its manifest, when asked) into a directory of its own. */
function copyOut(target: string, key: string, withManifest: boolean): string {
  const dir = tempDir('cfn-file-');
  const file = path.join(dir, path.basename(key));
  fs.copyFileSync(path.join(target, key), file);
  if (withManifest) {
    const manifest = key.replace(/\.sql\.gz(\.enc)?$/, '.manifest.json');
    fs.copyFileSync(path.join(target, manifest), path.join(dir, path.basename(manifest)));
  }
  return file;
}

async function keyNames(env: Record<string, string>): Promise<string[]> {
  const r = await runCli(['keys', 'list', '--direct', '--json'], { env });
  return (JSON.parse(r.stdout) as Array<{ name: string }>).map((k) => k.name).sort();
}

describe('restore from a file', () => {
  it('embedded: with its manifest the checksum is verified, without it that is said and --yes needed', async () => {
    const env = { CFN_DATA_DIR: tempDir('cfn-data-'), ...FAST };
    expect((await runCli(['keys', 'create', '--name', 'kept', '--direct'], { env })).code).toBe(0);
    const created = await runCli(['backup', 'create', '--json'], { env });
    const m = JSON.parse(created.stdout) as { key: string };
    const target = path.join(env.CFN_DATA_DIR, 'backups');
    const bare = copyOut(target, m.key, false);
    const described = copyOut(target, m.key, true);
    expect((await runCli(['keys', 'create', '--name', 'later', '--direct'], { env })).code).toBe(0);

    const unconfirmed = await runCli(['restore', bare], { env });
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain(
      `No manifest next to ${bare}: its checksum cannot be verified, only that it decodes completely`,
    );
    expect(unconfirmed.stderr).toContain(`To confirm, run: cfn restore ${bare} --yes`);
    expect(await keyNames(env)).toEqual(['kept', 'later']);

    const checked = await runCli(['restore', described], { env });
    expect(checked.stderr).toMatch(
      /Checksum verified against the manifest; the whole backup decodes/,
    );

    const restored = await runCli(['restore', bare, '--yes', '--json'], { env });
    expect(restored.code).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({
      origin: 'file',
      location: bare,
      checksum: 'unverifiable',
      kind: 'pglite',
    });
    expect(await keyNames(env)).toEqual(['kept']);

    // A damaged file with its manifest is refused before anything is touched.
    const bytes = fs.readFileSync(described);
    const at = bytes.length >> 1;
    bytes[at] = bytes[at]! ^ 0xff;
    fs.writeFileSync(described, bytes);
    const damaged = await runCli(['restore', described, '--yes'], { env });
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toMatch(/is damaged: .* the manifest says/);
  }, 240_000);

  it('PostgreSQL: our dump file, bare, and one made by the guide’s pg_dump script', async () => {
    const { runtime, env } = await openRuntime('postgres', FAST);
    await seedRealisticData(runtime, 20);
    const tools = backupTools(runtime, env);
    const m = await tools.create({ type: 'database' });
    const backedUp = await fingerprint(runtime.database);
    const bare = copyOut(runtime.config.backup.target, m.key, false);

    await scribble(runtime.database);
    const plan = await tools.restorePlan(bare);
    expect(plan).toMatchObject({ checksum: 'unverifiable', kind: 'postgres', swarmsInBackup: 26 });
    const report = await tools.restore(bare);
    expect(report.checksum).toBe('unverifiable');
    expect(await fingerprint(runtime.database)).toEqual(backedUp);

    // The guide's backup script: plain pg_dump, gzip, no manifest, owners and all.
    const dir = tempDir('cfn-guide-');
    const file = path.join(dir, 'claude_flow_backup_20261101_020000.sql');
    await sh('bash', ['-c', 'pg_dump "$1" > "$2" && gzip "$2"', '_', runtime.database.url!, file]);
    await scribble(runtime.database);
    await tools.restore(`${file}.gz`);
    expect(await fingerprint(runtime.database)).toEqual(backedUp);
  }, 120_000);

  it('`gunzip -c $BACKUP_FILE | psql` loads our dump into an empty database and into the live one', async () => {
    const { runtime, env } = await openRuntime('postgres', FAST);
    await seedRealisticData(runtime, 20);
    const m = await backupTools(runtime, env).create({ type: 'database' });
    const backedUp = await fingerprint(runtime.database);
    const file = path.join(runtime.config.backup.target, m.key);
    const guideLine = async (url: string) => {
      const r = await sh('bash', [
        '-c',
        'gunzip -c "$1" | psql -X -q -d "$2" 2>&1',
        '_',
        file,
        url,
      ]);
      expect(r.stdout).not.toMatch(/ERROR/);
    };

    const empty = await createTestDatabase();
    onCleanup(() => empty.drop());
    await guideLine(empty.url);
    const logger = createLogger({ level: 'warn', version: 't', destination: captureLogs().stream });
    const copy = await openDatabase({ url: empty.url, dataDir: tempDir(), logger });
    onCleanup(() => copy.close());
    expect(await fingerprint(copy)).toEqual(backedUp);

    await scribble(runtime.database);
    await guideLine(runtime.database.url!);
    expect(await fingerprint(runtime.database)).toEqual(backedUp);
  }, 120_000);
});
