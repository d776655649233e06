// Leadership for scheduled jobs: the process holding a PostgreSQL session advisory lock on a
// dedicated connection runs them; with PGlite the single process is the leader.
import pg from 'pg';
import type { Database } from './database.js';

export interface LeaderLock {
  /** True when this process holds (or just took) the lock. */
  tryAcquire(): Promise<boolean>;
  release(): Promise<void>;
}

export function createLeaderLock(database: Database, key: number): LeaderLock {
  if (!database.url) {
    return { tryAcquire: async () => true, release: async () => {} };
  }
  const url = database.url;
  let client: pg.Client | undefined;
  let held = false;
  const drop = async () => {
    held = false;
    const c = client;
    client = undefined;
    await c?.end().catch(() => {});
  };
  return {
    async tryAcquire() {
      if (held && client) {
        // Still ours while the connection lives.
        try {
          await client.query('select 1');
          return true;
        } catch {
          await drop();
        }
      }
      try {
        client ??= new pg.Client({ connectionString: url, application_name: 'cfn-leader' });
        if (!held) {
          await client.connect().catch(async (err: unknown) => {
            await drop();
            throw err;
          });
        }
        client.on('error', () => void drop());
        const r = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [
          key,
        ]);
        held = r.rows[0]?.ok === true;
        if (!held) await drop();
        return held;
      } catch {
        await drop();
        return false;
      }
    },
    release: drop,
  };
}
