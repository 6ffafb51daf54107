-- A third kind of rebuild, 'mappings': stored records mapped by a version of their mapping that is
-- no longer the workspace's are mapped again from their latest raw record. The kind's CHECK is
-- replaced whole (PostgreSQL cannot widen one in place); existing rows all pass the new one.
ALTER TABLE "rebuilds" DROP CONSTRAINT "rebuilds_kind";--> statement-breakpoint
ALTER TABLE "rebuilds" ADD CONSTRAINT "rebuilds_kind" CHECK ("rebuilds"."kind" in ('keys', 'golden', 'mappings'));