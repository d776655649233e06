// Migrations: idempotent on PGlite and PostgreSQL, and safe when several processes start at once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
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
  'access_blocks',
  'agent_calls',
  'agent_tasks',
  'api_keys',
  'audit_log',
  'backups',
  'events',
  'playbook_entries',
  'service_replicas',
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

  it('upgrade a log that holds two outcomes of one task (written before 0003) without rewriting it', async () => {
    const t = await pgDatabase();
    // The migrations up to 0002, as an older release applied them.
    const old = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-mig-old-'));
    cleanups.push(() => fs.rmSync(old, { recursive: true, force: true }));
    fs.cpSync(MIGRATIONS_FOLDER, old, { recursive: true });
    const journal = JSON.parse(
      fs.readFileSync(path.join(old, 'meta', '_journal.json'), 'utf8'),
    ) as {
      entries: Array<{ tag: string }>;
    };
    journal.entries = journal.entries.filter((e) => e.tag < '0003');
    fs.writeFileSync(path.join(old, 'meta', '_journal.json'), JSON.stringify(journal));
    const pool = new pg.Pool({ connectionString: t.url });
    await migrate(drizzle(pool), { migrationsFolder: old });
    const id = '6f1d2c3b-0000-4000-8000-000000000001';
    const outcome = (type: string) =>
      JSON.stringify({
        type,
        taskId: 'i1.implement.0.a1',
        tokens: { input: 1, output: 1 },
        costUsd: 0,
      });
    await pool.query(
      `insert into events (swarm_id, seq, type, data) values
         ($1, 1, 'swarm.created', '{"type":"swarm.created"}'),
         ($1, 2, 'task.succeeded', $2), ($1, 3, 'task.succeeded', $2), ($1, 4, 'task.failed', $3)`,
      [id, outcome('task.succeeded'), outcome('task.failed')],
    );
    await pool.end();
    const db = await openDatabase({ url: t.url, dataDir: 'unused', logger });
    expect(await migrateDatabase(db)).toMatchObject({ total: MIGRATIONS });
    await db.close();
    const c = new pg.Client({ connectionString: t.url });
    await c.connect();
    const rows = await c.query<{ seq: number; type: string; t: string }>(
      `select seq, type, data->>'type' as t from events where swarm_id = $1 order by seq`,
      [id],
    );
    await c.end();
    expect(rows.rows).toEqual([
      { seq: 1, type: 'swarm.created', t: 'swarm.created' },
      { seq: 2, type: 'task.succeeded', t: 'task.succeeded' },
      { seq: 3, type: 'task.outcome.repeated', t: 'task.succeeded' },
      { seq: 4, type: 'task.outcome.repeated', t: 'task.failed' },
    ]);
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
