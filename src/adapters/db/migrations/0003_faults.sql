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
CREATE UNIQUE INDEX "swarms_idempotency_idx" ON "swarms" USING btree ("created_by","idempotency_key") WHERE "swarms"."idempotency_key" is not null;