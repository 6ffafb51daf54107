-- Intakes stored but not yet handed to the ingest queue. A webhook batch's raw records and their
-- rows here are written by one statement (one round trip, no transaction around it); a dispatcher
-- in every hub process deletes rows and inserts their pg-boss jobs in one transaction.
CREATE TABLE "intake_outbox" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "intake_outbox_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"intake_id" uuid NOT NULL,
	"records" integer NOT NULL,
	"hydrate" boolean DEFAULT false NOT NULL,
	"queued_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "intake_outbox_records_positive" CHECK ("intake_outbox"."records" > 0)
);
