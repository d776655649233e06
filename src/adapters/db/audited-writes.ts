// AuditedWrites on PostgreSQL (server or PGlite): the key, blocklist and audit stores bound to one
// transaction.
import type { AuditedWrites } from '../../ports/audited-writes.js';
import { createPgManualBlockStore } from './access-block-store.js';
import { createPgApiKeyStore } from './api-key-store.js';
import { createPgAuditLogStore } from './audit-log-store.js';
import type { Db } from './database.js';

export function createPgAuditedWrites(db: Db): AuditedWrites {
  return {
    run: (work) =>
      db.transaction((tx) =>
        work({
          keys: createPgApiKeyStore(tx),
          audit: createPgAuditLogStore(tx),
          blocks: createPgManualBlockStore(tx),
        }),
      ),
  };
}
