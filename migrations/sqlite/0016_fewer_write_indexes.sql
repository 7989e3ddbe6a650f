-- +goose Up
-- Every index is written by every insert into its table, so intake and tracker events pay for
-- each one. These are read by nothing since migration 0015 gave each figure its own index
-- (TestInsightsQueryPlans and ReadQueriesUseIndexes list what the reads use): they go.
DROP INDEX items_insights;
DROP INDEX postmortems_insights;
DROP INDEX status_history_finishes;
DROP INDEX status_history_reopens;

-- An item's jobs of every kind were indexed for one statement: queueing an item's given-up jobs
-- again (RequeueFailedJobs). Only given-up jobs are kept in it now, so a new job writes no entry.
DROP INDEX outbox_item;
CREATE INDEX outbox_failed_item ON outbox (postmortem_id, item_id) WHERE failed_at IS NOT NULL;

-- +goose Down
-- Forward-only: no down migration.
