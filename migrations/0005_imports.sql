-- File imports (POST /sources/:source/import): one row per upload with its counts, and the raw_records
-- indexes that find duplicates by content and an import's records by intake id.
CREATE TABLE "imports" (
	"id" uuid PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"format" text NOT NULL,
	"status" text NOT NULL,
	"bytes" bigint DEFAULT 0 NOT NULL,
	"accepted" integer DEFAULT 0 NOT NULL,
	"duplicates" integer DEFAULT 0 NOT NULL,
	"rejected" integer DEFAULT 0 NOT NULL,
	"problems" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"processed" integer DEFAULT 0 NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "imports_status" CHECK ("imports"."status" in ('receiving', 'received', 'failed')),
	CONSTRAINT "imports_format" CHECK ("imports"."format" in ('csv', 'ndjson'))
);
--> statement-breakpoint
CREATE INDEX "raw_records_content_idx" ON "raw_records" USING btree ("source","content_hash");--> statement-breakpoint
CREATE INDEX "raw_records_intake_idx" ON "raw_records" USING btree ("intake_id");