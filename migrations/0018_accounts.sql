CREATE TABLE "memberships" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "memberships_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"record_pk" bigint NOT NULL,
	"source" text NOT NULL,
	"ref_key" text NOT NULL,
	"ref" jsonb NOT NULL,
	"role" text,
	"valid_from" timestamp with time zone DEFAULT now() NOT NULL,
	"valid_to" timestamp with time zone,
	CONSTRAINT "memberships_valid_check" CHECK ("memberships"."valid_to" is null or "memberships"."valid_to" >= "memberships"."valid_from")
);
--> statement-breakpoint
ALTER TABLE "destinations" ADD COLUMN "entities" text[] DEFAULT '{person}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "profiles" ADD COLUMN "entity" text DEFAULT 'person' NOT NULL;--> statement-breakpoint
ALTER TABLE "profiles" ADD COLUMN "members" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "source_records" ADD COLUMN "entity" text DEFAULT 'person' NOT NULL;--> statement-breakpoint
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_record_pk_source_records_id_fk" FOREIGN KEY ("record_pk") REFERENCES "public"."source_records"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "memberships_open_idx" ON "memberships" USING btree ("record_pk","ref_key") WHERE "memberships"."valid_to" is null;--> statement-breakpoint
CREATE INDEX "memberships_record_idx" ON "memberships" USING btree ("record_pk");--> statement-breakpoint
CREATE INDEX "memberships_ref_idx" ON "memberships" USING btree ("ref_key");--> statement-breakpoint
CREATE INDEX "profiles_account_seq_idx" ON "profiles" USING btree ("seq") WHERE "profiles"."entity" = 'account' and "profiles"."merged_into" is null;--> statement-breakpoint
ALTER TABLE "profiles" ADD CONSTRAINT "profiles_entity_check" CHECK ("profiles"."entity" in ('person', 'account'));--> statement-breakpoint
ALTER TABLE "source_records" ADD CONSTRAINT "source_records_entity_check" CHECK ("source_records"."entity" in ('person', 'account'));