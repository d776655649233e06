// Runs the store contracts on the embedded PGlite and on a real PostgreSQL database.
import { afterAll } from 'vitest';
import { openDatabase, type Database } from '../../src/adapters/db/database.js';
import { migrateDatabase } from '../../src/adapters/db/migrate.js';
import { createPgApiKeyStore } from '../../src/adapters/db/api-key-store.js';
import { createPgAuditLogStore } from '../../src/adapters/db/audit-log-store.js';
import { createLogger } from '../../src/observability/logger.js';
import { captureLogs } from '../support/log-capture.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';
import { storeContract } from '../support/contracts/stores.contract.js';
import { swarmStoreContract } from '../support/contracts/swarm-store.contract.js';
import { createPgSwarmStore } from '../../src/adapters/db/swarm-store.js';

const logger = createLogger({ level: 'warn', version: 'test', destination: captureLogs().stream });
const opened: Database[] = [];
let pgDb: TestDatabase | undefined;

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

let pgSwarmDb: TestDatabase | undefined;
swarmStoreContract('PGlite', async () => {
  const database = await openDatabase({ dataDir: 'memory://', logger });
  await fixture(database);
  return createPgSwarmStore(database.db);
});
swarmStoreContract('PostgreSQL', async () => {
  pgSwarmDb = await createTestDatabase();
  const database = await openDatabase({ url: pgSwarmDb.url, dataDir: 'unused', logger });
  await fixture(database);
  return createPgSwarmStore(database.db);
});

afterAll(async () => {
  await pgSwarmDb?.drop();
  await Promise.all(opened.map((d) => d.close()));
  await pgDb?.drop();
});
