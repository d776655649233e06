// The embedded database on its worker thread, through the same handle the stores use: Postgres
// errors keep their fields across the thread, transactions commit and roll back, statements
// outside a transaction wait for it, and a worker that dies fails every call instead of hanging.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openDatabase,
  queryRows,
  rawQueryOf,
  type Database,
} from '../../src/adapters/db/database.js';
import { createLogger } from '../../src/observability/logger.js';
import { captureLogs } from '../support/log-capture.js';

const logs = captureLogs();
const logger = createLogger({ level: 'warn', version: 'test', destination: logs.stream });
const signal = new AbortController().signal;

async function count(database: Database): Promise<number> {
  const [row] = await queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from t`);
  return row!.n;
}

describe('PGlite on its worker thread', () => {
  let database: Database;

  beforeAll(async () => {
    database = await openDatabase({ dataDir: 'memory://', logger });
    await database.db.execute(
      sql`create table t (k text constraint t_k_unique unique, at timestamptz default now())`,
    );
  });
  afterAll(() => database?.close());

  it('keeps the code, constraint and detail of a unique violation', async () => {
    const query = rawQueryOf(database.db);
    await query('ins', 'insert into t (k) values ($1)', ['dup']);
    const raw = await query('ins', 'insert into t (k) values ($1)', ['dup']).catch((e) => e);
    expect(raw).toBeInstanceOf(Error);
    expect(raw).toMatchObject({
      code: '23505',
      constraint: 't_k_unique',
      table: 't',
      detail: 'Key (k)=(dup) already exists.',
      severity: 'ERROR',
    });
    expect((raw as Error).message).toBe(
      'duplicate key value violates unique constraint "t_k_unique"',
    );
    // Through drizzle the driver's error is the cause, as with node-postgres.
    const viaDrizzle = await database.db
      .execute(sql`insert into t (k) values (${'dup'})`)
      .catch((e: Error) => e);
    expect((viaDrizzle as Error).cause).toMatchObject({ code: '23505', constraint: 't_k_unique' });
  });

  it('returns rows as the in-process driver does (timestamps kept as text for drizzle)', async () => {
    const [row] = await queryRows<{ k: string; at: unknown; b: unknown; j: unknown }>(
      database.db,
      sql`select k, at, '\\x0102'::bytea as b, '{"a":[1]}'::jsonb as j from t where k = 'dup'`,
    );
    expect(row!.k).toBe('dup');
    expect(typeof row!.at).toBe('string');
    expect(row!.b).toEqual(new Uint8Array([1, 2]));
    expect(row!.j).toEqual({ a: [1] });
  });

  it('commits a transaction, and rolls back one that throws or asks to', async () => {
    const before = await count(database);
    await database.db.transaction(async (tx) => {
      await tx.execute(sql`insert into t (k) values ('committed')`);
    });
    expect(await count(database)).toBe(before + 1);

    const boom = new Error('boom');
    await expect(
      database.db.transaction(async (tx) => {
        await tx.execute(sql`insert into t (k) values ('thrown')`);
        throw boom;
      }),
    ).rejects.toBe(boom);
    await expect(
      database.db.transaction(async (tx) => {
        await tx.execute(sql`insert into t (k) values ('rolled back')`);
        tx.rollback();
      }),
    ).rejects.toThrow(/Rollback/);
    // A failed statement inside: the transaction is rolled back and its error surfaces.
    await expect(
      database.db.transaction(async (tx) => {
        await tx.execute(sql`insert into t (k) values ('before the conflict')`);
        await tx.execute(sql`insert into t (k) values ('dup')`);
      }),
    ).rejects.toMatchObject({ cause: { code: '23505' } });
    expect(await count(database)).toBe(before + 1);
  });

  it('makes statements outside a transaction wait for it to end', async () => {
    const before = await count(database);
    let seen: number | undefined;
    let outside: Promise<unknown> | undefined;
    await database.db.transaction(async (tx) => {
      await tx.execute(sql`insert into t (k) values ('inside')`);
      outside = count(database).then((n) => (seen = n));
      // A round trip after the outside statement reached the worker: it is still waiting.
      await tx.execute(sql`select 1`);
      expect(seen).toBeUndefined();
    });
    await outside;
    expect(seen).toBe(before + 1);
  });

  it('runs nested transactions as savepoints', async () => {
    const before = await count(database);
    await database.db.transaction(async (tx) => {
      await tx.execute(sql`insert into t (k) values ('outer')`);
      await tx
        .transaction(async (inner) => {
          await inner.execute(sql`insert into t (k) values ('inner')`);
          throw new Error('inner fails');
        })
        .catch(() => {});
    });
    expect(await count(database)).toBe(before + 1);
  });
});

describe('a PGlite worker that dies', () => {
  it('rejects the calls in flight and every later one, fails the probe, and closes', async () => {
    const database = await openDatabase({
      dataDir: 'memory://',
      logger,
      // A small heap: a result of 200 MB kills the thread, as a real out-of-memory would.
      pgliteWorker: { resourceLimits: { maxOldGenerationSizeMb: 48 } },
    });
    try {
      const [probe] = database.probes;
      await expect(probe!.check(signal)).resolves.toBeUndefined();
      const huge = database.db.execute(
        sql`select repeat('x', 1000000) as s from generate_series(1, 200)`,
      );
      const queued = database.db.execute(sql`select 1`);
      await expect(huge).rejects.toMatchObject({
        cause: {
          code: 'SERVICE_UNAVAILABLE',
          message: expect.stringMatching(/embedded database worker stopped.*memory/),
        },
      });
      await expect(queued).rejects.toMatchObject({ cause: { code: 'SERVICE_UNAVAILABLE' } });
      await expect(probe!.check(signal)).rejects.toThrow();
      await expect(
        database.db.transaction(async (tx) => {
          await tx.execute(sql`select 1`);
        }),
      ).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      expect(logs.lines().some((l) => l.msg === 'the embedded database worker stopped')).toBe(true);
    } finally {
      await database.close();
    }
  });

  it('after close, fails calls at once', async () => {
    const database = await openDatabase({ dataDir: 'memory://', logger });
    await database.close();
    await expect(database.db.execute(sql`select 1`)).rejects.toMatchObject({
      cause: { message: 'The embedded database is closed' },
    });
    await database.close();
  });
});
