-- Records stored with an updatedAt after their receipt (a vendor's clock, or a typo dated 2099)
-- outranked every later version of themselves: the newest-wins check compares against it. New
-- records are capped at their receipt when mapped; cap those already stored the same way, so the
-- next version of such a record is taken.
UPDATE source_records SET source_updated_at = observed_at WHERE source_updated_at > observed_at;
