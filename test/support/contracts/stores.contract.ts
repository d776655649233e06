// The store contract: one suite that every database adapter runs (PGlite and PostgreSQL).
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyStore, NewApiKey } from '../../../src/ports/api-key-store.js';
import type { AuditLogStore } from '../../../src/ports/audit-log-store.js';

export interface StoreFixture {
  keys: ApiKeyStore;
  audit: AuditLogStore;
}

const newKey = (over: Partial<NewApiKey> = {}): NewApiKey => ({
  id: randomUUID(),
  name: 'k',
  role: 'viewer',
  prefix: 'cfn_abc',
  hash: randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, ''),
  createdBy: 'test',
  ...over,
});

export function storeContract(label: string, open: () => Promise<StoreFixture>): void {
  describe(`store contract: ${label}`, () => {
    let f: StoreFixture;
    beforeAll(async () => {
      f = await open();
    });

    it('bootstraps exactly one key when none is active, even when raced', async () => {
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          f.keys.insertIfNoneActive(() => newKey({ name: `boot-${i}`, role: 'admin' })),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await f.keys.countActive()).toBe(1);
      expect(await f.keys.insertIfNoneActive(() => newKey())).toBeUndefined();
    });

    it('stores, finds and lists keys without exposing the hash', async () => {
      const k = newKey({ name: 'lister', role: 'operator' });
      const rec = await f.keys.insert(k);
      expect(rec).toMatchObject({
        id: k.id,
        name: 'lister',
        role: 'operator',
        revokedAt: null,
        lastUsedAt: null,
      });
      expect(rec).not.toHaveProperty('hash');
      expect(rec.createdAt).toBeInstanceOf(Date);
      expect((await f.keys.findByHash(k.hash))?.id).toBe(k.id);
      expect(await f.keys.findByHash('nope')).toBeUndefined();
      expect((await f.keys.list()).map((r) => r.id)).toContain(k.id);
    });

    it('rejects a duplicate hash', async () => {
      const k = newKey();
      await f.keys.insert(k);
      await expect(f.keys.insert(newKey({ hash: k.hash }))).rejects.toThrow();
    });

    it('revokes once, keeps the first revocation time, and hides revoked keys by default', async () => {
      const k = newKey();
      await f.keys.insert(k);
      const first = new Date('2026-01-01T00:00:00Z');
      expect((await f.keys.revoke(k.id, first))?.revokedAt?.toISOString()).toBe(
        first.toISOString(),
      );
      const again = await f.keys.revoke(k.id, new Date('2026-02-01T00:00:00Z'));
      expect(again?.revokedAt?.toISOString()).toBe(first.toISOString());
      expect((await f.keys.list()).map((r) => r.id)).not.toContain(k.id);
      expect((await f.keys.list({ includeRevoked: true })).map((r) => r.id)).toContain(k.id);
      expect(await f.keys.revoke(randomUUID(), new Date())).toBeUndefined();
    });

    it('records last use', async () => {
      const k = newKey();
      await f.keys.insert(k);
      const at = new Date('2026-03-03T03:03:03Z');
      await f.keys.touch(k.id, at);
      expect((await f.keys.findById(k.id))?.lastUsedAt?.toISOString()).toBe(at.toISOString());
    });

    it('appends audit entries and pages them newest first, filtered by action', async () => {
      const action = `test.${randomUUID().slice(0, 8)}`;
      for (let i = 0; i < 5; i++) {
        await f.audit.append({
          action,
          actorKeyId: null,
          actorName: 'tester',
          target: `t${i}`,
          details: { i, nested: { ok: true } },
          requestId: `r${i}`,
          ip: '127.0.0.1',
        });
      }
      const page1 = await f.audit.list({ limit: 3, action });
      expect(page1.map((e) => e.target)).toEqual(['t4', 't3', 't2']);
      expect(page1[0]?.details).toEqual({ i: 4, nested: { ok: true } });
      const page2 = await f.audit.list({ limit: 3, action, before: page1[2]!.id });
      expect(page2.map((e) => e.target)).toEqual(['t1', 't0']);
      expect(page2[0]?.at).toBeInstanceOf(Date);
    });

    // Runs last: it empties the audit log of this fixture.
    it('counts and deletes audit entries written before a cut-off (retention)', async () => {
      const all = (await f.audit.list({ limit: 1000 })).length;
      expect(all).toBeGreaterThan(0);
      const past = new Date(Date.now() - 86_400_000);
      const future = new Date(Date.now() + 60_000);
      expect(await f.audit.countBefore(past)).toBe(0);
      expect(await f.audit.deleteBefore(past)).toBe(0);
      expect(await f.audit.countBefore(future)).toBe(all);
      expect((await f.audit.list({ limit: 1000 })).length).toBe(all);
      expect(await f.audit.deleteBefore(future)).toBe(all);
      expect(await f.audit.list({ limit: 1000 })).toEqual([]);
    });
  });
}
