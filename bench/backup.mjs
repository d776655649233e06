// Backup and restore throughput on PostgreSQL, next to the raw `pg_dump | gzip` pipeline on the same
// data: generates a database of about --mb megabytes (swarm events with realistic JSON payloads),
// then times `cfn backup create`, the raw pipeline, and `cfn restore` into a second database.
//
//   npm run build
//   node bench/backup.mjs --pg postgres://postgres@127.0.0.1:5432/postgres [--mb 1000]
//
// Writes bench/results/backup-<date>.json (not committed); bench/README.md keeps the figures.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const BIN = path.join(ROOT, 'dist/main/bin.js');
const arg = (name, dflt) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : dflt;
const adminUrl = arg('--pg');
const targetMb = Number(arg('--mb', '1000'));
if (!adminUrl) throw new Error('usage: node bench/backup.mjs --pg <postgres admin url> [--mb N]');
if (!fs.existsSync(BIN)) throw new Error('dist/main/bin.js is missing: run `npm run build` first');

const withDb = (url, db) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};
async function admin(sql) {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

/** The server's major version's pg_dump, as cfn uses it. */
function pgDumpBinary(major) {
  const p = `/usr/lib/postgresql/${major}/bin/pg_dump`;
  return fs.existsSync(p) ? p : 'pg_dump';
}

function runCfn(args, env) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`cfn ${args.join(' ')} failed: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

const src = `cfn_bench_backup_${process.pid}`;
const dst = `cfn_bench_restore_${process.pid}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-bench-backup-'));
try {
  await admin(`create database "${src}"`);
  await admin(`create database "${dst}"`);
  const srcUrl = withDb(adminUrl, src);
  const dstUrl = withDb(adminUrl, dst);
  runCfn(['migrate'], { DATABASE_URL: srcUrl, CFN_DATA_DIR: dir });
  runCfn(['migrate'], { DATABASE_URL: dstUrl, CFN_DATA_DIR: dir });

  // Data: swarms with events whose payloads look like task outputs (about 1 KiB of JSON each).
  process.stdout.write(`generating about ${targetMb} MB … `);
  const c = new pg.Client({ connectionString: srcUrl });
  await c.connect();
  const perBatch = 50_000;
  for (let batch = 0; ; batch++) {
    const { rows } = await c.query('select pg_database_size(current_database()) as b');
    if (Number(rows[0].b) >= targetMb * 1e6) break;
    await c.query(
      `with s as (
         insert into swarms (id, objective, strategy, mode, status, spec, last_seq)
         select gen_random_uuid(), 'bench objective ' || g, 'cfn-loop', 'mvp', 'completed',
                jsonb_build_object('objective', 'bench objective ' || g), 100
         from generate_series(1, $1::int / 100) g returning id)
       insert into events (swarm_id, seq, type, data)
       select s.id, n, 'task.succeeded',
              jsonb_build_object('type', 'task.succeeded', 'taskId', 'i1.implement.' || n,
                'output', jsonb_build_object('confidence', 0.9,
                  'summary', repeat(md5(n::text || s.id::text), 28)),
                'tokens', jsonb_build_object('input', 1200, 'output', 300), 'costUsd', 0.0123)
       from s, generate_series(1, 100) n`,
      [perBatch],
    );
    if (batch > 10_000) break;
  }
  const { rows: size } = await c.query(
    `select pg_database_size(current_database()) as b, current_setting('server_version_num') as v`,
  );
  await c.end();
  const dbBytes = Number(size[0].b);
  const major = Math.floor(Number(size[0].v) / 10000);
  console.log(`${(dbBytes / 1e6).toFixed(0)} MB`);

  // Raw pipeline: pg_dump | gzip -6 into a file.
  const rawFile = path.join(dir, 'raw.sql.gz');
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    const dump = spawn(pgDumpBinary(major), ['--no-owner', '--no-privileges', srcUrl], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const gz = spawn('gzip', ['-6'], { stdio: ['pipe', fs.openSync(rawFile, 'w'), 'inherit'] });
    dump.stdout.pipe(gz.stdin);
    gz.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`gzip exited ${code}`))));
    dump.on('error', reject);
  });
  const rawMs = performance.now() - t0;
  const rawBytes = fs.statSync(rawFile).size;

  // cfn backup create (dump, gzip, sha256, manifest with row counts, catalog row).
  const target = path.join(dir, 'backups');
  const created = runCfn(['backup', 'create', '--target', target, '--json'], {
    DATABASE_URL: srcUrl,
    CFN_DATA_DIR: dir,
    BACKUP_SCHEDULES: 'off',
  });
  const manifest = JSON.parse(created.stdout);
  const cfnBytes = Number(manifest.size ?? manifest.sizeBytes ?? 0);

  // cfn restore into the second database (checks, maintenance, load, migrate, verify).
  const restored = runCfn(['restore', 'latest', '--yes', '--target', target], {
    DATABASE_URL: dstUrl,
    CFN_DATA_DIR: dir,
    BACKUP_SCHEDULES: 'off',
  });

  const mbps = (ms) => dbBytes / 1e6 / (ms / 1000);
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    cores: os.cpus().length,
    databaseBytes: dbBytes,
    raw: { ms: rawMs, bytes: rawBytes, mbPerS: mbps(rawMs) },
    backup: { ms: created.ms, bytes: cfnBytes, mbPerS: mbps(created.ms) },
    restore: { ms: restored.ms, mbPerS: mbps(restored.ms) },
    backupVsRaw: rawMs / created.ms,
  };
  console.log(
    [
      `database ${(dbBytes / 1e6).toFixed(0)} MB (pg_database_size)`,
      `raw pg_dump | gzip: ${(rawMs / 1000).toFixed(2)} s, ${out.raw.mbPerS.toFixed(1)} MB/s, ${(rawBytes / 1e6).toFixed(1)} MB`,
      `cfn backup create:  ${(created.ms / 1000).toFixed(2)} s, ${out.backup.mbPerS.toFixed(1)} MB/s, ${(cfnBytes / 1e6).toFixed(1)} MB (process start and manifest included)`,
      `cfn restore:        ${(restored.ms / 1000).toFixed(2)} s, ${out.restore.mbPerS.toFixed(1)} MB/s`,
      `backup throughput = ${(100 * out.backupVsRaw).toFixed(0)}% of the raw pipeline's`,
    ].join('\n'),
  );
  const resultsDir = path.join(HERE, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `backup-${out.date.slice(0, 19).replace(/[:T]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${path.relative(ROOT, file)}`);
} finally {
  for (const db of [src, dst])
    await admin(`drop database if exists "${db}" with (force)`).catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
}
