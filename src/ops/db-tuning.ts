// The guide's PostgreSQL settings ("Database Optimization") scaled to the database host's memory:
// its values are the baseline (a server of 1 GiB), and above that shared_buffers is a quarter of
// the memory, effective_cache_size three quarters, maintenance_work_mem a sixteenth (at most
// 2 GiB). Compared with what the server runs (pg_settings), and applied with ALTER SYSTEM and
// pg_reload_conf(); settings that only a restart applies are reported as pending.
import { sql } from 'drizzle-orm';
import { queryRows, type Db } from '../adapters/db/database.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export interface Recommendation {
  name: string;
  /** In the setting's own unit as SHOW prints it (e.g. 256MB), or a plain number. */
  value: string;
  /** For comparison: bytes, or the number itself. */
  amount: number;
}

const size = (bytes: number) =>
  bytes % GiB === 0 ? `${bytes / GiB}GB` : `${Math.round(bytes / MiB)}MB`;

/** The guide's settings for a host of `memoryBytes`. */
export function recommend(memoryBytes: number): Recommendation[] {
  const mib = (n: number) => Math.floor(n / MiB) * MiB;
  const shared = Math.max(256 * MiB, mib(memoryBytes / 4));
  const cache = Math.max(1 * GiB, mib((memoryBytes * 3) / 4));
  const maintenance = Math.max(64 * MiB, Math.min(2 * GiB, mib(memoryBytes / 16)));
  return [
    { name: 'shared_buffers', value: size(shared), amount: shared },
    { name: 'effective_cache_size', value: size(cache), amount: cache },
    { name: 'maintenance_work_mem', value: size(maintenance), amount: maintenance },
    { name: 'checkpoint_completion_target', value: '0.9', amount: 0.9 },
    { name: 'wal_buffers', value: '16MB', amount: 16 * MiB },
    { name: 'default_statistics_target', value: '100', amount: 100 },
  ];
}

export interface SettingReport {
  name: string;
  current: string;
  recommended: string;
  matches: boolean;
  /** Only a restart applies it (context postmaster). */
  needsRestart: boolean;
  /** Changed in the configuration, waiting for a restart (pg_settings.pending_restart). */
  pendingRestart: boolean;
}

const UNIT_BYTES: Record<string, number> = { B: 1, kB: KiB, '8kB': 8 * KiB, MB: MiB, GB: GiB };

interface Row {
  name: string;
  setting: string;
  unit: string | null;
  context: string;
  pending_restart: boolean;
  shown: string;
}

/** The server's settings against the recommendations. */
export async function compareSettings(db: Db, memoryBytes: number): Promise<SettingReport[]> {
  const wanted = recommend(memoryBytes);
  const names = wanted.map((w) => w.name);
  const rows = await queryRows<Row>(
    db,
    sql`select name, setting, unit, context, pending_restart, current_setting(name) as shown
          from pg_settings where name in (${sql.join(
            names.map((n) => sql`${n}`),
            sql`, `,
          )})`,
  );
  const byName = new Map(rows.map((r) => [r.name, r]));
  return wanted.map((w) => {
    const r = byName.get(w.name);
    if (!r) throw new Error(`the server has no setting ${w.name}`);
    const scale = r.unit ? (UNIT_BYTES[r.unit] ?? 1) : 1;
    const amount = Number(r.setting) * scale;
    return {
      name: w.name,
      current: r.shown,
      recommended: w.value,
      matches: Math.abs(amount - w.amount) < 1e-9 * Math.max(1, w.amount),
      needsRestart: r.context === 'postmaster',
      pendingRestart: r.pending_restart,
    };
  });
}

/** ALTER SYSTEM for each setting that differs, then a reload; the comparison after it. */
export async function applySettings(db: Db, memoryBytes: number): Promise<SettingReport[]> {
  const before = await compareSettings(db, memoryBytes);
  for (const s of before.filter((x) => !x.matches))
    // ALTER SYSTEM takes no parameters: the name and value come from recommend(), not from input.
    await db.execute(sql.raw(`ALTER SYSTEM SET ${s.name} = '${s.recommended}'`));
  await db.execute(sql`select pg_reload_conf()`);
  // The reload is asynchronous: pending_restart and the new values show once it has happened.
  for (let i = 0; i < 50; i++) {
    const after = await compareSettings(db, memoryBytes);
    const settled = after.every((s) => s.matches || (s.needsRestart && s.pendingRestart));
    if (settled) return after;
    await new Promise((r) => setTimeout(r, 100));
  }
  return compareSettings(db, memoryBytes);
}
