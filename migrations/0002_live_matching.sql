CREATE TABLE "identity_models" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "identity_models_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"config_hash" text NOT NULL,
	"records" integer NOT NULL,
	"sampled" integer NOT NULL,
	"candidate_pairs" bigint NOT NULL,
	"model" jsonb NOT NULL,
	"trained_by" text NOT NULL,
	"trained_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "source_records" ADD COLUMN "link" jsonb;--> statement-breakpoint
CREATE INDEX "identity_models_config_idx" ON "identity_models" USING btree ("config_hash","id");