// A real S3-compatible server (s3rver) in-process on a free loopback port, with its own bucket
// directory; speaks the S3 wire protocol the AWS SDK and pgBackRest use. With `tls` it serves
// HTTPS with a self-signed certificate made by openssl (pgBackRest's S3 client speaks only TLS).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import S3rver, { type S3rverListResult, type S3rverStore } from 's3rver';
import { makeSelfSignedCert } from './self-signed-cert.js';

export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** Where s3rver keeps the objects (to damage or delete them behind the SDK's back). */
  directory: string;
  /** With `tls`: the certificate (its own CA), readable by every user. */
  caFile: string | undefined;
  env: Record<string, string>;
  close(): Promise<void>;
}

export interface TestS3Options {
  tls?: boolean;
}

/** A certificate for 127.0.0.1 (in its subject: pgBackRest matches names, not IP entries). */
function selfSignedCert(): { dir: string; key: string; cert: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-s3-tls-'));
  fs.chmodSync(dir, 0o755);
  const { key, cert } = makeSelfSignedCert(dir, { cn: '127.0.0.1' });
  fs.chmodSync(cert, 0o644);
  return { dir, key, cert };
}

/**
 * s3rver 3.7.1 omits a common prefix whose objects all lie one "directory" deeper (it prunes
 * those directories while walking), so `archive/cfn/` never lists pgBackRest's `15-1/`. List such
 * levels without the delimiter as well and fold the keys into prefixes, as S3 does.
 */
function foldCommonPrefixes(store: S3rverStore): void {
  const list = store.listObjects.bind(store);
  store.listObjects = async (bucket, options): Promise<S3rverListResult> => {
    const result = await list(bucket, options);
    const { delimiter, prefix = '', startAfter = '' } = options;
    if (!delimiter) return result;
    const deep = await list(bucket, { ...options, delimiter: '', maxKeys: Infinity });
    const last = result.objects.at(-1)?.key;
    const prefixes = new Set(result.commonPrefixes);
    for (const o of deep.objects) {
      const i = o.key.indexOf(delimiter, prefix.length);
      if (i === -1) continue;
      const p = o.key.slice(0, i + delimiter.length);
      if (p > startAfter && (!result.isTruncated || (last !== undefined && p < last)))
        prefixes.add(p);
    }
    return { ...result, commonPrefixes: [...prefixes].sort() };
  };
}

export async function startTestS3(
  bucket = 'cfn-backups',
  options: TestS3Options = {},
): Promise<TestS3> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-s3rver-'));
  const tls = options.tls ? selfSignedCert() : undefined;
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
    ...(tls ? { key: fs.readFileSync(tls.key), cert: fs.readFileSync(tls.cert) } : {}),
  });
  foldCommonPrefixes(server.store);
  const address = (await server.run()) as AddressInfo;
  const endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${address.port}`;
  return {
    endpoint,
    bucket,
    directory,
    caFile: tls?.cert,
    env: {
      BACKUP_S3_ENDPOINT: endpoint,
      BACKUP_S3_REGION: 'us-east-1',
      BACKUP_S3_FORCE_PATH_STYLE: 'true',
      BACKUP_S3_ACCESS_KEY_ID: 'S3RVER',
      BACKUP_S3_SECRET_ACCESS_KEY: 'S3RVER',
    },
    async close() {
      await server.close();
      fs.rmSync(directory, { recursive: true, force: true });
      if (tls) fs.rmSync(tls.dir, { recursive: true, force: true });
    },
  };
}
