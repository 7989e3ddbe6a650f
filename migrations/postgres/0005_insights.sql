-- +goose Up
-- Indexes for the status page's /owners and /insights (store/owners.go, store/insights.go). Those
-- pages aggregate over every item, so each query reads a covering index rather than the items
-- table, whose rows carry descriptions and labels the figures never look at.

-- What the figures read of an item, in the primary key's order: a postmortem's items are one
-- range, and an item is found by its key.
CREATE INDEX items_insights ON items (postmortem_id, item_id, removed, status, priority, due, team, created_at);

-- What people owe: unfinished items by owner, compared case-insensitively, with what /owners
-- and the overdue figure read of them.
CREATE INDEX items_owed ON items (lower(owner), postmortem_id, item_id, priority, due, team, stalled_reason,
    removed, status, owner) WHERE removed = 0 AND status IN ('open', 'in_progress');

-- What the figures read of a postmortem, found by its id.
CREATE INDEX postmortems_insights ON postmortems (id, sort_at, severity, team);

-- The status history's crossings between unfinished and finished, the only changes the figures
-- count: when an item became finished (the latest such change is when it finished), and when it
-- was reopened.
CREATE INDEX status_history_finishes ON status_history (postmortem_id, item_id, at, from_status, to_status)
    WHERE from_status IN ('open', 'in_progress') AND to_status IN ('done', 'wont_do');
CREATE INDEX status_history_reopens ON status_history (postmortem_id, item_id, at, from_status, to_status)
    WHERE from_status IN ('done', 'wont_do') AND to_status IN ('open', 'in_progress');

-- SQLite's unixepoch(), for the figures' SQL (store/insights.go) to be the same on both: the
-- Unix time in whole seconds of a stored time or YYYY-MM-DD text, the fraction dropped (not
-- rounded). Built from immutable parts only, so that PostgreSQL inlines it into the queries.
-- +goose StatementBegin
CREATE FUNCTION unixepoch(t TEXT) RETURNS BIGINT LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CAST(extract(epoch FROM make_timestamp(
        CAST(substr(t, 1, 4) AS int), CAST(substr(t, 6, 2) AS int), CAST(substr(t, 9, 2) AS int),
        CAST(COALESCE(NULLIF(substr(t, 12, 2), ''), '0') AS int),
        CAST(COALESCE(NULLIF(substr(t, 15, 2), ''), '0') AS int),
        CAST(COALESCE(NULLIF(substr(t, 18, 2), ''), '0') AS double precision))) AS BIGINT)
$$;
-- +goose StatementEnd

-- +goose Down
-- Forward-only: no down migration.
