// Persistence of API keys. Keys are stored only as a hash; the secret is shown once at creation.
import type { Role } from '../domain/roles.js';

export interface ApiKeyRecord {
  id: string;
  name: string;
  role: Role;
  /** The non-secret start of the key, shown in listings so people can tell keys apart. */
  prefix: string;
  createdAt: Date;
  createdBy: string | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface NewApiKey {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  hash: string;
  createdBy: string | null;
}

export interface ApiKeyStore {
  insert(key: NewApiKey): Promise<ApiKeyRecord>;
  findByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  findById(id: string): Promise<ApiKeyRecord | undefined>;
  list(options?: { includeRevoked?: boolean }): Promise<ApiKeyRecord[]>;
  /** Sets revoked_at once; returns the record, or undefined when no key has that id. */
  revoke(id: string, at: Date): Promise<ApiKeyRecord | undefined>;
  touch(id: string, at: Date): Promise<void>;
  countActive(): Promise<number>;
  /**
   * Runs `create` only when no active key exists, serialised across processes and replicas, and
   * returns what it created (or undefined when keys already existed).
   */
  insertIfNoneActive(create: () => NewApiKey): Promise<ApiKeyRecord | undefined>;
}
