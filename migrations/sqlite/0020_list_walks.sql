-- +goose Up
-- A walk through the list's pages places each postmortem by its sort key as of the walk's
-- first page, so that a revision moving a sign-off mid-walk neither repeats nor skips it
-- (store/read.go). sort_seq numbers the moves of sort keys: 0 for a postmortem (or revision)
-- whose sort key never moved since its first revision, else the number of its last move, one
-- sequence for all postmortems. A revision keeps its sort key and that number as of itself.
ALTER TABLE postmortems ADD COLUMN sort_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE postmortem_revisions ADD COLUMN sort_at TEXT;
ALTER TABLE postmortem_revisions ADD COLUMN sort_seq INTEGER NOT NULL DEFAULT 0;

-- A walk only ever needs the sort key of a revision that was current at or after its first
-- page: the current revisions' keys are the postmortems'; older revisions stay NULL.
UPDATE postmortem_revisions SET sort_at = (SELECT p.sort_at FROM postmortems p
    WHERE p.id = postmortem_revisions.postmortem_id AND p.revision = postmortem_revisions.revision);

-- The postmortems moved since a walk began, and the last move's number; a postmortem that
-- never moved writes no entry.
CREATE UNIQUE INDEX postmortems_moved ON postmortems (sort_seq) WHERE sort_seq > 0;

-- +goose Down
-- Forward-only: no down migration.
