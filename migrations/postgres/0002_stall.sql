-- +goose Up
-- Stall episodes: an item enters stalled at most once per episode, and what that entry queued
-- (one comment, the stalled label) is keyed by the episode's number, so it is never queued twice,
-- also across restarts.
ALTER TABLE items ADD COLUMN stall_episode BIGINT NOT NULL DEFAULT 0;   -- entries into stalled so far
ALTER TABLE items ADD COLUMN stalled_at TEXT COLLATE "C";                             -- when the current stall began
ALTER TABLE items ADD COLUMN stalled_label BIGINT NOT NULL DEFAULT 0;   -- the `stalled` label is (queued to be) on the ticket

-- Entries into completed so far: keys the work on the postmortem's own ticket at each completion.
ALTER TABLE postmortems ADD COLUMN completed_count BIGINT NOT NULL DEFAULT 0;

-- +goose Down
-- Forward-only: no down migration.
