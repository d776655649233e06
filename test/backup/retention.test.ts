// Retention as a pure function of the backups and an injected clock.
import { describe, expect, it } from 'vitest';
import { decideRetention, type RetentionCandidate } from '../../src/ops/backup-retention.js';

const now = new Date('2026-12-01T12:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000);

function daily(type: RetentionCandidate['type'], days: number): RetentionCandidate[] {
  return Array.from({ length: days }, (_, i) => ({
    id: `${type}-${i}`,
    type,
    createdAt: daysAgo(i + 0.5),
    good: true,
  }));
}

describe('backup retention', () => {
  it('keeps database backups 30 days and the first of each month for a year', () => {
    const decisions = decideRetention(daily('database', 500), now);
    const kept = decisions.filter((d) => d.keep).map((d) => d.id);
    // 30 recent days (day 0..29, each 0.5 day old or more) ...
    for (let i = 0; i < 30; i++) expect(kept).toContain(`database-${i}`);
    // Day 30 is 1 November, the first of its month; day 31 (31 October) is not.
    expect(decisions.find((d) => d.id === 'database-30')?.reason).toBe(
      'first of 2026-11, kept 1 year',
    );
    expect(kept).not.toContain('database-31');
    // ... plus one per month older than that, up to a year.
    const monthly = decisions.filter((d) => d.keep && d.reason.startsWith('first of'));
    expect(monthly.length).toBeGreaterThanOrEqual(11);
    expect(monthly.length).toBeLessThanOrEqual(12);
    for (const d of monthly) {
      const created = new Date(now.getTime() - (Number(d.id.split('-')[1]) + 0.5) * 86_400_000);
      expect(created.getUTCDate()).toBe(1);
      expect(now.getTime() - created.getTime()).toBeLessThanOrEqual(365 * 86_400_000);
    }
    expect(kept).not.toContain('database-400');
  });

  it('keeps app data 90 days', () => {
    const decisions = decideRetention(daily('app-data', 120), now);
    expect(decisions.filter((d) => d.keep)).toHaveLength(90);
  });

  it('never deletes the newest good backup, however old', () => {
    const old: RetentionCandidate[] = [
      { id: 'a', type: 'database', createdAt: daysAgo(900), good: true },
      { id: 'b', type: 'database', createdAt: daysAgo(800), good: false },
      { id: 'c', type: 'app-data', createdAt: daysAgo(700), good: true },
    ];
    const d = Object.fromEntries(decideRetention(old, now).map((x) => [x.id, x]));
    expect(d.a?.keep).toBe(true);
    expect(d.a?.reason).toBe('newest good database backup');
    expect(d.b?.keep).toBe(false);
    expect(d.c?.keep).toBe(true);
  });

  it('moves with the clock: tomorrow the oldest daily backup goes', () => {
    const backups = daily('database', 31);
    const today = decideRetention(backups, now).filter((d) => d.keep).length;
    const tomorrow = decideRetention(backups, new Date(now.getTime() + 86_400_000)).filter(
      (d) => d.keep,
    ).length;
    expect(tomorrow).toBeLessThan(today);
  });
});
