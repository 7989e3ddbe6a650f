-- +goose Up
-- PostgreSQL's twin of migrations/sqlite/0020_list_walks.sql: a walk through the list's pages
-- places each postmortem by its sort key as of the walk's first page. sort_seq numbers the
-- moves of sort keys (0: never moved since the first revision), one sequence for all
-- postmortems; a revision keeps its sort key and that number as of itself.
ALTER TABLE postmortems ADD COLUMN sort_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE postmortem_revisions ADD COLUMN sort_at TEXT COLLATE "C";
ALTER TABLE postmortem_revisions ADD COLUMN sort_seq BIGINT NOT NULL DEFAULT 0;

-- Only the current revisions' keys are ever needed: older revisions stay NULL.
UPDATE postmortem_revisions r SET sort_at = p.sort_at FROM postmortems p
    WHERE p.id = r.postmortem_id AND p.revision = r.revision;

CREATE UNIQUE INDEX postmortems_moved ON postmortems (sort_seq) WHERE sort_seq > 0;

-- +goose Down
-- Forward-only: no down migration.
