CREATE TABLE "erasure_salt" (
	"id" integer PRIMARY KEY NOT NULL,
	"salt" text NOT NULL,
	CONSTRAINT "erasure_salt_single_check" CHECK ("erasure_salt"."id" = 1)
);
--> statement-breakpoint
CREATE TABLE "erasure_tombstones" (
	"hash" text PRIMARY KEY NOT NULL,
	"erasure_id" uuid NOT NULL
);
--> statement-breakpoint
CREATE TABLE "erasures" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"profile_id" uuid NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"reason" text,
	"records" integer NOT NULL,
	"raw_records" integer NOT NULL,
	"identifiers" integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE "suppressions" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "suppressions_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"erasure_id" uuid NOT NULL,
	"source" text NOT NULL,
	"raw_id" bigint NOT NULL,
	"matched" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "profiles" ADD COLUMN "erased_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "raw_records" ADD COLUMN "erased_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "erasure_tombstones" ADD CONSTRAINT "erasure_tombstones_erasure_id_erasures_id_fk" FOREIGN KEY ("erasure_id") REFERENCES "public"."erasures"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "suppressions" ADD CONSTRAINT "suppressions_erasure_id_erasures_id_fk" FOREIGN KEY ("erasure_id") REFERENCES "public"."erasures"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "suppressions_erasure_idx" ON "suppressions" USING btree ("erasure_id","id");