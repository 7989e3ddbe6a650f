-- +goose Up
-- outbox_claim serves reads of one lane (tracker = ?). Its predicate now also says so, which
-- any such read implies, so that no other read of open jobs can use it: a claim's look for an
-- earlier open job of the same item must go to outbox_open_item (that item's open jobs), not
-- walk every open job of every lane before it. On PostgreSQL the planner chose exactly that
-- walk whenever the statistics were older than a burst of work (they say the outbox has no open
-- jobs): each claim then cost as much as the open jobs squared (BENCHMARKS.md).
DROP INDEX outbox_claim;
CREATE INDEX outbox_claim ON outbox (tracker, id) WHERE done_at IS NULL AND failed_at IS NULL AND tracker IS NOT NULL;

-- +goose Down
-- Forward-only: no down migration.
