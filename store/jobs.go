package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	ft "github.com/followthrough/followthrough"
)

// ReleaseLeases frees every lease: called once at start, when no worker of this database is
// running (one process owns the file), so a killed process's jobs are taken again at once.
func (s *Store) ReleaseLeases(ctx context.Context) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE outbox SET lease_owner = NULL, lease_until = NULL
			WHERE done_at IS NULL AND failed_at IS NULL AND lease_owner IS NOT NULL`)
		return err
	})
}

// FailUnconfiguredWork gives up the unfinished jobs whose lane is not among lanes (a tracker
// removed from the configuration); their items show sync: failed saying so. It returns how
// many jobs it failed.
func (s *Store) FailUnconfiguredWork(ctx context.Context, lanes []string, now time.Time) (int, error) {
	laneList, err := json.Marshal(lanes)
	if err != nil {
		return 0, err
	}
	n := 0
	err = s.Write(ctx, func(tx *Tx) error {
		n = 0
		rows, err := tx.query(ctx, `SELECT id, kind, postmortem_id, item_id, tracker, attempts FROM outbox
			WHERE done_at IS NULL AND failed_at IS NULL AND tracker NOT IN (SELECT value FROM json_each(?))`, string(laneList))
		if err != nil {
			return err
		}
		stuck, err := collect(rows, func(rows *sql.Rows) (Job, error) {
			var j Job
			err := rows.Scan(&j.ID, &j.Kind, &j.PostmortemID, &j.ItemID, &j.Tracker, &j.Attempts)
			return j, err
		})
		if err != nil {
			return err
		}
		for _, j := range stuck {
			if err := failJob(ctx, tx, j, j.Attempts, now, j.Tracker+" is not configured, so this work cannot be done"); err != nil {
				return err
			}
		}
		n = len(stuck)
		return nil
	})
	return n, err
}

// ClaimJobs leases up to limit due jobs of one tracker ("" for non-tracker work). A job waits
// while an earlier unfinished job of the same item (or, for postmortem-wide jobs, the same
// postmortem) exists, so an item's work runs in the order it was queued.
func (s *Store) ClaimJobs(ctx context.Context, owner, tracker string, now time.Time, lease time.Duration, limit int) ([]Job, error) {
	var jobs []Job
	err := s.Write(ctx, func(tx *Tx) error {
		jobs = nil
		nowText := formatTime(now)
		rows, err := tx.query(ctx, `UPDATE outbox SET lease_owner = ?, lease_until = ?
			WHERE id IN (
				SELECT o.id FROM outbox o
				WHERE o.done_at IS NULL AND o.failed_at IS NULL AND o.tracker = ?
				  AND o.next_attempt_at <= ? AND (o.lease_until IS NULL OR o.lease_until < ?)
				  AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.postmortem_id = o.postmortem_id
				      AND e.item_id = o.item_id AND e.id < o.id AND e.done_at IS NULL AND e.failed_at IS NULL)
				ORDER BY o.id LIMIT ?)
			RETURNING id, kind, postmortem_id, item_id, tracker, payload, attempts,
				COALESCE(last_error, ''), created_at`,
			owner, formatTime(now.Add(lease)), tracker, nowText, nowText, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var j Job
			var payload, created string
			if err := rows.Scan(&j.ID, &j.Kind, &j.PostmortemID, &j.ItemID, &j.Tracker, &payload, &j.Attempts,
				&j.LastError, &created); err != nil {
				return err
			}
			j.Payload = json.RawMessage(payload)
			j.CreatedAt = parseTime(created)
			jobs = append(jobs, j)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	return jobs, nil
}

// MarkInFlight records, durably, that a create is about to be sent to target: if the outcome
// is lost, the next attempt looks there for the ticket by its marker before creating again.
// Each send restarts the wait, since the latest one may still land.
func (s *Store) MarkInFlight(ctx context.Context, jobID int64, now time.Time, target ft.Target) error {
	sent, err := json.Marshal(target)
	if err != nil {
		return err
	}
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE outbox
			SET payload = json_set(payload, '$.in_flight_at', ?, '$.in_flight_target', json(?))
			WHERE id = ?`, formatTime(now), string(sent), jobID)
		return err
	})
}

// ClearInFlight records that the create of a job is settled (its ticket was found).
func ClearInFlight(ctx context.Context, tx *Tx, jobID int64) error {
	_, err := tx.exec(ctx, `UPDATE outbox
		SET payload = json_remove(payload, '$.in_flight_at', '$.in_flight_target') WHERE id = ?`, jobID)
	return err
}

// InFlight reports whether the job sent a call whose outcome is not known yet (MarkInFlight
// without ClearInFlight).
func (j Job) InFlight() bool { return !j.InFlightSince().IsZero() }

// InFlightSince is when the last create of the job was sent (zero when never).
func (j Job) InFlightSince() time.Time {
	var p struct {
		At string `json:"in_flight_at"`
	}
	_ = json.Unmarshal(j.Payload, &p)
	if p.At == "" {
		return time.Time{}
	}
	return parseTime(p.At)
}

// InFlightTarget is where the last create of the job was sent; ok is false when unknown.
func (j Job) InFlightTarget() (ft.Target, bool) {
	var p struct {
		Target *ft.Target `json:"in_flight_target"`
	}
	_ = json.Unmarshal(j.Payload, &p)
	if p.Target == nil || p.Target.Kind == "" {
		return ft.Target{}, false
	}
	return *p.Target, true
}

// MarkJobDone marks the job done in the caller's transaction.
func MarkJobDone(ctx context.Context, tx *Tx, jobID int64, now time.Time) error {
	_, err := tx.exec(ctx, `UPDATE outbox SET done_at = ?, lease_owner = NULL, lease_until = NULL, last_error = NULL
		WHERE id = ?`, formatTime(now), jobID)
	return err
}

// RescheduleJob makes the job due again at now, without counting an attempt, in the caller's
// transaction.
func RescheduleJob(ctx context.Context, tx *Tx, jobID int64, now time.Time) error {
	_, err := tx.exec(ctx, `UPDATE outbox SET next_attempt_at = ?, lease_owner = NULL, lease_until = NULL
		WHERE id = ?`, formatTime(now), jobID)
	return err
}

// TicketKnown reports whether followthrough already has the ticket on record, for any item.
func (s *Store) TicketKnown(ctx context.Context, ref ft.TicketRef) (bool, error) {
	var known bool
	err := s.readDB.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM tickets WHERE kind = ? AND key = ?)`,
		string(ref.Kind), ref.Key).Scan(&known)
	return known, err
}

// CompleteJob marks the job done and, in the same transaction, applies fn (may be nil).
func (s *Store) CompleteJob(ctx context.Context, jobID int64, now time.Time, fn func(*Tx) error) error {
	return s.Write(ctx, func(tx *Tx) error {
		if fn != nil {
			if err := fn(tx); err != nil {
				return err
			}
		}
		return MarkJobDone(ctx, tx, jobID, now)
	})
}

// RetryJob records a failed attempt and when to try again.
func (s *Store) RetryJob(ctx context.Context, jobID int64, attempts int, next time.Time, errText string) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, `UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?,
			lease_owner = NULL, lease_until = NULL WHERE id = ?`, attempts, formatTime(next), errText, jobID)
		return err
	})
}

// FailJob gives the job up; when it concerns an item, the item shows sync: failed with the error.
func (s *Store) FailJob(ctx context.Context, job Job, attempts int, now time.Time, errText string) error {
	return s.Write(ctx, func(tx *Tx) error { return failJob(ctx, tx, job, attempts, now, errText) })
}

func failJob(ctx context.Context, tx *Tx, job Job, attempts int, now time.Time, errText string) error {
	if _, err := tx.exec(ctx, `UPDATE outbox SET attempts = ?, failed_at = ?, last_error = ?,
		lease_owner = NULL, lease_until = NULL WHERE id = ?`, attempts, formatTime(now), errText, job.ID); err != nil {
		return err
	}
	// A ticket the item left behind concerns the item no more: failing to close it is logged
	// and counted, not shown as the item's sync state.
	if job.ItemID == "" || job.Tracker == "" || job.Kind == JobCloseMoved {
		return nil
	}
	return SetItemSyncFailed(ctx, tx, job.PostmortemID, job.ItemID, errText, now)
}

// SetItemSyncFailed shows an item as sync: failed with the error in words.
func SetItemSyncFailed(ctx context.Context, tx *Tx, pmID, itemID, errText string, now time.Time) error {
	_, err := tx.exec(ctx, `UPDATE items SET sync = 'failed', last_error = ?, updated_at = ?
		WHERE postmortem_id = ? AND item_id = ?`, errText, formatTime(now), pmID, itemID)
	return err
}

// LinkTicket makes the ticket the item's current one (an earlier current ticket stops being
// current) and shows the item as linked. Linking the same ticket again changes nothing. It
// returns the ticket that was current before, if another.
func LinkTicket(ctx context.Context, tx *Tx, pmID, itemID string, t ft.Ticket, scope string, now time.Time) (*ft.TicketRef, error) {
	var previous *ft.TicketRef
	var oldKind, oldKey, oldURL string
	err := tx.queryRow(ctx, `SELECT kind, key, url FROM tickets WHERE postmortem_id = ? AND item_id = ? AND current = 1`,
		pmID, itemID).Scan(&oldKind, &oldKey, &oldURL)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, err
	case oldKind == string(t.Ref.Kind) && oldKey == t.Ref.Key:
		return nil, setLinked(ctx, tx, pmID, itemID, now)
	default:
		previous = &ft.TicketRef{Kind: ft.TrackerKind(oldKind), Key: oldKey, URL: oldURL}
		if _, err := tx.exec(ctx, `UPDATE tickets SET current = 0 WHERE postmortem_id = ? AND item_id = ? AND current = 1`,
			pmID, itemID); err != nil {
			return nil, err
		}
	}
	created := t.CreatedAt
	if created.IsZero() {
		created = now
	}
	// A ticket found again (moved back) becomes current again; it can never belong to another item.
	res, err := tx.exec(ctx, `UPDATE tickets SET current = 1, deleted_at = NULL
		WHERE kind = ? AND key = ? AND postmortem_id = ? AND item_id = ?`, string(t.Ref.Kind), t.Ref.Key, pmID, itemID)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := tx.exec(ctx, `INSERT INTO tickets (postmortem_id, item_id, kind, scope, key, url, current, created_at, tracker_updated_at)
			VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)`, pmID, itemID, string(t.Ref.Kind), scope, t.Ref.Key, t.Ref.URL,
			formatTime(created), nullTime(&t.UpdatedAt)); err != nil {
			return nil, fmt.Errorf("link ticket %s to %s/%s: %w", t.Ref.Key, pmID, itemID, err)
		}
	}
	return previous, setLinked(ctx, tx, pmID, itemID, now)
}

// RecordLeftBehind keeps on record a ticket made for an item where the item no longer goes (a
// lost create found after the item moved or was removed): it belongs to the item but is not its
// current ticket, so events about it change nothing.
func RecordLeftBehind(ctx context.Context, tx *Tx, pmID, itemID string, t ft.Ticket, scope string, now time.Time) error {
	created := t.CreatedAt
	if created.IsZero() {
		created = now
	}
	_, err := tx.exec(ctx, `INSERT INTO tickets (postmortem_id, item_id, kind, scope, key, url, current, created_at, tracker_updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (kind, key) DO NOTHING`,
		pmID, itemID, string(t.Ref.Kind), scope, t.Ref.Key, t.Ref.URL, formatTime(created), nullTime(&t.UpdatedAt))
	return err
}

func setLinked(ctx context.Context, tx *Tx, pmID, itemID string, now time.Time) error {
	_, err := tx.exec(ctx, `UPDATE items SET sync = 'linked', last_error = NULL, updated_at = ?
		WHERE postmortem_id = ? AND item_id = ?`, formatTime(now), pmID, itemID)
	return err
}

// NoteTicketUpdated remembers the tracker's updated time of a change we made, so that an older
// event about the ticket is recognised as older.
func NoteTicketUpdated(ctx context.Context, tx *Tx, ref ft.TicketRef, updated time.Time) error {
	if updated.IsZero() {
		return nil
	}
	_, err := tx.exec(ctx, `UPDATE tickets SET tracker_updated_at = ?
		WHERE kind = ? AND key = ? AND (tracker_updated_at IS NULL OR tracker_updated_at < ?)`,
		formatTime(updated), string(ref.Kind), ref.Key, formatTime(updated))
	return err
}

// Enqueue adds outbox work in the caller's transaction.
func Enqueue(ctx context.Context, tx *Tx, j Job, now time.Time) error {
	return enqueue(ctx, tx, j, now)
}

// EnqueueNow adds outbox work in a transaction of its own.
func (s *Store) EnqueueNow(ctx context.Context, j Job, now time.Time) error {
	return s.Write(ctx, func(tx *Tx) error { return enqueue(ctx, tx, j, now) })
}

// JobCounts reports unfinished and failed jobs, for metrics and tests.
func (s *Store) JobCounts(ctx context.Context) (pending, failed int, err error) {
	err = s.readDB.QueryRowContext(ctx, `SELECT
		COUNT(*) FILTER (WHERE done_at IS NULL AND failed_at IS NULL),
		COUNT(*) FILTER (WHERE failed_at IS NOT NULL) FROM outbox`).Scan(&pending, &failed)
	return pending, failed, err
}
