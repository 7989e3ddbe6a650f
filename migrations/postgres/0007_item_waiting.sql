-- +goose Up
-- Why an item's ticket is held back and until when: followthrough's pacing of GitHub writes,
-- or a rate limit the tracker answered with. Set when the create waits, cleared when the item
-- is linked or fails. The index serves the metric of waiting items per tracker.
ALTER TABLE items ADD COLUMN waiting_reason TEXT COLLATE "C";
ALTER TABLE items ADD COLUMN waiting_until TEXT COLLATE "C";
CREATE INDEX items_waiting ON items (waiting_until) WHERE waiting_until IS NOT NULL;

-- +goose Down
-- Forward-only: no down migration.
