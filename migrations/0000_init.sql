CREATE TABLE "consent_entries" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "consent_entries_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"record_pk" bigint NOT NULL,
	"source" text NOT NULL,
	"record_id" text NOT NULL,
	"purpose" text NOT NULL,
	"status" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"mapping_file" text NOT NULL,
	"mapping_hash" text NOT NULL,
	CONSTRAINT "consent_entries_status_check" CHECK ("consent_entries"."status" in ('granted', 'denied'))
);
--> statement-breakpoint
CREATE TABLE "deliveries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"destination_id" uuid NOT NULL,
	"profile_id" uuid NOT NULL,
	"event" text NOT NULL,
	"body" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_status_code" integer,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone,
	CONSTRAINT "deliveries_status_check" CHECK ("deliveries"."status" in ('pending', 'retrying', 'delivered', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "delivery_attempts" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "delivery_attempts_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"delivery_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"status_code" integer,
	"error" text,
	"duration_ms" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "destination_states" (
	"destination_id" uuid NOT NULL,
	"profile_id" uuid NOT NULL,
	"status" text NOT NULL,
	"golden_hash" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "destination_states_destination_id_profile_id_pk" PRIMARY KEY("destination_id","profile_id"),
	CONSTRAINT "destination_states_status_check" CHECK ("destination_states"."status" in ('sent', 'suppressed'))
);
--> statement-breakpoint
CREATE TABLE "destinations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"url" text NOT NULL,
	"purposes" text[] DEFAULT '{}'::text[] NOT NULL,
	"secret" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "profile_merges" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "profile_merges_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"survivor_id" uuid NOT NULL,
	"retired_ids" uuid[] NOT NULL,
	"kind" text NOT NULL,
	"details" jsonb NOT NULL,
	"actor" text NOT NULL,
	"reason" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "profile_merges_kind_check" CHECK ("profile_merges"."kind" in ('link', 'manual'))
);
--> statement-breakpoint
CREATE TABLE "profiles" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "profiles_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"merged_into" uuid,
	"version" integer DEFAULT 0 NOT NULL,
	"golden" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"lineage" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"golden_hash" text DEFAULT '' NOT NULL
);
--> statement-breakpoint
CREATE TABLE "quarantine" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "quarantine_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"raw_id" bigint NOT NULL,
	"source" text NOT NULL,
	"mapping_file" text,
	"code" text NOT NULL,
	"message" text NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"resolved_at" timestamp with time zone,
	CONSTRAINT "quarantine_status_check" CHECK ("quarantine"."status" in ('open', 'resolved'))
);
--> statement-breakpoint
CREATE TABLE "raw_records" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "raw_records_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"source" text NOT NULL,
	"intake_id" uuid NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"body_hash" text NOT NULL,
	"content_hash" text NOT NULL,
	"payload" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "record_keys" (
	"key" text NOT NULL,
	"record_pk" bigint NOT NULL,
	CONSTRAINT "record_keys_key_record_pk_pk" PRIMARY KEY("key","record_pk")
);
--> statement-breakpoint
CREATE TABLE "source_records" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "source_records_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"source" text NOT NULL,
	"object" text NOT NULL,
	"record_id" text NOT NULL,
	"profile_id" uuid NOT NULL,
	"raw_id" bigint NOT NULL,
	"content_hash" text NOT NULL,
	"fragment" jsonb NOT NULL,
	"mapping_file" text NOT NULL,
	"mapping_hash" text NOT NULL,
	"source_updated_at" timestamp with time zone,
	"observed_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "consent_entries" ADD CONSTRAINT "consent_entries_record_pk_source_records_id_fk" FOREIGN KEY ("record_pk") REFERENCES "public"."source_records"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deliveries" ADD CONSTRAINT "deliveries_destination_id_destinations_id_fk" FOREIGN KEY ("destination_id") REFERENCES "public"."destinations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "delivery_attempts" ADD CONSTRAINT "delivery_attempts_delivery_id_deliveries_id_fk" FOREIGN KEY ("delivery_id") REFERENCES "public"."deliveries"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "destination_states" ADD CONSTRAINT "destination_states_destination_id_destinations_id_fk" FOREIGN KEY ("destination_id") REFERENCES "public"."destinations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "quarantine" ADD CONSTRAINT "quarantine_raw_id_raw_records_id_fk" FOREIGN KEY ("raw_id") REFERENCES "public"."raw_records"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "record_keys" ADD CONSTRAINT "record_keys_record_pk_source_records_id_fk" FOREIGN KEY ("record_pk") REFERENCES "public"."source_records"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "source_records" ADD CONSTRAINT "source_records_profile_id_profiles_id_fk" FOREIGN KEY ("profile_id") REFERENCES "public"."profiles"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "source_records" ADD CONSTRAINT "source_records_raw_id_raw_records_id_fk" FOREIGN KEY ("raw_id") REFERENCES "public"."raw_records"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "consent_entries_statement_idx" ON "consent_entries" USING btree ("record_pk","purpose","status","at");--> statement-breakpoint
CREATE INDEX "deliveries_destination_idx" ON "deliveries" USING btree ("destination_id","created_at");--> statement-breakpoint
CREATE INDEX "deliveries_profile_idx" ON "deliveries" USING btree ("profile_id");--> statement-breakpoint
CREATE INDEX "delivery_attempts_delivery_idx" ON "delivery_attempts" USING btree ("delivery_id");--> statement-breakpoint
CREATE INDEX "profile_merges_survivor_idx" ON "profile_merges" USING btree ("survivor_id");--> statement-breakpoint
CREATE UNIQUE INDEX "profiles_seq_idx" ON "profiles" USING btree ("seq");--> statement-breakpoint
CREATE INDEX "profiles_merged_into_idx" ON "profiles" USING btree ("merged_into") WHERE "profiles"."merged_into" is not null;--> statement-breakpoint
CREATE INDEX "quarantine_open_idx" ON "quarantine" USING btree ("created_at") WHERE "quarantine"."status" = 'open';--> statement-breakpoint
CREATE INDEX "quarantine_raw_idx" ON "quarantine" USING btree ("raw_id");--> statement-breakpoint
CREATE INDEX "raw_records_source_idx" ON "raw_records" USING btree ("source","id");--> statement-breakpoint
CREATE INDEX "record_keys_record_idx" ON "record_keys" USING btree ("record_pk");--> statement-breakpoint
CREATE UNIQUE INDEX "source_records_identity_idx" ON "source_records" USING btree ("source","object","record_id");--> statement-breakpoint
CREATE INDEX "source_records_profile_idx" ON "source_records" USING btree ("profile_id");