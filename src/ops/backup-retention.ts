// Which backups to keep: a pure function of the catalog and the clock, so the policy is tested
// with any date. Database: 30 days, plus the first backup of each month for a year; app data:
// 90 days; the newest good backup of each type is never deleted.
import type { BackupType } from '../ports/backup.js';

export interface RetentionPolicy {
  databaseDays: number;
  monthlyArchiveDays: number;
  appDataDays: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  databaseDays: 30,
  monthlyArchiveDays: 365,
  appDataDays: 90,
};

export interface RetentionCandidate {
  id: string;
  type: BackupType;
  createdAt: Date;
  /** Only good (completed) backups count as the newest or as a month's first. */
  good: boolean;
}

export interface RetentionDecision {
  id: string;
  keep: boolean;
  reason: string;
}

const DAY_MS = 86_400_000;
const monthOf = (d: Date) =>
  `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;

export function decideRetention(
  backups: readonly RetentionCandidate[],
  now: Date,
  policy: RetentionPolicy = DEFAULT_RETENTION,
): RetentionDecision[] {
  const newestGood = new Map<BackupType, RetentionCandidate>();
  const firstOfMonth = new Map<string, RetentionCandidate>();
  for (const b of backups) {
    if (!b.good) continue;
    const n = newestGood.get(b.type);
    if (!n || b.createdAt > n.createdAt) newestGood.set(b.type, b);
    if (b.type === 'database') {
      const m = monthOf(b.createdAt);
      const f = firstOfMonth.get(m);
      if (!f || b.createdAt < f.createdAt) firstOfMonth.set(m, b);
    }
  }
  return backups.map((b) => {
    const ageDays = (now.getTime() - b.createdAt.getTime()) / DAY_MS;
    if (newestGood.get(b.type)?.id === b.id) {
      return { id: b.id, keep: true, reason: `newest good ${b.type} backup` };
    }
    if (b.type === 'app-data') {
      return ageDays <= policy.appDataDays
        ? { id: b.id, keep: true, reason: `within ${policy.appDataDays} days` }
        : { id: b.id, keep: false, reason: `older than ${policy.appDataDays} days` };
    }
    if (ageDays <= policy.databaseDays) {
      return { id: b.id, keep: true, reason: `within ${policy.databaseDays} days` };
    }
    if (
      firstOfMonth.get(monthOf(b.createdAt))?.id === b.id &&
      ageDays <= policy.monthlyArchiveDays
    ) {
      return { id: b.id, keep: true, reason: `first of ${monthOf(b.createdAt)}, kept 1 year` };
    }
    return { id: b.id, keep: false, reason: `older than ${policy.databaseDays} days` };
  });
}
