// Real driver errors (node-postgres, through Drizzle as the service queries): the cause an
// operator acts on, not the query wrapper.
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../test/support/free-port.js';
import { dependencyCause } from './dependency-cause.js';

async function failure(connectionString: string, viaDrizzle = false): Promise<unknown> {
  const pool = new pg.Pool({ connectionString, connectionTimeoutMillis: 5000, max: 1 });
  pool.on('error', () => undefined);
  try {
    if (viaDrizzle) await drizzle(pool).execute(sql`select 1`);
    else await pool.query('select 1');
  } catch (err) {
    return err;
  } finally {
    await pool.end();
  }
  throw new Error('the query did not fail');
}

describe('dependencyCause', () => {
  it('names a refused connection and the address, not the query that failed', async () => {
    const port = await freePort();
    const err = await failure(`postgres://postgres@127.0.0.1:${port}/postgres`, true);
    expect(String((err as Error).message)).toMatch(/Failed query/);
    expect(dependencyCause(err)).toBe(`connection refused (127.0.0.1:${port})`);
  });

  it('names a missing database and a role that does not exist, with the SQLSTATE', async () => {
    const missing = await failure('postgres://postgres@127.0.0.1:5432/cfn_no_such_database', true);
    expect(dependencyCause(missing)).toBe(
      'database missing: database "cfn_no_such_database" does not exist (SQLSTATE 3D000)',
    );
    const role = await failure('postgres://cfn_no_such_role@127.0.0.1:5432/postgres');
    expect(dependencyCause(role)).toMatch(
      /^(not authorised|authentication failed): .*cfn_no_such_role.* \(SQLSTATE 28(000|P01)\)$/,
    );
  });

  it('names a host that does not resolve', async () => {
    const err = await failure('postgres://postgres@cfn-no-such-host.invalid:5432/postgres');
    expect(dependencyCause(err)).toMatch(/^host (not found|name lookup failed).*\(DNS\)/);
  });

  it('keeps the message of an error without a known code', () => {
    expect(dependencyCause(new Error('timed out after 50 ms'))).toBe('timed out after 50 ms');
    expect(dependencyCause(new Error('outer', { cause: new Error('inner') }))).toBe('inner');
    expect(dependencyCause('plain')).toBe('plain');
  });
});
