-- +goose Up
-- Items finished at sign-off have no ticket and follow none: sync 'none'. SQLite cannot change a
-- CHECK constraint in place, so the column is replaced by one with the wider check (its own
-- CHECK goes with the old column when it is dropped); the table is not rebuilt, and its
-- indexes stay.
ALTER TABLE items RENAME COLUMN sync TO sync_before_none;
ALTER TABLE items ADD COLUMN sync TEXT NOT NULL DEFAULT 'pending' CHECK (sync IN ('pending','linked','failed','none'));
UPDATE items SET sync = sync_before_none;
ALTER TABLE items DROP COLUMN sync_before_none;

-- The existing ticket an item's document names ("owner/repo#N" or "PROJ-N"; '' when none):
-- followthrough links that ticket instead of creating one.
ALTER TABLE items ADD COLUMN named_ticket TEXT NOT NULL DEFAULT '';

-- When followthrough adopted the ticket, for one that people opened (NULL: followthrough
-- created it). Its title and description stay theirs, it is unlinked rather than closed, and
-- its inactivity counts from here.
ALTER TABLE tickets ADD COLUMN adopted_at TEXT;

-- +goose Down
-- Forward-only: no down migration.
