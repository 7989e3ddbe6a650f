-- +goose Up
-- When a revision last brought the item back after an earlier one removed it: inactivity counts
-- from no earlier, not from its old ticket's creation or last activity, so that an item brought
-- back does not stall at once (stallrules.go, InactiveSince). NULL: never brought back.
ALTER TABLE items ADD COLUMN restored_at TEXT;

-- +goose Down
-- Forward-only: no down migration.
