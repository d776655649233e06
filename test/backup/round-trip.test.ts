// Backup, wipe, restore: identical content on PGlite, on PostgreSQL, and from PGlite into
// PostgreSQL (the upgrade path), with and without encryption.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { queryRows } from '../../src/adapters/db/database.js';
import { fingerprint, scribble, seedRealisticData } from './fixtures.js';
import { backupTools, KEY_A, openRuntime, tempDir } from './harness.js';

describe.each(['pglite', 'postgres'] as const)('backup round trip on %s', (kind) => {
  it('restores exactly what was backed up, and new rows continue the sequences', async () => {
    const target = tempDir('cfn-target-');
    const { runtime, env } = await openRuntime(kind, { BACKUP_TARGET: target });
    await seedRealisticData(runtime);
    const before = await fingerprint(runtime.database);
    expect(before.counts['public.events']).toBe(400);

    const tools = backupTools(runtime, env);
    const manifest = await tools.create({ type: 'database' });
    expect(manifest.key).toMatch(/^database\/claude_flow_backup_\d{8}_\d{6}\.sql\.gz$/);
    expect(manifest.database?.kind).toBe(kind);
    expect(manifest.database?.schemaVersion).toMatch(/^\d{4}_/);
    expect(manifest.database?.rowCounts['public.swarms']).toBe(46);
    expect(manifest.database?.rowCounts['public.events']).toBe(400);
    expect(manifest.encryption).toBeNull();
    // The file in the target is a plain gzip of SQL, readable with standard tools.
    const file = path.join(target, manifest.key);
    expect(fs.statSync(file).size).toBe(manifest.sizeBytes);
    expect(zlib.gunzipSync(fs.readFileSync(file)).toString()).toContain(
      'CREATE TABLE public.swarms',
    );

    await scribble(runtime.database);
    expect(await fingerprint(runtime.database)).not.toEqual(before);

    // Queries of the service go on during the restore: none runs with the dump's settings
    // (PGlite has one session; the dump empties its search_path).
    let restoring = true;
    const pending = tools.restore('latest').finally(() => (restoring = false));
    const reads: Array<Promise<unknown>> = [];
    while (restoring) {
      const read = queryRows(runtime.database.db, sql`select count(*) from settings`);
      reads.push(read);
      await read.catch(() => undefined);
    }
    const result = await pending;
    await Promise.all(reads);
    expect(result.id).toBe(manifest.id);
    expect(await fingerprint(runtime.database)).toEqual(before);
    expect((await runtime.maintenance.status()).enabled).toBe(false);

    // The catalog knows the backup again, and sequences continue after the restored rows.
    expect((await runtime.backupCatalog.list()).map((r) => r.id)).toContain(manifest.id);
    const [row] = await queryRows<{ id: number }>(
      runtime.database.db,
      sql`insert into webhook_deliveries (swarm_id, url, event, attempt, duration_ms)
          values (gen_random_uuid(), 'u', 'e', 1, 1) returning id`,
    );
    // Past every restored id (PostgreSQL sequences may skip values, never repeat them).
    expect(Number(row?.id)).toBeGreaterThan(40);
    expect(Number(row?.id)).toBeLessThan(100);
  });

  it('takes a consistent backup while writes go on, without disturbing them', async () => {
    const { runtime, env } = await openRuntime(kind, { BACKUP_TARGET: tempDir('cfn-target-') });
    await seedRealisticData(runtime, 10);
    const tools = backupTools(runtime, env);
    let stop = false;
    let written = 0;
    const writer = (async () => {
      // Bounded, and yielding between writes so the backup gets its turn on PGlite's one session.
      while (!stop && written < 2000) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        await runtime.database.db.execute(
          sql`insert into events (swarm_id, seq, type, data)
              values (md5('swarm1')::uuid, ${1000 + written}, 'concurrent', '{}')`,
        );
        written++;
      }
    })();
    const manifest = await tools.create({ type: 'database' }).finally(() => (stop = true));
    await writer;
    expect(written).toBeGreaterThan(0);
    const inBackup = manifest.database!.rowCounts['public.events']!;
    expect(inBackup).toBeGreaterThanOrEqual(100);
    expect(inBackup).toBeLessThanOrEqual(100 + written);
    // The test restore matches the manifest exactly, whatever was written meanwhile.
    expect((await tools.verify(manifest.id)).rowCounts).toEqual(manifest.database!.rowCounts);
  });

  it('verifies a backup by a test restore into a scratch database', async () => {
    const target = tempDir('cfn-target-');
    const { runtime, env } = await openRuntime(kind, {
      BACKUP_TARGET: target,
      BACKUP_ENCRYPTION_KEY: KEY_A,
    });
    await seedRealisticData(runtime, 10);
    const tools = backupTools(runtime, env);
    const manifest = await tools.create({ type: 'database' });
    expect(manifest.key.endsWith('.sql.gz.enc')).toBe(true);
    expect(manifest.encryption?.algorithm).toBe('aes-256-gcm-chunked');
    // Encrypted on disk: no SQL text, not even gzip's magic bytes.
    const raw = fs.readFileSync(path.join(target, manifest.key));
    expect(raw.subarray(0, 8).toString()).toBe('CFNENC01');
    expect(raw.includes(Buffer.from('swarms'))).toBe(false);

    const v = await tools.verify('latest');
    expect(v.rowCounts).toEqual(manifest.database?.rowCounts);
    const listed = await tools.list();
    expect(listed[0]?.manifest.id).toBe(manifest.id);
    expect(listed[0]?.verifiedAt).toBeInstanceOf(Date);

    const drill = await tools.drill();
    expect(drill.ok).toBe(true);
    expect(drill.rtoSeconds).toBeGreaterThan(0);
    expect(drill.rpoSeconds).toBeGreaterThanOrEqual(0);
    expect(drill.checks.map((c) => c.name)).toEqual([
      'checksum',
      'restore',
      'row counts',
      'schema version',
    ]);
  });
});

describe('upgrade path', () => {
  it('restores a PGlite backup into PostgreSQL 15 with identical content', async () => {
    const target = tempDir('cfn-target-');
    const embedded = await openRuntime('pglite', { BACKUP_TARGET: target });
    await seedRealisticData(embedded.runtime);
    const before = await fingerprint(embedded.runtime.database);
    const manifest = await backupTools(embedded.runtime, embedded.env).create({ type: 'database' });
    // PGlite is PostgreSQL 18: its dump carries settings PostgreSQL 15 rejects.
    expect(zlib.gunzipSync(fs.readFileSync(path.join(target, manifest.key))).toString()).toContain(
      'SET transaction_timeout',
    );

    const distributed = await openRuntime('postgres', { BACKUP_TARGET: target });
    const result = await backupTools(distributed.runtime, distributed.env).restore(manifest.id);
    expect(result.id).toBe(manifest.id);
    expect(await fingerprint(distributed.runtime.database)).toEqual(before);
  });
});
