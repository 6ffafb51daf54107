-- A destination hears of at least one entity type, each one the hub knows ('person', 'account').
-- The API has refused anything else since the column was added (0018), so existing rows pass.
ALTER TABLE "destinations" ADD CONSTRAINT "destinations_entities_check" CHECK (cardinality("destinations"."entities") > 0 and "destinations"."entities" <@ array['person', 'account']::text[]);