// API key management: keys are random, shown once, stored as a SHA-256 hash; every privileged
// action is written to the audit log with who did it and from where, in the same transaction as
// the change itself. A key found valid is trusted for `cacheMs` without another lookup (one
// fewer database round trip per request); revoking it here forgets it at once.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { NotFoundError, ValidationError } from '../domain/errors.js';
import { isRole, type Role } from '../domain/roles.js';
import type { ApiKeyRecord, ApiKeyStore } from '../ports/api-key-store.js';
import type { AuditedWrites } from '../ports/audited-writes.js';
import type { AuditLogStore } from '../ports/audit-log-store.js';

export interface Actor {
  keyId: string | null;
  name: string;
}

export interface ActionMeta {
  requestId?: string | null;
  ip?: string | null;
}

export type AuthResult =
  { ok: true; key: ApiKeyRecord } | { ok: false; reason: 'invalid_key' | 'revoked_key' };

export interface CreatedKey {
  record: ApiKeyRecord;
  /** The secret: returned once, never stored. */
  key: string;
}

export interface ApiKeyService {
  authenticate(secret: string): Promise<AuthResult>;
  create(input: { name: string; role: Role }, actor: Actor, meta?: ActionMeta): Promise<CreatedKey>;
  list(options?: { includeRevoked?: boolean }): Promise<ApiKeyRecord[]>;
  countActive(): Promise<number>;
  revoke(id: string, actor: Actor, meta?: ActionMeta): Promise<ApiKeyRecord>;
  /**
   * On a store with no active key, creates the first admin key (from `provided` if given). A
   * provided key that is already known (active or revoked) is never inserted again.
   */
  bootstrapAdmin(provided?: string): Promise<(CreatedKey & { generated: boolean }) | undefined>;
}

export const SYSTEM_ACTOR: Actor = { keyId: null, name: 'system' };

const KEY_PREFIX = 'cfn_';

export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** The visible start of a key, enough to tell keys apart in a listing. */
export function keyPrefix(secret: string): string {
  return secret.slice(0, secret.startsWith(KEY_PREFIX) ? KEY_PREFIX.length + 6 : 6);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TOUCH_INTERVAL_MS = 60_000;

export function createApiKeyService(deps: {
  /** Reads and last-use updates (single rows, nothing audited). */
  keys: ApiKeyStore;
  /** Every change with its audit entry. */
  writes: AuditedWrites;
  now?: () => Date;
  onTouchError?: (err: unknown) => void;
  /** False while this replica must not write (maintenance acknowledged): key use is not recorded. */
  canTouch?: () => boolean;
  /**
   * How long a key found valid is trusted without a lookup (CFN_AUTH_CACHE_MS): the longest a
   * key revoked elsewhere (another replica, `--direct`) still works here. 0: every request looks.
   */
  cacheMs?: number;
}): ApiKeyService {
  const now = deps.now ?? (() => new Date());
  const lastTouched = new Map<string, number>();
  const cacheMs = deps.cacheMs ?? 0;
  /** Valid keys by hash, with the time they stop being trusted; only valid keys are kept. */
  const valid = new Map<string, { key: ApiKeyRecord; until: number }>();
  const MAX_CACHED = 10_000;
  /** Moves on with every revocation here: a lookup that overlapped one does not cache its answer. */
  let revocations = 0;

  async function lookUp(hash: string): Promise<ApiKeyRecord | undefined> {
    if (cacheMs <= 0) return deps.keys.findByHash(hash);
    const t = now().getTime();
    const hit = valid.get(hash);
    if (hit && hit.until > t) return hit.key;
    if (hit) valid.delete(hash);
    const seen = revocations;
    const key = await deps.keys.findByHash(hash);
    if (key && !key.revokedAt && seen === revocations) {
      // Bounded: unknown hashes are never kept, so only many distinct valid keys can fill it.
      if (valid.size >= MAX_CACHED) valid.clear();
      valid.set(hash, { key, until: t + cacheMs });
    }
    return key;
  }

  function forget(id: string) {
    revocations += 1;
    for (const [hash, entry] of valid) if (entry.key.id === id) valid.delete(hash);
  }

  function touchLater(id: string) {
    if (deps.canTouch && !deps.canTouch()) return;
    const t = now().getTime();
    if (t - (lastTouched.get(id) ?? 0) < TOUCH_INTERVAL_MS) return;
    lastTouched.set(id, t);
    deps.keys.touch(id, new Date(t)).catch((err: unknown) => deps.onTouchError?.(err));
  }

  async function audit(
    log: AuditLogStore,
    action: string,
    actor: Actor,
    target: string,
    details: object,
    meta: ActionMeta = {},
  ) {
    await log.append({
      action,
      actorKeyId: actor.keyId,
      actorName: actor.name,
      target,
      details: { ...details },
      requestId: meta.requestId ?? null,
      ip: meta.ip ?? null,
    });
  }

  return {
    async authenticate(secret) {
      const key = await lookUp(hashApiKey(secret));
      if (!key) return { ok: false, reason: 'invalid_key' };
      if (key.revokedAt) return { ok: false, reason: 'revoked_key' };
      touchLater(key.id);
      return { ok: true, key };
    },

    async create(input, actor, meta) {
      const name = input.name.trim();
      if (!name || name.length > 100) throw new ValidationError('name must be 1 to 100 characters');
      if (!isRole(input.role)) throw new ValidationError('role must be viewer, operator or admin');
      const key = generateApiKey();
      const role = input.role;
      const record = await deps.writes.run(async (tx) => {
        const inserted = await tx.keys.insert({
          id: randomUUID(),
          name,
          role,
          prefix: keyPrefix(key),
          hash: hashApiKey(key),
          createdBy: actor.name,
        });
        await audit(tx.audit, 'key.create', actor, inserted.id, { name, role }, meta);
        return inserted;
      });
      return { record, key };
    },

    list(options) {
      return deps.keys.list(options);
    },

    countActive() {
      return deps.keys.countActive();
    },

    async revoke(id, actor, meta) {
      if (!UUID.test(id)) throw new NotFoundError('API key', id);
      // Forgotten before and after: a lookup that read the key before the revocation committed
      // does not keep it (see `revocations`).
      forget(id);
      const record = await deps.writes.run(async (tx) => {
        const existing = await tx.keys.findById(id);
        if (!existing) throw new NotFoundError('API key', id);
        if (existing.revokedAt) return existing; // idempotent: nothing changed, nothing to audit
        const revoked = await tx.keys.revoke(id, now());
        if (!revoked) throw new NotFoundError('API key', id);
        const details = { name: revoked.name, role: revoked.role };
        await audit(tx.audit, 'key.revoke', actor, id, details, meta);
        return revoked;
      });
      forget(id);
      lastTouched.delete(id);
      return record;
    },

    async bootstrapAdmin(provided) {
      if (provided !== undefined) {
        const known = await deps.keys.findByHash(hashApiKey(provided));
        // A bootstrap key that was revoked stays revoked: restarting must not revive it.
        if (known) return undefined;
      }
      const key = provided ?? generateApiKey();
      const record = await deps.writes.run(async (tx) => {
        const inserted = await tx.keys.insertIfNoneActive(() => ({
          id: randomUUID(),
          name: 'bootstrap-admin',
          role: 'admin',
          prefix: keyPrefix(key),
          hash: hashApiKey(key),
          createdBy: SYSTEM_ACTOR.name,
        }));
        if (inserted) {
          const details = { provided: provided !== undefined };
          await audit(tx.audit, 'key.bootstrap', SYSTEM_ACTOR, inserted.id, details);
        }
        return inserted;
      });
      if (!record) return undefined;
      return { record, key, generated: provided === undefined };
    },
  };
}
