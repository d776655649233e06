// Backup metrics read from the real catalog at scrape time, so every replica reports the same
// figures whichever process made the backup: last success, duration, size, failures by type.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BackupRecord, BackupType } from '../ports/backup.js';

const TYPES: readonly BackupType[] = ['database', 'app-data'];

export function registerBackupMetrics(
  registry: Registry,
  catalog: () => Promise<readonly BackupRecord[]>,
): void {
  // One catalog read per scrape, shared by the four metrics.
  let pending: Promise<readonly BackupRecord[]> | undefined;
  const read = () => {
    pending ??= catalog()
      .catch(() => [] as readonly BackupRecord[])
      .finally(() => setTimeout(() => (pending = undefined), 0));
    return pending;
  };
  const lastGood = (rows: readonly BackupRecord[], type: BackupType) =>
    rows
      .filter((r) => r.type === type && r.status === 'completed')
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];

  new Gauge({
    name: 'backup_last_success_timestamp_seconds',
    help: 'Unix time of the newest completed backup, by type (no series until there is one)',
    labelNames: ['type'] as const,
    registers: [registry],
    async collect() {
      const rows = await read();
      // No backup yet: no series, so alert rules can tell "never" (absent) from "long ago".
      this.reset();
      for (const type of TYPES) {
        const r = lastGood(rows, type);
        if (r?.completedAt) this.set({ type }, r.completedAt.getTime() / 1000);
      }
    },
  });
  new Gauge({
    name: 'backup_duration_seconds',
    help: 'Duration of the newest completed backup, by type',
    labelNames: ['type'] as const,
    registers: [registry],
    async collect() {
      const rows = await read();
      this.reset();
      for (const type of TYPES) {
        const r = lastGood(rows, type);
        if (r?.durationMs != null) this.set({ type }, r.durationMs / 1000);
      }
    },
  });
  new Gauge({
    name: 'backup_size_bytes',
    help: 'Size of the newest completed backup as stored (compressed, encrypted), by type',
    labelNames: ['type'] as const,
    registers: [registry],
    async collect() {
      const rows = await read();
      this.reset();
      for (const type of TYPES) {
        const r = lastGood(rows, type);
        if (r?.sizeBytes != null) this.set({ type }, r.sizeBytes);
      }
    },
  });
  new Counter({
    name: 'backup_failures_total',
    help: 'Backups that failed, by type (failed attempts stay in the catalog)',
    labelNames: ['type'] as const,
    registers: [registry],
    async collect() {
      const rows = await read();
      this.reset();
      for (const type of TYPES) {
        this.inc({ type }, rows.filter((r) => r.type === type && r.status === 'failed').length);
      }
    },
  });
}
