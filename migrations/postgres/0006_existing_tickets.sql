-- +goose Up
-- Items finished at sign-off have no ticket and follow none: sync 'none'. As in SQLite's twin,
-- the column is replaced by one with the wider check (its own CHECK goes with the old column
-- when it is dropped), so that the columns stay in the same order on both databases.
ALTER TABLE items RENAME COLUMN sync TO sync_before_none;
ALTER TABLE items ADD COLUMN sync TEXT COLLATE "C" NOT NULL DEFAULT 'pending' CHECK (sync IN ('pending','linked','failed','none'));
UPDATE items SET sync = sync_before_none;
ALTER TABLE items DROP COLUMN sync_before_none;

-- The existing ticket an item's document names ("owner/repo#N" or "PROJ-N"; '' when none):
-- followthrough links that ticket instead of creating one.
ALTER TABLE items ADD COLUMN named_ticket TEXT COLLATE "C" NOT NULL DEFAULT '';

-- When followthrough adopted the ticket, for one that people opened (NULL: followthrough
-- created it). Its title and description stay theirs, it is unlinked rather than closed, and
-- its inactivity counts from here.
ALTER TABLE tickets ADD COLUMN adopted_at TEXT COLLATE "C";

-- +goose Down
-- Forward-only: no down migration.
