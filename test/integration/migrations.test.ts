// Migrations: idempotent on PGlite and PostgreSQL, and safe when several processes start at once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/adapters/db/database.js';
import { MIGRATIONS_FOLDER, migrateDatabase } from '../../src/adapters/db/migrate.js';
import { createLogger } from '../../src/observability/logger.js';
import { captureLogs } from '../support/log-capture.js';
import { runCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';

const MIGRATIONS = (
  JSON.parse(fs.readFileSync(path.join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as {
    entries: unknown[];
  }
).entries.length;
const TABLES = [
  'agent_calls',
  'agent_tasks',
  'api_keys',
  'audit_log',
  'backups',
  'events',
  'playbook_entries',
  'settings',
  'swarm_iterations',
  'swarms',
  'webhook_deliveries',
];
const logger = createLogger({ level: 'warn', version: 'test', destination: captureLogs().stream });
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function pgDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  cleanups.push(() => db.drop());
  return db;
}

async function tablesOf(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' order by 1",
    );
    return r.rows.map((x) => x.table_name);
  } finally {
    await c.end();
  }
}

describe('migrations', () => {
  it('are idempotent on PGlite', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-mig-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const first = await openDatabase({ dataDir: dir, logger });
    expect(await migrateDatabase(first)).toMatchObject({ applied: MIGRATIONS, total: MIGRATIONS });
    expect(await migrateDatabase(first)).toMatchObject({ applied: 0, total: MIGRATIONS });
    await first.close();
    const reopened = await openDatabase({ dataDir: dir, logger });
    expect(await migrateDatabase(reopened)).toMatchObject({ applied: 0, total: MIGRATIONS });
    await reopened.close();
  });

  it('are idempotent on PostgreSQL', async () => {
    const t = await pgDatabase();
    const db = await openDatabase({ url: t.url, dataDir: 'unused', logger });
    expect(await migrateDatabase(db)).toMatchObject({ applied: MIGRATIONS, total: MIGRATIONS });
    expect(await migrateDatabase(db)).toMatchObject({ applied: 0, total: MIGRATIONS });
    await db.close();
    expect(await tablesOf(t.url)).toEqual(TABLES);
  });

  it('are safe when several processes migrate one PostgreSQL database at once', async () => {
    const t = await pgDatabase();
    const runs = await Promise.all(
      Array.from({ length: 3 }, () =>
        runCli(['migrate'], { env: { DATABASE_URL: t.url, LOG_LEVEL: 'warn' } }),
      ),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const applied = runs.map((r) => Number(r.stdout.match(/(\d+) migration\(s\) applied/)?.[1]));
    expect(applied.sort()).toEqual([0, 0, MIGRATIONS]);
    expect(await tablesOf(t.url)).toEqual(TABLES);
  });

  it('never let two processes open one PGlite directory: the second fails with a clear message', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-mig2-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const holder = await openDatabase({ dataDir: dir, logger });
    cleanups.push(() => holder.close());
    const second = await runCli(['migrate'], { env: { CFN_DATA_DIR: dir } });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`in use by process ${process.pid}`));
    expect(second.stderr).toMatch(/DATABASE_URL/);
    await holder.close();
    // Released: the next process migrates normally, and a stale lock (dead pid) is taken over.
    fs.writeFileSync(path.join(dir, 'pglite.lock'), '999999');
    const third = await runCli(['migrate'], { env: { CFN_DATA_DIR: dir, LOG_LEVEL: 'warn' } });
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toContain(`pglite: ${MIGRATIONS} migration(s) applied`);
  });
});
