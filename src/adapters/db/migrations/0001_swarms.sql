CREATE TABLE "agent_calls" (
	"key" text PRIMARY KEY NOT NULL,
	"swarm_id" uuid NOT NULL,
	"task_id" text NOT NULL,
	"kind" text NOT NULL,
	"request_hash" text NOT NULL,
	"response" jsonb NOT NULL,
	"provider" text,
	"model" text,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_usd" double precision DEFAULT 0 NOT NULL,
	"duration_ms" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "agent_tasks" (
	"swarm_id" uuid NOT NULL,
	"task_id" text NOT NULL,
	"iteration" integer NOT NULL,
	"phase" text NOT NULL,
	"slot" integer NOT NULL,
	"attempt" integer NOT NULL,
	"agent" text,
	"status" text NOT NULL,
	"spec" jsonb NOT NULL,
	"output" jsonb,
	"error" text,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_usd" double precision DEFAULT 0 NOT NULL,
	"worker" text,
	"scheduled_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	CONSTRAINT "agent_tasks_swarm_id_task_id_pk" PRIMARY KEY("swarm_id","task_id")
);
--> statement-breakpoint
CREATE TABLE "events" (
	"swarm_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"type" text NOT NULL,
	"data" jsonb NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"request_id" text,
	CONSTRAINT "events_swarm_id_seq_pk" PRIMARY KEY("swarm_id","seq")
);
--> statement-breakpoint
CREATE TABLE "playbook_entries" (
	"id" uuid PRIMARY KEY NOT NULL,
	"swarm_id" uuid NOT NULL,
	"objective" text NOT NULL,
	"task_class" text NOT NULL,
	"strategy" text NOT NULL,
	"mode" text NOT NULL,
	"agents" jsonb NOT NULL,
	"iterations" integer NOT NULL,
	"outcome" text NOT NULL,
	"gate_score" double precision,
	"consensus_score" double precision,
	"cost_usd" double precision NOT NULL,
	"lessons" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "swarm_iterations" (
	"swarm_id" uuid NOT NULL,
	"iteration" integer NOT NULL,
	"feedback" jsonb NOT NULL,
	"gate_score" double precision,
	"gate_passed" boolean,
	"consensus_score" double precision,
	"consensus_passed" boolean,
	"decision" text,
	"decision_by" text,
	"snapshot" jsonb,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "swarm_iterations_swarm_id_iteration_pk" PRIMARY KEY("swarm_id","iteration")
);
--> statement-breakpoint
CREATE TABLE "swarms" (
	"id" uuid PRIMARY KEY NOT NULL,
	"objective" text NOT NULL,
	"strategy" text NOT NULL,
	"mode" text NOT NULL,
	"status" text NOT NULL,
	"spec" jsonb NOT NULL,
	"iteration" integer DEFAULT 0 NOT NULL,
	"decision" text,
	"reason" text,
	"last_seq" integer DEFAULT 0 NOT NULL,
	"input_tokens" bigint DEFAULT 0 NOT NULL,
	"output_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_usd" double precision DEFAULT 0 NOT NULL,
	"reserved_tokens" bigint DEFAULT 0 NOT NULL,
	"reserved_usd" double precision DEFAULT 0 NOT NULL,
	"budget_max_tokens" bigint,
	"budget_max_usd" double precision,
	"playbook_entry_id" uuid,
	"created_by" text,
	"request_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"swarm_id" uuid NOT NULL,
	"url" text NOT NULL,
	"event" text NOT NULL,
	"attempt" integer NOT NULL,
	"status_code" integer,
	"error" text,
	"duration_ms" integer NOT NULL,
	"delivered_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "agent_calls_swarm_idx" ON "agent_calls" USING btree ("swarm_id","task_id");--> statement-breakpoint
CREATE INDEX "agent_tasks_status_idx" ON "agent_tasks" USING btree ("status");--> statement-breakpoint
CREATE INDEX "agent_tasks_ended_idx" ON "agent_tasks" USING btree ("ended_at");--> statement-breakpoint
CREATE INDEX "events_type_at_idx" ON "events" USING btree ("type","at");--> statement-breakpoint
CREATE INDEX "playbook_objective_fts_idx" ON "playbook_entries" USING gin (to_tsvector('english', "objective"));--> statement-breakpoint
CREATE INDEX "swarms_status_idx" ON "swarms" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "swarms_created_idx" ON "swarms" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_swarm_idx" ON "webhook_deliveries" USING btree ("swarm_id","id");