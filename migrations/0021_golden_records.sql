-- Golden records move out of "profiles" into their own table, so each table has one owner: "profiles" keeps
-- the identity resolution writes, "golden_records" what golden builds. Every profile's record is copied first.
CREATE TABLE "golden_records" (
	"profile_id" uuid PRIMARY KEY NOT NULL,
	"version" integer DEFAULT 0 NOT NULL,
	"golden" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"lineage" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"golden_hash" text DEFAULT '' NOT NULL,
	"members" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "golden_records" ADD CONSTRAINT "golden_records_profile_id_profiles_id_fk" FOREIGN KEY ("profile_id") REFERENCES "public"."profiles"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
INSERT INTO "golden_records" ("profile_id", "version", "golden", "lineage", "golden_hash", "members", "updated_at")
SELECT "id", "version", "golden", "lineage", "golden_hash", "members", "updated_at" FROM "profiles";--> statement-breakpoint
ALTER TABLE "profiles" DROP COLUMN "version";--> statement-breakpoint
ALTER TABLE "profiles" DROP COLUMN "golden";--> statement-breakpoint
ALTER TABLE "profiles" DROP COLUMN "lineage";--> statement-breakpoint
ALTER TABLE "profiles" DROP COLUMN "golden_hash";--> statement-breakpoint
ALTER TABLE "profiles" DROP COLUMN "members";