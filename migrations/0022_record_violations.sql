-- A bad value is dropped, not the record: the values a mapping dropped from a record's fragment as invalid
-- or blocked are kept with the record, [{field, kind, message, value}], null when none. Existing records
-- have none (they were quarantined instead). The partial index serves GET /quality/violations, which counts
-- the records holding violations; building it reads the table once, and it holds only those records.
ALTER TABLE "source_records" ADD COLUMN "violations" jsonb;--> statement-breakpoint
CREATE INDEX "source_records_violations_idx" ON "source_records" USING btree ("source") WHERE "source_records"."violations" is not null;--> statement-breakpoint
ALTER TABLE "source_records" ADD CONSTRAINT "source_records_violations_check" CHECK ("source_records"."violations" is null or jsonb_typeof("source_records"."violations") = 'array');
