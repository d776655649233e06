// A damaged or unusable backup never reaches the live database: a flipped byte, a truncated
// file, a wrong key, a missing object and a tampered file with a forged checksum each fail with
// a clear message, and the live data and maintenance mode stay as they were.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BackupManifest } from '../../src/ports/backup.js';
import type { Runtime } from '../../src/main/runtime.js';
import { fingerprint, seedRealisticData, type Fingerprint } from './fixtures.js';
import { backupTools, KEY_A, KEY_B, openRuntime, tempDir, type Env } from './harness.js';

let runtime: Runtime;
let env: Env;
let source: string;
let plain: BackupManifest;
let encrypted: BackupManifest;
let live: Fingerprint;

/** A copy of the target with one backup's file changed by `damage`. */
function damagedCopy(
  m: BackupManifest,
  damage: (file: string, manifestFile: string) => void,
): string {
  const dir = tempDir('cfn-damaged-');
  fs.cpSync(source, dir, { recursive: true });
  const file = path.join(dir, m.key);
  const manifestFile = path.join(dir, m.key.replace(/\.sql\.gz(\.enc)?$/, '.manifest.json'));
  damage(file, manifestFile);
  return dir;
}

function flipByte(file: string, at = 0.5) {
  const buf = fs.readFileSync(file);
  const i = Math.floor(buf.length * at);
  buf[i] = buf[i]! ^ 0x01;
  fs.writeFileSync(file, buf);
}

/** Backup tools of another process on the same database, with its own environment. */
async function toolsWith(extraEnv: Env, target?: string) {
  const other = await openRuntime('postgres', { ...env, ...extraEnv });
  return backupTools(other.runtime, other.env, target ? { target } : {});
}

async function expectRefused(target: string, ref: string, message: RegExp, extraEnv: Env = {}) {
  const tools = await toolsWith(extraEnv, target);
  await expect(tools.restore(ref)).rejects.toThrow(message);
  await expect(tools.verify(ref)).rejects.toThrow(message);
  expect(await fingerprint(runtime.database)).toEqual(live);
  expect((await runtime.maintenance.status()).enabled).toBe(false);
}

beforeAll(async () => {
  source = tempDir('cfn-target-');
  ({ runtime, env } = await openRuntime('postgres', { BACKUP_TARGET: source }));
  await seedRealisticData(runtime, 10);
  plain = await backupTools(runtime, env).create({ type: 'database' });
  encrypted = await (
    await toolsWith({ BACKUP_ENCRYPTION_KEY: KEY_A })
  ).create({ type: 'database' });
  expect(encrypted.encryption?.keyId).toMatch(/^[0-9a-f]{16}$/);
  // The live database moves on after the backups: a refused restore must keep this content.
  await runtime.database.db.execute(sql`delete from events where seq > 8`);
  live = await fingerprint(runtime.database);
});

describe('damaged backups', () => {
  it('a flipped byte fails the checksum', async () => {
    const dir = damagedCopy(plain, (f) => flipByte(f));
    await expectRefused(dir, plain.id, /is damaged: .* sha256/);
  });

  it('a truncated file fails the checksum', async () => {
    const dir = damagedCopy(encrypted, (f) =>
      fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2)),
    );
    await expectRefused(dir, encrypted.id, /is damaged/, { BACKUP_ENCRYPTION_KEY: KEY_A });
  });

  it('a missing object is named', async () => {
    const dir = damagedCopy(plain, (f) => fs.rmSync(f));
    await expectRefused(dir, plain.id, /is missing from/);
  });

  it('an unknown id says how to find the ids', async () => {
    await expectRefused(source, 'database-19990101_000000', /`cfn backup list` shows the ids/);
  });

  it('a wrong encryption key, or none, is refused before anything is read', async () => {
    await expectRefused(
      source,
      encrypted.id,
      /was encrypted with key id .* set the key it was made with/,
      {
        BACKUP_ENCRYPTION_KEY: KEY_B,
      },
    );
    await expectRefused(source, encrypted.id, /is encrypted .*set BACKUP_ENCRYPTION_KEY/);
  });

  it('a tampered encrypted file with a forged checksum fails authentication', async () => {
    const forge = (file: string, manifestFile: string, change: (f: string) => void) => {
      change(file);
      const m = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as BackupManifest;
      const buf = fs.readFileSync(file);
      m.sha256 = createHash('sha256').update(buf).digest('hex');
      m.sizeBytes = buf.length;
      fs.writeFileSync(manifestFile, JSON.stringify(m));
    };
    const flipped = damagedCopy(encrypted, (f, mf) => forge(f, mf, (x) => flipByte(x, 0.7)));
    await expectRefused(flipped, encrypted.id, /Authentication failed at frame/, {
      BACKUP_ENCRYPTION_KEY: KEY_A,
    });
    const cut = damagedCopy(encrypted, (f, mf) =>
      forge(f, mf, (x) => {
        // Drop the final frame only: every remaining frame authenticates.
        const buf = fs.readFileSync(x);
        fs.writeFileSync(x, buf.subarray(0, 12));
      }),
    );
    await expectRefused(cut, encrypted.id, /truncated/, { BACKUP_ENCRYPTION_KEY: KEY_A });
  });

  it('a tampered plain file with a forged checksum fails decompression', async () => {
    const dir = damagedCopy(plain, (f, mf) => {
      const buf = fs.readFileSync(f);
      fs.writeFileSync(f, buf.subarray(0, buf.length - 100));
      const m = JSON.parse(fs.readFileSync(mf, 'utf8')) as BackupManifest;
      const cut = fs.readFileSync(f);
      m.sha256 = createHash('sha256').update(cut).digest('hex');
      m.sizeBytes = cut.length;
      fs.writeFileSync(mf, JSON.stringify(m));
    });
    await expectRefused(dir, plain.id, /cannot be decoded|unexpected end/i);
  });
});
