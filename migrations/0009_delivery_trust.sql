CREATE TABLE "backfills" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"destination_id" uuid NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"total" integer NOT NULL,
	"processed" integer DEFAULT 0 NOT NULL,
	"queued" integer DEFAULT 0 NOT NULL,
	"after_id" uuid,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "backfills_status_check" CHECK ("backfills"."status" in ('running', 'done'))
);
--> statement-breakpoint
ALTER TABLE "deliveries" DROP CONSTRAINT "deliveries_status_check";--> statement-breakpoint
ALTER TABLE "deliveries" ADD COLUMN "changed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "deliveries" ADD COLUMN "next_attempt_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "destinations" ADD COLUMN "signature" text DEFAULT 'github' NOT NULL;--> statement-breakpoint
ALTER TABLE "destinations" ADD COLUMN "previous_secret" text;--> statement-breakpoint
ALTER TABLE "destinations" ADD COLUMN "previous_secret_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "destinations" ADD COLUMN "fields" text[];--> statement-breakpoint
ALTER TABLE "destinations" ADD COLUMN "events" text[];--> statement-breakpoint
ALTER TABLE "destinations" ADD COLUMN "rate_limit" real;--> statement-breakpoint
ALTER TABLE "destinations" ADD COLUMN "timeout_ms" integer;--> statement-breakpoint
ALTER TABLE "destinations" ADD COLUMN "consecutive_failures" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "destinations" ADD COLUMN "circuit_open_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "destinations" ADD COLUMN "updated_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "backfills" ADD CONSTRAINT "backfills_destination_id_destinations_id_fk" FOREIGN KEY ("destination_id") REFERENCES "public"."destinations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "backfills_running_idx" ON "backfills" USING btree ("destination_id") WHERE "backfills"."status" = 'running';--> statement-breakpoint
CREATE INDEX "deliveries_live_idx" ON "deliveries" USING btree ("destination_id","profile_id") WHERE "deliveries"."status" in ('pending', 'sending', 'retrying');--> statement-breakpoint
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_status_check" CHECK ("deliveries"."status" in ('pending', 'sending', 'retrying', 'delivered', 'failed', 'superseded', 'withheld', 'withdrawn'));--> statement-breakpoint
ALTER TABLE "destinations" ADD CONSTRAINT "destinations_signature_check" CHECK ("destinations"."signature" in ('github', 'standard-webhooks'));