// Runs the store contracts on the embedded PGlite and on a real PostgreSQL database.
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/adapters/db/database.js';
import { migrateDatabase } from '../../src/adapters/db/migrate.js';
import { createPgApiKeyStore } from '../../src/adapters/db/api-key-store.js';
import { createPgAuditLogStore } from '../../src/adapters/db/audit-log-store.js';
import { createLogger } from '../../src/observability/logger.js';
import { captureLogs } from '../support/log-capture.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';
import { storeContract } from '../support/contracts/stores.contract.js';
import { swarmStoreContract, type TaskSpecs } from '../support/contracts/swarm-store.contract.js';
import { createPgSwarmStore } from '../../src/adapters/db/swarm-store.js';

const logger = createLogger({ level: 'warn', version: 'test', destination: captureLogs().stream });
const opened: Database[] = [];
let pgDb: TestDatabase | undefined;
const dropLater: TestDatabase[] = [];

async function fixture(database: Database) {
  opened.push(database);
  await migrateDatabase(database);
  return { keys: createPgApiKeyStore(database.db), audit: createPgAuditLogStore(database.db) };
}

storeContract('PGlite', async () => fixture(await openDatabase({ dataDir: 'memory://', logger })));

storeContract('PostgreSQL', async () => {
  pgDb = await createTestDatabase();
  return fixture(await openDatabase({ url: pgDb.url, dataDir: 'unused', logger }));
});

/** The task specs of a swarm, read with SQL from the database `current()` returns. */
function taskSpecs(current: () => Database | undefined): TaskSpecs {
  return async (swarmId) => {
    const res = (await current()!.db.execute(
      sql`select task_id, spec from agent_tasks where swarm_id = ${swarmId}`,
    )) as unknown as { rows: { task_id: string; spec: unknown }[] };
    return Object.fromEntries(res.rows.map((r) => [r.task_id, r.spec]));
  };
}

let pgSwarmDb: TestDatabase | undefined;
let pgliteSwarm: Database | undefined;
let pgSwarm: Database | undefined;
swarmStoreContract(
  'PGlite',
  async () => {
    pgliteSwarm = await openDatabase({ dataDir: 'memory://', logger });
    await fixture(pgliteSwarm);
    return createPgSwarmStore(pgliteSwarm.db);
  },
  taskSpecs(() => pgliteSwarm),
);
swarmStoreContract(
  'PostgreSQL',
  async () => {
    pgSwarmDb = await createTestDatabase();
    pgSwarm = await openDatabase({ url: pgSwarmDb.url, dataDir: 'unused', logger });
    await fixture(pgSwarm);
    return createPgSwarmStore(pgSwarm.db);
  },
  taskSpecs(() => pgSwarm),
);

afterAll(async () => {
  await pgSwarmDb?.drop();
  await Promise.all(opened.map((d) => d.close()));
  await pgDb?.drop();
  await Promise.all(dropLater.map((d) => d.drop()));
});

// Swarms created in one millisecond (a burst of submissions does it) differ only in the
// microseconds PostgreSQL keeps: paging through them must list each exactly once.
describe.each([
  ['PGlite', async () => openDatabase({ dataDir: 'memory://', logger })],
  [
    'PostgreSQL',
    async () => {
      const db = await createTestDatabase();
      dropLater.push(db);
      return openDatabase({ url: db.url, dataDir: 'unused', logger });
    },
  ],
] as const)('the swarm listing on %s', (_label, open) => {
  it('pages through swarms created in the same millisecond without skipping one', async () => {
    const database = await open();
    await fixture(database);
    const store = createPgSwarmStore(database.db);
    const strategy = `same-ms-${randomUUID()}`;
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = randomUUID();
      await store.create({
        id,
        spec: { objective: `same ms ${i}`, strategy, mode: 'mvp' } as never,
        createdBy: null,
        requestId: null,
      });
      ids.push(id);
    }
    // One millisecond, twelve microseconds, in an order unrelated to the ids.
    for (const [i, id] of ids.entries())
      await database.db.execute(
        sql`update swarms set created_at = '2026-12-03 10:00:00.123+00'::timestamptz
              + ${(i * 37) % 12} * interval '1 microsecond' where id = ${id}`,
      );
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const page = await store.list({ limit: 5, strategy, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((s) => s.id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen.length).toBe(12);
    expect(new Set(seen)).toEqual(new Set(ids));
  });
});
