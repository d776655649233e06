// API key management: keys are random, shown once, stored as a SHA-256 hash; every privileged
// action is written to the audit log with who did it and from where, in the same transaction as
// the change itself.
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
}): ApiKeyService {
  const now = deps.now ?? (() => new Date());
  const lastTouched = new Map<string, number>();

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
      const key = await deps.keys.findByHash(hashApiKey(secret));
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
