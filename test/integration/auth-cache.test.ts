// The API-key cache (CFN_AUTH_CACHE_MS) never lets a revoked key work longer than promised: two
// key services on one real PostgreSQL database stand for two replicas. The replica that revokes a
// key refuses it from the next request on; the other within the cache time; a lookup that raced a
// revocation is not kept.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgApiKeyStore } from '../../src/adapters/db/api-key-store.js';
import { createPgAuditedWrites } from '../../src/adapters/db/audited-writes.js';
import { openDatabase, type Database } from '../../src/adapters/db/database.js';
import { migrateDatabase } from '../../src/adapters/db/migrate.js';
import { createLogger } from '../../src/observability/logger.js';
import { SYSTEM_ACTOR, createApiKeyService, type ApiKeyService } from '../../src/ops/api-keys.js';
import type { ApiKeyStore } from '../../src/ports/api-key-store.js';
import { captureLogs } from '../support/log-capture.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';

const logger = createLogger({ level: 'warn', version: 'test', destination: captureLogs().stream });
const CACHE_MS = 1000;

let testDb: TestDatabase;
let database: Database;
/** The replicas' clock, moved by the tests. */
let clock = Date.parse('2026-12-02T12:00:00Z');
const now = () => new Date(clock);

function replica(keys: ApiKeyStore = createPgApiKeyStore(database.db)): ApiKeyService {
  return createApiKeyService({
    keys,
    writes: createPgAuditedWrites(database.db),
    now,
    cacheMs: CACHE_MS,
  });
}

beforeAll(async () => {
  testDb = await createTestDatabase();
  database = await openDatabase({ url: testDb.url, dataDir: 'unused', logger });
  await migrateDatabase(database);
});

afterAll(async () => {
  await database?.close();
  await testDb?.drop();
});

async function newKey(via: ApiKeyService) {
  return via.create(
    { name: `k-${Math.random().toString(36).slice(2)}`, role: 'viewer' },
    SYSTEM_ACTOR,
  );
}

describe('API-key cache', () => {
  it('refuses a key revoked through this replica from the next request on', async () => {
    const a = replica();
    const { record, key } = await newKey(a);
    expect(await a.authenticate(key)).toMatchObject({ ok: true }); // now cached
    await a.revoke(record.id, SYSTEM_ACTOR);
    expect(await a.authenticate(key)).toEqual({ ok: false, reason: 'revoked_key' });
  });

  it('refuses a key revoked through another replica once CFN_AUTH_CACHE_MS has passed', async () => {
    const a = replica();
    const b = replica();
    const { record, key } = await newKey(a);
    expect(await b.authenticate(key)).toMatchObject({ ok: true }); // cached by b
    await a.revoke(record.id, SYSTEM_ACTOR);
    expect(await a.authenticate(key)).toEqual({ ok: false, reason: 'revoked_key' });
    // b may still trust its cached answer, but never past the promised time.
    clock += CACHE_MS;
    expect(await b.authenticate(key)).toEqual({ ok: false, reason: 'revoked_key' });
    clock += 10 * CACHE_MS; // and it stays refused: revoked keys are not cached
    expect(await b.authenticate(key)).toEqual({ ok: false, reason: 'revoked_key' });
  });

  it('looks a key up again after the cache time, even without a revocation', async () => {
    let lookups = 0;
    const store = createPgApiKeyStore(database.db);
    const counting: ApiKeyStore = {
      ...store,
      findByHash: (hash) => {
        lookups += 1;
        return store.findByHash(hash);
      },
    };
    const a = replica(counting);
    const { key } = await newKey(a);
    await a.authenticate(key);
    await a.authenticate(key);
    clock += CACHE_MS - 1;
    await a.authenticate(key);
    expect(lookups).toBe(1);
    clock += 1;
    await a.authenticate(key);
    expect(lookups).toBe(2);
  });

  it('does not keep a lookup that read the key before its revocation here committed', async () => {
    const store = createPgApiKeyStore(database.db);
    let release: (() => void) | undefined;
    let read: (() => void) | undefined;
    const wasRead = new Promise<void>((r) => (read = r));
    // The first lookup reads the row, then waits until the revocation has committed.
    const slow: ApiKeyStore = {
      ...store,
      findByHash: async (hash) => {
        const row = await store.findByHash(hash);
        if (!release) {
          const gate = new Promise<void>((r) => (release = r));
          read!();
          await gate;
        }
        return row;
      },
    };
    const a = replica(slow);
    const { record, key } = await newKey(replica());
    const raced = a.authenticate(key);
    await wasRead;
    await a.revoke(record.id, SYSTEM_ACTOR);
    release!();
    expect(await raced).toMatchObject({ ok: true }); // sent before the revocation: may pass
    expect(await a.authenticate(key)).toEqual({ ok: false, reason: 'revoked_key' });
  });

  it('with CFN_AUTH_CACHE_MS=0 looks the key up on every request', async () => {
    const a = createApiKeyService({
      keys: createPgApiKeyStore(database.db),
      writes: createPgAuditedWrites(database.db),
      now,
      cacheMs: 0,
    });
    const b = replica();
    const { record, key } = await newKey(b);
    expect(await a.authenticate(key)).toMatchObject({ ok: true });
    await database.db.execute(sql`update api_keys set revoked_at = now() where id = ${record.id}`);
    expect(await a.authenticate(key)).toEqual({ ok: false, reason: 'revoked_key' });
  });
});
