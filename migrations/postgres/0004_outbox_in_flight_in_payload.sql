-- +goose Up
-- Whether a job's call is in flight is known from its payload (in_flight_at, with the target):
-- the column said the same thing a second time.
ALTER TABLE outbox DROP COLUMN in_flight;

-- +goose Down
-- Forward-only: no down migration.
