CREATE TABLE "link_pins" (
	"record_a" bigint NOT NULL,
	"record_b" bigint NOT NULL,
	"actor" text NOT NULL,
	"reason" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "link_pins_record_a_record_b_pk" PRIMARY KEY("record_a","record_b"),
	CONSTRAINT "link_pins_order_check" CHECK ("link_pins"."record_a" < "link_pins"."record_b")
);
--> statement-breakpoint
ALTER TABLE "profile_merges" DROP CONSTRAINT "profile_merges_kind_check";--> statement-breakpoint
ALTER TABLE "link_pins" ADD CONSTRAINT "link_pins_record_a_source_records_id_fk" FOREIGN KEY ("record_a") REFERENCES "public"."source_records"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "link_pins" ADD CONSTRAINT "link_pins_record_b_source_records_id_fk" FOREIGN KEY ("record_b") REFERENCES "public"."source_records"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "link_pins_b_idx" ON "link_pins" USING btree ("record_b");--> statement-breakpoint
ALTER TABLE "profile_merges" ADD CONSTRAINT "profile_merges_kind_check" CHECK ("profile_merges"."kind" in ('link', 'manual', 'split', 'refused'));