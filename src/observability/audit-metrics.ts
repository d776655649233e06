// Counts audit-log writes in audit_events_total{action}: a decorator over the real AuditLogStore
// that increments only after the entry has been committed.
import type { Counter } from 'prom-client';
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
