-- Replay protection for vendor webhooks whose signatures carry a timestamp (Stripe, HubSpot, Zendesk):
-- one row per delivery accepted, keyed by its signature; pruned after a day.
CREATE TABLE "webhook_receipts" (
	"source" text NOT NULL,
	"receipt" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "webhook_receipts_source_receipt_pk" PRIMARY KEY("source","receipt")
);
--> statement-breakpoint
CREATE INDEX "webhook_receipts_received_idx" ON "webhook_receipts" USING btree ("received_at");