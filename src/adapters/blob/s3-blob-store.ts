// BlobStore on an S3-compatible bucket (AWS S3, MinIO, s3rver): multipart uploads through
// lib-storage so large backups stream, and a prefix per deployment. The AWS SDK (some 8 MiB of
// memory) is loaded on the first request, so a service that never touches S3 never holds it.
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { BlobStore } from '../../ports/blob-store.js';
import { BlobNotFoundError } from './fs-blob-store.js';

export interface S3BlobStoreOptions {
  /** `s3://bucket/optional/prefix` */
  uri: string;
  endpoint?: string | undefined;
  region: string;
  forcePathStyle: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
}

export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m?.[1]) throw new Error(`expected s3://bucket[/prefix], got ${uri}`);
  return { bucket: m[1], prefix: (m[2] ?? '').replace(/\/+$/, '') };
}

const isNotFound = (err: unknown) => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
};

type Sdk = typeof import('@aws-sdk/client-s3') & typeof import('@aws-sdk/lib-storage');

async function loadSdk(): Promise<Sdk> {
  const [s3, storage] = await Promise.all([
    import('@aws-sdk/client-s3'),
    import('@aws-sdk/lib-storage'),
  ]);
  return { ...s3, ...storage };
}

export function createS3BlobStore(options: S3BlobStoreOptions): BlobStore {
  const { bucket, prefix } = parseS3Uri(options.uri);
  let loading: Promise<{ client: S3Client; sdk: Sdk }> | undefined;
  const open = () =>
    (loading ??= loadSdk().then((sdk) => ({
      sdk,
      client: new sdk.S3Client({
        region: options.region,
        forcePathStyle: options.forcePathStyle,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        // A copy: the SDK annotates the credentials object, and the configuration's is frozen.
        ...(options.credentials ? { credentials: { ...options.credentials } } : {}),
      }),
    })));
  const full = (key: string) => (prefix ? `${prefix}/${key}` : key);
  const location = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
  return {
    location,
    async put(key, body) {
      const { client, sdk } = await open();
      let size = 0;
      body.on('data', (chunk: Buffer) => (size += chunk.length));
      const upload = new sdk.Upload({
        client,
        params: { Bucket: bucket, Key: full(key), Body: body },
        partSize: 8 * 1024 * 1024,
        queueSize: 2,
      });
      await upload.done();
      return { size };
    },
    async get(key) {
      const { client, sdk } = await open();
      try {
        const res = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: full(key) }));
        return res.Body as Readable;
      } catch (err) {
        if (isNotFound(err)) throw new BlobNotFoundError(location, key);
        throw err;
      }
    },
    async exists(key) {
      const { client, sdk } = await open();
      try {
        await client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: full(key) }));
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    },
    async list(listPrefix) {
      const { client, sdk } = await open();
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const res = await client.send(
          new sdk.ListObjectsV2Command({
            Bucket: bucket,
            Prefix: full(listPrefix),
            ContinuationToken: token,
          }),
        );
        for (const o of res.Contents ?? []) {
          if (o.Key) keys.push(prefix ? o.Key.slice(prefix.length + 1) : o.Key);
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
      return keys;
    },
    async delete(key) {
      const { client, sdk } = await open();
      await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: full(key) }));
    },
  };
}
