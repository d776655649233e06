#!/usr/bin/env node
// `minio server <dir> [--address :9000] [--console-address …]` served by s3rver, with the root
// credentials as its one key pair.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver');
const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account');

const [command, dir, ...rest] = process.argv.slice(2);
if (command !== 'server' || !dir) {
  console.error('usage: minio server <dir> [--address :9000] [--console-address :9001]');
  process.exit(2);
}
const address = rest[rest.indexOf('--address') + 1];
const port = rest.includes('--address') ? Number(address.split(':').pop()) : 9000;
const user = process.env.MINIO_ROOT_USER ?? 'minioadmin';
const password = process.env.MINIO_ROOT_PASSWORD ?? 'minioadmin';
DUMMY_ACCOUNT.createKeyPair(user, password);

// Path-style only: a host name such as minio is not a bucket.
const server = new S3rver({
  address: '0.0.0.0',
  port,
  directory: dir,
  silent: true,
  vhostBuckets: false,
});
await server.run();
console.log(`stand-in minio (s3rver) on :${port}, data in ${dir}`);
for (const sig of ['SIGTERM', 'SIGINT'])
  process.on(sig, () => server.close().then(() => process.exit(0)));
