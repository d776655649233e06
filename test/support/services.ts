// Real PostgreSQL and Redis for integration tests. Each test file gets its own database and key
// prefix so runs never collide. An unreachable service fails the suite (never skips it).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';

export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({
    connectionString: TEST_DATABASE_URL,
    connectionTimeoutMillis: 5000,
  });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${TEST_DATABASE_URL} (${(err as Error).message}). ` +
        'The integration tests need it: start it (see README, "Testing") or set TEST_DATABASE_URL.',
    );
  }
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates an empty database of its own on the test server. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = uniqueName('cfn_test');
  await adminQuery(`create database "${name}"`);
  return {
    name,
    url: withDatabase(TEST_DATABASE_URL, name),
    async drop() {
      await adminQuery(`drop database if exists "${name}" with (force)`);
    },
  };
}

export interface TestRedis {
  url: string;
  prefix: string;
  client: Redis;
  cleanup(): Promise<void>;
}

/** A Redis connection and a key prefix of its own; cleanup deletes the prefix's keys. */
export async function connectTestRedis(): Promise<TestRedis> {
  const client = new Redis(TEST_REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    client.disconnect();
    throw new Error(
      `Redis is not reachable at ${TEST_REDIS_URL} (${(err as Error).message}). ` +
        'The integration tests need it: start it (see README, "Testing") or set TEST_REDIS_URL.',
    );
  }
  const prefix = uniqueName('cfntest') + ':';
  return {
    url: TEST_REDIS_URL,
    prefix,
    client,
    async cleanup() {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length) await client.del(...keys);
      } while (cursor !== '0');
      client.disconnect();
    },
  };
}
