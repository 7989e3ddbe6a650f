-- +goose Up
-- The numbers /insights and /owners compute with, kept on the rows as they change
-- (store/figures.go), so that a request reads integers from indexes ordered the way it groups,
-- instead of joining every item with its postmortem and turning stored time text into numbers:
-- with 50,000 items that took most of half a second per request.
--
-- On items: its team as the figures count it (its own, else its postmortem's), its postmortem's
-- severity and sign-off (acceptance, when there is none: sort_at) in Unix seconds, the Monday
-- (day number, days since 1970-01-01 UTC) of the week it was created, its own due date's day
-- number, when it finished (finished_at) in Unix seconds, and whether it was finished when it
-- was created (finished at sign-off: counted as finished in the week it was created).
ALTER TABLE items ADD COLUMN figure_team TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN severity TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN signed_off_unix INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN created_week INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN due_day INTEGER;
ALTER TABLE items ADD COLUMN finished_unix INTEGER;
ALTER TABLE items ADD COLUMN born_finished INTEGER NOT NULL DEFAULT 0;

-- On the status history: the Monday of the week of the change, whether it crossed from
-- unfinished into finished (1) or back (-1) or neither (0), and the item's numbers the filters
-- select on, so that the burn-down counts crossings per week without joining the items.
ALTER TABLE status_history ADD COLUMN week INTEGER NOT NULL DEFAULT 0;
ALTER TABLE status_history ADD COLUMN crossing INTEGER NOT NULL DEFAULT 0;
ALTER TABLE status_history ADD COLUMN figure_team TEXT NOT NULL DEFAULT '';
ALTER TABLE status_history ADD COLUMN severity TEXT NOT NULL DEFAULT '';
ALTER TABLE status_history ADD COLUMN signed_off_unix INTEGER NOT NULL DEFAULT 0;
ALTER TABLE status_history ADD COLUMN removed INTEGER NOT NULL DEFAULT 0;

-- The backfill. Dialect-specific: unixepoch() is SQLite's (migrations/postgres has its own).
UPDATE items SET
    figure_team = COALESCE(NULLIF(team, ''), (SELECT p.team FROM postmortems p WHERE p.id = items.postmortem_id)),
    severity = (SELECT p.severity FROM postmortems p WHERE p.id = items.postmortem_id),
    signed_off_unix = (SELECT unixepoch(p.sort_at) FROM postmortems p WHERE p.id = items.postmortem_id),
    created_week = (unixepoch(created_at) / 86400 + 3) / 7 * 7 - 3,
    due_day = unixepoch(due) / 86400,
    finished_unix = unixepoch(finished_at),
    -- What an item is now, undone by its crossings, is what it was when it was created.
    born_finished = CASE WHEN status IN ('done', 'wont_do') THEN 1 ELSE 0 END
        - (SELECT COUNT(*) FROM status_history h WHERE h.postmortem_id = items.postmortem_id AND h.item_id = items.item_id
            AND h.from_status IN ('open', 'in_progress') AND h.to_status IN ('done', 'wont_do'))
        + (SELECT COUNT(*) FROM status_history h WHERE h.postmortem_id = items.postmortem_id AND h.item_id = items.item_id
            AND h.from_status IN ('done', 'wont_do') AND h.to_status IN ('open', 'in_progress'));

UPDATE status_history SET
    week = (unixepoch(at) / 86400 + 3) / 7 * 7 - 3,
    crossing = CASE
        WHEN from_status IN ('open', 'in_progress') AND to_status IN ('done', 'wont_do') THEN 1
        WHEN from_status IN ('done', 'wont_do') AND to_status IN ('open', 'in_progress') THEN -1
        ELSE 0 END,
    figure_team = (SELECT i.figure_team FROM items i WHERE i.postmortem_id = status_history.postmortem_id AND i.item_id = status_history.item_id),
    severity = (SELECT i.severity FROM items i WHERE i.postmortem_id = status_history.postmortem_id AND i.item_id = status_history.item_id),
    signed_off_unix = (SELECT i.signed_off_unix FROM items i WHERE i.postmortem_id = status_history.postmortem_id AND i.item_id = status_history.item_id),
    removed = (SELECT i.removed FROM items i WHERE i.postmortem_id = status_history.postmortem_id AND i.item_id = status_history.item_id);

-- Each figure's index, in the order it groups by, holding what its filters and sums read.
-- Burn-down: items per creation week, crossings per week.
CREATE INDEX items_by_created_week ON items (created_week, figure_team, severity, signed_off_unix, born_finished)
    WHERE removed = 0;
CREATE INDEX status_history_crossings ON status_history (week, crossing, figure_team, severity, signed_off_unix)
    WHERE crossing <> 0 AND removed = 0;
-- On-time share per team.
CREATE INDEX items_by_figure_team ON items (figure_team, status, priority, due_day, signed_off_unix, finished_unix, severity)
    WHERE removed = 0;
-- Median days to done per priority: done items in order of their time from sign-off to done.
CREATE INDEX items_days_to_done ON items (priority,
    (CASE WHEN finished_unix > signed_off_unix THEN finished_unix - signed_off_unix ELSE 0 END),
    finished_unix, signed_off_unix, figure_team, severity, status, removed)
    WHERE removed = 0 AND status = 'done';
-- Overdue by age: unfinished items with what their due day is worked out from.
CREATE INDEX items_unfinished ON items (due_day, priority, signed_off_unix, figure_team, severity, status, removed)
    WHERE removed = 0 AND status IN ('open', 'in_progress');
-- /owners: unfinished items, by owner, with their due day's numbers.
DROP INDEX items_owed;
CREATE INDEX items_owed ON items (lower(owner), postmortem_id, item_id, priority, due_day, signed_off_unix,
    figure_team, severity, stalled_reason, due, team, removed, status, owner)
    WHERE removed = 0 AND status IN ('open', 'in_progress');

-- +goose Down
-- Forward-only: no down migration.
