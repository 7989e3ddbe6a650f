-- +goose Up
-- The status page and the list API filter by state, team or severity, newest sign-off first:
-- one index per filter keeps a page as cheap with 10,000 postmortems as with ten, whatever
-- share of them the filter selects (postmortems_list serves the list without a filter).
CREATE INDEX postmortems_by_state ON postmortems (state, sort_at DESC, id DESC);
CREATE INDEX postmortems_by_team ON postmortems (team, sort_at DESC, id DESC);
CREATE INDEX postmortems_by_severity ON postmortems (severity, sort_at DESC, id DESC);

-- +goose Down
-- Forward-only: no down migration.
