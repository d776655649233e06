// The embedded database's memory settings, as PostgreSQL start parameters. PGlite's default
// shared_buffers (128 MB) is most of an idle service's memory; a single-session engine over the
// operating system's page cache needs far less.

export interface PgliteSettings {
  readonly sharedBuffersMb: number;
  readonly workMemMb: number;
  readonly maintenanceWorkMemMb: number;
}

export const DEFAULT_PGLITE_SETTINGS: PgliteSettings = {
  sharedBuffersMb: 16,
  workMemMb: 4,
  maintenanceWorkMemMb: 16,
};

/** `-c name=value` pairs appended to PGlite's own start parameters. */
export function pgliteSettingParams(settings: PgliteSettings): string[] {
  return [
    ['shared_buffers', settings.sharedBuffersMb],
    ['work_mem', settings.workMemMb],
    ['maintenance_work_mem', settings.maintenanceWorkMemMb],
  ].flatMap(([name, mb]) => ['-c', `${name}=${mb}MB`]);
}
