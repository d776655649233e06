// `cfn logs prune` run as the built CLI on real files (mtimes set back) and real audit_log rows,
// on both PGlite and PostgreSQL: what it reports is exactly what it deletes, and nothing else goes.
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, queryRows, type Database } from '../../src/adapters/db/database.js';
import { migrateDatabase } from '../../src/adapters/db/migrate.js';
import { createLogger } from '../../src/observability/logger.js';
import { runCli } from '../support/cli.js';
import { tempDir } from '../support/monitoring-stack.js';
import { createTestDatabase } from '../support/services.js';

const DAY = 86_400_000;
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

function writeLog(dir: string, name: string, ageDays: number) {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '{"level":"info","msg":"x"}\n');
  const t = new Date(Date.now() - ageDays * DAY);
  fs.utimesSync(file, t, t);
}

interface Profile {
  name: string;
  setup(): Promise<{ env: Record<string, string>; open(): Promise<Database> }>;
}

const PROFILES: Profile[] = [
  {
    name: 'PGlite',
    async setup() {
      const dataDir = tempDir('cfn-prune-pglite-');
      cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
      return {
        env: { CFN_DATA_DIR: dataDir },
        open: () =>
          openDatabase({ dataDir, logger: createLogger({ level: 'silent', version: 't' }) }),
      };
    },
  },
  {
    name: 'PostgreSQL',
    async setup() {
      const db = await createTestDatabase();
      cleanups.push(() => db.drop());
      const dataDir = tempDir('cfn-prune-pg-');
      cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
      return {
        env: { CFN_DATA_DIR: dataDir, DATABASE_URL: db.url },
        open: () =>
          openDatabase({
            url: db.url,
            dataDir,
            logger: createLogger({ level: 'silent', version: 't' }),
          }),
      };
    },
  },
];

describe.each(PROFILES)('cfn logs prune on $name', (profile) => {
  it('deletes log files older than 30 days and audit rows older than 90 days, after a dry run that deletes nothing', async () => {
    const { env, open } = await profile.setup();
    // Audit rows of known ages (the database's own clock, as the service writes them).
    const database = await open();
    try {
      await migrateDatabase(database);
      for (const [action, days] of [
        ['key.create', 200],
        ['key.revoke', 91],
        ['key.create', 89],
        ['key.revoke', 1],
      ] as const) {
        await database.db.execute(
          sql`insert into audit_log (at, action, actor_name) values (now() - make_interval(days => ${days}), ${action}, 'test')`,
        );
      }
    } finally {
      await database.close();
    }
    const logDir = tempDir('cfn-prune-logs-');
    cleanups.push(() => fs.rmSync(logDir, { recursive: true, force: true }));
    writeLog(logDir, 'app.log', 0);
    writeLog(logDir, 'app.log.1', 40);
    writeLog(logDir, 'app.log.2.gz', 31);
    writeLog(logDir, 'app.log.3.gz', 29);
    writeLog(logDir, 'notes.txt', 100); // not a log file
    writeLog(logDir, 'archive/old.log', 100); // not in the directory itself

    const dry = await runCli(['logs', 'prune', '--dir', logDir, '--dry-run', '--json'], { env });
    expect(dry.code, dry.stderr).toBe(0);
    const planned = JSON.parse(dry.stdout) as {
      dryRun: boolean;
      files: Array<{ path: string; bytes: number }>;
      auditRows: number;
      appDays: number;
      auditDays: number;
    };
    expect(planned).toMatchObject({ dryRun: true, auditRows: 2, appDays: 30, auditDays: 90 });
    expect(planned.files.map((f) => path.basename(f.path))).toEqual(['app.log.1', 'app.log.2.gz']);
    expect(fs.existsSync(path.join(logDir, 'app.log.1'))).toBe(true);

    const real = await runCli(['logs', 'prune', '--dir', logDir], { env });
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).toContain(`Removed 2 log file(s) older than 30 days from ${logDir}:`);
    expect(real.stdout).toMatch(/^ {2}app\.log\.1 {2}\S+ {2}27 B$/m);
    expect(real.stdout).toContain('Removed 2 audit log row(s) older than 90 days');
    expect(fs.readdirSync(logDir).sort()).toEqual([
      'app.log',
      'app.log.3.gz',
      'archive',
      'notes.txt',
    ]);
    expect(fs.existsSync(path.join(logDir, 'archive', 'old.log'))).toBe(true);

    const after = await open();
    try {
      const rows = await queryRows<{ action: string; age: number }>(
        after.db,
        sql`select action, extract(day from now() - at)::int as age from audit_log order by at`,
      );
      expect(rows.map((r) => r.action)).toEqual(['key.create', 'key.revoke', 'audit.prune']);
      expect(rows[0]!.age).toBe(89);
      const [entry] = await queryRows<{ details: { auditRows: number; files: string[] } }>(
        after.db,
        sql`select details from audit_log where action = 'audit.prune'`,
      );
      expect(entry!.details).toMatchObject({ auditRows: 2, files: ['app.log.1', 'app.log.2.gz'] });
    } finally {
      await after.close();
    }

    // A second run finds nothing more (the audit.prune row is new).
    const again = await runCli(['logs', 'prune', '--dir', logDir, '--json'], { env });
    expect(JSON.parse(again.stdout)).toMatchObject({ files: [], auditRows: 0 });
  }, 120_000);
});

describe('cfn logs prune errors', () => {
  it('names a missing directory and what to pass instead', async () => {
    const dataDir = tempDir('cfn-prune-err-');
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const missing = path.join(dataDir, 'no-such-dir');
    const r = await runCli(['logs', 'prune', '--dir', missing], { env: { CFN_DATA_DIR: dataDir } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cfn: log directory ${missing} does not exist: pass --dir <dir>`);
  }, 60_000);

  it('refuses a retention below one day', async () => {
    const r = await runCli(['logs', 'prune', '--app-days', '0'], { env: {} });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('expected a whole number ≥ 1');
    expect(r.stderr).toContain('--help');
  });

  it('prunes audit rows only when no directory is configured, and says so', async () => {
    const dataDir = tempDir('cfn-prune-nodir-');
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const r = await runCli(['logs', 'prune', '--dry-run'], { env: { CFN_DATA_DIR: dataDir } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      'No log directory (LOG_DIR unset and no --dir): log files not checked.',
    );
    expect(r.stdout).toContain('Would remove 0 audit log row(s)');
  }, 60_000);
});
