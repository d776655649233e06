// The embedded database's memory: PGlite runs with the configured PostgreSQL memory settings (a
// small shared_buffers by default instead of PGlite's 128 MB), and a new data directory is
// initialised by a child process into a scratch directory renamed into place, so initdb's memory
// never stays in the service and an initdb cut short never leaves a half-made database.
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, queryRows } from '../../src/adapters/db/database.js';
import { sql } from 'drizzle-orm';
import { createLogger } from '../../src/observability/logger.js';
import { captureLogs } from '../support/log-capture.js';

const logger = createLogger({ level: 'warn', version: 'test', destination: captureLogs().stream });
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-pglite-memory-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function settingsOf(
  dataDir: string,
  pgliteSettings?: Parameters<typeof openDatabase>[0]['pgliteSettings'],
) {
  const database = await openDatabase({ dataDir, logger, pgliteSettings });
  try {
    const [row] = await queryRows<{ sb: string; wm: string; mwm: string }>(
      database.db,
      sql`select current_setting('shared_buffers') as sb, current_setting('work_mem') as wm,
                 current_setting('maintenance_work_mem') as mwm`,
    );
    return row;
  } finally {
    await database.close();
  }
}

describe('the embedded database memory settings', () => {
  it('runs with 16 MB of shared buffers by default, and with what the configuration says', async () => {
    const dir = path.join(root, 'settings');
    expect(await settingsOf(dir)).toEqual({ sb: '16MB', wm: '4MB', mwm: '16MB' });
    const custom = { sharedBuffersMb: 24, workMemMb: 3, maintenanceWorkMemMb: 20 };
    expect(await settingsOf(dir, custom)).toEqual({ sb: '24MB', wm: '3MB', mwm: '20MB' });
    // In memory too (tests and throwaway runs).
    expect(await settingsOf('memory://', custom)).toEqual({ sb: '24MB', wm: '3MB', mwm: '20MB' });
  });

  it('initialises a new data directory in another process and leaves no scratch behind', async () => {
    const dir = path.join(root, 'fresh');
    const database = await openDatabase({ dataDir: dir, logger });
    try {
      const [row] = await queryRows<{ v: string }>(database.db, sql`select version() as v`);
      expect(row!.v).toMatch(/PostgreSQL/);
      await database.db.execute(sql`create table kept (x int)`);
      await database.db.execute(sql`insert into kept values (7)`);
    } finally {
      await database.close();
    }
    expect(fs.readdirSync(dir).sort()).toEqual(['pglite']);
    expect(fs.existsSync(path.join(dir, 'pglite', 'PG_VERSION'))).toBe(true);
    // Reopened: the same database, not a second initdb.
    const again = await openDatabase({ dataDir: dir, logger });
    try {
      const [row] = await queryRows<{ x: number }>(again.db, sql`select x from kept`);
      expect(row!.x).toBe(7);
    } finally {
      await again.close();
    }
  });

  it('recovers from an initdb cut short: the scratch is removed and the next start initialises', async () => {
    const dir = path.join(root, 'killed');
    fs.mkdirSync(dir);
    // A real initdb, killed part-way (as a service killed during its first start leaves it).
    const child = spawn(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(createRequire(import.meta.url).resolve('@electric-sql/pglite'))}).PGlite.create(process.argv[1])`,
        path.join(dir, 'pglite.init-999999'),
      ],
      { stdio: 'ignore' },
    );
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(fs.existsSync(path.join(dir, 'pglite.init-999999'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'pglite'))).toBe(false);

    const database = await openDatabase({ dataDir: dir, logger });
    try {
      const [row] = await queryRows<{ n: number }>(database.db, sql`select 1 as n`);
      expect(row!.n).toBe(1);
    } finally {
      await database.close();
    }
    expect(fs.readdirSync(dir).sort()).toEqual(['pglite']);
  });

  it('refuses a value out of range at start-up, naming the variable', () => {
    const bin = path.resolve('dist/main/bin.js');
    let stderr = '';
    try {
      execFileSync(process.execPath, [bin, 'start'], {
        env: {
          PATH: process.env.PATH,
          CFN_DATA_DIR: path.join(root, 'bad'),
          CFN_PGLITE_SHARED_BUFFERS_MB: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 20_000,
      });
    } catch (err) {
      stderr = String((err as { stderr: Buffer }).stderr);
    }
    expect(stderr).toMatch(/CFN_PGLITE_SHARED_BUFFERS_MB/);
  });
});
