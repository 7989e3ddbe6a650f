package store

import (
	"context"
	"encoding/json"
	"time"
)

// Job is one piece of outbox work.
type Job struct {
	ID           int64
	Kind         string
	PostmortemID string
	ItemID       string
	Tracker      string // github, jira, or "" for work that is not a tracker call
	DedupeKey    string // when set, the same key is queued once, ever
	Payload      json.RawMessage
	Attempts     int
	LastError    string
	CreatedAt    time.Time
}

// enqueue adds a job in the caller's transaction; a job whose dedupe key exists is dropped.
func enqueue(ctx context.Context, tx *Tx, j Job, now time.Time) error {
	payload := string(j.Payload)
	if payload == "" {
		payload = "{}"
	}
	nowText := formatTime(now)
	_, err := tx.exec(ctx, `INSERT INTO outbox (kind, postmortem_id, item_id, tracker, dedupe_key, payload,
		next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (dedupe_key) DO NOTHING`,
		j.Kind, j.PostmortemID, j.ItemID, j.Tracker, nullString(j.DedupeKey), payload, nowText, nowText)
	return err
}
