// A PostgreSQL connection that dies while the service holds it out of the pool (a transaction, an
// advisory lock) — as on every PostgreSQL restart — fails what ran on it and nothing else: no
// uncaught 'error' event ends the process (it did: the API process of the fault suite exited).
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/adapters/db/database.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';

let testDb: TestDatabase;
let database: Database;
const uncaught: unknown[] = [];
const onUncaught = (err: unknown) => uncaught.push(err);

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await openDatabase({
    url: testDb.url,
    dataDir: 'unused',
    logger: pino({ level: 'silent' }),
    applicationName: 'cfn-pool-errors-test',
  });
  process.prependListener('uncaughtException', onUncaught);
});
afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  await database?.close();
  await testDb?.drop();
});

it('survives the server ending a connection the service has checked out', async () => {
  const admin = new pg.Client({ connectionString: testDb.url });
  await admin.connect();
  try {
    const held = database.withAdvisoryLock(4242, async () => {
      // Between two queries of the held connection, the server ends it.
      await admin.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'cfn-pool-errors-test' and query like '%pg_advisory_lock%'",
      );
      await new Promise((r) => setTimeout(r, 300));
    });
    await held.catch(() => undefined);
    expect(uncaught).toEqual([]);
    // The pool serves the next query on a new connection.
    const { rows } = await admin.query('select 1 as one');
    expect(rows[0].one).toBe(1);
    await database.withAdvisoryLock(4243, async () => undefined);
    expect(uncaught).toEqual([]);
  } finally {
    await admin.end();
  }
});
