-- A destination's rateLimit was held per process (three hubs sent 5/s as 15/s): the next free
-- send slot now lives on the destination's row, advanced atomically by each send. And each failed
-- attempt records the backoff it chose, so the retry schedule can be read back.
ALTER TABLE "delivery_attempts" ADD COLUMN "retry_delay_ms" integer;--> statement-breakpoint
ALTER TABLE "destinations" ADD COLUMN "rate_slot_at" timestamp with time zone;