-- Flags: violations a record was processed with (characters replaced, values refused as keys), beside
-- open and resolved quarantine entries. original_body: the exact bytes of a record whose payload
-- had to differ from them (jsonb refuses \u0000 and lone surrogates).
ALTER TABLE "quarantine" DROP CONSTRAINT "quarantine_status_check";--> statement-breakpoint
ALTER TABLE "raw_records" ADD COLUMN "original_body" "bytea";--> statement-breakpoint
CREATE UNIQUE INDEX "quarantine_flag_idx" ON "quarantine" USING btree ("raw_id","code") WHERE "quarantine"."status" = 'flagged';--> statement-breakpoint
ALTER TABLE "quarantine" ADD CONSTRAINT "quarantine_status_check" CHECK ("quarantine"."status" in ('open', 'resolved', 'flagged'));