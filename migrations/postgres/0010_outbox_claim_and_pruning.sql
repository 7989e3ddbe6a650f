-- +goose Up
-- A claim takes a lane's (tracker's) unfinished jobs in queue order: this index holds exactly
-- those, in that order, so a claim reads the open jobs of its lane and never the done history.
-- outbox_due served the same filter by due time, which a claim must then sort; it goes.
CREATE INDEX outbox_claim ON outbox (tracker, id) WHERE done_at IS NULL AND failed_at IS NULL;
DROP INDEX outbox_due;

-- Pruning finds what has aged out without reading what has not: done jobs by when they were
-- done, delivery ids and processed deliveries by when they came.
CREATE INDEX outbox_done ON outbox (done_at) WHERE done_at IS NOT NULL;
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);
CREATE INDEX inbound_processed ON inbound_events (received_at) WHERE processed_at IS NOT NULL;

-- A GitHub webhook names its issue in whatever case the repository is spelled in; the ticket is
-- found case-insensitively when the exact key is not known. Without this index that lookup read
-- every GitHub ticket, for each delivery about an issue followthrough does not follow. On
-- PostgreSQL the store compares lower(key) (store/dialect.go, postgresRewrites), which folds
-- ASCII letters as NOCASE does on text of collation "C".
CREATE INDEX tickets_key_nocase ON tickets (kind, lower(key));

-- +goose Down
-- Forward-only: no down migration.
