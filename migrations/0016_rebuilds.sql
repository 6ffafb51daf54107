-- Re-derivations of stored data after its definition changed: record keys (identity.yaml's rules)
-- and golden records (source priorities). One of a kind queued or running at a time; `cursor` is
-- the last id done, so a rebuild whose process died resumes where it stopped.
CREATE TABLE "rebuilds" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" text NOT NULL,
	"reason" text NOT NULL,
	"definition" text NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"total" integer DEFAULT 0 NOT NULL,
	"processed" integer DEFAULT 0 NOT NULL,
	"cursor" bigint DEFAULT 0 NOT NULL,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "rebuilds_kind" CHECK ("rebuilds"."kind" in ('keys', 'golden')),
	CONSTRAINT "rebuilds_status" CHECK ("rebuilds"."status" in ('queued', 'running', 'done', 'failed'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX "rebuilds_active_idx" ON "rebuilds" USING btree ("kind") WHERE "rebuilds"."status" in ('queued', 'running');--> statement-breakpoint
CREATE INDEX "rebuilds_kind_idx" ON "rebuilds" USING btree ("kind","created_at");