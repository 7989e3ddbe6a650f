-- +goose Up
-- When each piece of periodic work (reconcile, stall) last finished, whichever process ran it.
-- A process that takes the lead waits out the rest of the period rather than starting at once,
-- so the work keeps its cadence across all processes together, however often the lead changes
-- hands (a rolling restart, say); a run cut short records nothing, so the next leader runs it.
CREATE TABLE periodic_runs (
    work        TEXT PRIMARY KEY,
    finished_at TEXT NOT NULL
);

-- +goose Down
-- Forward-only: no down migration.
