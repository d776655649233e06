// Dumps and restores the whole database as plain SQL: pg_dump/psql (matching the server's major
// version) for PostgreSQL, PGlite's own pg_dump (WASM) for the embedded database.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { AppError } from '../../domain/errors.js';
import type {
  DatabaseDumper,
  DatabaseKind,
  ScratchDatabases,
  SwarmInventory,
} from '../../ports/backup.js';
import { MIGRATIONS_FOLDER } from './migrate.js';
import { localPgliteHandle, type PgliteHandle } from './pglite-handle.js';
import { countRows, ident, listTables, type SqlRunner } from './row-counts.js';
import {
  AFTER_RESTORE_SQL,
  BEFORE_RESTORE_SQL,
  RUNTIME_DUMP_ARGS,
  RUNTIME_TABLES,
} from './restore-guards.js';

async function swarmInventory(db: SqlRunner): Promise<SwarmInventory> {
  const swarms = await db.rows<{ id: string }>('select id from public.swarms');
  const events = await db.rows<{ id: string; n: string | number }>(
    'select swarm_id as id, count(*) as n from public.events group by swarm_id',
  );
  return {
    swarms: new Set(swarms.map((r) => r.id)),
    events: new Map(events.map((r) => [r.id, Number(r.n)])),
  };
}

async function checksums(db: SqlRunner): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const { s, t } of await listTables(db)) {
    if ((RUNTIME_TABLES as readonly string[]).includes(`${s}.${t}`)) continue;
    const [r] = await db.rows<{ h: string }>(
      `select md5(coalesce(string_agg(x::text, E'\\n' order by x::text), '')) as h
         from ${ident(s)}.${ident(t)} x`,
    );
    out[`${s}.${t}`] = r?.h ?? '';
  }
  return out;
}

function migrationTags(): Map<number, string> {
  const journal = JSON.parse(
    fs.readFileSync(path.join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8'),
  ) as { entries: Array<{ when: number; tag: string }> };
  return new Map(journal.entries.map((e) => [e.when, e.tag]));
}

async function schemaVersionOf(db: SqlRunner): Promise<string | null> {
  const [exists] = await db.rows<{ n: string | number }>(
    `select count(*) as n from information_schema.tables
      where table_schema = 'drizzle' and table_name = '__drizzle_migrations'`,
  );
  if (Number(exists?.n ?? 0) === 0) return null;
  const [last] = await db.rows<{ created_at: string | number }>(
    'select created_at from drizzle.__drizzle_migrations order by created_at desc limit 1',
  );
  if (!last) return null;
  const when = Number(last.created_at);
  return migrationTags().get(when) ?? `unknown (${when})`;
}

/** Statements PostgreSQL 17+ dumps carry that older servers reject. */
const NEWER_ONLY_SETTINGS = /^SET (transaction_timeout)\s*=/;

/** Drops lines an older server would reject; streaming, line by line. */
export function compatibilityFilter(serverMajor: number): Transform {
  let rest = '';
  const keep = (line: string) => !(serverMajor < 17 && NEWER_ONLY_SETTINGS.test(line));
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      const text = rest + chunk.toString('utf8');
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      done(
        null,
        lines
          .filter(keep)
          .map((l) => l + '\n')
          .join(''),
      );
    },
    flush(done) {
      done(null, keep(rest) ? rest : '');
    },
  });
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const RESET_SCHEMAS = `SET client_min_messages = warning;
DROP SCHEMA IF EXISTS drizzle CASCADE;
DROP SCHEMA IF EXISTS public CASCADE;
CREATE SCHEMA public;
`;

// ---------------------------------------------------------------- PGlite

export function createPgliteDumper(
  client: PgliteHandle,
  options: { owned?: boolean } = {},
): DatabaseDumper {
  const db: SqlRunner = { rows: async <T>(text: string) => (await client.query<T>(text)).rows };
  return {
    kind: 'pglite',
    async dump() {
      // A snapshot of a clone (where PGlite runs: see takeSnapshot), in memory once; everything
      // after it (gzip, encryption, upload) streams.
      const { sql: text, rowCounts } = await client.snapshot();
      const buf = Buffer.from(text, 'utf8');
      const stream = Readable.from(
        (function* () {
          for (let o = 0; o < buf.length; o += 64 * 1024) yield buf.subarray(o, o + 64 * 1024);
        })(),
      );
      return { stream, done: Promise.resolve({ rowCounts }) };
    },
    async restore(sql, { sourceKind, afterSql }) {
      if (sourceKind !== 'pglite') {
        sql.destroy();
        throw new AppError(
          'VALIDATION_FAILED',
          'A PostgreSQL backup cannot be restored into the embedded database (its COPY data needs ' +
            'psql). Set DATABASE_URL to restore it into PostgreSQL.',
        );
      }
      const text = await readAll(sql);
      try {
        // The dump sets search_path (and more) for its session, the one session every query of
        // the service shares: they are reset inside the transaction, so no statement waiting
        // behind it ever runs with the dump's settings.
        await client.transaction(async (tx) => {
          await tx.exec(
            BEFORE_RESTORE_SQL +
              RESET_SCHEMAS +
              text +
              '\n' +
              (afterSql ?? '') +
              AFTER_RESTORE_SQL +
              'RESET ALL;',
          );
        });
      } finally {
        // A failed transaction rolls its settings back too; this is for anything left outside it.
        await client.exec('RESET ALL');
      }
    },
    rowCounts: () => countRows(db),
    tableChecksums: () => checksums(db),
    schemaVersion: () => schemaVersionOf(db),
    swarmInventory: () => swarmInventory(db),
    async close() {
      if (options.owned) await client.close();
    },
  };
}

// ---------------------------------------------------------------- PostgreSQL

function connectionEnv(url: string): { url: string; env: NodeJS.ProcessEnv } {
  // Keep the password out of the argument list (visible in ps): libpq reads PGPASSWORD.
  const u = new URL(url);
  // The client tools get nothing of the service's environment but a standard PATH.
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  };
  if (u.password) {
    env.PGPASSWORD = decodeURIComponent(u.password);
    u.password = '';
  }
  return { url: u.toString(), env };
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const runnerOf = (c: pg.Client): SqlRunner => ({
  rows: async <T>(text: string) => (await c.query(text)).rows as T[],
});

async function serverMajor(c: pg.Client): Promise<number> {
  const r = await c.query<{ v: string }>("select current_setting('server_version_num') as v");
  const major = Math.floor(Number(r.rows[0]?.v) / 10000);
  if (!Number.isInteger(major) || major < 9) {
    throw new AppError('INTERNAL', `Cannot tell the PostgreSQL server's version (${r.rows[0]?.v})`);
  }
  return major;
}

/** The client tool matching the server's major version (Debian layout), else the one on PATH. */
export function pgTool(name: 'pg_dump' | 'psql', major: number): string {
  const debian = `/usr/lib/postgresql/${major}/bin/${name}`;
  return fs.existsSync(debian) ? debian : name;
}

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): { child: ReturnType<typeof spawn>; exited: Promise<void> } {
  const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    // Keep the end: the failing statement is reported last.
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new AppError(
              'SERVICE_UNAVAILABLE',
              `${cmd} is not installed: install the PostgreSQL client matching your server ` +
                '(Debian: apt-get install postgresql-client), or run scripts/install-test-tools.sh',
            )
          : err,
      ),
    );
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new AppError(
            'INTERNAL',
            `${path.basename(cmd)} failed (${signal ?? `exit ${code}`}): ${stderr.trim().slice(-2000)}`,
          ),
        );
    });
  });
  return { child, exited };
}

export function createPostgresDumper(
  url: string,
  options: { onClose?: () => Promise<void> } = {},
): DatabaseDumper {
  const conn = connectionEnv(url);
  return {
    kind: 'postgres',
    async dump() {
      // One snapshot for the counts and for pg_dump (--snapshot): the manifest's row counts are
      // exactly what the dump holds, however busy the database is.
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
      client.on('error', () => {}); // a dropped connection fails the dump through pg_dump's exit
      await client.connect();
      try {
        const major = await serverMajor(client);
        await client.query('begin isolation level repeatable read read only');
        const snap = await client.query<{ s: string }>('select pg_export_snapshot() as s');
        const rowCounts = await countRows(runnerOf(client));
        const { child, exited } = run(
          pgTool('pg_dump', major),
          [
            '--no-owner',
            '--no-privileges',
            // DROP ... IF EXISTS first: `gunzip -c … | psql` also loads it into a live database.
            '--clean',
            '--if-exists',
            ...RUNTIME_DUMP_ARGS,
            `--snapshot=${snap.rows[0]!.s}`,
            `--dbname=${conn.url}`,
          ],
          conn.env,
        );
        child.stdin!.end();
        const stream = new PassThrough();
        child.stdout!.pipe(stream);
        let finished = false;
        // The reader gave up (upload failed): stop pg_dump rather than dump into the void.
        stream.on('close', () => {
          if (!finished && !stream.readableEnded) child.kill('SIGTERM');
        });
        void exited.finally(() => (finished = true)).catch(() => {});
        const done = exited
          .then(() => ({ rowCounts }))
          .catch((err: unknown) => {
            stream.destroy(err as Error);
            throw err;
          })
          .finally(() => client.query('commit').finally(() => client.end()));
        return { stream, done };
      } catch (err) {
        await client.end();
        throw err;
      }
    },
    async restore(sql, { afterSql }) {
      const major = await withClient(url, serverMajor);
      const { child, exited } = run(
        pgTool('psql', major),
        [
          '-X',
          '-q',
          '-v',
          'ON_ERROR_STOP=1',
          '--single-transaction',
          '-f',
          '-',
          `--dbname=${conn.url}`,
        ],
        conn.env,
      );
      child.stdout!.resume();
      child.stdin!.on('error', () => {}); // psql exiting early: its exit status tells why
      const filter = compatibilityFilter(major);
      pipeline(sql, filter).catch((err: unknown) => filter.destroy(err as Error));
      let readError: unknown;
      const psqlGone = exited.then(
        () => Promise.reject(new Error('psql exited before reading all of its input')),
        (err: unknown) => Promise.reject(err),
      );
      psqlGone.catch(() => {});
      const feed = async () => {
        const write = async (chunk: string | Buffer) => {
          if (!child.stdin!.write(chunk))
            await Promise.race([once(child.stdin!, 'drain'), psqlGone]);
        };
        await write(BEFORE_RESTORE_SQL + RESET_SCHEMAS);
        let writeError: unknown;
        try {
          for await (const chunk of filter) {
            try {
              await write(chunk as Buffer);
            } catch (err) {
              writeError = err;
              break;
            }
          }
        } catch (err) {
          readError = err;
          // Never let psql see the end of its input after a failed read: at EOF it would commit
          // what it has. Killed, its connection drops and the server rolls the transaction back.
          child.kill('SIGKILL');
          throw err;
        }
        if (writeError) throw writeError;
        await write('\n' + (afterSql ?? '') + '\n' + AFTER_RESTORE_SQL);
        child.stdin!.end();
      };
      const [fed, ran] = await Promise.allSettled([feed(), exited]);
      if (readError) throw readError;
      if (ran.status === 'rejected') throw ran.reason;
      if (fed.status === 'rejected') throw fed.reason;
    },
    rowCounts: () => withClient(url, (c) => countRows(runnerOf(c))),
    tableChecksums: () =>
      withClient(url, async (c) => {
        await c.query("set timezone = 'UTC'");
        return checksums(runnerOf(c));
      }),
    schemaVersion: () => withClient(url, (c) => schemaVersionOf(runnerOf(c))),
    swarmInventory: () => withClient(url, (c) => swarmInventory(runnerOf(c))),
    async close() {
      await options.onClose?.();
    },
  };
}

// ---------------------------------------------------------------- scratch databases

export function createScratchDatabases(options: {
  postgresUrl?: string | undefined;
}): ScratchDatabases {
  return {
    async open(kind: DatabaseKind) {
      if (kind === 'pglite') {
        // In this thread: a scratch database only checks a backup, off the serving path.
        return createPgliteDumper(localPgliteHandle(await PGlite.create()), { owned: true });
      }
      if (!options.postgresUrl) {
        throw new AppError(
          'VALIDATION_FAILED',
          'A scratch PostgreSQL database is needed: set DATABASE_URL to a server where this user may CREATE DATABASE.',
        );
      }
      const name = `cfn_scratch_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
      const admin = options.postgresUrl;
      await withClient(admin, (c) => c.query(`create database ${ident(name)}`)).catch(
        (err: Error) => {
          throw new AppError(
            'SERVICE_UNAVAILABLE',
            `Could not create the scratch database ${name} (${err.message}): the DATABASE_URL user needs CREATEDB.`,
            { cause: err },
          );
        },
      );
      const u = new URL(admin);
      u.pathname = `/${name}`;
      return createPostgresDumper(u.toString(), {
        onClose: async () => {
          await withClient(admin, (c) =>
            c.query(`drop database if exists ${ident(name)} with (force)`),
          );
        },
      });
    },
  };
}
