-- A rebuild of kind 'links': records linked under an earlier identity model, scored again with the one in force.
ALTER TABLE "rebuilds" DROP CONSTRAINT "rebuilds_kind";--> statement-breakpoint
ALTER TABLE "rebuilds" ADD CONSTRAINT "rebuilds_kind" CHECK ("rebuilds"."kind" in ('keys', 'golden', 'mappings', 'links'));