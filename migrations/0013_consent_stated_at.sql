ALTER TABLE "consent_entries" ADD COLUMN "stated_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "consent_entries" ADD CONSTRAINT "consent_entries_stated_check" CHECK ("consent_entries"."stated_at" is null or "consent_entries"."stated_at" > "consent_entries"."at");--> statement-breakpoint
-- Entries written before this migration may be dated after they were received: cap them as new ones
-- are, at the time the entry was written (the raw record's receipt is no later), keeping the stated
-- time. Two statements of one record, purpose and status that cap to the same time are one statement:
-- the one stated latest is kept with its stated time, the others are deleted, since left in the
-- future they would outrank every later withdrawal.
WITH capped AS (
  SELECT DISTINCT ON (ce.record_pk, ce.purpose, ce.status, ce.received_at) ce.id
  FROM "consent_entries" ce
  WHERE ce.at > ce.received_at
    AND NOT EXISTS (
      SELECT 1 FROM "consent_entries" o
      WHERE o.record_pk = ce.record_pk AND o.purpose = ce.purpose AND o.status = ce.status AND o.at = ce.received_at)
  ORDER BY ce.record_pk, ce.purpose, ce.status, ce.received_at, ce.at DESC)
UPDATE "consent_entries" SET "stated_at" = "at", "at" = "received_at" WHERE id IN (SELECT id FROM capped);--> statement-breakpoint
DELETE FROM "consent_entries" WHERE "at" > "received_at";
