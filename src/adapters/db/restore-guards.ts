// What a restore does around the dump, inside its own transaction: the replica registry keeps its
// live rows (runtime state: who is running and what they acknowledged, not data of the backup),
// and no swarm lease of the old database stays valid: the restored rows come from a time when
// some process held them, so their owners and expiry times are cleared (an append must carry the
// lease's owner, so none made under an old lease is accepted; a new lease is taken on resume).

/** Tables holding runtime state: their rows are left out of dumps and row counts. */
export const RUNTIME_TABLES = ['public.service_replicas'] as const;

/** pg_dump arguments that leave the runtime tables' rows out (their definitions stay). */
export const RUNTIME_DUMP_ARGS = RUNTIME_TABLES.map((t) => `--exclude-table-data=${t}`);

const columnExists = (table: string, column: string) =>
  `exists (select 1 from information_schema.columns where table_schema = 'public' and table_name = '${table}' and column_name = '${column}')`;

/** Before the schemas are dropped: keep what must outlive the restore in temporary tables. */
export const BEFORE_RESTORE_SQL = `
DO $cfn$ BEGIN
  IF to_regclass('public.service_replicas') IS NOT NULL THEN
    CREATE TEMP TABLE cfn_keep_replicas ON COMMIT DROP AS SELECT * FROM public.service_replicas;
  END IF;
END $cfn$;
`;

/** After the dump, in the same transaction. */
export const AFTER_RESTORE_SQL = `
DO $cfn$ BEGIN
  IF to_regclass('public.service_replicas') IS NOT NULL AND to_regclass('pg_temp.cfn_keep_replicas') IS NOT NULL THEN
    DELETE FROM public.service_replicas;
    INSERT INTO public.service_replicas SELECT * FROM pg_temp.cfn_keep_replicas;
  END IF;
  IF ${columnExists('swarms', 'lease_owner')} THEN
    UPDATE public.swarms SET lease_owner = NULL, lease_expires_at = NULL
      WHERE lease_owner IS NOT NULL OR lease_expires_at IS NOT NULL;
  END IF;
END $cfn$;
`;
