ALTER TABLE "swarms" ADD COLUMN "idempotency_key" text;--> statement-breakpoint
ALTER TABLE "swarms" ADD COLUMN "idempotency_hash" text;--> statement-breakpoint
ALTER TABLE "swarms" ADD COLUMN "lease_epoch" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "swarms" ADD COLUMN "lease_owner" text;--> statement-breakpoint
ALTER TABLE "swarms" ADD COLUMN "lease_expires_at" timestamp with time zone;--> statement-breakpoint
-- Logs written before this index may hold a second terminal event for a task (two writers once
-- raced): the later ones keep their data (a fold reads data->>'type') but their type column is
-- renamed, so the index below holds and their history is not rewritten.
UPDATE "events" SET "type" = 'task.outcome.repeated' WHERE ("swarm_id", "seq") IN (
  SELECT "swarm_id", "seq" FROM (
    SELECT "swarm_id", "seq", row_number() OVER (PARTITION BY "swarm_id", "data"->>'taskId' ORDER BY "seq") AS n
    FROM "events" WHERE "type" IN ('task.succeeded', 'task.failed')) d
  WHERE d.n > 1);--> statement-breakpoint
CREATE UNIQUE INDEX "events_task_outcome_idx" ON "events" USING btree ("swarm_id",("data"->>'taskId')) WHERE "events"."type" in ('task.succeeded', 'task.failed');--> statement-breakpoint
CREATE UNIQUE INDEX "swarms_idempotency_idx" ON "swarms" USING btree ("created_by","idempotency_key") WHERE "swarms"."idempotency_key" is not null;--> statement-breakpoint
-- Fencing: a group-commit statement calls this with the leases its appends were made under; it
-- locks those swarms' rows (so a claim by another process waits for this statement, or this
-- statement sees the claim) and fails the whole statement when one is no longer the swarm's.
CREATE OR REPLACE FUNCTION cfn_assert_leases(leases jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  stale text;
BEGIN
  IF leases IS NULL OR jsonb_array_length(leases) = 0 THEN
    RETURN true;
  END IF;
  PERFORM 1 FROM swarms
    WHERE id IN (SELECT x.s FROM jsonb_to_recordset(leases) AS x(s uuid))
    ORDER BY id FOR NO KEY UPDATE;
  SELECT string_agg(DISTINCT x.s::text, ',') INTO stale
    FROM jsonb_to_recordset(leases) AS x(s uuid, e int, o text)
    LEFT JOIN swarms w ON w.id = x.s
    WHERE w.id IS NULL OR w.lease_epoch IS DISTINCT FROM x.e OR w.lease_owner IS DISTINCT FROM x.o;
  IF stale IS NOT NULL THEN
    RAISE EXCEPTION 'the lease of swarm(s) % is no longer this writer''s', stale USING ERRCODE = 'CF409';
  END IF;
  RETURN true;
END
$$;
