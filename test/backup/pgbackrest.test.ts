// pgBackRest with the real tools: a throwaway PostgreSQL cluster archiving its WAL, with the
// deployment kit's configuration (deploy/pgbackrest/), into an encrypted repository on s3rver over
// TLS. Full and incremental backups, the list, verification and a point-in-time restore into a
// second cluster, through the built `cfn` as an operator runs them (the procedure of
// docs/operations/backup-and-recovery.md). The machine's shared PostgreSQL is never touched.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBytes } from '../../src/cli/backup-cli-kit.js';
import { BIN, childEnv, runCli } from '../support/cli.js';
import { createPgBackRestRepo, type PgBackRestRepo } from '../support/pgbackrest-repo.js';
import { startTestS3, type TestS3 } from '../support/s3-server.js';
import { startTestServer } from '../support/test-server.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../support/throwaway-postgres.js';
import { tempDir } from './harness.js';

const STANZA = 'cfn-test';
const CLI_TIMEOUT = 180_000;

let s3: TestS3;
let repo: PgBackRestRepo;
let primary: ThrowawayPostgres;
let restored: ThrowawayPostgres | undefined;
/** The environment of every `cfn` command: the cluster, the engine and pgBackRest's secrets. */
let env: Record<string, string>;

beforeAll(async () => {
  s3 = await startTestS3('pgbackrest', { tls: true });
  repo = createPgBackRestRepo({ stanza: STANZA, s3 });
  primary = await startThrowawayPostgres({ settings: repo.serverSettings, env: repo.env });
  repo.configure(primary);
  // The setup steps of the guide: create the stanza, check that archiving works.
  await repo.run(['stanza-create']);
  await repo.run(['check']);
  env = {
    DATABASE_URL: primary.url,
    CFN_DATA_DIR: tempDir('cfn-pgbackrest-data-'),
    LOG_LEVEL: 'warn',
    BACKUP_SCHEDULES: 'off',
    PGBACKREST_STANZA: STANZA,
    PGBACKREST_CONFIG: repo.configFile,
    // As the guide says for root: pgBackRest runs as the cluster's owner, environment kept.
    CFN_PGBACKREST_COMMAND:
      process.getuid?.() === 0 ? 'runuser -u postgres -- pgbackrest' : 'pgbackrest',
    ...repo.env,
  };
}, 120_000);

afterAll(async () => {
  // Stopped without blocking: a stopping server archives its last WAL through s3rver.
  await restored?.stopAsync().catch(() => {});
  await primary?.stopAsync().catch(() => {});
  restored?.destroy();
  primary?.destroy();
  repo?.destroy();
  await s3?.close();
});

async function query<T = Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

async function until(what: string, ok: () => Promise<boolean>, ms = 60_000) {
  const end = Date.now() + ms;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > end) throw new Error(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function cfn(args: string[], extra: Record<string, string> = {}) {
  const r = await runCli(args, { env: { ...env, ...extra }, timeoutMs: CLI_TIMEOUT });
  return r;
}

/** `cfn …` on a pseudo-terminal (util-linux `script`): what an operator sees. */
function cfnOnTerminal(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'script',
      ['-qfec', [process.execPath, BIN, ...args].join(' '), '/dev/null'],
      {
        env: childEnv(env),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

interface Created {
  id: string;
  engine: string;
  type: string;
  stanza: string;
  prior: string | null;
  sizeBytes: number;
  databaseSizeBytes: number;
  createdAt: string;
  completedAt: string;
  durationMs: number;
  encryption: { algorithm: string } | null;
  wal: { start: string; stop: string };
}

interface Listing {
  stanza: string;
  encryption: { algorithm: string } | null;
  wal: { min: string; max: string } | null;
  recoverableFrom: string | null;
  backups: Array<Created & { verifiedAt: string | null }>;
}

const marks = async (url: string) =>
  (await query<{ mark: string }>(url, 'select distinct mark from pitr_probe order by mark')).map(
    (r) => r.mark,
  );

const metric = (text: string, name: string, type: string) => {
  const m = new RegExp(`^${name}\\{type="${type}"\\} (\\S+)$`, 'm').exec(text);
  if (!m?.[1]) throw new Error(`${name}{type="${type}"} missing from /metrics:\n${text}`);
  return Number(m[1]);
};

describe('pgBackRest engine', () => {
  it('says which variable to set when pgBackRest is not configured', async () => {
    const r = await runCli(['backup', 'create', '--engine', 'pgbackrest', '--type', 'full'], {
      env: { CFN_DATA_DIR: tempDir('cfn-pgbackrest-none-'), LOG_LEVEL: 'warn' },
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^cfn: pgBackRest is not configured: set PGBACKREST_STANZA to the stanza of this database/,
    );
  });

  it('refuses a --type pgBackRest has not, options of the other engine, and a stanza without PostgreSQL', async () => {
    const bad = await cfn(['backup', 'create', '--engine', 'pgbackrest', '--type', 'weekly']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      'cfn: --type for --engine pgbackrest is full, diff or incr, not "weekly".\n',
    );
    const dump = await cfn(['backup', 'create', '--type', 'incr']);
    expect(dump.code).toBe(1);
    expect(dump.stderr).toMatch(
      /--type is database or app-data, not "incr" \(full, diff and incr need --engine pgbackrest\)/,
    );
    const target = await cfn(['backup', 'create', '--engine', 'pgbackrest', '--target', '/x']);
    expect(target.stderr).toBe('cfn: --target is not for --engine pgbackrest.\n');
    const pitr = await cfn(['restore', '--to', '2026-03-01 14:30:00+00']);
    expect(pitr.code).toBe(1);
    expect(pitr.stderr).toBe('cfn: --to is not for the dump engine: add --engine pgbackrest.\n');
    const embedded = await runCli(['backup', 'list', '--engine', 'pgbackrest'], {
      env: { CFN_DATA_DIR: tempDir('cfn-pgbackrest-none-'), PGBACKREST_STANZA: STANZA },
    });
    expect(embedded.code).toBe(1);
    expect(embedded.stderr).toMatch(
      /^cfn: Invalid environment variable PGBACKREST_STANZA: requires DATABASE_URL/,
    );
  });

  it(
    'backs up full and incremental, verifies, and restores a second cluster to a point in time',
    async () => {
      await query(primary.url, 'create table pitr_probe (mark text not null, n int not null)');
      await query(
        primary.url,
        `insert into pitr_probe select 'base', g from generate_series(1, 5000) g`,
      );

      const full = await cfn([
        'backup',
        'create',
        '--engine',
        'pgbackrest',
        '--type',
        'full',
        '--json',
      ]);
      expect(full.stderr).toBe('');
      expect(full.code).toBe(0);
      const f = JSON.parse(full.stdout) as Created;
      expect(f).toMatchObject({
        engine: 'pgbackrest',
        type: 'pgbackrest-full',
        stanza: STANZA,
        prior: null,
        encryption: { algorithm: 'aes-256-cbc' },
      });
      expect(f.id).toMatch(/^\d{8}-\d{6}F$/);
      // Compressed: the repository holds less than the cluster's files.
      expect(f.sizeBytes).toBeGreaterThan(0);
      expect(f.sizeBytes).toBeLessThan(f.databaseSizeBytes);

      await query(
        primary.url,
        `insert into pitr_probe select 'before-incr', g from generate_series(1, 5000) g`,
      );
      const incr = await cfn(['backup', 'create', '--engine', 'pgbackrest', '--type', 'incr']);
      expect(incr.code).toBe(0);
      expect(incr.stdout).toMatch(
        new RegExp(
          `^Created pgBackRest incr backup ${f.id}_\\d{8}-\\d{6}I of stanza ${STANZA} on top of ${f.id} ` +
            `\\(.+ in the repository, database .+, encrypted aes-256-cbc\\) in \\d+\\.\\d s\\.\\n`,
        ),
      );

      const listed = await cfn(['backup', 'list', '--engine', 'pgbackrest', '--json']);
      expect(listed.code).toBe(0);
      const l = JSON.parse(listed.stdout) as Listing;
      expect(l.encryption).toEqual({ algorithm: 'aes-256-cbc' });
      expect(l.backups.map((b) => [b.type, b.prior])).toEqual([
        ['pgbackrest-incr', f.id],
        ['pgbackrest-full', null],
      ]);
      const [i, full2] = l.backups as [Listing['backups'][0], Listing['backups'][0]];
      expect(full2).toMatchObject({ id: f.id, sizeBytes: f.sizeBytes, verifiedAt: null });
      // Incremental: only what changed since the full backup.
      expect(i.sizeBytes).toBeGreaterThan(0);
      expect(i.sizeBytes).toBeLessThan(f.sizeBytes);
      // pgBackRest picks the backup set for a target by whole seconds: let the server's clock
      // leave the incremental backup's last second, so that T comes after it and the restore
      // starts from the incremental backup rather than from the full one.
      await until(
        'the clock past the incremental backup',
        async () => {
          const [{ now }] = (await query<{ now: number }>(
            primary.url,
            'select extract(epoch from clock_timestamp())::float8 as now',
          )) as [{ now: number }];
          return now >= new Date(i.completedAt).getTime() / 1000 + 1;
        },
        5_000,
      );

      // Set A, then the recovery target T (the server's clock, to the microsecond), then set B.
      await query(
        primary.url,
        `insert into pitr_probe select 'A', g from generate_series(1, 100) g`,
      );
      const [{ t: target }] = (await query<{ t: string }>(
        primary.url,
        `select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' as t`,
      )) as [{ t: string }];
      await query(
        primary.url,
        `insert into pitr_probe select 'B', g from generate_series(1, 100) g`,
      );
      // Recovery must see B's commit to stop before it: close the segment and wait for the archive.
      const [{ wal }] = (await query<{ wal: string }>(
        primary.url,
        'select pg_walfile_name(pg_switch_wal()) as wal',
      )) as [{ wal: string }];
      await until(`${wal} archived`, async () => {
        const [s] = await query<{ last: string | null }>(
          primary.url,
          'select last_archived_wal as last from pg_stat_archiver',
        );
        return (s?.last ?? '') >= wal;
      });

      const table = await cfn(['backup', 'list', '--engine', 'pgbackrest']);
      expect(table.stdout).toMatch(/^ID +TYPE +CREATED +SIZE +DATABASE +ENCRYPTED +VERIFIED\n/);
      for (const b of l.backups) {
        expect(table.stdout).toMatch(
          new RegExp(
            `^${b.id} +${b.type} +${b.createdAt} +${formatBytes(b.sizeBytes).replace('.', '\\.')} `,
            'm',
          ),
        );
      }
      expect(table.stdout).toContain(
        `point-in-time recovery to any time from ${full2.completedAt}`,
      );

      // The repository is encrypted: every object, backup files and WAL alike, is ciphertext.
      const objects = fs
        .readdirSync(path.join(s3.directory, 'pgbackrest'), { recursive: true, encoding: 'utf8' })
        .filter((p) => p.endsWith('._S3rver_object'));
      expect(objects.some((p) => p.includes('/archive/'))).toBe(true);
      expect(objects.length).toBeGreaterThan(100);
      for (const o of objects) {
        const head = fs.readFileSync(path.join(s3.directory, 'pgbackrest', o)).subarray(0, 8);
        expect(head.toString('latin1'), o).toBe('Salted__');
      }

      const verified = await cfn(['backup', 'verify', '--engine', 'pgbackrest', '--json']);
      expect(verified.code).toBe(0);
      const v = JSON.parse(verified.stdout) as {
        archives: Array<{ id: string; checked: number; valid: number }>;
        backups: Array<{ label: string; status: string; checked: number; valid: number }>;
      };
      expect(v.backups.map((b) => [b.label, b.status])).toEqual([
        [f.id, 'valid'],
        [i.id, 'valid'],
      ]);
      expect(v.archives).toHaveLength(1);
      expect(v.archives[0]!.id).toBe('15-1');
      expect(v.archives[0]!.checked).toBeGreaterThanOrEqual(3);
      expect(v.archives[0]!.valid).toBe(v.archives[0]!.checked);
      const after = JSON.parse(
        (await cfn(['backup', 'list', '--engine', 'pgbackrest', '--json'])).stdout,
      ) as Listing;
      expect(after.backups.every((b) => b.verifiedAt !== null)).toBe(true);
      expect(after.wal!.max >= wal).toBe(true);

      // The guide's point-in-time recovery, into a second cluster's empty data directory.
      restored = await startThrowawayPostgres({
        empty: true,
        // The copy must not archive into the primary's repository; its own lock and spool.
        settings: { archive_mode: 'off' },
        env: {
          ...repo.env,
          PGBACKREST_LOCK_PATH: path.join(repo.dir, 'lock'),
          PGBACKREST_SPOOL_PATH: path.join(repo.dir, 'spool'),
        },
      });
      const r = await cfn([
        'restore',
        '--engine',
        'pgbackrest',
        '--to',
        target,
        '--pg-data',
        restored.dataDir,
        '--json',
      ]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        stanza: STANZA,
        label: i.id,
        target,
        dataDir: restored.dataDir,
      });
      await restored.startAsync();
      const copy = restored.url;
      await until('the restored cluster promoted', async () => {
        const [s] = await query<{ r: boolean }>(copy, 'select pg_is_in_recovery() as r');
        return s?.r === false;
      });
      // Everything committed before T (set A came after the last backup: replayed from WAL),
      // nothing after it.
      expect(await marks(copy)).toEqual(['A', 'base', 'before-incr']);
      expect(await marks(primary.url)).toEqual(['A', 'B', 'base', 'before-incr']);
      const [tl] = await query<{ timeline_id: number }>(
        copy,
        'select timeline_id from pg_control_checkpoint()',
      );
      expect(tl?.timeline_id).toBe(2);
      // The restored database's own catalog knew both backups before T.
      const known = await query<{ id: string; type: string }>(
        copy,
        `select id, type from backups where status = 'completed' order by created_at`,
      );
      expect(known).toEqual([
        { id: f.id, type: 'pgbackrest-full' },
        { id: i.id, type: 'pgbackrest-incr' },
      ]);

      // A failed backup (wrong passphrase): a clear error, a non-zero exit, and it is counted.
      const failed = await cfn(['backup', 'create', '--engine', 'pgbackrest', '--type', 'incr'], {
        PGBACKREST_REPO1_CIPHER_PASS: 'not-the-passphrase',
      });
      expect(failed.code).toBe(1);
      // After the error log line: the reason, with pgBackRest's hint.
      expect(failed.stderr).toMatch(
        /^cfn: pgbackrest info failed: stanza cfn-test: other\nrepo1: \[\w+Error\] unable to load info file .*\nHINT: a wrong PGBACKREST_REPO1_CIPHER_PASS fails this way too\.\n$/ms,
      );

      const server = await startTestServer({
        DATABASE_URL: primary.url,
        BACKUP_SCHEDULES: 'off',
        PGBACKREST_STANZA: STANZA,
        PGBACKREST_CONFIG: repo.configFile,
      });
      try {
        const text = await (await server.fetch('/metrics')).text();
        expect(metric(text, 'backup_last_success_timestamp_seconds', 'pgbackrest-full')).toBe(
          new Date(f.completedAt).getTime() / 1000,
        );
        expect(metric(text, 'backup_size_bytes', 'pgbackrest-full')).toBe(f.sizeBytes);
        expect(metric(text, 'backup_duration_seconds', 'pgbackrest-full')).toBe(
          f.durationMs / 1000,
        );
        expect(metric(text, 'backup_size_bytes', 'pgbackrest-incr')).toBe(i.sizeBytes);
        expect(metric(text, 'backup_failures_total', 'pgbackrest-incr')).toBe(1);
        expect(metric(text, 'backup_failures_total', 'pgbackrest-full')).toBe(0);
      } finally {
        await server.stop();
      }
    },
    CLI_TIMEOUT * 2,
  );

  it(
    'shows progress on a terminal, and finds a damaged repository',
    async () => {
      const diff = await cfnOnTerminal([
        'backup',
        'create',
        '--engine',
        'pgbackrest',
        '--type',
        'diff',
      ]);
      expect(diff.code).toBe(0);
      // The line redrawn in place (carriage return, erase line), with pgBackRest's percentage.
      expect(diff.output).toContain('\r\u001b[2KpgBackRest diff backup: ');
      expect(diff.output).toMatch(/pgBackRest diff backup: \d{1,3}\.\d%/);
      expect(diff.output).toMatch(/Created pgBackRest diff backup \d{8}-\d{6}F_\d{8}-\d{6}D /);

      // One file of the full backup changed behind pgBackRest's back.
      const dir = path.join(s3.directory, 'pgbackrest');
      const victim = fs
        .readdirSync(dir, { recursive: true, encoding: 'utf8' })
        .filter((p) => /\d{8}-\d{6}F\/pg_data\/base\/.+\._S3rver_object$/.test(p))
        .sort()[0]!;
      const original = fs.readFileSync(path.join(dir, victim));
      fs.writeFileSync(path.join(dir, victim), 'not what was backed up');
      try {
        const r = await cfn(['backup', 'verify', '--engine', 'pgbackrest']);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(
          /^cfn: The pgBackRest repository of stanza cfn-test is damaged:\n/,
        );
        expect(r.stderr).toMatch(/status: invalid/);
      } finally {
        fs.writeFileSync(path.join(dir, victim), original);
      }
    },
    CLI_TIMEOUT,
  );
});
