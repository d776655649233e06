// Backup metrics read from the real catalog at scrape time, so every replica reports the same
// figures whichever process made the backup: last success, duration, size, failures by type.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BackupRecord } from '../ports/backup.js';

type RecordType = BackupRecord['type'];

/** The `type` label's values: the dump backups, plus pgBackRest's when it is configured. */
export function registerBackupMetrics(
  registry: Registry,
  catalog: () => Promise<readonly BackupRecord[]>,
  types: readonly RecordType[] = ['database', 'app-data'],
): void {
  // One catalog read per scrape, shared by the four metrics.
  let pending: Promise<readonly BackupRecord[]> | undefined;
  const read = () => {
    pending ??= catalog()
      .catch(() => [] as readonly BackupRecord[])
      .finally(() => setTimeout(() => (pending = undefined), 0));
    return pending;
  };
  const lastGood = (rows: readonly BackupRecord[], type: RecordType) =>
    rows
      .filter((r) => r.type === type && r.status === 'completed')
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];

  /** A gauge of the newest completed backup of each type (no series until there is one). */
  const newestGauge = (
    name: string,
    help: string,
    value: (r: BackupRecord) => number | null | undefined,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['type'] as const,
      registers: [registry],
      async collect() {
        const rows = await read();
        // No backup yet: no series, so alert rules can tell "never" (absent) from "long ago".
        this.reset();
        for (const type of types) {
          const r = lastGood(rows, type);
          const v = r ? value(r) : undefined;
          if (v != null) this.set({ type }, v);
        }
      },
    });
  newestGauge(
    'backup_last_success_timestamp_seconds',
    'Unix time of the newest completed backup, by type (no series until there is one)',
    (r) => (r.completedAt ? r.completedAt.getTime() / 1000 : undefined),
  );
  newestGauge('backup_duration_seconds', 'Duration of the newest completed backup, by type', (r) =>
    r.durationMs != null ? r.durationMs / 1000 : undefined,
  );
  newestGauge(
    'backup_size_bytes',
    'Size of the newest completed backup as stored (compressed, encrypted), by type',
    (r) => r.sizeBytes,
  );
  new Counter({
    name: 'backup_failures_total',
    help: 'Backups that failed, by type (failed attempts stay in the catalog)',
    labelNames: ['type'] as const,
    registers: [registry],
    async collect() {
      const rows = await read();
      this.reset();
      for (const type of types) {
        this.inc({ type }, rows.filter((r) => r.type === type && r.status === 'failed').length);
      }
    },
  });
}
