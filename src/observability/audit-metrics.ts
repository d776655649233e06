// Counts audit-log writes in audit_events_total{action}: decorators over the real AuditLogStore
// and AuditedWrites that increment only after the entry has been committed.
import type { Counter } from 'prom-client';
import type { AuditedWrites } from '../ports/audited-writes.js';
import type { AuditLogStore } from '../ports/audit-log-store.js';

export function withAuditMetrics(store: AuditLogStore, counter: Counter<'action'>): AuditLogStore {
  return {
    async append(entry) {
      const record = await store.append(entry);
      counter.inc({ action: record.action });
      return record;
    },
    list: (options) => store.list(options),
    countBefore: (cutoff) => store.countBefore(cutoff),
    deleteBefore: (cutoff) => store.deleteBefore(cutoff),
  };
}

/** Entries appended inside a transaction are counted once it has committed, not before. */
export function withAuditedWriteMetrics(
  writes: AuditedWrites,
  counter: Counter<'action'>,
): AuditedWrites {
  return {
    async run(work) {
      const actions: string[] = [];
      const result = await writes.run(({ audit, ...stores }) =>
        work({
          ...stores,
          audit: {
            ...audit,
            async append(entry) {
              const record = await audit.append(entry);
              actions.push(record.action);
              return record;
            },
          },
        }),
      );
      for (const action of actions) counter.inc({ action });
      return result;
    },
  };
}
