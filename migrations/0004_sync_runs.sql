-- Pulls from vendor APIs: one row per sync run (GET /sources/:source/runs), at most one queued or
-- running per source, and each source's incremental cursor, saved in the transaction that stores
-- each page's records.
CREATE TABLE "source_cursors" (
	"source" text PRIMARY KEY NOT NULL,
	"cursor" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sync_runs" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "sync_runs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"source" text NOT NULL,
	"full_sync" boolean DEFAULT false NOT NULL,
	"trigger" text NOT NULL,
	"status" text NOT NULL,
	"queued_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"pages" integer DEFAULT 0 NOT NULL,
	"records" integer DEFAULT 0 NOT NULL,
	"requests" integer DEFAULT 0 NOT NULL,
	"cursor_from" jsonb,
	"cursor_to" jsonb,
	"error" jsonb,
	CONSTRAINT "sync_runs_status" CHECK ("sync_runs"."status" in ('queued', 'running', 'succeeded', 'failed')),
	CONSTRAINT "sync_runs_trigger" CHECK ("sync_runs"."trigger" in ('schedule', 'api'))
);
--> statement-breakpoint
CREATE INDEX "sync_runs_source_idx" ON "sync_runs" USING btree ("source","id");--> statement-breakpoint
CREATE UNIQUE INDEX "sync_runs_one_active_idx" ON "sync_runs" USING btree ("source") WHERE "sync_runs"."status" in ('queued', 'running');