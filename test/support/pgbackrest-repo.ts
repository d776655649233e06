// The deployment kit's pgBackRest configuration (deploy/pgbackrest/), pointed at a test's own
// s3rver and PostgreSQL cluster: everything else (encryption, retention, compression, async
// archiving) stays as shipped. Lock, log and spool paths live in a temporary directory.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runAsClusterOwner, runAsClusterOwnerAsync } from './throwaway-postgres.js';

const DEPLOY = fileURLToPath(new URL('../../deploy/pgbackrest/', import.meta.url));

type Changes = Record<string, Record<string, string>>;

/** An ini file with `changes` applied: keys replaced in place, new ones added to their section. */
export function renderIni(text: string, changes: Changes, rename: Record<string, string> = {}) {
  const out: string[] = [];
  let section = '';
  const pending = () => {
    const left = changes[section] ?? {};
    for (const [k, v] of Object.entries(left)) out.push(`${k}=${v}`);
    delete changes[section];
  };
  changes = structuredClone(changes);
  for (const line of text.split('\n')) {
    const header = /^\[(.+)\]$/.exec(line.trim());
    if (header) {
      pending();
      section = header[1]!;
      out.push(`[${rename[section] ?? section}]`);
      continue;
    }
    const kv = /^([a-z0-9-]+)=/.exec(line);
    const change = kv ? changes[section]?.[kv[1]!] : undefined;
    if (kv && change !== undefined) {
      out.push(`${kv[1]}=${change}`);
      delete changes[section]![kv[1]!];
    } else out.push(line);
  }
  pending();
  return out.join('\n');
}

/** `name = 'value'` lines of deploy/pgbackrest/postgresql.conf. */
export function deployServerSettings(): Record<string, string> {
  const text = fs.readFileSync(path.join(DEPLOY, 'postgresql.conf'), 'utf8');
  const settings: Record<string, string> = {};
  for (const m of text.matchAll(/^([a-z_]+)\s*=\s*(?:'((?:[^']|'')*)'|(\S+))/gm)) {
    settings[m[1]!] = m[2] !== undefined ? m[2].replace(/''/g, "'") : m[3]!;
  }
  return settings;
}

export interface PgBackRestRepo {
  stanza: string;
  configFile: string;
  /** Temporary directory of the configuration, locks, logs and spool. */
  dir: string;
  /** pgBackRest's secrets, as its users (cfn, the server) get them from the environment. */
  env: Record<string, string>;
  /** Server settings of deploy/pgbackrest/postgresql.conf, archive_command pointed at configFile. */
  serverSettings: Record<string, string>;
  /** Writes the configuration for the cluster (which may already run with serverSettings). */
  configure(cluster: { dataDir: string; port: number; socketDir: string }): void;
  /** Runs pgbackrest as the cluster's owner with this configuration (never blocking: s3rver). */
  run(args: string[], env?: Record<string, string>): Promise<string>;
  destroy(): void;
}

export function createPgBackRestRepo(options: {
  stanza: string;
  s3: { endpoint: string; bucket: string; caFile: string | undefined };
}): PgBackRestRepo {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-pgbackrest-'));
  fs.chmodSync(dir, 0o755);
  // pgBackRest runs as the cluster's owner and creates its files in there.
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres:postgres', dir]);
  const endpoint = new URL(options.s3.endpoint);
  if (endpoint.protocol !== 'https:') throw new Error('pgBackRest needs an https S3 endpoint');
  const configFile = path.join(dir, 'pgbackrest.conf');
  for (const sub of ['spool', 'log', 'lock']) {
    runAsClusterOwner('mkdir', ['-m', '750', path.join(dir, sub)]);
  }
  const env = {
    PGBACKREST_REPO1_CIPHER_PASS: randomBytes(32).toString('base64'),
    PGBACKREST_REPO1_S3_KEY: 'S3RVER',
    PGBACKREST_REPO1_S3_KEY_SECRET: 'S3RVER',
  };
  const serverSettings = deployServerSettings();
  const shipped = serverSettings.archive_command ?? '';
  serverSettings.archive_command = shipped.replace(
    'pgbackrest --stanza=cfn ',
    `pgbackrest --config=${configFile} --stanza=${options.stanza} `,
  );
  if (serverSettings.archive_command === shipped) {
    throw new Error(`unexpected archive_command in deploy/pgbackrest/postgresql.conf: ${shipped}`);
  }
  return {
    stanza: options.stanza,
    configFile,
    dir,
    env,
    serverSettings,
    configure(cluster) {
      const conf = renderIni(
        fs.readFileSync(path.join(DEPLOY, 'pgbackrest.conf'), 'utf8'),
        {
          global: {
            'repo1-s3-bucket': options.s3.bucket,
            'repo1-s3-endpoint': endpoint.hostname,
            'repo1-s3-uri-style': 'path',
            'repo1-storage-port': endpoint.port,
            ...(options.s3.caFile ? { 'repo1-storage-ca-file': options.s3.caFile } : {}),
            'spool-path': path.join(dir, 'spool'),
            'log-path': path.join(dir, 'log'),
            'lock-path': path.join(dir, 'lock'),
          },
          cfn: {
            'pg1-path': cluster.dataDir,
            'pg1-port': String(cluster.port),
            'pg1-socket-path': cluster.socketDir,
          },
        },
        { cfn: options.stanza },
      );
      fs.writeFileSync(configFile, conf, { mode: 0o644 });
    },
    run: (args, extra = {}) =>
      runAsClusterOwnerAsync(
        'pgbackrest',
        [`--config=${configFile}`, `--stanza=${options.stanza}`, ...args],
        { ...env, ...extra },
      ),
    destroy() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
