// Backup metrics come from the real catalog, so any replica reports backups made by another
// process; scheduled jobs run only in the process holding the leader lock.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { queryRows } from '../../src/adapters/db/database.js';
import { createLeaderLock } from '../../src/adapters/db/leader-lock.js';
import { LOCK_KEYS } from '../../src/adapters/db/migrate.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { createTestDatabase } from '../support/services.js';
import { startTestServer } from '../support/test-server.js';
import { backupTools, onCleanup, openRuntime, tempDir } from './harness.js';

function metric(text: string, name: string, type: string): number {
  const m = new RegExp(`^${name}\\{type="${type}"\\} (\\S+)$`, 'm').exec(text);
  if (!m?.[1]) throw new Error(`${name}{type="${type}"} missing from /metrics:\n${text}`);
  return Number(m[1]);
}

describe('backup metrics and leadership', () => {
  it('reports last success, duration, size and failures by type from the catalog', async () => {
    const db = await createTestDatabase();
    onCleanup(() => db.drop());
    const env = { DATABASE_URL: db.url, BACKUP_SCHEDULES: 'off', BACKUP_TARGET: tempDir() };
    const server = await startTestServer(env);
    onCleanup(() => server.stop());
    const scrape = async () => (await server.fetch('/metrics')).text();

    let text = await scrape();
    // Before the first backup: no series (alert rules use absent()), failures start at 0.
    expect(text).toContain('# TYPE backup_last_success_timestamp_seconds gauge');
    expect(text).not.toMatch(/^backup_last_success_timestamp_seconds\{/m);
    expect(text).not.toMatch(/^backup_size_bytes\{/m);
    expect(metric(text, 'backup_failures_total', 'app-data')).toBe(0);

    const other = await openRuntime('postgres', env);
    const m = await backupTools(other.runtime, other.env).create({ type: 'database' });
    // A target that cannot be written (a file where the directory should be) fails the backup.
    const blocked = path.join(tempDir(), 'not-a-dir');
    fs.writeFileSync(blocked, 'x');
    await expect(
      backupTools(other.runtime, other.env, { target: blocked }).create({ type: 'app-data' }),
    ).rejects.toThrow(/app-data backup failed|ENOTDIR|EEXIST/);

    text = await scrape();
    expect(metric(text, 'backup_last_success_timestamp_seconds', 'database')).toBe(
      new Date(m.completedAt).getTime() / 1000,
    );
    expect(metric(text, 'backup_size_bytes', 'database')).toBe(m.sizeBytes);
    expect(metric(text, 'backup_duration_seconds', 'database')).toBe(m.durationMs / 1000);
    expect(metric(text, 'backup_failures_total', 'app-data')).toBe(1);
    expect(metric(text, 'backup_failures_total', 'database')).toBe(0);
  });

  it('lets one process at a time lead the schedules on PostgreSQL', async () => {
    const env = { BACKUP_SCHEDULES: 'off' };
    const a = await openRuntime('postgres', env);
    const b = await openRuntime('postgres', { ...env, DATABASE_URL: a.env.DATABASE_URL! });
    const first = createLeaderLock(a.runtime.database, LOCK_KEYS.backupLeader);
    const second = createLeaderLock(b.runtime.database, LOCK_KEYS.backupLeader);
    onCleanup(() => first.release());
    onCleanup(() => second.release());
    expect(await first.tryAcquire()).toBe(true);
    expect(await second.tryAcquire()).toBe(false);
    expect(await first.tryAcquire()).toBe(true);
    await first.release();
    expect(await second.tryAcquire()).toBe(true);
    expect(await first.tryAcquire()).toBe(false);
  });

  it('runs the database backup on its cron schedule in the serving process', async () => {
    const target = tempDir();
    const server = await startTestServer({
      BACKUP_TARGET: target,
      // Every second (croner's six-field form); the others never fire during the test.
      BACKUP_SCHEDULE_DATABASE: '* * * * * *',
      BACKUP_SCHEDULE_APP_DATA: '0 0 1 1 *',
      BACKUP_SCHEDULE_PRUNE: '0 0 1 1 *',
      BACKUP_SCHEDULE_VERIFY: '0 0 1 1 *',
    });
    onCleanup(() => server.stop());
    const deadline = Date.now() + 20_000;
    let last = 0;
    while (last === 0 && Date.now() < deadline) {
      const text = await (await server.fetch('/metrics')).text();
      if (/^backup_last_success_timestamp_seconds\{type="database"\}/m.test(text)) {
        last = metric(text, 'backup_last_success_timestamp_seconds', 'database');
      } else await new Promise((r) => setTimeout(r, 200));
    }
    expect(last).toBeGreaterThan(0);
    expect(fs.readdirSync(path.join(target, 'database')).some((f) => f.endsWith('.sql.gz'))).toBe(
      true,
    );
  });

  it('hands the schedules to another replica when the leader dies without letting go', async () => {
    const env = { BACKUP_SCHEDULES: 'off' };
    const a = await openRuntime('postgres', env);
    const b = await openRuntime('postgres', { ...env, DATABASE_URL: a.env.DATABASE_URL! });
    const leader = createLeaderLock(a.runtime.database, LOCK_KEYS.backupLeader);
    const standby = createLeaderLock(b.runtime.database, LOCK_KEYS.backupLeader);
    onCleanup(() => standby.release());
    onCleanup(() => leader.release());
    expect(await leader.tryAcquire()).toBe(true);
    expect(await standby.tryAcquire()).toBe(false);
    // The leader's process dies: its session ends (here: terminated, as when the process or its
    // host goes away), and PostgreSQL frees the lock with it.
    await queryRows(
      b.runtime.database.db,
      sql`select pg_terminate_backend(pid) from pg_locks
          where locktype = 'advisory' and objid = ${LOCK_KEYS.backupLeader} and granted
            and database = (select oid from pg_database where datname = current_database())`,
    );
    const until = Date.now() + 10_000;
    let took = false;
    while (!took && Date.now() < until) {
      took = await standby.tryAcquire();
      if (!took) await new Promise((r) => setTimeout(r, 100));
    }
    expect(took).toBe(true);
    // The old leader finds out at its next attempt and does not run the jobs any more.
    expect(await leader.tryAcquire()).toBe(false);
  });

  it('prunes old log files on the retention schedule and keeps recent ones', async () => {
    const logDir = tempDir();
    const old = path.join(logDir, 'app.log.3.gz');
    const recent = path.join(logDir, 'app.log.1');
    fs.writeFileSync(old, 'old');
    fs.writeFileSync(recent, 'recent');
    const fortyDaysAgo = new Date(Date.now() - 40 * 86_400_000);
    fs.utimesSync(old, fortyDaysAgo, fortyDaysAgo);
    const server = await startTestServer({
      LOG_DIR: logDir,
      BACKUP_TARGET: tempDir(),
      BACKUP_SCHEDULE_DATABASE: '0 0 1 1 *',
      BACKUP_SCHEDULE_APP_DATA: '0 0 1 1 *',
      BACKUP_SCHEDULE_PRUNE: '* * * * * *',
      BACKUP_SCHEDULE_VERIFY: '0 0 1 1 *',
    });
    onCleanup(() => server.stop());
    const until = Date.now() + 20_000;
    while (fs.existsSync(old) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    expect(fs.existsSync(old)).toBe(false);
    expect(fs.existsSync(recent)).toBe(true);
  });

  it('refuses an invalid cron expression at start, naming the variable', () => {
    expect(() => loadConfig({ BACKUP_SCHEDULE_PRUNE: 'every day' })).toThrow(ConfigError);
    expect(() => loadConfig({ BACKUP_SCHEDULE_PRUNE: 'every day' })).toThrow(
      'Invalid environment variable BACKUP_SCHEDULE_PRUNE: expected a cron expression such as "0 2 * * *"',
    );
  });
});
