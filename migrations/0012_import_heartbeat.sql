-- Imports: a heartbeat, so an import whose process died reads as 'interrupted' instead of 'receiving'
-- forever; 'done' once the pipeline has processed every stored record; the first and last raw id
-- stored, which bound the quarantine count of GET /imports/:id to the import's own id range.
ALTER TABLE "imports" DROP CONSTRAINT "imports_status";--> statement-breakpoint
ALTER TABLE "imports" ADD COLUMN "heartbeat_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "imports" ADD COLUMN "first_raw_id" bigint;--> statement-breakpoint
ALTER TABLE "imports" ADD COLUMN "last_raw_id" bigint;--> statement-breakpoint
ALTER TABLE "imports" ADD CONSTRAINT "imports_status" CHECK ("imports"."status" in ('receiving', 'received', 'done', 'failed', 'interrupted'));