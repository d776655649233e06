// Privileged changes and their audit entries in one transaction: both are committed or neither
// is, so no change goes unaudited and no entry records a change that did not happen.
import type { ManualBlockStore } from './access-blocks.js';
import type { ApiKeyStore } from './api-key-store.js';
import type { AuditLogStore } from './audit-log-store.js';

export interface AuditedStores {
  keys: ApiKeyStore;
  audit: AuditLogStore;
  /** The access blocklist's manual entries. */
  blocks: ManualBlockStore;
}

export interface AuditedWrites {
  /**
   * Runs `work` in one transaction over the stores it is given (use only those inside it); a
   * throw rolls back everything `work` wrote.
   */
  run<T>(work: (stores: AuditedStores) => Promise<T>): Promise<T>;
}
