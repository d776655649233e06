// The S3 target against a real S3 server (s3rver): multipart uploads, backups, verification,
// restore and a missing object, through the same code paths as the directory target.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3BlobStore } from '../../src/adapters/blob/s3-blob-store.js';
import { startTestS3, type TestS3 } from '../support/s3-server.js';
import { fingerprint, scribble, seedRealisticData } from './fixtures.js';
import { backupTools, KEY_A, openRuntime } from './harness.js';

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3();
});
afterAll(async () => {
  await s3?.close();
});

describe('S3 target', () => {
  it('streams a multipart object up and down unchanged', async () => {
    const store = createS3BlobStore({
      uri: `s3://${s3.bucket}/blobs`,
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    // 3 parts of 8 MiB at most, produced lazily so the upload never sees the whole body.
    const parts = Array.from({ length: 18 }, () => randomBytes(1024 * 1024));
    const expected = createHash('sha256');
    for (const p of parts) expected.update(p);
    const { size } = await store.put('big/object.bin', Readable.from(parts));
    expect(size).toBe(18 * 1024 * 1024);
    const got = createHash('sha256');
    for await (const chunk of await store.get('big/object.bin')) got.update(chunk as Buffer);
    expect(got.digest('hex')).toBe(expected.digest('hex'));
    expect(await store.list('big')).toEqual(['big/object.bin']);
    await store.delete('big/object.bin');
    expect(await store.exists('big/object.bin')).toBe(false);
    await expect(store.get('big/object.bin')).rejects.toThrow(
      /is missing from s3:\/\/cfn-backups\/blobs/,
    );
  });

  it('backs up, verifies, restores and prunes through a bucket', async () => {
    const { runtime, env } = await openRuntime('postgres', {
      ...s3.env,
      BACKUP_TARGET: `s3://${s3.bucket}/prod`,
      BACKUP_ENCRYPTION_KEY: KEY_A,
    });
    await seedRealisticData(runtime, 15);
    const before = await fingerprint(runtime.database);
    const tools = backupTools(runtime, env);
    const db = await tools.create({ type: 'database' });
    const app = await tools.create({ type: 'app-data' });
    expect(db.key).toMatch(/^database\/claude_flow_backup_\d{8}_\d{6}\.sql\.gz\.enc$/);
    expect(app.key).toMatch(/^app-data\/backup_\d{8}_\d{6}\/app-data\.tar\.gz\.enc$/);
    expect(app.appData?.entries).toContain('config/settings.json');
    expect(app.appData?.includesSecrets).toBe(false);

    expect((await tools.list()).map((l) => l.manifest.id).sort()).toEqual([app.id, db.id].sort());
    expect((await tools.verify(db.id)).rowCounts).toEqual(db.database?.rowCounts);
    expect((await tools.verify(app.id)).entries).toBeGreaterThan(0);

    await scribble(runtime.database);
    await tools.restore('latest');
    expect(await fingerprint(runtime.database)).toEqual(before);

    const pruned = await tools.prune({ dryRun: true });
    expect(pruned.decisions.every((d) => d.keep)).toBe(true);

    // An object gone from the bucket: named, and nothing restored.
    const store = createS3BlobStore({
      uri: `s3://${s3.bucket}/prod`,
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    await store.delete(db.key);
    await scribble(runtime.database);
    const live = await fingerprint(runtime.database);
    await expect(tools.restore(db.id)).rejects.toThrow(/is missing from s3:\/\/cfn-backups\/prod/);
    expect(await fingerprint(runtime.database)).toEqual(live);
  });
});
