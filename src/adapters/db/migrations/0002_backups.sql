CREATE TABLE "backups" (
	"id" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"status" text NOT NULL,
	"target" text NOT NULL,
	"key" text NOT NULL,
	"size_bytes" bigint,
	"sha256" text,
	"manifest" jsonb,
	"error" text,
	"created_at" timestamp with time zone NOT NULL,
	"completed_at" timestamp with time zone,
	"duration_ms" integer,
	"verified_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "backups_type_created_idx" ON "backups" USING btree ("type","created_at");