// A privileged change and its audit entry commit together or not at all: when the audit row
// cannot be written, the key is not created (or not revoked), and nothing is counted. Real
// PGlite and PostgreSQL; the failure is a value the database really refuses.
import { sql } from 'drizzle-orm';
import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgApiKeyStore } from '../../src/adapters/db/api-key-store.js';
import { createPgAuditedWrites } from '../../src/adapters/db/audited-writes.js';
import { openDatabase, type Database } from '../../src/adapters/db/database.js';
import { migrateDatabase } from '../../src/adapters/db/migrate.js';
import { withAuditedWriteMetrics } from '../../src/observability/audit-metrics.js';
import { createLogger } from '../../src/observability/logger.js';
import { SYSTEM_ACTOR, createApiKeyService, type ApiKeyService } from '../../src/ops/api-keys.js';
import { captureLogs } from '../support/log-capture.js';
import { createTestDatabase, type TestDatabase } from '../support/services.js';

const logger = createLogger({ level: 'warn', version: 'test', destination: captureLogs().stream });

async function rows(database: Database, table: 'api_keys' | 'audit_log') {
  const res = (await database.db.execute(
    sql.raw(`select count(*)::int as n from ${table}`),
  )) as unknown as { rows: Array<{ n: number }> };
  return res.rows[0]!.n;
}

function suite(
  label: string,
  open: () => Promise<{ database: Database; drop?: () => Promise<void> }>,
) {
  describe(`key changes and their audit rows: ${label}`, () => {
    let database: Database;
    let drop: (() => Promise<void>) | undefined;
    let service: ApiKeyService;
    let counter: Counter<'action'>;

    beforeAll(async () => {
      ({ database, drop } = await open());
      await migrateDatabase(database);
      counter = new Counter({
        name: 'audit_events_total',
        help: 'test',
        labelNames: ['action'],
        registers: [new Registry()],
      });
      service = createApiKeyService({
        keys: createPgApiKeyStore(database.db),
        writes: withAuditedWriteMetrics(createPgAuditedWrites(database.db), counter),
      });
    });
    afterAll(async () => {
      await database?.close();
      await drop?.();
    });

    const counted = async (action: string) =>
      (await counter.get()).values.find((v) => v.labels.action === action)?.value ?? 0;

    it('bootstraps the first admin key with its audit row, once', async () => {
      const boot = await service.bootstrapAdmin();
      expect(boot?.record.role).toBe('admin');
      expect(await rows(database, 'api_keys')).toBe(1);
      expect(await rows(database, 'audit_log')).toBe(1);
      expect(await counted('key.bootstrap')).toBe(1);
      expect(await service.bootstrapAdmin()).toBeUndefined();
      expect(await rows(database, 'audit_log')).toBe(1);
    });

    it('creates a key with its audit row, and neither when the audit row is refused', async () => {
      await service.create({ name: 'fine', role: 'viewer' }, SYSTEM_ACTOR);
      const [keys, audits] = [await rows(database, 'api_keys'), await rows(database, 'audit_log')];
      expect(await counted('key.create')).toBe(1);

      // A lone surrogate: text columns take it (replaced), the audit row's jsonb refuses it.
      await expect(
        service.create({ name: 'broken \ud800', role: 'viewer' }, SYSTEM_ACTOR),
      ).rejects.toThrow();
      expect(await rows(database, 'api_keys')).toBe(keys);
      expect(await rows(database, 'audit_log')).toBe(audits);
      expect(await counted('key.create')).toBe(1);
    });

    it('revokes a key with its audit row, and not at all when the audit row is refused', async () => {
      const { record } = await service.create({ name: 'to-revoke', role: 'viewer' }, SYSTEM_ACTOR);
      const audits = await rows(database, 'audit_log');
      // An actor name with a NUL: the audit row's text column refuses it.
      await expect(
        service.revoke(record.id, { keyId: null, name: 'bad\u0000actor' }),
      ).rejects.toThrow();
      expect((await service.list()).map((k) => k.id)).toContain(record.id);
      expect(await rows(database, 'audit_log')).toBe(audits);
      expect(await counted('key.revoke')).toBe(0);

      const revoked = await service.revoke(record.id, SYSTEM_ACTOR);
      expect(revoked.revokedAt).not.toBeNull();
      expect(await rows(database, 'audit_log')).toBe(audits + 1);
      expect(await counted('key.revoke')).toBe(1);
    });
  });
}

suite('PGlite', async () => ({ database: await openDatabase({ dataDir: 'memory://', logger }) }));

let pg: TestDatabase | undefined;
suite('PostgreSQL', async () => {
  pg = await createTestDatabase();
  return {
    database: await openDatabase({ url: pg.url, dataDir: 'unused', logger }),
    drop: () => pg!.drop(),
  };
});
