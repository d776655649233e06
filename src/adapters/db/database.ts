// Opens the database the configuration names: PGlite under the data directory (embedded, on a
// worker thread) or a node-postgres pool (distributed), both behind the same Drizzle type, plus
// health probes.
import type { PGlite } from '@electric-sql/pglite';
import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { HealthProbe } from '../../ports/health-check.js';
import type { Logger } from '../../ports/logger.js';
import type { PgliteHandle } from './pglite-handle.js';
import { AppError } from '../../domain/errors.js';
import type { PgliteSettings } from './pglite-settings.js';
import { startOpeningPglite, type PgliteOpening } from './pglite-open.js';
import { PgliteWorkerClient, type PgliteWorkerOptions } from './pglite-worker-client.js';
import { createReadFallback } from './read-fallback.js';
import { schema } from './schema.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  readonly kind: 'pglite' | 'postgres';
  /** The primary: every write and every read-your-own-write. */
  readonly db: Db;
  /**
   * A read replica when DATABASE_READ_URL is set (the primary while the replica cannot be
   * reached), else the primary.
   */
  readonly readDb: Db;
  readonly probes: readonly HealthProbe[];
  /** The embedded engine (backups dump and restore it); absent for PostgreSQL. */
  readonly pglite?: PgliteHandle;
  /** The primary's URL (backups run pg_dump/psql against it); absent for PGlite. */
  readonly url?: string;
  /** Runs `fn` holding a session-level advisory lock, on one connection. */
  withAdvisoryLock<T>(key: number, fn: (db: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  url?: string | undefined;
  readUrl?: string | undefined;
  poolMax?: number;
  connectTimeoutMs?: number;
  /** Where PGlite keeps its files; `memory://` for a throwaway in-memory database. */
  dataDir: string;
  logger: Logger;
  applicationName?: string;
  /** Options of the embedded database's worker thread (tests: make it run out of memory). */
  pgliteWorker?: Pick<PgliteWorkerOptions, 'resourceLimits' | 'closeTimeoutMs'>;
  /** The embedded database's memory settings (DEFAULT_PGLITE_SETTINGS when absent). */
  pgliteSettings?: PgliteSettings | undefined;
  /** The embedded database, already being opened for `dataDir` (cfn start begins it early). */
  pgliteOpening?: PgliteOpening;
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  return options.url ? openPostgres({ ...options, url: options.url }) : openEmbedded(options);
}

function probe(name: string, db: Db, required = true): HealthProbe {
  // Straight to the driver: /health runs this often, and Drizzle's query building cost more.
  const raw = rawQueryOf(db);
  return {
    name,
    required,
    async check() {
      await raw('cfn_health', 'select 1', []);
    },
  };
}

async function openEmbedded(options: OpenDatabaseOptions): Promise<Database> {
  if (options.pgliteOpening && options.pgliteOpening.dataDir !== options.dataDir) {
    throw new AppError(
      'INTERNAL',
      `The embedded database was opened for ${options.pgliteOpening.dataDir}, not ${options.dataDir}`,
    );
  }
  const opening =
    options.pgliteOpening ??
    startOpeningPglite({
      dataDir: options.dataDir,
      logger: options.logger,
      settings: options.pgliteSettings,
      ...options.pgliteWorker,
    });
  const client = await opening.client;
  client.setLogger(options.logger);
  const release = () => opening.release();
  // The worker client answers every call drizzle-orm/pglite makes of a PGlite (query with
  // rowMode and identity parsers, exec, transaction); the type asks for the class itself.
  const db = drizzlePglite({ client: client as unknown as PGlite, schema }) as unknown as Db;
  let closed = false;
  return {
    kind: 'pglite',
    db,
    readDb: db,
    pglite: client,
    probes: [probe('database', db)],
    // One process owns a PGlite directory (the lock file), so the advisory lock only orders work
    // inside this process; it is taken anyway to keep one code path.
    async withAdvisoryLock(key, fn) {
      await client.query('select pg_advisory_lock($1)', [key]);
      try {
        return await fn(db);
      } finally {
        await client.query('select pg_advisory_unlock($1)', [key]);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        await client.close();
      } finally {
        release();
      }
    },
  };
}

function createPool(url: string, options: OpenDatabaseOptions, role: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? 'claude-flow-novice',
  });
  // An idle client whose server went away emits here; without a listener the process would crash.
  pool.on('error', (err) => {
    options.logger.warn({ err: { message: err.message }, pool: role }, 'database connection lost');
  });
  // A client checked out of the pool (a transaction, an advisory lock) has no pool listener: when
  // its server goes away (a PostgreSQL restart) it emits 'error' besides failing its queries, and
  // without a listener of its own that was an uncaught exception that ended the process.
  pool.on('connect', (client) => {
    client.on('error', () => {
      // Its queries fail with the same error, and their callers handle it; the pool drops it.
    });
  });
  return pool;
}

async function openPostgres(options: OpenDatabaseOptions & { url: string }): Promise<Database> {
  const pool = createPool(options.url, options, 'primary');
  const readPool = options.readUrl ? createPool(options.readUrl, options, 'read') : undefined;
  const db = drizzlePg({ client: pool, schema }) as unknown as Db;
  // Replica reads fall back to the primary while the replica is away.
  const fallback = readPool
    ? createReadFallback({ replica: readPool, primary: pool, logger: options.logger })
    : undefined;
  const readDb = fallback ? (drizzlePg({ client: fallback.pool, schema }) as unknown as Db) : db;
  const probes = [probe('database', db)];
  // The replica's own state (not the fallback's): the service runs without it, degraded.
  if (readPool)
    probes.push(
      probe('database_read', drizzlePg({ client: readPool, schema }) as unknown as Db, false),
    );
  let closed = false;
  return {
    kind: 'postgres',
    db,
    readDb,
    url: options.url,
    probes,
    async withAdvisoryLock(key, fn) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('select pg_advisory_lock($1)', [key]);
        try {
          return await fn(drizzlePg({ client, schema }) as unknown as Db);
        } finally {
          await client.query('select pg_advisory_unlock($1)', [key]).catch((err: Error) => {
            broken = err;
          });
        }
      } finally {
        // A connection whose unlock failed may still hold the lock: destroy it rather than reuse it.
        client.release(broken);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      fallback?.close();
      await Promise.all([pool.end(), readPool?.end()]);
    },
  };
}

/** Runs raw SQL and returns its rows; node-postgres and PGlite both answer with `{ rows }`. */
export async function queryRows<T>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

/** A parameterised query straight to the driver (node-postgres prepares it once per connection). */
export type RawQuery = (
  name: string,
  text: string,
  values: unknown[],
) => Promise<{ rows: unknown[] }>;

/** The driver under a Drizzle handle, for hot paths where query building costs more than the query. */
export function rawQueryOf(db: Db): RawQuery {
  const client = (db as unknown as { $client: unknown }).$client;
  if (client instanceof PgliteWorkerClient)
    return (_name, text, values) => client.query(text, values);
  const pool = client as pg.Pool;
  return (name, text, values) => pool.query({ name, text, values });
}
