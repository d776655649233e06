// Maintenance mode, shared by every replica through the `settings` table: while it is on,
// readiness is false, mutating API requests get 503 and workers wait. Reads are cached briefly
// so checking it on every request costs no query.
import type { SettingsStore } from '../ports/backup.js';

export const MAINTENANCE_KEY = 'maintenance';

export interface MaintenanceState {
  enabled: boolean;
  reason?: string;
  since?: string;
}

export interface MaintenanceMode {
  enable(reason: string): Promise<MaintenanceState>;
  disable(): Promise<void>;
  /** Fresh from the database. */
  status(): Promise<MaintenanceState>;
  /** Cached (cacheMs); on a read error the last known value stands. */
  current(): Promise<MaintenanceState>;
  /**
   * Fresh from the database, but without waiting on a restore that holds the settings table:
   * `locked` is then true (and the state unknown). Errors propagate.
   */
  fresh(): Promise<MaintenanceState | { locked: true }>;
}

export interface MaintenanceOptions {
  settings: SettingsStore;
  cacheMs?: number;
  now?: () => number;
  /** A read slower than this keeps the last known value. */
  readTimeoutMs?: number;
  /** Waiting longer than this for the settings table's lock counts as maintenance. */
  lockTimeoutMs?: number;
}

function parse(value: unknown): MaintenanceState {
  const v = value as { enabled?: unknown; reason?: unknown; since?: unknown } | null | undefined;
  if (!v || v.enabled !== true) return { enabled: false };
  return {
    enabled: true,
    ...(typeof v.reason === 'string' ? { reason: v.reason } : {}),
    ...(typeof v.since === 'string' ? { since: v.since } : {}),
  };
}

/** The SQL that turns maintenance on, for use inside a restore's own transaction. */
export function maintenanceRowSql(state: MaintenanceState): string {
  const json = JSON.stringify(state).replace(/'/g, "''");
  return (
    `INSERT INTO public.settings (key, value, updated_at) VALUES ('${MAINTENANCE_KEY}', '${json}'::jsonb, now()) ` +
    'ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now();'
  );
}

export function createMaintenanceMode(options: MaintenanceOptions): MaintenanceMode {
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? 1000;
  const readTimeoutMs = options.readTimeoutMs ?? 2000;
  const lockTimeoutMs = options.lockTimeoutMs ?? 250;
  let cached: { state: MaintenanceState; at: number } | undefined;
  let reading: Promise<MaintenanceState> | undefined;

  async function status(): Promise<MaintenanceState> {
    const state = parse(await options.settings.get(MAINTENANCE_KEY));
    cached = { state, at: now() };
    return state;
  }

  return {
    async enable(reason) {
      const state: MaintenanceState = {
        enabled: true,
        reason,
        since: new Date(now()).toISOString(),
      };
      await options.settings.set(MAINTENANCE_KEY, state);
      cached = { state, at: now() };
      return state;
    },
    async disable() {
      await options.settings.delete(MAINTENANCE_KEY);
      cached = { state: { enabled: false }, at: now() };
    },
    status,
    async fresh() {
      const r = await options.settings.getUnlessLocked(MAINTENANCE_KEY, lockTimeoutMs);
      if (r.locked) return { locked: true };
      const state = parse(r.value);
      cached = { state, at: now() };
      return state;
    },
    async current() {
      if (cached && now() - cached.at < cacheMs) return cached.state;
      const last = cached?.state ?? { enabled: false };
      reading ??= (async () => {
        let timer: NodeJS.Timeout | undefined;
        try {
          return await Promise.race([
            (async () => {
              const r = await options.settings.getUnlessLocked(MAINTENANCE_KEY, lockTimeoutMs);
              // Only a restore or a migration locks the settings table: treat it as maintenance.
              const state = r.locked
                ? { enabled: true, reason: 'database locked for a restore or migration' }
                : parse(r.value);
              cached = { state, at: now() };
              return state;
            })(),
            new Promise<MaintenanceState>((resolve) => {
              timer = setTimeout(() => resolve(last), readTimeoutMs);
            }),
          ]);
        } catch {
          return last;
        } finally {
          clearTimeout(timer);
          reading = undefined;
        }
      })();
      return reading;
    },
  };
}
