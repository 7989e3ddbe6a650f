-- +goose Up
-- When each item finished, kept on the item as its status changes (store/item.go,
-- setItemStatus), so that /insights reads it from the row instead of searching the status
-- history for every finished item on every request: the time of the item's latest change from
-- unfinished (open, in_progress) into finished (done, wont_do). NULL when it never made such a
-- change (an item finished at sign-off finished then, which store/insights.go takes from its
-- postmortem). It is kept when the item is reopened; only finished items' values are read.
ALTER TABLE items ADD COLUMN finished_at TEXT COLLATE "C";

UPDATE items SET finished_at = (SELECT MAX(h.at) FROM status_history h
    WHERE h.postmortem_id = items.postmortem_id AND h.item_id = items.item_id
    AND h.from_status IN ('open', 'in_progress') AND h.to_status IN ('done', 'wont_do'));

-- The figures' covering index, now with the finish time.
DROP INDEX items_insights;
CREATE INDEX items_insights ON items (postmortem_id, item_id, removed, status, priority, due, team, created_at, finished_at);

-- +goose Down
-- Forward-only: no down migration.
