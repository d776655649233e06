#!/usr/bin/env node
// The MinIO client commands the compose file uses: `mc ready local`, `mc alias set <name> <url>
// <user> <password>` and `mc mb [--ignore-existing] <alias>/<bucket>`. Aliases live in
// $HOME/.mc-stand-in.json (or /tmp) for the commands that follow in the same container.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';

const file = path.join(
  process.env.HOME && process.env.HOME !== '/' ? process.env.HOME : os.tmpdir(),
  '.mc-stand-in.json',
);
const aliases = fs.existsSync(file)
  ? JSON.parse(fs.readFileSync(file, 'utf8'))
  : {
      local: {
        url: 'http://127.0.0.1:9000',
        user: process.env.MINIO_ROOT_USER,
        password: process.env.MINIO_ROOT_PASSWORD,
      },
    };
const client = ({ url, user, password }) =>
  new S3Client({
    endpoint: url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: user, secretAccessKey: password },
  });
const fail = (msg) => {
  console.error(`mc: ${msg}`);
  process.exit(1);
};

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'ready') {
  const a = aliases[args[0]] ?? fail(`no alias ${args[0]}`);
  const res = await fetch(`${a.url}/`).catch(() => undefined);
  if (!res) fail(`${args[0]} is not ready`);
  console.log(`The cluster '${args[0]}' is ready`);
} else if (cmd === 'alias' && args[0] === 'set') {
  const [, name, url, user, password] = args;
  aliases[name] = { url, user, password };
  fs.writeFileSync(file, JSON.stringify(aliases));
  console.log(`Added \`${name}\` successfully.`);
} else if (cmd === 'mb') {
  const ignore = args.includes('--ignore-existing');
  const target = args.find((a) => !a.startsWith('--')) ?? fail('mb needs <alias>/<bucket>');
  const [name, bucket] = target.split('/');
  const s3 = client(aliases[name] ?? fail(`no alias ${name}`));
  const exists = await s3.send(new HeadBucketCommand({ Bucket: bucket })).then(
    () => true,
    () => false,
  );
  if (exists && !ignore) fail(`bucket ${bucket} exists`);
  if (!exists) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  console.log(`Bucket created successfully \`${target}\`.`);
} else if (cmd === 'version' && args[0] === 'enable') {
  // s3rver keeps one version of an object: the request is taken and said to be without effect.
  console.log(`stand-in: versioning of ${args[1]} requested; s3rver keeps no versions`);
} else {
  fail(`the stand-in does not do \`mc ${[cmd, ...args].join(' ')}\``);
}
