// `cfn db slow-queries` as an operator runs it: against a PostgreSQL of the test's own with
// pg_stat_statements preloaded, a slow statement tops the report (mean_exec_time, PostgreSQL 13+);
// where the extension is not loaded or not created, or the database is the embedded one, it
// exits 1 saying how to get it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';
import { startThrowawayPostgres, type ThrowawayPostgres } from '../support/throwaway-postgres.js';

let server: ThrowawayPostgres;
let shared: TestDatabase;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-slowq-'));

async function query(url: string, ...statements: string[]) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const s of statements) await client.query(s);
  } finally {
    await client.end();
  }
}
const withDb = (url: string, db: string) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};

beforeAll(async () => {
  server = await startThrowawayPostgres({
    settings: { shared_preload_libraries: 'pg_stat_statements' },
  });
  await query(server.url, 'create database claudeflow', 'create database bare');
  await query(
    withDb(server.url, 'claudeflow'),
    'create extension pg_stat_statements',
    'select pg_sleep(0.3)',
    'select 1',
    'select 2',
  );
  shared = await createTestDatabase();
}, 60_000);
afterAll(async () => {
  server?.destroy();
  await shared?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('cfn db slow-queries', () => {
  it('puts the slowest statement first, with its mean, calls and total', async () => {
    const env = { DATABASE_URL: withDb(server.url, 'claudeflow'), CFN_DATA_DIR: dir };
    const json = await runCli(['db', 'slow-queries', '--json', '--limit', '3'], { env });
    expect(json.code, json.stderr).toBe(0);
    const rows = JSON.parse(json.stdout) as Array<{ query: string; meanMs: number; calls: number }>;
    expect(rows.length).toBeLessThanOrEqual(3);
    expect(rows[0]!.query).toMatch(/pg_sleep/);
    expect(rows[0]!.meanMs).toBeGreaterThanOrEqual(300);
    expect(rows[0]!.calls).toBe(1);
    const table = await runCli(['db', 'slow-queries'], { env });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^MEAN MS\s+CALLS\s+TOTAL MS\s+ROWS\s+QUERY/);
    expect(table.stdout.split('\n')[1]).toMatch(/pg_sleep/);
  });

  it('says to create the extension where it is loaded but not created', async () => {
    const env = { DATABASE_URL: withDb(server.url, 'bare'), CFN_DATA_DIR: dir };
    const r = await runCli(['db', 'slow-queries'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/loaded but not created.*CREATE EXTENSION pg_stat_statements/);
  });

  it('says how to load it where shared_preload_libraries lacks it', async () => {
    const r = await runCli(['db', 'slow-queries', '--json'], {
      env: { DATABASE_URL: shared.url, CFN_DATA_DIR: dir },
    });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ available: false, reason: 'not_loaded' });
    expect(r.stderr).toMatch(/shared_preload_libraries.*restart PostgreSQL/);
  });

  it('says the embedded database has none, without creating one', async () => {
    const data = path.join(dir, 'embedded');
    const r = await runCli(['db', 'slow-queries'], { env: { CFN_DATA_DIR: data } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/embedded database \(PGlite\) has no pg_stat_statements/);
    expect(fs.existsSync(path.join(data, 'pglite'))).toBe(false);
  });
});
