-- +goose Up
-- Claiming a job checks for earlier unfinished jobs of the same item; an index over unfinished
-- jobs only keeps that check as cheap with years of history as on the first day.
CREATE INDEX outbox_open_item ON outbox (postmortem_id, item_id, id) WHERE done_at IS NULL AND failed_at IS NULL;

-- +goose Down
-- Forward-only: no down migration.
